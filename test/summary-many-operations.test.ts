/**
 * A sidecar of many operations is summarised in time linear in them. Each name met was looked up
 * by `includes` over the operations found so far: 20,000 operations took 6 s of a 10 s `stats`.
 * Counted, not timed: the elements `Array#includes` scans while such a sidecar is summarised.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarizeSidecar } from '../src/analysis/summary.js';
import { normalizeOperationName } from '../src/analysis/operations.js';
import type { JsonObject } from '../src/types.js';

test('summary: 20,000 operations are summarised without scanning the list per operation; each name once, in file order, spellings of one name merged', () => {
  const data: JsonObject = {};
  const N = 20_000;
  for (let j = 0; j < N; j++) data[`op_${j}_${'y'.repeat(30)}`] = { success: j % 3 !== 0, processing_time: j / 4 };
  // Other spellings of names met earlier, on both sides of the point where the list becomes a set.
  for (const j of [0, 3, 15, 16, 17, 500, N - 1]) data[`Op_${j}_${'y'.repeat(30)}`] = { success: true, processing_time: 99 };
  const expected = [...new Set(Object.keys(data).map(normalizeOperationName))];
  assert.equal(expected.length, N, 'the other spellings normalise to names met before');

  const includes = Array.prototype.includes;
  let scanned = 0;
  Array.prototype.includes = function (this: unknown[], ...args: [unknown, number?]) {
    scanned += this.length;
    return includes.apply(this, args);
  };
  let summary;
  try {
    summary = summarizeSidecar(data);
  } finally {
    Array.prototype.includes = includes;
  }
  // The list scan made N^2/2 = 2·10^8 element visits; a lookup per name in a set makes none.
  assert.ok(scanned < 1_000_000, `${scanned} elements scanned by includes`);
  assert.deepEqual(summary.operations, expected);
  // The first spelling keeps its values (a name seen twice keeps its first time and success).
  assert.equal(summary.processingTimes[expected[17]], 17 / 4);
  assert.equal(summary.success[expected[15]], false);
  assert.equal(summary.success[expected[0]], false);
});
