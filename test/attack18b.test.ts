/**
 * Attack review 18b: the stats summarizer on the scanner's tape (assembly/scanner.ts summarizeStats,
 * src/accel/certify.ts summaryOnTape), format-stats' shape on the tape (shapeOf / shapeOnTape), the
 * scan's bundles of a folder's records (src/discovery/scan.ts, mapJobs queueWeight) and the inspect
 * task's packed items (src/tasks/inspect-wire.ts packInspectItems). Every input must give, with the
 * accelerator, exactly what the reference (accel: false) gives; fixtures are made by code.
 */
import assert from 'node:assert/strict';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { after, before, describe, it } from 'node:test';
import { accelCounts } from '../src/accel/decode.js';
import { decodeSidecar, encodeSidecar } from '../src/formats/codec.js';
import { inspectBytes, type FileInspection, type InspectItem, type InspectOptions } from '../src/tasks/inspect.js';
import { packInspectItems, unpackInspectItems } from '../src/tasks/inspect-wire.js';
import { validateFiles } from '../src/ops/validate-files.js';
import { scan } from '../src/discovery/scan.js';
import { createRuntime } from '../src/engine/select.js';
import type { Runtime } from '../src/engine/runtime.js';
import { FAKE_JPEG } from './helpers/tree.js';
import { removeTree, tempDir } from './helpers/cli.js';

const STATS: InspectOptions = { summarize: true };
const STATS_NO_SIZES: InspectOptions = { summarize: true, sizes: false };

/** A key no earlier file of this thread used (the scanner's key table is per thread). */
let fresh = 0;
function freshKey(stem = 'k'): string {
  return `${stem}${process.pid}y${fresh++}`;
}

function strip(r: FileInspection): Omit<FileInspection, 'elapsedMs' | 'accel'> {
  const { elapsedMs: _e, accel: _a, ...rest } = r;
  return rest;
}

function legacy(text: string): Buffer {
  const b = Buffer.from(text);
  const p = Buffer.alloc(8);
  p.writeBigUInt64LE(BigInt(b.length));
  return Buffer.concat([p, b]);
}

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

describe('attack 18b: the stats summarizer on the tape', () => {
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
});

describe('attack 18b: an operation\'s value as a scalar number, sized as the bin encoding writes it', () => {
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
        for (const bytes of [Buffer.from(text), Buffer.from(`\ufeff${text}`), legacy(text)]) {
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

describe('attack 18b: the inspect task\'s packed items (worker threads)', () => {
  let dir = '';
  before(() => {
    dir = tempDir('isc-a18b-wire-');
    writeFileSync(join(dir, 'a.json'), '{"face_detection":{"success":true}}');
  });
  after(() => removeTree(dir));

  it('a listed path holding U+0000 is one unreadable result with threads as inline (the paths were joined by U+0000)', async () => {
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
    const wire = packInspectItems(items);
    assert.ok(wire !== null);
    const back = unpackInspectItems(structuredClone(wire!));
    assert.deepEqual(back, items);
    assert.equal(back[5].resolveLink, back[7].resolveLink);
    assert.notEqual(back[5].resolveLink, back[6].resolveLink);
    assert.equal(packInspectItems([{ path: '/a\u0000b', name: 'b' }]), null, 'a path holding U+0000 goes unpacked');
  });
});

describe('attack 18b: the scan\'s bundles of a folder\'s records', () => {
  let root = '';
  before(() => {
    root = tempDir('isc-a18b-bundle-');
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
