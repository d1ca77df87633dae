/**
 * The accelerator's stats and format-stats paths against the reference, attacked with crafted
 * input: the stats summarizer on the scanner's tape (assembly/scanner.ts summarizeStats,
 * src/accel/certify.ts summaryOnTape), format-stats' shape on the tape (shapeOf / shapeOnTape), the
 * scan's bundles of a folder's records (src/scan/session.ts, mapJobs queueWeight) and the inspect
 * task's packed items (src/tasks/inspect-wire.ts packInspectItems). Every input must give, with the
 * accelerator, exactly what the reference (accel: false) gives; fixtures are made by code.
 */
import assert from 'node:assert/strict';
import { mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { after, before, describe, it } from 'node:test';
import { accelCounts } from '../src/accel/decode.js';
import { decodeSidecar, encodeSidecar } from '../src/formats/codec.js';
import { inspectBytes } from '../src/tasks/inspect.js';
import { packInspectItems, unpackInspectItems } from '../src/tasks/inspect-wire.js';
import { validateFiles } from '../src/ops/validate-files.js';
import { scan } from '../src/ops/scan.js';
import { createRuntime } from '../src/engine/select.js';
import type { Runtime } from '../src/engine/runtime.js';
import { FAKE_JPEG } from './helpers/tree.js';
import { inTurn } from './helpers/campaign.js';
import { removeTree, runCli, tempDir } from './helpers/cli.js';
import { freshKey, generator, legacyBytes, strip } from './helpers/accel-parity.js';
import type { FileInspection, InspectItem, InspectOptions } from '../src/model/inspection.js';

const STATS: InspectOptions = { summarize: true };
const STATS_NO_SIZES: InspectOptions = { summarize: true, sizes: false };




/** `text` inspected with the accelerator and without: the same result. Returns whether it was decided on the tape. */
function same(text: string | Buffer, opts: InspectOptions = STATS, name = 'IMG_1.json'): { fast: FileInspection; ref: FileInspection; onTape: boolean } {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const before = accelCounts.onTape;
  const fast = inspectBytes({ path: name, name }, Buffer.from(bytes), { ...opts, accel: true });
  const onTape = accelCounts.onTape > before;
  const ref = inspectBytes({ path: name, name }, Buffer.from(bytes), { ...opts, accel: false });
  assert.deepEqual(strip(fast), strip(ref), `accel on vs off (${JSON.stringify(opts)}, ${name}): ${bytes.toString('utf8', 0, 300)}`);
  return { fast, ref, onTape };
}

describe('accel stats parity: the stats summarizer on the tape', () => {
  it('sidecar_info.image whose keys the file met before (KEY_ID of a key this tape introduced) is read as the reference reads it', () => {
    // Before: tapeValue read such a key from keyStrings, where no skeleton had put its string —
    // the skeleton's GIVE_UP escaped inspectBytes.
    for (const opts of [STATS, STATS_NO_SIZES]) {
      const k = freshKey('img');
      const r = same(`{"face_detection":{"success":true,"${k}":1},"sidecar_info":{"image":{"${k}":1,"size":5,"mtime_ns":"12"}}}`, opts);
      assert.deepEqual(r.fast.summary?.image, { size: 5, mtimeNs: 12n, operations: [], staleOperations: [] });
    }
  });

  it('...and an id a rollback freed does not bring back the old key\'s string (a fresh thread: size and mtime_ns never interned)', async () => {
    // The first file (decided on the tape) reads its image record: keyStrings gets `size` and
    // `mtime_ns` for two ids, which the next scan frees. The second file introduces them in the other
    // order in an operation, then refers to them in its image record: read through stale strings,
    // size and mtime swapped places silently.
    const url = new URL('../src/tasks/inspect.js', import.meta.url).href;
    const code = `
      const { parentPort } = require('node:worker_threads');
      import(${JSON.stringify(url)}).then(({ inspectBytes }) => {
        const run = (t) => [true, false].map((accel) => inspectBytes({ path: 'a.json', name: 'a.json' }, Buffer.from(t), { summarize: true, accel }).summary.image);
        const out = [];
        out.push(run('{"sidecar_info":{"image":{"size":5,"mtime_ns":"12"}},"face_detection":{"success":true}}'));
        out.push(run('{"face_detection":{"success":true,"mtime_ns":7,"size":9},"sidecar_info":{"image":{"size":5,"mtime_ns":"123"}}}'));
        parentPort.postMessage(out.map(([a, b]) => [JSON.stringify(a, (k, v) => typeof v === 'bigint' ? String(v) : v), JSON.stringify(b, (k, v) => typeof v === 'bigint' ? String(v) : v)]));
      }, (e) => parentPort.postMessage(String(e && e.stack || e)));`;
    const w = new Worker(code, { eval: true });
    const answer = await new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await w.terminate();
    assert.ok(Array.isArray(answer), String(answer));
    for (const [fast, ref] of answer as [string, string][]) assert.equal(fast, ref);
  });

  it('numbers at every head size and in every form, where the summary reads them and where it only sizes them', () => {
    const nums: string[] = [];
    for (const b of [0n, 1n, 23n, 24n, 25n, 255n, 256n, 257n, 65535n, 65536n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 64n - 1n, 2n ** 64n]) nums.push(String(b), String(-b), String(-b - 1n));
    nums.push('-0', '-0.0', '0.0', '1e2', '1E2', '1.0', '1e-7', '25.0', '1.5e300', '5e-324', '0.12345678901234567', '0.1234567890123456789', '1.2345678901234567890', '12345678901234567890.0', '1e22', '1e23', '100e-2', '0e0', '-0e0', '9999999999999999999', '10000000000000000000', '100000000000000000000', '123456789012345678901234567890');
    const forms = (v: string) => [
      `{"face_detection":{"success":true,"v":${v}}}`,
      `{"face_detection":{"success":true,"v":[${v}]}}`,
      `{"face_detection":{"success":true,"v":[${v},${v},${v},${v}]}}`,
      `{"face_detection":{"success":true,"v":[1.5,2.5,3.5,${v}]}}`,
      `{"face_detection":{"success":true,"v":[1.5,2.5,${v}]}}`,
      `{"face_detection":{"success":true,"v":[[1.5,2.5],[${v},0.5]]}}`,
      `{"face_detection":{"success":true,"processing_time":${v},"metadata":{"detection_time":1.5}}}`,
      `{"face_detection":{"success":true,"metadata":{"processing_time":${v}},"detection_time":2}}`,
      `{"face_detection":{"a":{"detection_time":"x","metadata":{"detection_time_seconds":${v}}},"b":{"processing_time":${v}}}}`,
      `{"quality_assessment":{"quality":{"overall_score":${v},"grade":"A"}},"yolov8":{"quality":{"overall_score":0.5}}}`,
      `{"sidecar_info":{"image":{"size":${v},"mtime_ns":${v}}},"face_detection":{"success":true}}`,
    ];
    let onTape = 0;
    for (const v of nums) for (const f of forms(v)) for (const opts of [STATS, STATS_NO_SIZES]) if (same(f, opts).onTape) onTape++;
    assert.ok(onTape > 900, `decided on the tape: ${onTape}`);
  });

  it('strings and keys at every head size (ASCII, 2/3/4-byte UTF-8, escaped), empty and nested containers, float runs around 4', () => {
    const strs: string[] = [];
    for (const len of [0, 1, 23, 24, 25, 255, 256, 257, 65535, 65536, 65537]) {
      strs.push(JSON.stringify('a'.repeat(len)), JSON.stringify('\u00e9'.repeat(Math.ceil(len / 2))), JSON.stringify('\u20ac'.repeat(Math.ceil(len / 3))), JSON.stringify('\u{1F600}'.repeat(Math.ceil(len / 4))));
      strs.push(`"${'a'.repeat(Math.max(0, len - 6))}\\u00e9"`);
    }
    strs.push('"\\ud83d\\ude00"', '"\\/"', '"a\\"b"', '"\\u0000"', '"\u007f"', '"\u0080"', '"\uffff"');
    let onTape = 0;
    const run = (t: string) => {
      for (const opts of [STATS, STATS_NO_SIZES]) if (same(t, opts).onTape) onTape++;
    };
    for (const str of strs) {
      run(`{"face_detection":{"success":true,"s":${str}}}`);
      run(`{"face_detection":${str}}`);
      run(`{"face_detection":{"success":true,"metadata":{"detector":${str}}},"sidecar_info":{"operation_type":${str}}}`);
      run(`{"quality_assessment":{"quality":{"grade":${str}}}}`);
      run(`{"yolov8":{"success":true,"objects":[{"class_name":${str}},{"class_name":${str}}]}}`);
    }
    for (const len of [0, 1, 23, 24, 25, 255, 256, 257, 1000]) {
      const k = 'k'.repeat(len);
      run(`{"face_detection":{"success":true,"${k}":1}}`);
      run(`{"face_detection":{"${k}":{"success":true}}}`);
      run(`{"face_detection":{"success":true,"x":{"${k}":[]}}}`);
    }
    for (const v of ['{}', '[]', '[[]]', '[{}]', '{"a":{}}', '[[],[]]', '[[[[]]]]', '[{},[],null,true,false,""]', '[1,2,3,4]', '[1.5,2,3.5,4.5]', '[1.5,-2.5,3.5,4.5]', '[[1.5,2.5],[3.5,4.5]]', '[-0.0,-0.0,-0.0,-0.0]', '[1.0,2.0,3.0,4.0]', '[1e2,2e2,3e2,4e2]', '[0.5,0.5,0.5,-0]', 'null', 'true', '"x"', '7']) {
      run(`{"face_detection":{"success":true,"v":${v}}}`);
      run(`{"face_detection":${v},"yolov8":{"success":true}}`);
      run(`{"face_detection":{"success":true,"faces":[{"encoding":${v}},{"encoding":${v},"face_encoding":[1.5]},{"face_encoding":${v}}]}}`);
    }
    for (const n of [1, 2, 3, 4, 5, 31, 32, 33, 8191, 8192, 8193]) {
      const fl = Array.from({ length: n }, (_, i) => `${i}.5`).join(',');
      run(`{"face_detection":{"success":true,"v":[${fl}],"w":[${fl},1],"x":[1,${fl}],"y":[${fl.replace(/\.5/g, '.5e0')}]}}`);
    }
    assert.ok(onTape > 300, `decided on the tape: ${onTape}`);
  });

  it('generated sidecars: times, success over backends, tools, faces, embeddings, classes, quality, symlink_info, image records (each in JSON, after a BOM, as legacy)', () => {
    const { rnd, pick } = generator(1818);
    const OPS = ['face_detection', 'object_detection', 'ball_detection', 'quality_assessment', 'game_detection', 'yolov8', 'unified', 'pose_detection'];
    const NUMS = ['1', '1.5', '0', '-0', '-0.0', '25.0', '1e2', '"1.5"', 'null', 'true', '[]', '{}', '0.12345678901234567', '12345678901234567890', '9007199254740993', '1e-7', '-3', '1e22', '2.5E-3', '18446744073709551616'];
    const STR = ['"insightface"', '""', '"caf\\u00e9"', '"caf\u00e9"', '"__proto__"', '"constructor"', '"0"', '"toString"', '"person"', '"a\\"b"', '1', 'null', '"face_detection"', '"yolov8"'];
    const BACK = ['insightface', 'data', 'retina', '__proto__', 'constructor', 'face_detection', 'yolov8', 'unified', 'FaceDetection', 'metadata', 'sidecar_info', 'size', 'mtime_ns', 'x-y'];
    const node = (depth: number): string => {
      const parts = new Map<string, string>();
      for (let i = Math.floor(rnd() * 4); i > 0; i--) {
        const m = pick(['success', 'faces', 'objects', 'quality', 'metadata', 'processing_time', 'detection_time', 'error', 'face_count', 'objects_found', 'poses', 'games', 'detector', 'tool_name', 'model_name', 'z']);
        if (m === 'success') parts.set(m, pick(['true', 'false', 'null', '1', '"true"']));
        else if (m === 'faces') parts.set(m, `[${Array.from({ length: Math.floor(rnd() * 3) }, () => pick(['{"bbox":[1,2,3,4]}', '{"encoding":[0.5,1.5,2.5,3.5,4.5]}', '{"encoding":[]}', '{"face_encoding":[1,2]}', '{"encoding":null,"face_encoding":[0.5]}', '1', 'null', '{"encoding":"x"}'])).join(',')}]`);
        else if (m === 'objects') parts.set(m, `[${Array.from({ length: Math.floor(rnd() * 4) }, () => pick([`{"class_name":${pick(STR)}}`, '{}', '1'])).join(',')}]`);
        else if (m === 'quality') parts.set(m, pick([`{"grade":${pick(STR)},"overall_score":${pick(NUMS)}}`, `{"overall_score":${pick(NUMS)}}`, 'null', '{}']));
        else if (m === 'metadata') {
          const mp: string[] = [];
          for (const k of ['processing_time', 'detection_time', 'detection_time_seconds']) if (rnd() < 0.4) mp.push(`"${k}":${pick(NUMS)}`);
          for (const k of ['detector', 'tool_name', 'model_name']) if (rnd() < 0.3) mp.push(`"${k}":${pick(STR)}`);
          parts.set(m, rnd() < 0.15 ? pick(['null', '"m"', '[]']) : `{${mp.join(',')}}`);
        } else if (m === 'detector' || m === 'tool_name' || m === 'model_name') parts.set(m, pick(STR));
        else parts.set(m, pick(NUMS));
      }
      if (depth < 4 && rnd() < 0.5) for (let i = 1 + Math.floor(rnd() * 3); i > 0; i--) parts.set(pick(BACK), node(depth + 1));
      return `{${[...parts].map(([k, v]) => `"${k}":${v}`).join(',')}}`;
    };
    let onTape = 0;
    for (let k = 0; k < 1500; k++) {
      const parts: string[] = [];
      if (rnd() < 0.7) {
        const si: string[] = [];
        if (rnd() < 0.7) si.push(`"operation_type":${pick([...OPS.map((o) => `"${o}"`), '"FaceDetection"', '""', '1', 'null', '"Unified"'])}`);
        if (rnd() < 0.3) si.push(`"symlink_info":${pick(['{}', '{"is_symlink":true}', '{"is_symlink":true,"broken":true}', '{"broken":true}', '{"is_symlink":1}', 'null', '[]'])}`);
        if (rnd() < 0.3) si.push(`"image":${pick(['{"size":5,"mtime_ns":"123"}', '{"mtime_ns":1,"size":5}', '{"size":5,"mtime_ns":123456789012345678901}', '{"size":5.0,"mtime_ns":1}', '{"size":9007199254740992,"mtime_ns":1}', `{"size":1,"mtime_ns":"1","sha256":"${'A'.repeat(64)}","operations":["FaceDetection","face_detection",1]}`, '{"size":1}', 'null', '[]', '{"size":1,"mtime_ns":1,"stale_operations":["yolo_v8"]}'])}`);
        parts.push(`"sidecar_info":${rnd() < 0.1 ? pick(['null', '[]', '"x"']) : `{${si.join(',')}}`}`);
      }
      const used = new Set<string>();
      for (let i = Math.floor(rnd() * 5); i > 0; i--) {
        const op = pick(OPS);
        if (used.has(op)) continue;
        used.add(op);
        parts.push(`"${op}":${rnd() < 0.1 ? pick(NUMS) : node(0)}`);
      }
      if (rnd() < 0.5) parts.reverse();
      const text = `{${parts.join(',')}}`;
      for (const bytes of [Buffer.from(text), Buffer.from(`\ufeff${text}`), legacyBytes(text)]) if (same(bytes, rnd() < 0.5 ? STATS : STATS_NO_SIZES).onTape) onTape++;
    }
    assert.ok(onTape > 2000, `decided on the tape: ${onTape}`);
  });

  it('3,000 files in one thread, every inspection in turn, image records whose keys other parts of the file (and earlier files) met first', () => {
    const { rnd, pick } = generator(7);
    const IK = ['size', 'mtime_ns', 'sha256', 'operations', 'stale_operations', 'extra', 'Size'];
    const SETS: InspectOptions[] = [STATS, STATS_NO_SIZES, { brief: true, validate: true }, { probe: true }, {}, { summarize: true, validate: true }];
    const uniq = (parts: string[]) => {
      const seen = new Set<string>();
      return parts.filter((p) => {
        const key = p.slice(0, p.indexOf('":'));
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
    };
    let onTape = 0;
    for (let k = 0; k < 3000; k++) {
      const ks = [...IK, `f${k % 50}`, freshKey('g')];
      const img: string[] = [];
      for (const key of [...IK].sort(() => rnd() - 0.5)) {
        if (rnd() >= 0.7) continue;
        const v = key === 'size' ? pick(['5', '"5"', '5.0', '18446744073709551616']) : key === 'mtime_ns' ? pick(['"123"', '123', '1700000000000000000']) : key === 'sha256' ? `"${'ab'.repeat(32)}"` : key.includes('operations') ? '["face_detection","FaceDetection"]' : '1';
        img.push(`"${key}":${v}`);
      }
      if (rnd() < 0.3) img.push(`"${pick(ks)}":0`);
      const op = ['"success":true'];
      for (let i = 0; i < 3; i++) if (rnd() < 0.5) op.push(`"${pick(ks)}":${pick(['1', '{}', '{"success":false,"error":"e"}', '[]'])}`);
      const info = `"sidecar_info":{"operation_type":"face_detection","image":{${uniq(img).join(',')}}}`;
      const opv = `"face_detection":{${uniq(op).join(',')}}`;
      if (same(rnd() < 0.5 ? `{${opv},${info}}` : `{${info},${opv}}`, pick(SETS)).onTape) onTape++;
    }
    assert.ok(onTape > 1500, `decided on the tape: ${onTape}`);
  });
});

describe('accel stats parity: format-stats\' shape on the tape', () => {
  it('report content and names, alias spellings, escaped keys, __proto__, objects of many keys: the reference\'s shape (JSON, BOM, legacy)', () => {
    const NAMES = ['IMG.json', 'game_detection.json', 'GAME_DETECTION.JSON', 'Game_Detection_Report.bin', 'game_detection_report.rkyv', 'game_detection.txt', 'x/game_detection.json', 'game_detection', 'game_detection.json.json'];
    const KEYS = ['face_detection', 'FaceDetection', 'Face_detector', 'face detector', 'face-detection', 'yolo_v8', 'YoloV8', 'YOLOV8', 'Unified', '__proto__', 'constructor', 'toString', 'games', 'Games', 'data', 'sidecar_info', 'x', '0', 'PoseDetection', 'game_detector', 'QualityAssessment', 'BallDetector'];
    const VALS = ['{}', '[]', 'null', '"s"', '[1.5,2.5]', '{"games":[]}', '{"games":{}}', '{"games":[1.5,2.5,3.5,4.5]}', '{"face_detection":{}}'];
    const roots: string[] = [];
    for (const k of KEYS) {
      for (const v of VALS) roots.push(`{"${k}":${v}}`, `{"sidecar_info":{},"${k}":${v}}`, `{"sidecar_info":null,"${k}":${v},"data":{"x":1,"games":[]}}`);
      roots.push(`{"${k.replace(/_/g, '\\u005f')}":{}}`);
    }
    for (const n of [63, 64, 65, 130]) {
      const many = Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(',');
      roots.push(`{${many}}`, `{${many},"FaceDetection":{}}`, `{"face_detection":{},${many}}`, `{${many},"games":[]}`, `{"data":{${many},"games":[]}}`);
    }
    roots.push('{}', '{"data":{"data":{"games":[]}}}', '{"data":[{"games":[]}]}', '{"data":{"games":[]},"sidecar_info":{}}');
    let onTape = 0;
    for (const r of roots) for (const name of NAMES) for (const bytes of [Buffer.from(r), Buffer.from(`\ufeff${r}`), legacyBytes(r)]) if (same(bytes, {}, name).onTape) onTape++;
    assert.ok(onTape > 10_000, `decided on the tape: ${onTape}`);
  });
});

describe('accel stats parity: an operation\'s value as a scalar number, sized as the bin encoding writes it', () => {
  // The number model keeps a scalar's type on its container: `{"face_detection": 25.0}` holds the
  // float 25.0 (9 bytes in bin), `18446744073709551616` an int beyond 2^64 (a tag-2 bignum, 11
  // bytes). The tape sized them so; the reference sized the bare JavaScript number (the int 25: 1
  // byte; 1.8e19 as a float: 9), and stats' data sizes differed with IMAGE_SIDECAR_ACCEL=off.
  const cases: [string, number][] = [
    ['25.0', 9], ['-25.0', 9], ['1e2', 9], ['1E2', 9], ['0.0', 9], ['0e0', 9], ['100e-2', 9], ['1.0e0', 9], ['1e22', 9], ['-0.0', 9],
    ['-0', 1], ['23', 1], ['24', 2], ['-24', 1], ['-25', 2], ['65536', 5], ['4294967296', 9], ['9007199254740993', 9], ['18446744073709551615', 9],
    ['18446744073709551616', 11], ['-18446744073709551617', 11], ['123456789012345678901234567890', 1 + 1 + 13],
  ];
  it('the same size with the accelerator and without, in JSON, after a BOM, as legacy and in bin; the encoder\'s own bytes', () => {
    let onTape = 0;
    for (const [n, size] of cases) {
      for (const text of [`{"face_detection":${n}}`, `{"sidecar_info":{"operation_type":"yolov8"},"yolov8":${n},"face_detection":{"success":true}}`]) {
        for (const bytes of [Buffer.from(text), Buffer.from(`\ufeff${text}`), legacyBytes(text)]) {
          for (const opts of [STATS, STATS_NO_SIZES]) {
            const r = same(bytes, opts);
            if (r.onTape) onTape++;
            if (opts === STATS) assert.equal(r.fast.summary!.dataSizes[text.includes('yolov8') ? 'yolov8' : 'face_detection'], size, text);
          }
        }
        const data = decodeSidecar(Buffer.from(text)).data;
        const bin = inspectBytes({ path: 'IMG_1.bin', name: 'IMG_1.bin' }, encodeSidecar(data, 'bin'), STATS);
        assert.deepEqual(bin.summary!.dataSizes, same(text).ref.summary!.dataSizes, `bin: ${text}`);
      }
    }
    assert.ok(onTape > 100, `decided on the tape: ${onTape}`);
  });

  it('the flat form\'s payload sizes its scalars with their notes too', () => {
    for (const [n, size] of [['2.0', 9], ['2', 1], ['18446744073709551616', 11]] as const) {
      const text = `{"sidecar_info":{"operation_type":"face_detection"},"faces":[],"processing_time":${n}}`;
      const r = same(text);
      // map head, "faces" and [], "processing_time" and the number
      assert.equal(r.ref.summary!.dataSizes.face_detection, 1 + 6 + 1 + 16 + size, text);
    }
  });
});

describe('accel stats parity: the inspect task\'s packed items (worker threads)', () => {
  let dir = '';
  before(() => {
    dir = tempDir('isc-accel-stats-wire-');
    writeFileSync(join(dir, 'a.json'), '{"face_detection":{"success":true}}');
  });
  after(() => removeTree(dir));

  it('a listed path holding U+0000 is one unreadable result with threads as inline (the packed items hold it)', async () => {
    const paths = [join(dir, 'a.json'), join(dir, 'x\u0000y.json'), '\u0000', join(dir, 'a.json')];
    const strip = (r: Awaited<ReturnType<typeof validateFiles>>) => JSON.stringify(r.results!.map((x) => ({ ...x, processing_time: 0 })));
    const inline = await validateFiles(paths, { engine: 'inline' });
    assert.equal(inline.invalid_files, 2);
    const threads = await validateFiles(paths, { engine: 'threads', workers: 2 });
    assert.equal(strip(threads), strip(inline));
  });

  it('items round-trip: unicode, newlines, names other than the path\'s last part, sizes, several LinkAt objects in one batch', () => {
    const atA = { scan: 1, rootReal: '/r', dirRel: 'a' };
    const atB = { scan: 1, rootReal: '/r', dirRel: 'a' };
    const items: InspectItem[] = [
      { path: '/r/caf\u00e9/\u{1F600}.json', name: '\u{1F600}.json' },
      { path: '/r/a\nb/c\rd.json', name: 'c\rd.json', size: 0 },
      { path: '/r/x/game_detection.json', name: 'IMG.json', size: 12 },
      { path: '/r/x/', name: '' },
      { path: '', name: 'n' },
      { path: '/r/a/L.jpg', name: 'L.jpg', resolveLink: atA },
      { path: '/r/a/M.jpg', name: 'other.jpg', resolveLink: atB },
      { path: '/r/a/N.jpg', name: 'N.jpg', resolveLink: atA, size: 3 },
      { path: 'rel/\\back\\slash.json', name: 'slash.json' },
    ];
    const back = unpackInspectItems(structuredClone(packInspectItems(items)));
    assert.deepEqual(back, items);
    assert.equal(back[5].resolveLink, back[7].resolveLink);
    assert.notEqual(back[5].resolveLink, back[6].resolveLink);
    // A path holding U+0000 is packed as any other (one form: each path's end is given, not a separator).
    const nul: InspectItem[] = [{ path: '/a\u0000b', name: 'b' }, { path: '\u0000', name: '\u0000' }, { path: '', name: '' }];
    assert.deepEqual(unpackInspectItems(structuredClone(packInspectItems(nul))), nul);
  });
});

describe('accel stats parity: the scan\'s bundles of a folder\'s records', () => {
  let root = '';
  before(() => {
    root = tempDir('isc-accel-stats-bundle-');
    mkdirSync(join(root, 'a'));
    // 40 sidecars of 400 KB in one folder: 20 fit in the pipeline's 8 MiB batch.
    const big = JSON.stringify({ face_detection: { success: true, pad: 'x'.repeat(400_000) } });
    for (let i = 0; i < 40; i++) {
      const stem = join(root, 'a', `I${String(i).padStart(2, '0')}`);
      writeFileSync(`${stem}.jpg`, FAKE_JPEG);
      writeFileSync(`${stem}.json`, big);
    }
  });
  after(() => removeTree(root));

  /** An inline runtime that records each batch's items and bytes. */
  function recording(): { runtime: Runtime; batches: { items: number; bytes: number }[] } {
    const inner = createRuntime({ engine: 'inline' });
    const batches: { items: number; bytes: number }[] = [];
    const runtime: Runtime = {
      kind: inner.kind,
      get workers() {
        return inner.workers;
      },
      run(task, items, options, o) {
        batches.push({ items: items.length, bytes: (items as InspectItem[]).reduce((t, it) => t + statSync(it.path).size, 0) });
        return inner.run(task, items, options, o);
      },
      close: () => inner.close(),
    };
    return { runtime, batches };
  }

  it('a bundle stays within the batch bounds: --batch-size, and the bytes of data-keeping inspections (export)', async () => {
    for (const batchSize of [undefined, 1, 5]) {
      const { runtime, batches } = recording();
      let n = 0;
      for await (const rec of scan(root, { runtime, batchSize, inspect: { summarize: true, sizes: false, dataJson: true } })) {
        n++;
        assert.equal(rec.sidecars[0].inspection.status, 'ok');
      }
      await runtime.close();
      assert.equal(n, 40);
      const most = Math.max(...batches.map((b) => b.items));
      if (batchSize !== undefined) assert.ok(most <= batchSize, `batch size ${batchSize}: a batch of ${most} items`);
      for (const b of batches) assert.ok(b.items === 1 || b.bytes <= 8 * 1024 * 1024, `a batch of ${b.items} files, ${b.bytes} bytes`);
    }
  });
});

/** A CLI report with what differs run to run taken out (validate's timings, the engine). */
function normalized(out: string, command: string): string {
  const o = command === 'validate' ? out.replace(/"processing_time":\s*[0-9.e-]+/g, '"processing_time":0') : out;
  return o.replace(/\d{8}T\d{6}Z/g, 'TS').replace(/"engine":\s*\{[^}]*\}/g, '"engine":{}');
}

/** `as`: the command whose report this is (merge gives the merged command's). */
async function cli(args: string[], env: Record<string, string> = {}, as = args[0]): Promise<string> {
  const r = await runCli([...args, '-q'], { env });
  assert.ok(r.code === 0 || r.code === 1, `${args.join(' ')}: exit ${r.code}: ${r.stderr.slice(0, 400)}`);
  return normalized(r.stdout, as);
}

const INLINE = ['--engine', 'inline'];
const THREADS = ['--engine', 'threads', '-w', '2'];

describe('accel stats parity: stats and format-stats on generated trees, the accelerator on and off (CLI, inline and threads, the index)', () => {
  let base = '';
  let root = '';
  before(() => {
    base = tempDir('isc-accel-stats-cli-');
    root = join(base, 'lib');
    const { rnd, pick } = generator(99);
    const OPS = ['face_detection', 'object_detection', 'ball_detection', 'quality_assessment', 'game_detection', 'yolov8', 'unified', 'pose_detection'];
    const NUMS = ['1', '1.5', '0', '-0', '-0.0', '25.0', '1e2', '"1.5"', 'null', '0.12345678901234567', '12345678901234567890', '1e-7', '18446744073709551616'];
    const STR = ['"insightface"', '""', '"caf\\u00e9"', '"caf\u00e9"', '"__proto__"', '"constructor"', '"0"', '"person"', '1', 'null'];
    const BACK = ['insightface', 'data', 'retina', '__proto__', 'face_detection', 'yolov8', 'size', 'mtime_ns'];
    const node = (depth: number): string => {
      const parts = new Map<string, string>();
      for (let i = Math.floor(rnd() * 4); i > 0; i--) {
        const m = pick(['success', 'faces', 'objects', 'quality', 'metadata', 'processing_time', 'detection_time']);
        if (m === 'success') parts.set(m, pick(['true', 'false', 'null']));
        else if (m === 'faces') parts.set(m, `[${Array.from({ length: Math.floor(rnd() * 3) }, () => pick(['{"bbox":[1,2,3,4]}', '{"encoding":[0.5,1.5,2.5,3.5,4.5]}', '1'])).join(',')}]`);
        else if (m === 'objects') parts.set(m, `[${Array.from({ length: Math.floor(rnd() * 4) }, () => pick([`{"class_name":${pick(STR)}}`, '{}'])).join(',')}]`);
        else if (m === 'quality') parts.set(m, `{"grade":${pick(STR)},"overall_score":${pick(NUMS)}}`);
        else if (m === 'metadata') parts.set(m, `{"processing_time":${pick(NUMS)},"detector":${pick(STR)}}`);
        else parts.set(m, pick(NUMS));
      }
      if (depth < 3 && rnd() < 0.5) for (let i = 0; i < 2; i++) parts.set(pick(BACK), node(depth + 1));
      return `{${[...parts].map(([k, v]) => `"${k}":${v}`).join(',')}}`;
    };
    for (let k = 0; k < 240; k++) {
      const parts: string[] = [];
      if (rnd() < 0.7) parts.push(`"sidecar_info":{"operation_type":${pick(['"face_detection"', '"yolov8"', '"Unified"', '""'])}${rnd() < 0.4 ? ',"image":{"size":14,"mtime_ns":"1700000000000000000","operations":["face_detection"]}' : ''}${rnd() < 0.2 ? ',"symlink_info":{"is_symlink":true}' : ''}}`);
      const used = new Set<string>();
      for (let i = 1 + Math.floor(rnd() * 3); i > 0; i--) {
        const op = pick(OPS);
        if (used.has(op)) continue;
        used.add(op);
        parts.push(`"${op}":${rnd() < 0.15 ? pick(NUMS) : node(0)}`);
      }
      if (rnd() < 0.5) parts.reverse();
      const dir = join(root, `d${k % 5}`);
      mkdirSync(dir, { recursive: true });
      const stem = join(dir, `W${String(k).padStart(4, '0')}`);
      writeFileSync(`${stem}.jpg`, FAKE_JPEG);
      const text = `{${parts.join(',')}}`;
      if (k % 9 === 4) writeFileSync(`${stem}.bin`, legacyBytes(text));
      else writeFileSync(`${stem}.json`, (k % 9 === 5 ? '\ufeff' : '') + text);
    }
    // Two shapes the stats summarizer once got wrong, in a folder of their own: an image record whose
    // keys the file met first in an operation, and scalar numbers an operation holds, sized as the bin
    // encoding writes them (25.0 a float, an int past 2^64 a bignum).
    writeFileSync(join(root, 'd0', 'X1.json'), '{"face_detection":{"success":true,"mtime_ns":7,"size":9},"sidecar_info":{"image":{"size":5,"mtime_ns":"123"}}}');
    writeFileSync(join(root, 'd0', 'X2.json'), '{"face_detection":25.0,"yolov8":18446744073709551616}');
  });
  after(() => removeTree(base));

  it('stats --json --list and format-stats --json: the same bytes with IMAGE_SIDECAR_ACCEL=off, inline, threads, index first and warm', async () => {
    for (const c of [['stats', root, '--json', '--list'], ['format-stats', root, '--json']]) {
      const ref = await cli([...c, '--no-index', ...INLINE], { IMAGE_SIDECAR_ACCEL: 'off' });
      for (const engine of [INLINE, THREADS]) {
        assert.equal(await cli([...c, '--no-index', ...engine]), ref, `${c[0]} ${engine[1]}`);
        const idx = join(base, `idx-${c[0]}-${engine[1]}`);
        mkdirSync(idx);
        assert.equal(await cli([...c, '--index', join(idx, 'index'), ...engine]), ref, `${c[0]} ${engine[1]} index, first run`);
        assert.equal(await cli([...c, '--index', join(idx, 'index'), ...engine]), ref, `${c[0]} ${engine[1]} index, warm`);
      }
    }
  });
});

describe('accel stats parity: bundles through every command (folders of images, sidecars, links, lone sidecars, reports, unaddressable names; index, edits, shards)', () => {
  let base = '';
  let lib = '';
  let out = '';
  before(() => {
    base = tempDir('isc-accel-stats-scan-');
    lib = join(base, 'lib');
    out = join(base, 'outside');
    const doc = (i: number) =>
      JSON.stringify({
        sidecar_info: { operation_type: ['face_detection', 'yolov8', 'FaceDetection'][i % 3], ...(i % 7 === 3 ? { image: { size: 14, mtime_ns: '1700000000000000000', operations: ['face_detection'] } } : {}) },
        face_detection: { success: i % 5 !== 0, ...(i % 5 === 0 ? { error: 'e' } : {}), faces: Array.from({ length: i % 3 }, () => ({ bbox: { x: 0.1, y: 0.2, width: 0.3, height: 0.4 } })), metadata: { processing_time: i / 4, detector: 'insightface' } },
        ...(i % 2 ? { yolov8: { success: true, objects: [{ class_name: ['person', '__proto__'][i % 2], class_id: 0 }] } } : {}),
      });
    const put = (p: string, d: string | Buffer) => {
      mkdirSync(join(p, '..'), { recursive: true });
      writeFileSync(p, d);
    };
    const link = (target: string, p: string) => {
      mkdirSync(join(p, '..'), { recursive: true });
      symlinkSync(target, p);
    };
    const sidecar = (stem: string, i: number) => {
      const k = i % 13;
      if (k === 4) put(`${stem}.bin`, legacyBytes(doc(i)));
      else if (k === 6) put(`${stem}.json`, `\ufeff${doc(i)}`);
      else if (k === 8) put(`${stem}.json`, '{"broken": ');
      else if (k === 10) {
        put(`${stem}.json`, doc(i));
        put(`${stem}.jpg.json`, doc(i + 1));
      } else if (k === 12) put(`${stem}.json`, '{"x":1}');
      else put(`${stem}.json`, doc(i));
    };
    for (let i = 0; i < 30; i++) {
      put(join(out, `O${i}.jpg`), FAKE_JPEG);
      if (i % 4) sidecar(join(out, `O${i}`), i);
    }
    for (let i = 0; i < 420; i++) {
      const stem = join(lib, 'big', `IMG_${String(i).padStart(4, '0')}`);
      const r = i % 11;
      if (r === 0) {
        sidecar(stem, i); // a lone sidecar
        continue;
      }
      if (r === 4) {
        link(join(out, `O${i % 30}.jpg`), `${stem}.jpg`); // a link-only group leading out
        continue;
      }
      if (r === 5) {
        link(`IMG_${String(i - 1).padStart(4, '0')}.jpg`, `${stem}.jpg`); // a link-only group inside
        continue;
      }
      put(`${stem}.jpg`, FAKE_JPEG);
      if (r === 1) continue;
      if (r === 2) link(`../nowhere/${i}.jpg`, `${stem}_broken.jpg`);
      sidecar(stem, i);
    }
    put(join(lib, 'big', 'game_detection.json'), JSON.stringify({ games: [{ a: 1 }] }));
    put(join(lib, 'big', 'notes.txt'), 'x');
    writeFileSync(Buffer.concat([Buffer.from(`${join(lib, 'big')}/`), Buffer.from([0x49, 0xff, 0x2e, 0x6a, 0x73, 0x6f, 0x6e])]), doc(1));
    writeFileSync(Buffer.concat([Buffer.from(`${join(lib, 'big')}/`), Buffer.from([0x4a, 0xfe, 0x2e, 0x6a, 0x70, 0x67])]), FAKE_JPEG);
    mkdirSync(join(lib, 'empty', 'deeper'), { recursive: true });
    for (let k = 0; k < 90; k++) link(k % 3 ? join(out, `O${k % 30}.jpg`) : `../big/IMG_${String(k * 11 + 3).padStart(4, '0')}.jpg`, join(lib, 'links', `M${String(k).padStart(3, '0')}.jpg`));
  });
  after(() => removeTree(base));

  const COMMANDS = () => [
    ['validate', lib, '--json'],
    ['stats', lib, '--json', '--list'],
    ['format-stats', lib, '--json'],
    ['export', lib, '-f', 'jsonl'],
  ];

  it('every command: threads = inline, the index first and warm = no index; todo and convert --dry-run inline = threads', async () => {
    for (const [ci, c] of COMMANDS().entries()) {
      const ref = await cli([...c, '--no-index', ...INLINE]);
      assert.equal(await cli([...c, '--no-index', ...THREADS]), ref, `${c[0]} threads`);
      for (const engine of inTurn([INLINE, THREADS], ci)) {
        const idx = join(base, `idx-${c[0]}-${engine[1]}`);
        mkdirSync(idx);
        assert.equal(await cli([...c, '--index', join(idx, 'index'), ...engine]), ref, `${c[0]} ${engine[1]} index, first run`);
        assert.equal(await cli([...c, '--index', join(idx, 'index'), ...engine]), ref, `${c[0]} ${engine[1]} index, warm`);
      }
    }
    for (const c of [['todo', lib, '--jsonl', '--operation', 'yolov8', '--no-index'], ['convert', lib, '--dry-run', '-f', 'bin', '--json', '--list']]) {
      assert.equal(await cli([...c, ...THREADS]), await cli([...c, ...INLINE]), `${c[0]} threads`);
    }
  });

  it('merged shards are the whole run; after edits a warm index (some of a folder\'s records served, others made again) gives the run without it', async () => {
    for (const c of [['validate', '--json'], ['stats', '--json']]) {
      const whole = await cli([c[0], lib, c[1], '--no-index', ...INLINE]);
      const files = [0, 1, 2].map((i) => join(base, `${c[0]}-shard${i}.jsonl`));
      for (let i = 0; i < 3; i++) await cli([c[0], lib, ...(c[0] === 'validate' ? ['--jsonl'] : []), '--no-index', '--shard', `${i}/3`, '-o', files[i], ...THREADS]);
      assert.equal(await cli(['merge', ...files, c[1]], {}, c[0]), whole, `${c[0]}: merged shards`);
    }
    const edits = [
      () => {
        writeFileSync(join(lib, 'big', 'IMG_0013.json'), '{"face_detection":{"success":false,"error":"e"}}');
        writeFileSync(join(lib, 'big', 'IMG_0300.json'), '{"broken"');
      },
      () => {
        writeFileSync(join(lib, 'big', 'NEW_1.jpg'), FAKE_JPEG);
        writeFileSync(join(lib, 'big', 'NEW_1.json'), '{"unified":{}}');
        writeFileSync(join(out, 'O3.json'), '{"face_detection":{"success":true,"faces":[]}}');
      },
      () => {
        for (let i = 100; i < 400; i += 7) writeFileSync(join(lib, 'big', `IMG_${String(i).padStart(4, '0')}.jpg.json`), `{"face_detection":{"success":true,"faces":[],"metadata":{"processing_time":${i}}}}`);
      },
    ];
    for (const e of edits) {
      e();
      for (const c of [['stats', lib, '--json', '--list'], ['validate', lib, '--json']]) {
        const ref = await cli([...c, '--no-index', ...INLINE]);
        // The indexes the test above warmed.
        for (const engine of inTurn([INLINE, THREADS], COMMANDS().findIndex((x) => x[0] === c[0]))) assert.equal(await cli([...c, '--index', join(base, `idx-${c[0]}-${engine[1]}`, 'index'), ...engine]), ref, `${c[0]} ${engine[1]} after an edit`);
      }
    }
  });
});
