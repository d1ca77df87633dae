/**
 * The accelerator's validate path against the reference, attacked with crafted input: the validate
 * certifier (assembly/scanner.ts certifyValidate, src/accel/certify.ts),
 * the scan's duplicate-key check and container end distances, and link targets outside the root
 * inspected in batches (src/scan/session.ts). Every input here must give, with the accelerator,
 * exactly what the reference (accel: false) gives; a certified file must be one the reference does
 * not flag. Fixtures are made by code.
 */
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { accelCounts, plainJsonLine } from '../src/accel/decode.js';
import { decodeSidecar } from '../src/formats/codec.js';
import { typedJsonText } from '../src/formats/json.js';
import { inspectBytes } from '../src/tasks/inspect.js';
import { FAKE_JPEG, sidecarData } from './helpers/tree.js';
import { inTurn } from './helpers/campaign.js';
import { removeTree, runCli, tempDir } from './helpers/cli.js';
import { freshKey, generator, legacyBytes, strip } from './helpers/accel-parity.js';
import type { FileInspection, InspectOptions } from '../src/model/inspection.js';

const VALIDATE: InspectOptions = { brief: true, validate: true };



/**
 * `text` inspected with the accelerator and without: the same result, and a certified file is
 * one the reference does not flag. Returns the accelerated result and whether the certifier
 * decided it on the tape.
 */
function same(text: string | Buffer, name = 'IMG_1.json', opts: InspectOptions = VALIDATE): { fast: FileInspection; ref: FileInspection; onTape: boolean } {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const before = accelCounts.onTape;
  const fast = inspectBytes({ path: name, name }, Buffer.from(bytes), { ...opts, accel: true });
  const onTape = accelCounts.onTape > before;
  const ref = inspectBytes({ path: name, name }, Buffer.from(bytes), { ...opts, accel: false });
  const what = bytes.toString('utf8', 0, 240);
  assert.deepEqual(strip(fast), strip(ref), `accel on vs off: ${what}`);
  if (fast.accel === 'wasm') assert.ok(ref.status === 'ok' && (ref.problems ?? []).length === 0, `certified a file the reference flags: ${what}`);
  return { fast, ref, onTape };
}

describe('accel validate parity: the certifier on crafted input', () => {
  it('a backend key met twice in one file (its second use refers to a key id the file itself introduced)', () => {
    const b = freshKey('backend');
    const r = same(`{"sidecar_info":{"operation_type":"face_detection"},"face_detection":{"${b}":{"${b}":{"success":true}}}}`);
    assert.equal(r.fast.brief?.toolName, b);
  });

  it('a key id reused after a rollback does not bring back the old key\'s string', () => {
    const a = freshKey('alpha');
    const b = freshKey('beta');
    // The skeleton reads `a` (a new key), then gives up at the escaped duplicate: the scanner forgets `a`.
    same(`{"face_detection":{"${a}":{"success":true}},"x":1,"\\u0078":2}`);
    // `b` takes the id `a` had; its second use refers to it.
    const r = same(`{"sidecar_info":{"operation_type":"face_detection"},"face_detection":{"${b}":{"${b}":{"success":true}}}}`);
    assert.equal(r.fast.brief?.toolName, b);
  });

  it('the tool of an operation whose results come after 64 words of other operations\' results', () => {
    const eight = () => Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`b${i}`, { success: true }]));
    const docs = [
      { sidecar_info: { operation_type: 'yolov8' }, face_detection: eight(), object_detection: eight(), ball_detection: eight(), quality_assessment: eight(), yolov8: { success: true } },
      {
        sidecar_info: { operation_type: 'yolov8' },
        face_detection: eight(),
        object_detection: eight(),
        ball_detection: eight(),
        yolov8: { face_detection: { success: true }, object_detection: { success: true }, ball_detection: { success: true, metadata: { detector: 'D' } } },
      },
    ];
    for (const doc of docs) {
      const r = same(JSON.stringify(doc));
      assert.equal(r.onTape, true);
    }
  });
  describe('crafted: keys, nesting, values at every rule\'s edge (each in JSON, after a BOM, as legacy, and under a report\'s name)', () => {
    const F = '{"bbox":{"x":0.1,"y":0.2,"width":0.3,"height":0.4}}';
    const R = (extra = '') => `{"success":true,"faces":[${F}]${extra}}`;
    const cases: string[] = [];
    const KEYS = ['0', '1', '1e3', '01', '4294967295', '4294967294', '-1', '__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', '', ' ', 'data', 'metadata', 'sidecar_info', 'FaceDetection', 'face_detection', 'yolov8', 'YoloV8', 'unified', 'k'.repeat(64), 'k'.repeat(65)];
    for (const k of KEYS) {
      cases.push(
        `{"sidecar_info":{"operation_type":"face_detection"},"face_detection":{"${k}":${R(',"metadata":{"detector":"m"}')},"zz":${R()}}}`,
        `{"sidecar_info":{"operation_type":"face_detection"},"face_detection":{"zz":{"success":true},"${k}":${R()}}}`,
        `{"face_detection":{"a":{"b":{"${k}":${R()}}}}}`,
        `{"face_detection":{"a":{"b":{"c":{"${k}":{"success":"bad"}}}}}}`,
        `{"sidecar_info":{"operation_type":"unified"},"unified":{"face_detection":{"${k}":${R()}},"yolov8":{"success":true,"objects":[]}}}`,
        `{"face_detection":${R(`,"metadata":{"${k}":1,"detector":"d"}`)}}`,
        `{"face_detection":{"success":true,"faces":[{"bbox":{"x":0.1,"y":0.2,"width":0.3,"height":0.4},"${k}":{"faces":[1]}}]}}`,
        `{"face_detection":{"success":true,"faces":[{"bbox":{"x":0.1,"y":0.2,"width":0.3,"height":0.4,"${k}":5}}]}}`,
        `{"sidecar_info":{"${k}":{"a":1},"operation_type":"face_detection"},"face_detection":${R()}}`,
        `{"${k}":${R()},"face_detection":${R()}}`,
        `{"face_detection":{"data":{"data":{"${k}":${R()}}}}}`,
        `{"face_detection":{"success":true,"${k}":{"success":false}}}`,
      );
    }
    const many = (n: number, v: string) => `{${Array.from({ length: n }, (_, i) => `"b${i}":${v}`).join(',')}}`;
    for (const n of [7, 8, 9]) cases.push(`{"face_detection":${many(n, '{"success":true}')}}`, `{"face_detection":${many(n, '{"x":{"success":true}}')}}`, `{"face_detection":{"success":true,"a":${many(n, '{"y":1}')}}}`);
    cases.push(`{"face_detection":{"a":${many(4, '{"success":true}')},"b":${many(4, '{"success":true}')},"c":{"success":true}}}`);
    for (const m of ['"x"', '[]', 'null', '1', '{}', '{"faces_found":2}', '{"faces_found":1}', '{"faces_found":-0}', '{"faces_found":1.0}', '{"faces_found":"1"}', '{"objects_found":5}', '{"detector":""}', '{"detector":"","tool_name":"t"}', '{"detector":null,"model_name":"m"}'])
      cases.push(`{"face_detection":{"success":true,"faces":[${F}],"metadata":${m}}}`);
    for (const el of ['null', '1', '"x"', '[]', '[1]', 'true']) cases.push(`{"face_detection":{"faces":[${F},${el}]}}`, `{"object_detection":{"objects":[${el}]}}`);
    for (const c of ['-0', '-0.0', '2.0', '1e0', '10e-1', '1.0000000000000001', '12345678901234567890', '"1"', 'null', 'true', '0.99999999999999999', '1E0', '100e-2'])
      for (const key of ['faces_found', 'face_count']) cases.push(`{"face_detection":{"success":true,"faces":[${F}],"${key}":${c}}}`);
    for (const ts of ['1900-02-29T00:00:00', '2000-02-29T00:00:00', '2100-02-29T00:00:00', '2096-02-29T23:59:60', '2024-02-29T23:59:60.999999', '2024-01-31T00:00:00,1', '2024-01-31T00:00:00,', '2024-01-31T00:00:00.', '2024-01-31 00:00:00', '2024-01-31t00:00:00', '2024-01-31T00:00:0', '2024-01-31T00:00:000', '2024-04-31T00:00:00', '2024-11-31T00:00:00', '0000-02-29T00:00:00', '2024-12-31T23:60:00', '2024-12-31T24:00:00', '2024-00-01T00:00:00', '2024-01-00T00:00:00', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00+05:30', '\uff12024-01-01T00:00:00', '2024-01-01T00:00:00\\u0030', '2024-01-01T00:00:00.12a'])
      cases.push(`{"sidecar_info":{"created_at":"${ts}","last_updated":"2024-01-01T00:00:00"},"face_detection":${R()}}`);
    for (const n of ['12345678901234567890', '1.2345678901234567890', '1e-30', '1e30', '123456789012345678901234567890e-29', '0.1e-22', '1e22', '1e23', '9007199254740993', '-0', '-0.0', '0e0', '1e-400'])
      cases.push(
        `{"face_detection":{"success":true,"faces":[{"bbox":{"x":${n},"y":0.2,"width":0.3,"height":0.4},"confidence":${n}}]}}`,
        `{"face_detection":{"success":true,"faces":[{"coordinates":{"x":${n},"y":0.2,"width":0.3,"height":0.4}}]}}`,
        `{"yolov8":{"success":true,"objects":[{"class_name":"a","class_id":${n},"bbox":[${n},1,1,1]}]}}`,
        `{"quality_assessment":{"quality":{"overall_score":${n}}}}`,
      );
    const fl = (n: number, f = (i: number) => (i % 10) / 10 + 0.05) => `[${Array.from({ length: n }, (_, i) => f(i)).join(',')}]`;
    for (const n of [0, 1, 2, 127, 128, 129, 511, 512, 513])
      cases.push(`{"face_detection":{"faces":[{"bbox":[1,2,3,4],"encoding":${fl(n)}}]}}`, `{"face_detection":{"faces":[{"bbox":[1,2,3,4],"encoding":${fl(n, (i) => i)}}]}}`, `{"face_detection":{"faces":[{"bbox":[1,2,3,4],"encoding":${fl(n, (i) => (i % 2 ? i : i + 0.5))}}]}}`);
    cases.push(
      `{"face_detection":{"faces":[{"bbox":[1,2,3,4],"encoding":${fl(128)},"face_encoding":${fl(512)}}]}}`,
      `{"face_detection":{"faces":[{"bbox":[1,2,3,4],"face_encoding":${fl(128)}},{"bbox":[1,2,3,4],"encoding":null,"face_encoding":${fl(128)}}]}}`,
      `{"face_detection":{"faces":[{"bbox":[1,2,3,4],"encoding":${fl(128)}}]},"yolov8":{"x":{"faces":[{"bbox":[1,2,3,4],"encoding":${fl(512)}}]}}}`,
      `{"face_detection":{"faces":[{"bbox":[1,2,3,4],"encoding":[${'0.5,'.repeat(127)}"x"]}]}}`,
      `{"face_detection":{"faces":[{"bbox":[1,2,3,4],"encoding":[${'0.5,'.repeat(127)}1e5]}]}}`,
      `{"face_detection":{"faces":[{"bbox":[1,2,3,4],"encoding":[${'0.5,'.repeat(127)}-0.0]}]}}`,
    );
    for (const lm of ['[]', 'null', '[[1,2]]', '[[1.5,2.5],[3,4]]', '[[1]]', '[[1,2,3]]', '[1,2]', '[[1,"2"]]', '[[null,1]]', '"x"', '{}', '[[-0.0,-1.5]]', '[[1e5,2]]', '[[12345678901234567890,1]]'])
      cases.push(`{"face_detection":{"faces":[{"bbox":[1,2,3,4],"landmarks":${lm}}]}}`);
    for (const t of ['"caf\\u00e9"', '"caf\u00e9"', '"\\u0000"', '"\\""', '""', '"a\\/b"', '"\u{1F600}"', '"\\ud83d\\ude00"'])
      cases.push(`{"face_detection":{"success":true,"faces":[],"metadata":{"detector":${t}},"tool_name":"t2"}}`, `{"quality_assessment":{"quality":{"grade":${t}}}}`, `{"sidecar_info":{"operation_type":${t}},"face_detection":{"faces":[],"metadata":{"detector":"d"}}}`);
    for (const g of ['"A"', '"F"', '"G"', '"@"', '"a"', '"\\u0041"', '"AB"', '""', '1', 'null']) cases.push(`{"quality_assessment":{"success":true,"quality":{"grade":${g},"recommendations":["x"]}}}`);
    for (const rr of ['[]', 'null', '["a",1]', '"x"', '[null]', '{}']) cases.push(`{"quality_assessment":{"success":true,"quality":{"recommendations":${rr}}}}`);
    for (const [sc, e] of [['false', '"x"'], ['false', '""'], ['false', 'null'], ['false', 'false'], ['false', '0'], ['false', '{}'], ['null', '"x"'], ['"true"', 'null'], ['1', 'null']])
      cases.push(`{"face_detection":{"success":${sc},"error":${e},"faces":[]}}`);
    cases.push('{"face_detection":{"success":false,"faces":[]}}');
    for (const si of ['null', '[]', '"x"', '{}', '{"symlink_info":{}}', '{"symlink_info":[]}', '{"symlink_info":false}', '{"symlink_info":{"is_symlink":1}}', '{"image_path":1}', '{"symlink_path":null}', '{"last_operation":null}', '{"operation_type":null}', '{"operation_type":""}', '{"operation_type":"Face_detector"}', '{"operation_type":"unknown"}'])
      cases.push(`{"sidecar_info":${si},"face_detection":{"success":true,"faces":[]}}`);
    for (const r of ['{}', '{"face_detection":{}}', '{"face_detection":{"success":true}}', '{"games":[],"face_detection":{"success":true}}', '{"data":{"face_detection":{"success":true}},"sidecar_info":{}}'])
      cases.push(r);

    it(`${cases.length} inputs, 4 ways each, under 4 names: accel on = off, nothing flagged certified`, () => {
      let onTape = 0;
      for (const c of cases) {
        for (const name of ['IMG.json', 'game_detection.json', 'GAME_DETECTION_REPORT.JSON', 'game_detection.rkyv']) {
          for (const bytes of [Buffer.from(c), Buffer.from(`\ufeff${c}`), legacyBytes(c)]) if (same(bytes, name).onTape) onTape++;
        }
      }
      assert.ok(onTape > 300, `decided on the tape: ${onTape}`);
    });

    it('backends under array-index keys are left to the skeleton; __proto__ and constructor are followed as the reference follows them', () => {
      for (const k of ['0', '01', '1e3', '4294967295']) assert.equal(same(`{"face_detection":{"${k}":${R()}}}`).onTape, false, k);
      for (const k of ['__proto__', 'constructor', 'toString']) {
        const r = same(`{"sidecar_info":{"operation_type":"face_detection"},"face_detection":{"${k}":${R()}}}`);
        assert.equal(r.onTape, true, k);
        assert.equal(r.fast.brief?.toolName, k);
        assert.equal(r.fast.brief?.detectionCount, 1);
      }
    });
  });

  describe('the scan\'s duplicate-key check and end distances, for every inspection that uses the tape', () => {
    const SETS: InspectOptions[] = [VALIDATE, { summarize: true }, { summarize: true, sizes: false, validate: true }, {}, { probe: true }];
    const objectOf = (n: number, dupAt: number, prefix: string) => {
      const keys = Array.from({ length: n }, (_, i) => `"${prefix}${i}":${i}`);
      if (dupAt >= 0) keys.push(`"${prefix}${dupAt}":9`);
      return `{${keys.join(',')}}`;
    };
    const inputs: string[] = [];
    for (const n of [62, 63, 64, 65, 66]) {
      for (const dupAt of [-1, 0, n - 1]) {
        const o = objectOf(n, dupAt, 'q');
        inputs.push(
          `{"face_detection":{"success":true,"faces":[]},"sidecar_info":${o}}`,
          `{"face_detection":{"success":true,"faces":[{"bbox":[1,2,3,4],"x":${o}}]}}`,
          `{"face_detection":{"success":true,"faces":[]},"mine":[[${o}]]}`,
          `{"face_detection":{"success":true,"faces":[],"metadata":${o.replace('{', '{"detector":"d",')}}}`,
        );
      }
    }
    inputs.push(
      '{"face_detection":{"success":true,"faces":[{"bbox":[1,2,3,4],"bbox":[1,2,3,4]}]}}',
      '{"face_detection":{"success":true,"faces":[]},"x":[{"a":1},{"a":1,"a":2}]}',
      '{"face_detection":{"success":true,"faces":[]},"sidecar_info":{"image":[[{"k":1}],[{"k":1,"k":2}]]}}',
      '{"face_detection":{"success":true,"faces":[]},"x":{"a":{"b":1},"b":{"a":1},"c":[{"a":1,"b":[{"a":2,"a":3}]}]}}',
      '{"face_detection":{"success":true,"faces":[]},"x":{"a":{"b":1},"b":{"a":1},"c":[{"a":1,"b":[{"a":2,"b":3}]}]}}',
      `{"face_detection":{"success":true,"faces":[]},"${'L'.repeat(70)}":1,"${'L'.repeat(70)}":2}`,
      `{"face_detection":{"success":true,"faces":[]},"${'L'.repeat(70)}":{"${'M'.repeat(70)}":[{},[],{"z":[]}]}}`,
      '{"face_detection":{"success":true,"faces":[]},"a":1,"\\u0061":2}',
      '{"face_detection":{"success":true,"faces":[]},"e":{},"f":[],"g":[{}],"h":[[[]]],"i":{"j":{"k":{}}}}',
    );

    it('every inspection gives the reference\'s result, and the server\'s read line decodes to the reference\'s data', () => {
      for (const text of inputs) {
        for (const opts of SETS) same(text, 'IMG.json', opts);
        let want: string | null = null;
        try {
          want = typedJsonText(decodeSidecar(Buffer.from(text), { path: 'x.json' }).data);
        } catch {
          want = null;
        }
        const line = plainJsonLine(Buffer.from(text), {});
        if (line !== null) {
          assert.notEqual(want, null, `a line for bytes the reference refuses: ${text.slice(0, 80)}`);
          assert.equal(typedJsonText(decodeSidecar(line, { path: 'x.json' }).data), want, text.slice(0, 80));
        }
      }
    });
  });

  it('generated sidecars in the common form, with backends met once, twice and across files (one thread, one key table)', () => {
    const { rnd, pick } = generator(18);
    const OPS = ['face_detection', 'object_detection', 'ball_detection', 'quality_assessment', 'game_detection', 'yolov8', 'unified', 'pose_detection'];
    let local = ['fa', 'fb', 'fc'];
    const backend = () =>
      pick([() => pick(OPS), () => 'data', () => 'insightface', () => freshKey('nb'), () => pick(local), () => pick(['FaceDetection', 'Face_detector', 'YoloV8', '__proto__', 'constructor', '', 'a-b', 'A B'])])();
    const tool = () => pick(['insightface', 'retina', 'caf\u00e9', 'a"b', '', 'face_detection', 'yolov8', 'x\\y']);
    const node = (depth: number): Record<string, unknown> => {
      const n: Record<string, unknown> = {};
      const kind = pick(['faces', 'objects', 'quality', 'success', 'none', 'none', 'marker']);
      if (kind === 'faces') {
        const k = Math.floor(rnd() * 3);
        n.faces = Array.from({ length: k }, () => ({ bbox: { x: 0.1, y: 0.2, width: 0.3, height: 0.4 }, confidence: 0.9 }));
        if (rnd() < 0.3) n.faces_found = k;
      }
      if (kind === 'objects') {
        const k = Math.floor(rnd() * 3);
        n.objects = Array.from({ length: k }, () => ({ class_name: 'person', class_id: 0, confidence: 0.5, bbox: [1, 2, 3, 4] }));
        if (rnd() < 0.3) n.objects_found = k;
      }
      if (kind === 'quality') n.quality = { grade: 'B', overall_score: 0.5 };
      if (kind === 'success') n.success = true;
      if (kind === 'marker') n[pick(['processing_time', 'detection_time', 'error', 'games', 'face_count', 'objects_found'])] = pick([1.5, 'x', [], {}]);
      if (kind !== 'none' && rnd() < 0.5) {
        const m: Record<string, unknown> = {};
        for (const k of ['detector', 'tool_name', 'model_name']) if (rnd() < 0.4) m[k] = tool();
        n.metadata = rnd() < 0.2 ? pick(['m', [], null]) : m;
      }
      for (const k of ['detector', 'tool_name', 'model_name']) if (rnd() < 0.15) n[k] = tool();
      if (depth < 5 && (kind === 'none' || rnd() < 0.4)) {
        const nc = rnd() < 0.15 ? 5 + Math.floor(rnd() * 5) : 1 + Math.floor(rnd() * 3);
        for (let i = 0; i < nc; i++) {
          const b = backend();
          if (!Object.hasOwn(n, b)) Object.defineProperty(n, b, { value: node(depth + 1), enumerable: true, writable: true, configurable: true });
        }
      }
      return n;
    };
    let onTape = 0;
    for (let k = 0; k < 3000; k++) {
      if (k % 300 === 0) local = [freshKey('fa'), freshKey('fb'), freshKey('fc')];
      const d: Record<string, unknown> = {};
      if (rnd() < 0.8) d.sidecar_info = { operation_type: pick([...OPS, '', 'FaceDetection', 'Yolo_v8', 'YoloV8', 'unknown', 'Unified']) };
      const nops = 1 + Math.floor(rnd() * (rnd() < 0.2 ? 8 : 3));
      for (let i = 0; i < nops; i++) d[pick(OPS)] = node(0);
      if (same(JSON.stringify(d, null, rnd() < 0.3 ? 1 : undefined)).onTape) onTape++;
    }
    assert.ok(onTape > 1500, `decided on the tape: ${onTape}`);
  });

  it('files in one thread, every inspection in turn: certified, unsure, deferred, skeleton given up, the server\'s read — nothing leaks from one to the next', () => {
    const SETS: (InspectOptions | 'read')[] = [VALIDATE, { summarize: true }, VALIDATE, { probe: true }, {}, 'read', VALIDATE, { summarize: true, sizes: false, validate: true }];
    const shapes = [
      (a: string, b: string) => `{"sidecar_info":{"operation_type":"face_detection"},"face_detection":{"${a}":{"${b}":{"${a}":{"success":true,"metadata":{"detector":"${b}"}}}}}}`,
      (a: string, b: string) => `{"face_detection":{"${a}":{"success":true,"faces":[]}},"x":1,"\\u0078":2,"${b}":3}`,
      (a: string, b: string) => `{"face_detection":{"${a}":{"success":true,"faces":[]}},"${b}":{"q":1,"q":2}}`,
      (a: string, b: string) => `{"sidecar_info":{"operation_type":"unified"},"unified":{"face_detection":{"${a}":{"success":true,"faces":[]}},"yolov8":{"${a}":{"success":true,"objects":[]},"${b}":{"success":true}}}}`,
      (a: string, b: string) => `{"face_detection":{"${b}":{"success":true,"faces":[{"bbox":[1,2,3,4]}],"faces_found":2}},"${a}":[]}`,
      (a: string, b: string) => `{"yolov8":{"${a}":{"${a}":{"${b}":{"success":true,"objects":[{"class_name":"p","class_id":0}]}}}}}`,
    ];
    const names = [freshKey('s'), freshKey('s'), freshKey('s'), freshKey('s')];
    for (let k = 0; k < 1200; k++) {
      const a = k % 5 === 0 ? freshKey('t') : names[k % names.length];
      const b = k % 7 === 0 ? freshKey('u') : names[(k * 3 + 1) % names.length];
      const text = shapes[k % shapes.length](a, b);
      const set = SETS[k % SETS.length];
      if (set !== 'read') {
        same(text, 'IMG.json', set);
        continue;
      }
      const line = plainJsonLine(Buffer.from(text), {});
      if (line !== null) assert.equal(typedJsonText(decodeSidecar(line, { path: 'x.json' }).data), typedJsonText(decodeSidecar(Buffer.from(text), { path: 'x.json' }).data));
    }
  });

  // Last of this thread's in-process tests: it fills the scanner's key table.
  it('the key table full (more than 4,096 keys in one thread): new keys are not interned, primed ones still are', () => {
    const doc = (extra: string) => `{"sidecar_info":{"operation_type":"face_detection"${extra}},"face_detection":{"insightface":{"success":true,"faces":[{"bbox":[1,2,3,4]}]}}}`;
    // The skeleton keeps the keys it read: 5,000 files of 3 new keys each, and an escaped key that
    // no decision on the tape takes (not interned: JavaScript checks the keys), so the skeleton is built.
    for (let i = 0; i < 5000; i++) same(doc(`,"\\u0078${i}":0,"${freshKey('f')}":1,"${freshKey('f')}":2,"${freshKey('f')}":3`), 'IMG.json', { summarize: true });
    let onTape = 0;
    for (let i = 0; i < 40; i++) {
      const n = freshKey('full');
      assert.equal(same(doc(`,"${n}":1`)).onTape, false);
      if (same(doc('')).onTape) onTape++;
      assert.equal(same(doc(`,"${n}":1,"${n}":2`)).fast.status, 'corrupt');
      for (const opts of [VALIDATE, { probe: true }, { summarize: true }]) same(doc(`,"${n}":1,"${n}":2`), 'IMG.json', opts);
      const r = same(`{"sidecar_info":{"operation_type":"face_detection"},"face_detection":{"${n}":{"${n}":{"success":true}}}}`);
      assert.equal(r.fast.brief?.toolName, n);
    }
    assert.equal(onTape, 40, 'a file of primed keys only is still decided on the tape');
  });
});

/** A CLI report with what differs run to run taken out (times, the engine, quarantine timestamps). */
function normalized(out: string): string {
  return out
    .replace(/\d{8}T\d{6}Z/g, 'TS')
    .replace(/"processing_time":\s*[0-9.e-]+/g, '"processing_time":0')
    .replace(/"engine":\s*\{[^}]*\}/g, '"engine":{}');
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const r = await runCli([...args, '-q'], { env });
  assert.ok(r.code === 0 || r.code === 1, `${args.join(' ')}: exit ${r.code}: ${r.stderr.slice(0, 400)}`);
  return { code: r.code, out: normalized(r.stdout) };
}


describe('accel validate parity: validate on trees, the accelerator on and off (CLI, inline and threads)', () => {
  let root = '';
  before(() => {
    root = tempDir('isc-accel-validate-');
    const F = '{"bbox":{"x":0.1,"y":0.2,"width":0.3,"height":0.4}}';
    const docs = [
      // the crash of a fresh thread: a backend met a second time in its own file
      '{"sidecar_info":{"operation_type":"unified"},"face_detection":{"insightface":{"success":true,"faces":[]}},"unified":{"face_detection":{"insightface":{"success":true,"faces":[]}}}}',
      '{"sidecar_info":{"operation_type":"face_detection"},"face_detection":{"retina":{"retina":{"success":true}}}}',
      `{"face_detection":{"success":true,"faces":[${F}],"metadata":{"detector":"insightface","faces_found":1}}}`,
      `{"face_detection":{"success":true,"faces":[${F}],"metadata":{"detector":"insightface","faces_found":2}}}`,
      `{"sidecar_info":{"operation_type":"yolov8"},"face_detection":{${Array.from({ length: 8 }, (_, i) => `"b${i}":{"success":true}`).join(',')}},"object_detection":{${Array.from({ length: 8 }, (_, i) => `"c${i}":{"success":true}`).join(',')}},"ball_detection":{${Array.from({ length: 8 }, (_, i) => `"d${i}":{"success":true}`).join(',')}},"quality_assessment":{${Array.from({ length: 8 }, (_, i) => `"e${i}":{"success":true}`).join(',')}},"yolov8":{"success":true}}`,
      '{"face_detection":{"0":{"success":true,"faces":[]},"a":{"success":true}}}',
      '{"face_detection":{"__proto__":{"success":true,"faces":[],"metadata":{"detector":"p"}}}}',
      '{"sidecar_info":{"created_at":"2100-02-29T00:00:00"},"face_detection":{"success":true,"faces":[]}}',
      '{"sidecar_info":{"created_at":"2000-02-29T23:59:60,5"},"face_detection":{"success":true,"faces":[]}}',
      '{"face_detection":{"success":true,"faces":[]},"x":{"a":1,"a":2}}',
      '{"face_detection":{"success":true,"faces":[]},"x":{"a":1,"\\u0061":2}}',
      '{"quality_assessment":{"success":true,"quality":{"grade":"\\u0041"}}}',
    ];
    for (let i = 0; i < docs.length; i++) {
      const dir = join(root, `d${i % 3}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `IMG_${i}.jpg`), FAKE_JPEG);
      writeFileSync(join(dir, `IMG_${i}.json`), docs[i]);
      writeFileSync(join(dir, `BOM_${i}.jpg`), FAKE_JPEG);
      writeFileSync(join(dir, `BOM_${i}.json`), `\ufeff${docs[i]}`);
      writeFileSync(join(dir, `LEG_${i}.jpg`), FAKE_JPEG);
      writeFileSync(join(dir, `LEG_${i}.bin`), legacyBytes(docs[i]));
    }
    writeFileSync(join(root, 'd0', 'game_detection.json'), docs[2]);
  });
  after(() => removeTree(root));

  it('validate --json and --jsonl: the same bytes with IMAGE_SIDECAR_ACCEL=off, inline and threads', async () => {
    const ref = await cli(['validate', root, '--no-index', '--json', '--engine', 'inline'], { IMAGE_SIDECAR_ACCEL: 'off' });
    assert.equal(ref.code, 1);
    for (const engine of [['--engine', 'inline'], ['--engine', 'threads', '-w', '2']]) {
      assert.equal((await cli(['validate', root, '--no-index', '--json', ...engine])).out, ref.out, engine.join(' '));
    }
    const refl = await cli(['validate', root, '--no-index', '--jsonl', '--engine', 'threads', '-w', '2'], { IMAGE_SIDECAR_ACCEL: 'off' });
    assert.equal((await cli(['validate', root, '--no-index', '--jsonl', '--engine', 'threads', '-w', '2'])).out, refl.out);
  });
});

describe('accel validate parity: link groups whose targets lie outside the root (scan/session.ts: their sidecars inspected in batches)', () => {
  let base = '';
  let lib = '';
  let out = '';
  const idx = () => join(base, 'idx', 'index');
  before(() => {
    base = tempDir('isc-accel-links-');
    lib = join(base, 'lib');
    out = join(base, 'outside');
    const put = (p: string, d: string | Buffer) => {
      mkdirSync(join(p, '..'), { recursive: true });
      writeFileSync(p, d);
    };
    const link = (target: string, p: string) => {
      mkdirSync(join(p, '..'), { recursive: true });
      symlinkSync(target, p);
    };
    const json = (name: string, faces: number) => JSON.stringify(sidecarData(name, faces, 128), null, 2);
    for (let i = 0; i < 45; i++) {
      const d = join(out, `p${i % 3}`);
      put(join(d, `O${i}.jpg`), FAKE_JPEG);
      if (i % 11 === 4) continue; // no sidecar
      const kind = i % 9;
      put(join(d, `O${i}.${kind === 5 ? 'bin' : 'json'}`), kind === 3 ? '{"broken": ' : kind === 4 ? `\ufeff${json(`O${i}.jpg`, 1)}` : kind === 5 ? legacyBytes(JSON.stringify(sidecarData(`O${i}.jpg`, 2, 128))) : json(`O${i}.jpg`, i % 3));
      if (i % 13 === 6) put(join(d, `O${i}.jpg.json`), json(`O${i}.jpg`, 0)); // two sidecars: ambiguous
    }
    link('O1.jpg', join(out, 'p1', 'Olink.jpg'));
    for (let i = 0; i < 20; i++) {
      put(join(lib, 'photos', `P${i}.jpg`), FAKE_JPEG);
      if (i % 7 !== 3) put(join(lib, 'photos', `P${i}.json`), json(`P${i}.jpg`, i % 2));
    }
    put(join(lib, 'photos', 'orphan.json'), json('orphan.jpg', 1));
    link('P0.jpg', join(lib, 'photos', 'chainin.jpg'));
    link(join(out, 'p0', 'O0.jpg'), join(lib, 'photos', 'chainout.jpg'));
    link(out, join(lib, 'outlink'));
    // g0: 300 links (more than one job of 256), all leaving the root
    for (let k = 0; k < 300; k++) link(k % 2 ? `../../../outside/p${k % 3}/O${k % 45}.jpg` : join(out, `p${k % 3}`, `O${(k * 7) % 45}.jpg`), join(lib, 'games', 'g0', `M${String(k).padStart(3, '0')}.jpg`));
    // g1: every kind of link, with local sidecars and a real image among them
    const kinds = ['outrel', 'outabs', 'in', 'broken', 'chain', 'chainout', 'dirlink', 'outlink'];
    for (let k = 0; k < 64; k++) {
      const p = join(lib, 'games', 'g1', `L${String(k).padStart(2, '0')}.jpg`);
      const i = (k * 5) % 45;
      const kind = kinds[k % kinds.length];
      if (kind === 'outrel') link(`../../../outside/p${i % 3}/O${i}.jpg`, p);
      else if (kind === 'outabs') link(join(out, `p${i % 3}`, `O${i}.jpg`), p);
      else if (kind === 'in') link(`../../photos/P${k % 20}.jpg`, p);
      else if (kind === 'broken') link(`../../../outside/p0/none${k}.jpg`, p);
      else if (kind === 'chain') link('../../photos/chainin.jpg', p);
      else if (kind === 'chainout') link('../../photos/chainout.jpg', p);
      else if (kind === 'dirlink') link(`../../outlink/p${i % 3}/O${i}.jpg`, p);
      else link(join(out, 'p1', 'Olink.jpg'), p);
      if (k % 10 === 0) put(join(lib, 'games', 'g1', `L${String(k).padStart(2, '0')}.json`), json(`L${k}.jpg`, 1));
    }
    put(join(lib, 'games', 'g1', 'real.jpg'), FAKE_JPEG);
    put(join(lib, 'games', 'g1', 'real.json'), json('real.jpg', 1));
  });
  after(() => removeTree(base));

  const INLINE = ['--engine', 'inline'];
  const THREADS = ['--engine', 'threads', '-w', '2'];

  it('every command gives the same report inline, with threads, by shard, and with the index (first run, warm, after edits)', async () => {
    const commands: string[][] = [
      ['validate', lib, '--json'],
      ['stats', lib, '--json', '--list'],
      ['format-stats', lib, '--json'],
      ['export', lib, '-f', 'jsonl'],
    ];
    for (const [ci, c] of commands.entries()) {
      const ref = await cli([...c, '--no-index', ...INLINE]);
      assert.equal((await cli([...c, '--no-index', ...THREADS])).out, ref.out, `${c[0]} threads`);
      for (const engine of inTurn([INLINE, THREADS], ci)) {
        rmSync(join(base, 'idx'), { recursive: true, force: true });
        mkdirSync(join(base, 'idx'));
        assert.equal((await cli([...c, '--index', idx(), ...engine])).out, ref.out, `${c[0]} ${engine[1]} index, first run`);
        assert.equal((await cli([...c, '--index', idx(), ...engine])).out, ref.out, `${c[0]} ${engine[1]} index, warm`);
      }
    }
    for (const c of [['todo', lib, '--jsonl', '--operation', 'face_detection'], ['convert', lib, '--dry-run', '-f', 'bin', '--json', '--list'], ['cleanup', lib, '--dry-run', '--json', '--force']]) {
      const ref = await cli([...c, ...INLINE]);
      assert.equal((await cli([...c, ...THREADS])).out, ref.out, `${c[0]} threads`);
    }
    // Shards, inline and threads: their merge is the whole run's report.
    const whole = await cli(['validate', lib, '--json', '--no-index', ...INLINE]);
    for (const engine of [INLINE, THREADS]) {
      const files = [0, 1].map((i) => join(base, `shard${i}.jsonl`));
      for (let i = 0; i < 2; i++) await cli(['validate', lib, '--jsonl', '--no-index', '--shard', `${i}/2`, '-o', files[i], ...engine]);
      assert.equal((await cli(['merge', ...files, '--json'])).out, whole.out, `merged shards, ${engine[1]}`);
    }
  });

  it('after edits outside the root, the index (warm) gives what a run without it gives', async () => {
    for (const engine of inTurn([INLINE, THREADS], 1)) {
      rmSync(join(base, 'idx'), { recursive: true, force: true });
      mkdirSync(join(base, 'idx'));
      await cli(['validate', lib, '--json', '--index', idx(), ...engine]);
      const edits = [
        () => writeFileSync(join(out, 'p0', 'O6.json'), '{"broken"'),
        () => writeFileSync(join(out, 'p1', 'O7.json'), JSON.stringify({ face_detection: { success: true, faces: [] } })),
        () => unlinkSync(join(out, 'p2', 'O8.json')),
        () => {
          unlinkSync(join(lib, 'games', 'g0', 'M000.jpg'));
          symlinkSync(join(out, 'p2', 'O11.jpg'), join(lib, 'games', 'g0', 'M000.jpg'));
        },
        () => symlinkSync('../../../outside/p1/O10.jpg', join(lib, 'games', 'g1', `NEW${engine[1]}.jpg`)),
        () => renameSync(join(out, 'p1', 'O10.json'), join(out, 'p1', 'O10.jpg.json')),
      ];
      for (let e = 0; e < edits.length; e++) {
        edits[e]();
        const ref = await cli(['validate', lib, '--json', '--no-index', ...INLINE]);
        assert.equal((await cli(['validate', lib, '--json', '--index', idx(), ...engine])).out, ref.out, `${engine[1]}: after edit ${e}`);
      }
      // Put the tree back for the next engine.
      writeFileSync(join(out, 'p0', 'O6.json'), JSON.stringify(sidecarData('O6.jpg', 1, 128), null, 2));
      writeFileSync(join(out, 'p2', 'O8.json'), JSON.stringify(sidecarData('O8.jpg', 1, 128), null, 2));
      renameSync(join(out, 'p1', 'O10.jpg.json'), join(out, 'p1', 'O10.json'));
    }
  });
});
