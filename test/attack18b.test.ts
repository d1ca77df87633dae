/**
 * Attack review 18b: the stats summarizer on the scanner's tape (assembly/scanner.ts summarizeStats,
 * src/accel/certify.ts summaryOnTape), format-stats' shape on the tape (shapeOf / shapeOnTape), the
 * scan's bundles of a folder's records (src/discovery/scan.ts, mapJobs queueWeight) and the inspect
 * task's packed items (src/tasks/inspect-wire.ts packInspectItems). Every input must give, with the
 * accelerator, exactly what the reference (accel: false) gives; fixtures are made by code.
 */
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { describe, it } from 'node:test';
import { accelCounts } from '../src/accel/decode.js';
import { inspectBytes, type FileInspection, type InspectOptions } from '../src/tasks/inspect.js';

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
