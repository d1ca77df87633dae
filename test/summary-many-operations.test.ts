/**
 * A sidecar of many operations is summarised in time linear in them. Each name met was looked up
 * by `includes` over the operations found so far: 20,000 operations took 6 s of a 10 s `stats`.
 * Counted, not timed: the elements `Array#includes` scans while such a sidecar is summarised. The
 * image record's operation lists (read, and made stale on a save after the image changed) had the
 * same pattern.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarizeSidecar } from '../src/analysis/summary.js';
import { normalizeOperationName } from '../src/analysis/operations.js';
import { parseImageRecord, recordImageIdentity } from '../src/analysis/image-identity.js';
import type { JsonObject } from '../src/types.js';

/** `run` with the elements `Array#includes` scans counted. */
function countingIncludes<T>(run: () => T): { value: T; scanned: number } {
  const includes = Array.prototype.includes;
  let scanned = 0;
  Array.prototype.includes = function (this: unknown[], ...args: [unknown, number?]) {
    scanned += this.length;
    return includes.apply(this, args);
  };
  try {
    return { value: run(), scanned };
  } finally {
    Array.prototype.includes = includes;
  }
}

test('summary: 20,000 operations are summarised without scanning the list per operation; each name once, in file order, spellings of one name merged', () => {
  const data: JsonObject = {};
  const N = 20_000;
  for (let j = 0; j < N; j++) data[`op_${j}_${'y'.repeat(30)}`] = { success: j % 3 !== 0, processing_time: j / 4 };
  // Other spellings of names met earlier, on both sides of the point where the list becomes a set.
  for (const j of [0, 3, 15, 16, 17, 500, N - 1]) data[`Op_${j}_${'y'.repeat(30)}`] = { success: true, processing_time: 99 };
  const expected = [...new Set(Object.keys(data).map(normalizeOperationName))];
  assert.equal(expected.length, N, 'the other spellings normalise to names met before');

  const { value: summary, scanned } = countingIncludes(() => summarizeSidecar(data));
  // The list scan made N^2/2 = 2·10^8 element visits; a lookup per name in a set makes none.
  assert.ok(scanned < 1_000_000, `${scanned} elements scanned by includes`);
  assert.deepEqual(summary.operations, expected);
  // The first spelling keeps its values (a name seen twice keeps its first time and success).
  assert.equal(summary.processingTimes[expected[17]], 17 / 4);
  assert.equal(summary.success[expected[15]], false);
  assert.equal(summary.success[expected[0]], false);
});

test('image record: 20,000 operation names are read, and made stale after the image changed, without scanning the list per name; each once, in order', () => {
  const N = 20_000;
  const names = Array.from({ length: N }, (_, j) => `op_${j}_${'y'.repeat(30)}`);
  // Read: a record listing every name, then each again in another spelling.
  const listed = [...names, ...names.slice(0, 100).map((n) => `O${n.slice(1)}`)];
  const read = countingIncludes(() => parseImageRecord({ size: 1, mtime_ns: '5', operations: listed, stale_operations: listed }));
  assert.ok(read.scanned < 1_000_000, `${read.scanned} elements scanned by includes (read)`);
  assert.deepEqual(read.value!.operations, names.map(normalizeOperationName));
  assert.deepEqual(read.value!.staleOperations, names.map(normalizeOperationName));
  // Saved after the image changed: every other operation of the sidecar becomes stale, once.
  const data: JsonObject = { sidecar_info: { image: { size: 1, mtime_ns: '5', operations: [names[0]] } } };
  for (const n of names) data[n] = { success: true };
  for (const n of names.slice(0, 50)) data[`O${n.slice(1)}`] = { success: true };
  const saved = countingIncludes(() => recordImageIdentity(data, names[7], { size: 2, mtimeNs: 6n }));
  assert.ok(saved.scanned < 1_000_000, `${saved.scanned} elements scanned by includes (save)`);
  const rec = parseImageRecord((data.sidecar_info as JsonObject).image);
  assert.deepEqual(rec!.operations, [normalizeOperationName(names[7])]);
  assert.deepEqual(rec!.staleOperations, names.filter((_, j) => j !== 7).map(normalizeOperationName));
});
