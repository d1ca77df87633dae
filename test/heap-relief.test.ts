import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getHeapStatistics } from 'node:v8';
import { relieveHeap, MAIN_HEAP_BOUND, WORKER_HEAP_BOUND } from '../src/engine/heap-relief.js';

const used = () => getHeapStatistics().used_heap_size;

/** Garbage V8 has not collected yet: many small arrays, dropped at once. */
function makeGarbage(mb: number): void {
  let keep: number[][] | null = [];
  for (let i = 0; i < mb * 64; i++) keep.push(new Array(2048).fill(i)); // 2048 × 8 B ≈ 16 KiB each
  keep = null;
}

test('relieveHeap collects a heap holding more than its bound, and leaves one below it alone', () => {
  const bound = 48 * 1024 * 1024;
  relieveHeap(0); // a full collection first: what is live now is the baseline
  const base = used();
  assert.ok(base < bound, `baseline heap ${base} must start below the test's bound`);
  makeGarbage(96);
  const before = used();
  // V8 may have collected some on its own; the test needs garbage above the bound to mean anything
  if (before < bound) return assert.fail(`could not build garbage above the bound (heap ${before} < ${bound})`);
  relieveHeap(bound);
  const after = used();
  assert.ok(after < bound, `after relief the heap (${after}) is below the bound (${bound})`);
  assert.ok(after < base + 16 * 1024 * 1024, `after relief only the baseline is left (${after} vs ${base})`);

  makeGarbage(8);
  const small = used();
  relieveHeap(1024 * 1024 * 1024); // far below this bound: no collection
  assert.ok(used() >= small - 1024 * 1024, 'below its bound the heap is not collected');
});

test('the bounds: the main thread keeps less than a worker thread', () => {
  assert.ok(MAIN_HEAP_BOUND < WORKER_HEAP_BOUND);
  assert.ok(MAIN_HEAP_BOUND >= 32 * 1024 * 1024, 'a bound below what a batch of big files needs would collect after every batch');
});
