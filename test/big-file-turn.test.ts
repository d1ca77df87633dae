/**
 * One big file at a time (tasks/big-file-turn.ts): the pool's threads take turns on big files,
 * and a thread ended while holding the turn hands it on. What the turn is for, the resident set of
 * `stats` on a tree of big sidecars about what one of them costs, is measured in
 * test/long/big-file-rss.test.ts (npm run test:long).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIG_FILE_BYTES } from '../src/tuning.js';
import { passBigFileTurn, waitForBigFileTurn } from '../src/tasks/big-file-turn.js';
import { ThreadRuntime } from '../src/engine/threads.js';

const PROBE = new URL('./helpers/probe-worker.js', import.meta.url);

// The probe tasks are not in the task registry: call the pool untyped.
type Untyped = { run(task: string, items: unknown[], options: unknown, opts?: { signal?: AbortSignal }): Promise<number[]> };
const untyped = (rt: ThreadRuntime) => rt as unknown as Untyped;

/** `p`, or a failure after `ms` (a turn never handed on would hang the test instead). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, sleep(ms).then(() => assert.fail(`${what}: not done after ${ms} ms`))]);
}

describe('the big-file turn', () => {
  it('two threads never hold it at once; the main thread never waits for it', async () => {
    const pool = untyped(new ThreadRuntime(2, { workerUrl: PROBE }));
    try {
      await Promise.all([pool.run('echo', [{}], {}), pool.run('echo', [{}], {})]); // both threads up
      const both = Promise.all([pool.run('big', [{ ms: 300 }], {}), pool.run('big', [{ ms: 300 }], {})]);
      await sleep(100);
      const t0 = performance.now();
      assert.equal(waitForBigFileTurn(BIG_FILE_BYTES + 1), 0);
      passBigFileTurn();
      assert.ok(performance.now() - t0 < 100, 'the main thread went on while a thread held the turn');
      const [[from1, to1, waited1], [from2, to2, waited2]] = await both;
      assert.ok(to1 <= from2 || to2 <= from1, `the two big files overlapped: [${from1}, ${to1}] and [${from2}, ${to2}]`);
      assert.ok(Math.max(waited1, waited2) >= 150, `one thread waited for the other (waited ${waited1} and ${waited2} ms)`);
    } finally {
      await (pool as unknown as ThreadRuntime).close();
    }
  });

  it('a thread ended while holding it (exit, abort) hands it on', async () => {
    const pool = untyped(new ThreadRuntime(2, { workerUrl: PROBE }));
    try {
      await assert.rejects(pool.run('big-exit', [{}], {}));
      await within(pool.run('big', [{ ms: 10 }], {}), 5000, 'a big file after a thread exited holding the turn');
      const ac = new AbortController();
      const long = pool.run('big', [{ ms: 60_000 }], {}, { signal: ac.signal });
      await sleep(200);
      ac.abort();
      await assert.rejects(long);
      await within(pool.run('big', [{ ms: 10 }], {}), 5000, 'a big file after a thread was ended holding the turn');
    } finally {
      await (pool as unknown as ThreadRuntime).close();
    }
  });
});
