import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getHeapStatistics } from 'node:v8';
import { allowCollections, relieveHeap } from '../src/engine/heap-relief.js';
import { MAIN_HEAP_BOUND, WORKER_HEAP_BOUND } from '../src/tuning.js';

// This process collects as the CLI's does (a library caller's never: host-alone.test.ts).
allowCollections();

const used = () => getHeapStatistics().used_heap_size;

/** Many small arrays (2048 × 8 B ≈ 16 KiB each): about `mb` MB. */
function allocate(mb: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < mb * 64; i++) out.push(new Array(2048).fill(i));
  return out;
}

test('relieveHeap collects a heap holding more than its bound, and leaves one below it alone', () => {
  const bound = 48 * 1024 * 1024;
  relieveHeap(0); // a full collection first: what is live now is the baseline
  const base = used();
  assert.ok(base < bound, `baseline heap ${base} must start below the test's bound`);
  let garbage: number[][] | null = allocate(96);
  garbage = null;
  const before = used();
  // V8 may have collected some on its own; the test needs garbage above the bound to mean anything
  if (before < bound) return assert.fail(`could not build garbage above the bound (heap ${before} < ${bound}; ${garbage})`);
  assert.equal(relieveHeap(bound), true);
  const after = used();
  assert.ok(after < bound, `after relief the heap (${after}) is below the bound (${bound})`);
  assert.ok(after < base + 16 * 1024 * 1024, `after relief only the baseline is left (${after} vs ${base})`);

  allocate(8);
  const small = used();
  assert.equal(relieveHeap(1024 * 1024 * 1024), false); // far below this bound: no collection
  assert.ok(used() >= small - 1024 * 1024, 'below its bound the heap is not collected');
});

test('a live heap above the bound is not collected after every batch (the cost stays linear)', () => {
  const bound = 32 * 1024 * 1024;
  const live = allocate(64); // kept alive: more than the bound
  assert.equal(relieveHeap(bound), true, 'the first time above the bound it collects');
  // On the old rule every later call collected again, rescanning the 64 MB each time.
  for (let i = 0; i < 20; i++) assert.equal(relieveHeap(bound), false, `call ${i}: nothing new to collect`);
  // Once garbage doubles the heap, it collects again.
  allocate(96);
  assert.equal(relieveHeap(bound), true, 'garbage beyond twice the live heap is collected');
  assert.ok(live.length > 0);
});

test('live external memory does not raise the bar: the next batch\'s garbage is collected (regression: export json, 60 MiB sidecars)', () => {
  const bound = 32 * 1024 * 1024;
  // Kept alive outside the heap, as a worker keeps the scanner's grown memory after a big file.
  const external = new Uint8Array(96 * 1024 * 1024).fill(1);
  allocate(48);
  assert.equal(relieveHeap(bound), true, 'above the bound with garbage: collected');
  for (let i = 0; i < 5; i++) assert.equal(relieveHeap(bound), false, `call ${i}: nothing new to collect`);
  // The next batch's garbage: far more than the live heap, though less than twice heap + external
  // (the old rule, "twice everything left alive", kept it).
  allocate(48);
  assert.equal(relieveHeap(bound), true, 'garbage beyond the live heap is collected, whatever lives outside it');
  assert.equal(external[0], 1);
});

test('the bounds: the main thread keeps less than a worker thread', () => {
  assert.ok(MAIN_HEAP_BOUND < WORKER_HEAP_BOUND);
  assert.ok(MAIN_HEAP_BOUND >= 32 * 1024 * 1024, 'a bound below what a batch of big files needs would collect after every batch');
});
