import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { SidecarError } from '../src/errors.js';
import {
  binEncodedSize,
  canonicalJson,
  decodeSidecar,
  deepEqualJson,
  detectFormat,
  encodeSidecar,
} from '../src/formats/codec.js';
import type { JsonObject, JsonValue, SidecarFormat } from '../src/types.js';

const FORMATS: readonly SidecarFormat[] = ['json', 'bin', 'rkyv', 'legacy'];

// ---------------------------------------------------------------------------------------------
// Realistic sidecars (shapes from SHAPES.md), deterministic.
// ---------------------------------------------------------------------------------------------

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0; // mulberry32
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function realisticSidecar(seed: number, faceCount = 3, objectCount = 6): JsonObject {
  const r = prng(seed);
  const f32 = (x: number) => Math.fround(x); // model outputs are float32 printed as doubles
  const imagePath = `/photos/2025-09-20/20250920_14302${seed % 10}.jpg`;
  const face = (i: number): JsonObject => ({
    face_id: i,
    bbox: { x: f32(r()), y: f32(r()), width: f32(r() * 0.2), height: f32(r() * 0.2) },
    confidence: f32(0.5 + r() / 2),
    landmarks: Array.from({ length: 5 }, () => [f32(r()), f32(r())]),
    encoding: Array.from({ length: 512 }, () => f32((r() - 0.5) * 0.25)),
  });
  const box = () => ({ x: r() * 100, y: r() * 100, width: r() * 30, height: r() * 60 });
  const object = (i: number): JsonObject => ({
    object_id: i + 1,
    class_name: ['person', 'sports ball', 'car'][i % 3],
    class_id: [0, 32, 2][i % 3],
    coordinates_pixels: { x: Math.floor(r() * 5000), y: Math.floor(r() * 3000), width: Math.floor(r() * 900), height: Math.floor(r() * 1500) },
    coordinates_percent: box(),
    confidence: f32(r()),
    crop_area_percent: box(),
    detection_scale_factor: 1.25,
  });
  return {
    face_detection: {
      insightface: {
        success: true,
        faces: Array.from({ length: faceCount }, (_, i) => face(i)),
        metadata: {
          image_path: imagePath,
          image_width: 6000,
          image_height: 4000,
          faces_found: faceCount,
          processing_time: 0.09838628768920898 + r(),
          extraction_timestamp: '2025-10-01T15:50:14.846973',
          detector: 'insightface',
          model_name: 'buffalo_l',
          face_size_threshold: 64,
          confidence_threshold: 0.5,
        },
      },
    },
    yolov8: {
      success: true,
      objects: Array.from({ length: objectCount }, (_, i) => object(i)),
      metadata: {
        image_path: imagePath,
        image_width: 6000,
        image_height: 4000,
        objects_found: objectCount,
        detection_time: 0.2952775190351531,
        model_path: 'yolov8n.pt',
        border_padding_percentage: 25.0,
        confidence_threshold: 0.5,
        gpu_enabled: true,
        target_objects: seed % 2 ? 'all' : ['person', 'sports ball'],
      },
    },
    quality_assessment: {
      success: true,
      quality: {
        overall_score: r(),
        sharpness: r(),
        focus: r(),
        exposure: r(),
        composition: r(),
        action: r(),
        color: r(),
        noise: r(),
        contrast: r(),
        grade: 'ABCDF'[seed % 5],
        recommendations: ['Increase shutter speed to freeze the action', 'Crop tighter — the subject is small'],
      },
      processing_time: r(),
      image_path: imagePath,
      image_width: 6000,
      image_height: 4000,
    },
    pose_detection: {
      success: true,
      poses: [
        {
          keypoints: Array.from({ length: 33 }, (_, k) => ({ x: r(), y: r(), confidence: r(), name: `kp_${k}` })),
          upper_body_bbox: [f32(r()), f32(r()), f32(r()), f32(r())],
          confidence: r(),
          person_id: 0,
        },
      ],
      processing_time: r(),
      error: null,
      image_path: imagePath,
    },
    unified: {
      faces: [{ bbox: [120, 340, 64, 80], confidence: 0.91, encoding: null }],
      face_count: 1,
      processing_time: 0.5,
      success: true,
      error: null,
    },
    sidecar_info: {
      operation_type: 'face_detection',
      created_at: '2025-10-01T12:40:11.886386',
      last_updated: '2025-10-01T15:51:02.205516',
      last_operation: 'yolov8',
      image_path: imagePath,
      symlink_path: `/games/Game1_20Sep2025_140000-160000/Zoë ${seed}.jpg`,
      symlink_info: { symlink_path: 'a.jpg', target_path: imagePath, is_symlink: true, broken: false },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Realistic round trips, on disk like the library uses them.
// ---------------------------------------------------------------------------------------------

describe('realistic sidecars', () => {
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'formats-roundtrip-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const sidecars = [realisticSidecar(1), realisticSidecar(2, 1, 10), realisticSidecar(3, 0, 0)];

  it('round-trip through every format via files, bit-exact', () => {
    sidecars.forEach((data, i) => {
      for (const format of FORMATS) {
        const file = path.join(dir, `IMG_${i}.${format}`);
        fs.writeFileSync(file, encodeSidecar(data, format));
        const bytes = fs.readFileSync(file);
        assert.equal(detectFormat(bytes), format);
        const r = decodeSidecar(bytes, { path: file });
        assert.equal(r.format, format);
        assert.deepEqual(r.notes, []);
        assert.ok(deepEqualJson(r.data, data), `${format} #${i}`);
      }
    });
  });

  it('give the same canonical JSON from every format', () => {
    for (const data of sidecars) {
      const canon = FORMATS.map((f) => canonicalJson(decodeSidecar(encodeSidecar(data, f)).data));
      for (const c of canon) assert.equal(c, canon[0]);
      assert.deepEqual(JSON.parse(canon[0]), JSON.parse(JSON.stringify(data)));
    }
  });

  it('convert between formats without loss (json -> bin -> rkyv -> legacy -> json)', () => {
    const data = sidecars[0];
    let bytes = encodeSidecar(data, 'json');
    for (const f of ['bin', 'rkyv', 'legacy', 'json'] as const) {
      bytes = encodeSidecar(decodeSidecar(bytes).data, f);
    }
    assert.deepEqual(bytes, encodeSidecar(data, 'json'));
  });

  it('bin is at most half the size of the pipeline indent JSON, and binEncodedSize is exact', () => {
    for (const data of sidecars.slice(0, 2)) {
      const indent = Buffer.byteLength(JSON.stringify(data, null, 2));
      const bin = encodeSidecar(data, 'bin');
      assert.ok(bin.length <= indent * 0.5, `bin ${bin.length} vs indent JSON ${indent}`);
      assert.equal(binEncodedSize(data), bin.length - 16);
      for (const [op, value] of Object.entries(data)) assert.ok(binEncodedSize(value) > 0, op);
    }
  });

  it('sanity print: codec speed on a realistic sidecar (no assertion on timing)', (t) => {
    const data = sidecars[0];
    const indentText = JSON.stringify(data, null, 2);
    const bin = encodeSidecar(data, 'bin');
    // Best of 5 rounds after a warm-up, so the JIT and a busy machine distort it less.
    const perCallUs = (fn: () => unknown, n = 100) => {
      for (let i = 0; i < 300; i++) fn();
      let best = Infinity;
      for (let round = 0; round < 5; round++) {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < n; i++) fn();
        best = Math.min(best, Number(process.hrtime.bigint() - t0) / n / 1000);
      }
      return best;
    };
    const parse = perCallUs(() => JSON.parse(indentText));
    const decode = perCallUs(() => decodeSidecar(bin));
    const stringify = perCallUs(() => JSON.stringify(data, null, 2));
    const encode = perCallUs(() => encodeSidecar(data, 'bin'));
    t.diagnostic(
      `indent JSON ${indentText.length} B, bin ${bin.length} B; JSON.parse ${parse.toFixed(1)} µs vs bin decode ${decode.toFixed(1)} µs ` +
        `(x${(parse / decode).toFixed(1)}); JSON.stringify ${stringify.toFixed(1)} µs vs bin encode ${encode.toFixed(1)} µs (x${(stringify / encode).toFixed(1)})`,
    );
    assert.ok(decode > 0 && encode > 0);
  });
});

// ---------------------------------------------------------------------------------------------
// Property-based round trips.
// ---------------------------------------------------------------------------------------------

/** Objects built with defineProperty so that "__proto__" is an own key, like JSON.parse makes it. */
function objectFrom(entries: [string, JsonValue][]): JsonObject {
  const o: JsonObject = {};
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  return o;
}

const bigInts = fc.constantFrom(
  2 ** 31,
  2 ** 31 + 1,
  -(2 ** 31) - 1,
  2 ** 32,
  2 ** 53 - 1,
  -(2 ** 53 - 1),
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  2 ** 60,
  2 ** 64,
  1e21,
);
const bitExactFloats = fc.constantFrom(0.22490839660167694, 5e-324, 1.7976931348623157e308, -0, 2.2250738585072014e-308, 0.1);
const number = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.maxSafeInteger(),
  bigInts,
  bitExactFloats,
);
const wellFormedString = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }));
const key = fc.oneof(
  { weight: 4, arbitrary: wellFormedString },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', '', '0', '17', 'x', 'y') },
);
const leaf = fc.oneof(number, wellFormedString, fc.boolean(), fc.constant(null));

const { value: jsonValue } = fc.letrec<{ value: JsonValue; array: JsonValue[]; object: JsonObject }>((tie) => ({
  value: fc.oneof({ maxDepth: 4, depthIdentifier: 'json' }, leaf, tie('array'), tie('object')),
  array: fc.oneof(
    fc.array(tie('value'), { maxLength: 6, depthIdentifier: 'json' }),
    fc.array(number, { minLength: 4, maxLength: 40 }), // candidates for tag-86 blocks
  ),
  object: fc.array(fc.tuple(key, tie('value')), { maxLength: 6, depthIdentifier: 'json' }).map(objectFrom),
}));

/** Nest a value 150–250 levels deep in arrays and objects. */
const deepValue = fc
  .tuple(fc.array(fc.boolean(), { minLength: 150, maxLength: 250 }), leaf)
  .map(([shape, inner]) => shape.reduce<JsonValue>((acc, asArray) => (asArray ? [acc] : { n: acc }), inner));

const topObject = fc.oneof(
  fc.array(fc.tuple(key, jsonValue), { maxLength: 8 }).map(objectFrom),
  deepValue.map((v) => ({ deep: v })),
);

function assertRoundTrip(data: JsonObject, format: SidecarFormat): void {
  const bytes = encodeSidecar(data, format, { maxDepth: 512 });
  const r = decodeSidecar(bytes);
  assert.equal(r.format, format);
  if (!deepEqualJson(r.data, data)) {
    assert.fail(`${format} round trip changed the data: ${canonicalJson(data).slice(0, 200)}`);
  }
}

describe('property: decode(encode(x)) equals x', () => {
  for (const format of FORMATS) {
    it(`${format}`, () => {
      fc.assert(
        fc.property(topObject, (data) => {
          assertRoundTrip(data, format);
          if (format === 'bin') assert.equal(binEncodedSize(data), encodeSidecar(data, 'bin').length - 16);
        }),
        { numRuns: 150 },
      );
    });
  }

  it('canonical JSON is the same after every format', () => {
    fc.assert(
      fc.property(topObject, (data) => {
        const c = canonicalJson(data);
        for (const f of FORMATS) assert.equal(canonicalJson(decodeSidecar(encodeSidecar(data, f)).data), c);
      }),
      { numRuns: 80 },
    );
  });

  const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
  const withLoneSurrogate = fc
    .tuple(wellFormedString, loneSurrogate, wellFormedString, fc.boolean())
    .map(([a, s, b, asKey]): JsonObject => (asKey ? objectFrom([[a + s + b, 1]]) : { x: [{ s: a + s + b }] }));

  it('strings with lone surrogates: UNREPRESENTABLE in bin/rkyv, exact in json/legacy', () => {
    fc.assert(
      fc.property(withLoneSurrogate, (data) => {
        for (const f of ['bin', 'rkyv'] as const) {
          assert.throws(
            () => encodeSidecar(data, f),
            (e: unknown) => e instanceof SidecarError && e.code === 'UNREPRESENTABLE' && /surrogate at \//.test(e.message),
          );
        }
        assertRoundTrip(data, 'json');
        assertRoundTrip(data, 'legacy');
      }),
      { numRuns: 100 },
    );
  });
});
