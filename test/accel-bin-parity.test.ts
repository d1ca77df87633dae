/**
 * Crafted attacks on the bin body scan (assembly/scanner.ts scanCbor, accel/decode.ts binScan) against the
 * reference decoder (formats/cbor.ts), through the parity helper (validate, stats with sizes,
 * format-stats, and the rest): every inspection with the accelerator on must be the one with it
 * off, and nothing the reference flags may come out certified.
 *
 * Defect found: the depth limit reached the module through WebAssembly's ToInt32, which wraps a
 * number outside the i32 range — maxDepth -2^32 + 8 read as 8, so a file the reference calls too
 * deep (every file: the root is at depth 0 >= the limit) was certified, bin and JSON alike, and
 * validate through the public API counted a corrupt file as valid. Fixed in accel/scanner.ts
 * (scannerDepth: floor of the limit, 0 when it is not a non-negative number, the largest i32
 * beyond that).
 *
 * The rest are the strongest attacks that found nothing, kept as regression tests: every float16
 * value in the fields the rules and the summary compare, and generated sidecars (faces, objects,
 * quality, metadata, nested backends, sidecar_info with timestamps and image records) written in
 * non-canonical CBOR (heads wider than needed, float16/32 items where they are exact, plain float
 * arrays or tag 86 blocks) and as typed JSON text of the same data, interleaved in one thread.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeSidecar } from '../src/formats/codec.js';
import { inspectBytes } from '../src/tasks/inspect.js';
import { scannerDepth } from '../src/accel/scanner.js';
import { validate, stats, formatStats } from '../src/index.js';
import { binFile } from './reliability/fuzz-inputs.js';
import { checkAccelParity, generator, newTally, type ParityTally } from './helpers/accel-parity.js';
import { cborHead } from './helpers/cbor.js';
import { removeTree, tempDir } from './helpers/cli.js';

function assertClean(t: ParityTally): void {
  assert.deepEqual(t.mismatches.slice(0, 3), [], `${t.mismatches.length} mismatches`);
}

// ---------------------------------------------------------------------------------------------
// A typed CBOR writer: ints and floats told apart (an integral float stays a float item), heads
// and float items as wide as asked, float arrays as plain items or tag 86 blocks.
// ---------------------------------------------------------------------------------------------

class Flt {
  constructor(
    readonly v: number,
    readonly width?: 2 | 4 | 8,
  ) {}
}
class Int {
  constructor(
    readonly v: number,
    readonly width?: 0 | 1 | 2 | 4 | 8,
  ) {}
}
class Raw {
  constructor(readonly bytes: Buffer) {}
}
class Obj {
  constructor(readonly entries: [string, Val][]) {}
}
type Val = null | boolean | string | Flt | Int | Raw | Obj | Val[];
const fl = (v: number, width?: 2 | 4 | 8) => new Flt(v, width);
const int = (v: number, width?: 0 | 1 | 2 | 4 | 8) => new Int(v, width);
const obj = (entries: [string, Val][]) => new Obj(entries);

const head = cborHead;

/** The float16 bits of x when it is exactly a float16, else -1. */
function halfBits(x: number): number {
  if (x === 0) return Object.is(x, -0) ? 0x8000 : 0;
  const sign = x < 0 ? 0x8000 : 0;
  const a = Math.abs(x);
  const sub = a / 2 ** -24;
  if (Number.isInteger(sub) && sub < 1024) return sign | sub;
  for (let e = 1; e < 31; e++) {
    const mant = (a / 2 ** (e - 15) - 1) * 1024;
    if (mant >= 0 && mant < 1024) return Number.isInteger(mant) ? sign | (e << 10) | mant : -1;
  }
  return -1;
}

function floatItem(x: number, width: 2 | 4 | 8): Buffer {
  if (width === 2) {
    const h = halfBits(x);
    if (h >= 0) return Buffer.from([0xf9, h >> 8, h & 0xff]);
  }
  if (width !== 8 && Math.fround(x) === x) {
    const b = Buffer.alloc(5);
    b[0] = 0xfa;
    b.writeFloatBE(x, 1);
    return b;
  }
  const b = Buffer.alloc(9);
  b[0] = 0xfb;
  b.writeDoubleBE(x, 1);
  return b;
}

interface Style {
  rnd: () => number;
  /** Heads wider than needed, now and then. */
  wide: boolean;
  /** Float items as float16/32 where exact. */
  small: boolean;
  /** Float-only arrays as tag 86 blocks, now and then. */
  blocks: boolean;
}

function cbor(v: Val, s: Style): Buffer {
  const parts: Buffer[] = [];
  const hw = () => (s.wide && s.rnd() < 0.15 ? ([1, 2, 4, 8] as const)[Math.floor(s.rnd() * 4)] : undefined);
  const go = (x: Val): void => {
    if (x === null) parts.push(Buffer.from([0xf6]));
    else if (x === true || x === false) parts.push(Buffer.from([x ? 0xf5 : 0xf4]));
    else if (typeof x === 'string') {
      const b = Buffer.from(x, 'utf8');
      parts.push(head(3, BigInt(b.length), hw()), b);
    } else if (x instanceof Int) {
      const n = BigInt(x.v);
      parts.push(n >= 0n ? head(0, n, x.width ?? hw()) : head(1, -1n - n, x.width ?? hw()));
    } else if (x instanceof Flt) parts.push(floatItem(x.v, x.width ?? (s.small ? ([2, 4, 8] as const)[Math.floor(s.rnd() * 3)] : 8)));
    else if (x instanceof Raw) parts.push(x.bytes);
    else if (x instanceof Obj) {
      parts.push(head(5, BigInt(x.entries.length), hw()));
      for (const [k, y] of x.entries) {
        const b = Buffer.from(k, 'utf8');
        parts.push(head(3, BigInt(b.length), hw()), b);
        go(y);
      }
    } else if (s.blocks && x.length > 0 && x.every((y) => y instanceof Flt) && s.rnd() < 0.5) {
      const payload = Buffer.alloc(8 * x.length);
      x.forEach((y, k) => payload.writeDoubleLE((y as Flt).v, 8 * k));
      parts.push(Buffer.from([0xd8, 86]), head(2, BigInt(payload.length), hw()), payload);
    } else {
      parts.push(head(4, BigInt(x.length), hw()));
      x.forEach(go);
    }
  };
  go(v);
  return Buffer.concat(parts);
}

/** The same data as typed JSON text (an integral float keeps its '.0', -0.0 its sign). */
function jsonText(v: Val): string {
  if (v === null || v === true || v === false) return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof Int) return String(v.v);
  if (v instanceof Flt) {
    if (Object.is(v.v, -0)) return '-0.0';
    const t = String(v.v);
    return /[.e]/.test(t) ? t : `${t}.0`;
  }
  if (v instanceof Raw) throw new Error('raw bytes have no JSON form');
  if (v instanceof Obj) return `{${v.entries.map(([k, y]) => `${JSON.stringify(k)}:${jsonText(y)}`).join(',')}}`;
  return `[${v.map(jsonText).join(',')}]`;
}

const binOf = (v: Val, s?: Style) => Buffer.from(binFile(cbor(v, s ?? { rnd: () => 0.99, wide: false, small: false, blocks: false }), false));

// ---------------------------------------------------------------------------------------------
// Generated sidecars: mostly clean (so that the certifier and the summarizer decide them), with
// a share `bad` of values a rule flags, and the number forms that matter (ints and integral
// floats in counts, ids and times; -0.0; float16 subnormals; ints at 2^53; non-ASCII text).
// ---------------------------------------------------------------------------------------------

function sidecar(seed: number): { tree: Val; style: Style } {
  const g = generator(seed);
  const r = g.rnd;
  const pick = g.pick;
  const chance = (p: number) => r() < p;
  const bad = pick([0, 0, 0.01, 0.05]);
  const B = () => chance(bad);
  const n = (k: number) => Math.floor(r() * k);
  const shuffle = <T>(a: T[]): T[] => {
    for (let k = a.length - 1; k > 0; k--) {
      const j = n(k + 1);
      [a[k], a[j]] = [a[j], a[k]];
    }
    return a;
  };
  const embLength = pick([128, 512]);
  const FLOATS = [0, -0, 0.5, 1, 0.25, 0.1, 0.9, 1.5, 2, 100, 65504, 5.960464477539063e-8, 6.103515625e-5, 1e-40, 1e21, 2 ** 53, -1, -0.5, 1 / 3, 5e-324, 1e300];
  const INTS = [0, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 32, 2 ** 53 - 1, -1, -24, -25, -(2 ** 53), 128, 512];
  const num = (): Val => (chance(0.3) ? int(pick(INTS)) : fl(chance(0.5) ? pick(FLOATS) : (Math.round(r() * 1000) / 1000) * (chance(0.1) ? -1 : 1)));
  const unit = (): Val => (B() ? pick([fl(1.0000001), fl(-1e-300), int(2), fl(-0.5)]) : pick([fl(r()), fl(pick([0, -0, 1, 0.5, 5.960464477539063e-8])), int(pick([0, 1])), fl(Math.fround(r()))]));
  const str = (): string => pick(['', 'a', 'insightface', 'yolov8', 'Zoë', '北京', '\u0000', 'a"b', 'a\\b', '\ufeffx', 'x'.repeat(n(80)), 'person', 'FaceDetection', 'Face_detector', 'unified']);
  const ts = (): string =>
    B() ? pick(['2023-02-29T00:00:00', '2024-13-01T00:00:00', 'nope', '2024-01-02T24:00:00']) : pick(['2024-01-02T03:04:05', '2024-01-02T03:04:05.123456', '2024-02-29 00:00:00', '2024-01-02T03:04:05Z', '2024-01-02', '2024-01-02T03:04:60', '2024-01-02T03:04:05,5']);
  const box = (): Val =>
    !B() && chance(0.5)
      ? obj([['x', unit()], ['y', unit()], ['width', unit()], ['height', unit()]])
      : Array.from({ length: B() ? n(6) : 4 }, () => (chance(0.8) ? fl(Math.round(r() * 500) + (chance(0.5) ? 0.5 : 0)) : chance(0.5) ? int(n(500)) : B() ? fl(-1) : fl(pick([-0, 0]))));
  const emb = (): Val[] => Array.from({ length: B() ? pick([3, 0, 4]) : embLength }, () => (chance(0.995) ? fl(r() - 0.3) : chance(0.5) ? int(1) : fl(-0)));
  const face = (): Val => {
    const e: [string, Val][] = [];
    if (!B()) e.push(['bbox', box()]);
    else e.push(['coordinates', box()]);
    if (chance(0.8)) e.push(['confidence', unit()]);
    if (chance(0.5)) e.push(['landmarks', Array.from({ length: n(5) }, () => (B() ? [num()] : [num(), num()]))]);
    if (chance(0.7)) e.push([chance(0.8) ? 'encoding' : 'face_encoding', chance(0.95) ? emb() : null]);
    if (chance(0.2)) e.push([pick(['name', 'age', 'ключ', 'k'.repeat(65), ...(bad > 0 ? ['0', '__proto__', 'data'] : [])]), pick<Val>([str(), num(), obj([['success', true]])])]);
    return obj(shuffle(e));
  };
  const object = (): Val => {
    const e: [string, Val][] = [];
    if (!B()) e.push(['class_name', pick(['person', 'ball', 'car', 'Zoë', '', 'a"b'])]);
    if (!B()) e.push(['class_id', chance(0.7) ? int(n(80)) : pick([fl(1), fl(-0), fl(0), fl(3, 2), int(0, 8), fl(2 ** 53)])]);
    if (chance(0.8)) e.push(['confidence', unit()]);
    if (chance(0.7)) e.push(['bbox', box()]);
    if (chance(0.2)) e.push([pick(['coordinates_pixels', 'coordinates_percent', 'crop_area_percent']), box()]);
    return obj(shuffle(e));
  };
  const count = (k: number): Val => (B() ? int(k + 1) : pick([int(k), fl(k), k === 0 ? fl(-0) : int(k), null, fl(k, 2)]));
  const node = (op: string, depth: number): Val => {
    const e: [string, Val][] = [];
    let success: Val | undefined;
    if (chance(0.8)) e.push(['success', (success = B() ? pick([int(1), null]) : chance(0.9))]);
    if (success === false && !B()) e.push(['error', pick<Val>(['boom', int(0), 'é', fl(0)])]);
    let faces = -1;
    let objects = -1;
    if (op === 'face_detection' || op === 'unified' || chance(0.1)) {
      const fs = Array.from({ length: n(4) }, face);
      faces = fs.length;
      e.push(['faces', fs]);
      if (chance(0.3)) e.push([pick(['faces_found', 'face_count']), count(faces)]);
    }
    if (op === 'object_detection' || op === 'yolov8' || op === 'ball_detection' || chance(0.1)) {
      const os = Array.from({ length: n(4) }, object);
      objects = os.length;
      e.push(['objects', os]);
      if (chance(0.3)) e.push(['objects_found', count(objects)]);
    }
    if (op === 'quality_assessment' || chance(0.1)) {
      const q: [string, Val][] = [];
      for (const k of ['overall_score', 'sharpness', 'exposure']) if (chance(0.6)) q.push([k, B() ? pick<Val>(['x', null]) : num()]);
      if (chance(0.7)) q.push(['grade', B() ? pick(['G', '', 'AA', 'é']) : pick(['A', 'B', 'F'])]);
      if (chance(0.4)) q.push(['recommendations', B() ? [str(), int(1)] : [str(), str()]]);
      e.push(['quality', obj(shuffle(q))]);
    }
    if (chance(0.7)) {
      const m: [string, Val][] = [];
      if (chance(0.7)) m.push(['processing_time', chance(0.6) ? fl(r()) : pick<Val>([int(1), fl(-0), fl(2), int(0), 'x', fl(1e21), int(-(2 ** 53)), fl(-5)])]);
      if (chance(0.2)) m.push(['detection_time', num()]);
      if (chance(0.2)) m.push(['detection_time_seconds', num()]);
      if (chance(0.5)) m.push([pick(['detector', 'tool_name', 'model_name']), chance(0.9) ? str() : num()]);
      if (faces >= 0 && chance(0.3)) m.push(['faces_found', count(faces)]);
      if (objects >= 0 && chance(0.3)) m.push(['objects_found', count(objects)]);
      e.push(['metadata', obj(shuffle(m))]);
    }
    if (chance(0.2)) e.push(['processing_time', num()]);
    if (chance(0.2)) e.push([pick(['detector', 'tool_name', 'model_name']), str()]);
    if (depth < 4 && chance(0.15)) e.push([pick(['insightface', 'data', 'yolov8', 'face_detection', 'retina', '1x']), node(op, depth + 1)]);
    return obj(shuffle(e));
  };
  const info = (): Val => {
    const e: [string, Val][] = [];
    if (chance(0.9)) e.push(['operation_type', B() ? int(1) : pick(['face_detection', 'object_detection', 'FaceDetection', 'yolov8', '', 'Zoë', 'Face_detector', 'face-detection', 'FACE_DETECTION'])]);
    if (chance(0.8)) e.push(['created_at', ts()]);
    if (chance(0.8)) e.push(['last_updated', ts()]);
    if (chance(0.5)) e.push(['image_path', chance(0.9) ? str() : null]);
    if (chance(0.3)) e.push(['symlink_info', obj([['is_symlink', B() ? int(1) : chance(0.5)], ['broken', chance(0.5)], ['target_path', chance(0.5) ? str() : null]])]);
    if (chance(0.3)) {
      const image: [string, Val][] = [
        ['size', pick<Val>([int(123), fl(123), int(2 ** 53 - 1), '123', int(-1), fl(-0)])],
        ['mtime_ns', pick<Val>([int(2 ** 40), '1700000000123456789', fl(5), int(2 ** 53 - 1)])],
        ['operations', [pick(['FaceDetection', 'face_detection', 'yolov8']), int(1)]],
        ['sha256', pick(['A'.repeat(64), 'a'.repeat(64), 'x'])],
      ];
      e.push(['image', obj(image.filter(() => chance(0.9)))]);
    }
    return obj(shuffle(e));
  };
  const root: [string, Val][] = [];
  if (chance(0.85)) root.push(['sidecar_info', B() ? pick<Val>([null, int(1), 'x']) : info()]);
  for (const op of shuffle(['face_detection', 'object_detection', 'quality_assessment', 'yolov8', 'ball_detection', 'unified', 'pose_detection', 'game_detection']).slice(0, 1 + n(3))) {
    root.push([op, B() ? pick<Val>([null, int(3), fl(1), 'x', [fl(1.5)]]) : node(op, 0)]);
  }
  if (B()) root.push([pick(['games', 'data', 'Face_detector', 'notes']), pick<Val>([[], [obj([['a', int(1)]])], obj([['games', []]]), str()])]);
  return { tree: obj(shuffle(root)), style: { rnd: r, wide: chance(0.3), small: chance(0.5), blocks: chance(0.7) } };
}

// ---------------------------------------------------------------------------------------------

describe('accel bin parity: the bin body scan against the reference decoder', () => {
  const clean = obj([['face_detection', obj([['success', true], ['faces', []]])]]);
  // 2^32 off a small limit: the same i32 to WebAssembly; the reference calls every file too deep (the root is at depth 0).
  const WRAPPING = [-(2 ** 32) + 8, -(2 ** 32) + 1, -(2 ** 33) + 64];

  it('a depth limit that ToInt32 wraps is not certified (bin and JSON): the reference calls the file too deep', () => {
    const files: [string, Buffer][] = [
      ['wrap.bin', binOf(clean)],
      ['wrap.json', Buffer.from(jsonText(clean))],
    ];
    const t = newTally();
    for (const maxDepth of WRAPPING) {
      for (const [name, bytes] of files) {
        for (const opts of [{ brief: true, validate: true }, { summarize: true }, {}]) {
          const fast = inspectBytes({ path: name, name }, bytes, { ...opts, maxDepth, accel: true });
          const ref = inspectBytes({ path: name, name }, bytes, { ...opts, maxDepth, accel: false });
          assert.equal(ref.status, 'corrupt', `${name} ${maxDepth}: the reference's verdict`);
          assert.equal(ref.error?.code, 'TOO_DEEP');
          assert.notEqual(fast.accel, 'wasm', `${name} ${maxDepth} ${JSON.stringify(opts)}: certified`);
          assert.equal(fast.status, 'corrupt');
        }
      }
    }
    // Limits the i32 does hold, or that are not integers: never more than the reference allows.
    for (const maxDepth of [...WRAPPING, 2 ** 32 + 8, 2 ** 31 + 3, 1e10, -1e10, NaN, Infinity, -Infinity, 0, -0, 0.5, -0.5, 2.5, 3, 3.999, 8]) {
      for (const [name, bytes] of [['d.bin', binOf(obj([['face_detection', obj([['success', true], ['faces', [obj([['bbox', [fl(1.5), fl(2), fl(3), fl(4)]]])]]])]]))] as const, ['d.json', Buffer.from('{"face_detection":{"success":true,"faces":[{"bbox":[1.5,2.0,3.0,4.0]}]}}')] as const]) {
        checkAccelParity(`${name} maxDepth ${maxDepth}`, bytes, t, { maxDepth });
      }
    }
    assertClean(t);
    assert.equal(scannerDepth(-(2 ** 32) + 8), 0);
    assert.equal(scannerDepth(3.999), 3);
    assert.equal(scannerDepth(2 ** 32 + 8), 0x7fffffff);
    assert.equal(scannerDepth(NaN), 0);
  });

  describe('through the public API', () => {
    let root = '';
    before(() => {
      root = tempDir('isc-accel-bin-parity-');
      fs.writeFileSync(path.join(root, 'a.jpg'), '');
      fs.writeFileSync(path.join(root, 'a.bin'), encodeSidecar({ face_detection: { success: true, faces: [] } }, 'bin'));
      fs.writeFileSync(path.join(root, 'b.jpg'), '');
      fs.writeFileSync(path.join(root, 'b.json'), '{"face_detection":{"success":true,"faces":[]}}');
    });
    after(() => removeTree(root));

    it('validate, stats and format-stats with a wrapping maxDepth: the same with the accelerator on and off', async () => {
      const maxDepth = -(2 ** 32) + 8;
      const run = async (accel: boolean) => {
        const v = await validate(root, { accel, engine: 'inline', maxDepth });
        for (const x of v.results ?? []) x.processing_time = 0;
        return { v: { ...v, scan: { ...v.scan, engine: null } }, s: await stats(root, { accel, engine: 'inline', maxDepth }), f: await formatStats(root, { accel, engine: 'inline', maxDepth }) };
      };
      const off = await run(false);
      assert.equal(off.v.valid_files, 0, 'the reference: both files too deep');
      assert.deepEqual(await run(true), off);
    });
  });

  it('every float16 value as confidence, bbox element, processing time and quality score: deferred or identical', () => {
    const t = newTally();
    for (let h = 0; h < 0x10000; h += h < 0x0400 || (h >= 0x3800 && h <= 0x3c01) || h >= 0x8000 && h < 0x8400 ? 1 : 13) {
      const x = new Raw(Buffer.from([0xf9, h >> 8, h & 0xff]));
      const tree = obj([
        ['face_detection', obj([['success', true], ['faces', [obj([['bbox', [x, fl(0.5), fl(0.25), x]], ['confidence', x]])]], ['metadata', obj([['processing_time', x]])]])],
        ['quality_assessment', obj([['quality', obj([['overall_score', x]])]])],
      ]);
      checkAccelParity(`float16 ${h.toString(16)}`, binOf(tree), t);
    }
    assertClean(t);
    assert.ok(t.binCertified > 1000, `certified ${t.binCertified} of ${t.files}`);
  });

  it('counts, class ids and times as ints, integral floats (16/32/64), -0.0 and wide heads: deferred or identical', () => {
    const forms = (k: number): Val[] => [int(k), int(k, 8), fl(k), fl(k, 2), fl(k, 4), ...(k === 0 ? [fl(-0), fl(-0, 2)] : [fl(k + 0.5), int(k + 1)])];
    const t = newTally();
    for (const k of [0, 1, 2]) {
      for (const c of forms(k)) {
        const faces = Array.from({ length: k }, () => obj([['bbox', obj([['x', fl(0.1)], ['y', fl(0.2)], ['width', fl(0.3)], ['height', fl(0.4)]])]]));
        const objects = Array.from({ length: k }, () => obj([['class_name', 'person'], ['class_id', c], ['bbox', [fl(1), fl(2), fl(3), fl(4)]]]));
        for (const where of ['node', 'metadata'] as const) {
          const counts: [string, Val][] = [['faces_found', c], ['objects_found', c]];
          const tree = obj([
            ['sidecar_info', obj([['operation_type', 'unified'], ['created_at', '2024-01-02T03:04:05.5']])],
            ['unified', obj([['success', true], ['faces', faces], ['objects', objects], ...(where === 'node' ? counts : []), ['metadata', obj([['processing_time', c], ...(where === 'metadata' ? counts : [])])]])],
          ]);
          checkAccelParity(`count ${k} as ${jsonText(c)} in ${where}`, binOf(tree), t);
          checkAccelParity(`count ${k} as ${jsonText(c)} in ${where} (JSON)`, Buffer.from(jsonText(tree)), t);
        }
      }
    }
    assertClean(t);
    assert.ok(t.binCertified > 10, `certified ${t.binCertified} of ${t.bin}`);
  });

  it('stats sizes (dataSizes) of non-canonical bodies: wide heads, float16/32 items, plain float runs of 1..6, tag 86 blocks of 1..6, empty containers, non-ASCII text', () => {
    const t = newTally();
    let statsCertified = 0;
    const g = generator(2020);
    for (let run = 0; run < 200; run++) {
      const len = Math.floor(g.rnd() * 7);
      const floats = Array.from({ length: len }, () => fl(g.pick([0.5, -0, 1, 2 ** 53, 65504, 5.960464477539063e-8, -0.25])));
      const value = obj([
        ['success', true],
        ['faces', []],
        ['emb', floats],
        ['mixed', [int(1), ...floats]],
        ['nested', [floats, [], obj([])]],
        ['text', g.pick(['', 'é', '北京🏐', 'x'.repeat(23), 'x'.repeat(24), 'ü'.repeat(200), 'a"b\\c\u0001'])],
        ['n', g.pick<Val>([int(23), int(24), int(255), int(256), int(65535), int(65536), int(2 ** 32 - 1), int(2 ** 32), int(2 ** 53 - 1), int(-(2 ** 53)), fl(1e21), fl(-0)])],
      ]);
      const tree = obj([['face_detection', value], ['object_detection', g.pick<Val>([floats, obj([]), [], 'é', int(-(2 ** 53)), fl(1, 2), null])]]);
      const style = { rnd: g.rnd, wide: g.rnd() < 0.5, small: g.rnd() < 0.5, blocks: g.rnd() < 0.5 };
      const bytes = binOf(tree, style);
      checkAccelParity(`sizes ${run}`, bytes, t, {});
      // Not vacuous: stats decides on the tape (validate may well flag these).
      if (inspectBytes({ path: 'x.bin', name: 'x.bin' }, bytes, { summarize: true, accel: true }).accel === 'wasm') statsCertified++;
    }
    assertClean(t);
    assert.ok(statsCertified > 150, `stats certified ${statsCertified} of ${t.bin}`);
  });

  it('generated sidecars, non-canonical CBOR and typed JSON of the same data interleaved: deferred or identical', () => {
    const t = newTally();
    for (let seed = 1; seed <= 1500; seed++) {
      const { tree, style } = sidecar(seed * 7919);
      const extra = seed % 10 === 0 ? { maxDepth: 3 + (seed % 7) } : {};
      checkAccelParity(`gen ${seed}.bin`, binOf(tree, style), t, extra);
      if (seed % 3 === 0) checkAccelParity(`gen ${seed}.json`, Buffer.from(jsonText(tree)), t, extra);
    }
    assertClean(t);
    assert.ok(t.binCertified > 300, `certified ${t.binCertified} of ${t.bin}`);
  });
});
