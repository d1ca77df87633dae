/**
 * One big file at a time (tasks/big-file-turn.ts): the pool's threads take turns on big files,
 * a thread ended while holding the turn hands it on, and the resident set of `stats` on a tree of
 * big sidecars of small objects is about what one of them costs (Reliability finding 3: 1.3 GB of
 * peak RSS for one 25 MB sidecar of 8 million small objects, 3.0 GB for three).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIG_FILE_BYTES } from '../src/tuning.js';
import { passBigFileTurn, waitForBigFileTurn } from '../src/tasks/big-file-turn.js';
import { ThreadRuntime } from '../src/engine/threads.js';
import { writeObjectSidecars, writeSmallSidecars } from './helpers/big-sidecars.js';
import { runCliMeasured } from './helpers/measure-rss.js';

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

/**
 * Peak RSS of `stats` on 2 threads: one big sidecar of small objects (~16 MiB, ~300 MB decoded)
 * among small ones, against several. Small sidecars after each big one (more than a batch holds)
 * put each big file in a batch of its own when they are in folders of their own.
 */
describe('stats on a tree of big sidecars costs about what one of them costs', () => {
  const FILE_BYTES = 16 * 1024 * 1024;
  const BIG_FILES = 4;
  const SMALL_PER_FOLDER = 80;
  const threads = ['--engine', 'threads', '-w', '2'];
  let root = '';
  let oneKb = 0;

  const peakKb = async (dir: string): Promise<number> => {
    const r = await runCliMeasured(['stats', join(root, dir), '--json', '--no-index', ...threads]);
    assert.equal(r.code, 0, r.stderr.slice(-500));
    assert.ok(Number.isFinite(r.maxRssKb), 'peak RSS reported');
    return r.maxRssKb;
  };
  const mb = (kb: number) => Math.round(kb / 1024);

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'isc-big-turn-'));
    writeObjectSidecars(join(root, 'one', 'd0'), 1, FILE_BYTES);
    writeSmallSidecars(join(root, 'one', 'd0'), SMALL_PER_FOLDER);
    writeObjectSidecars(join(root, 'together', 'd0'), BIG_FILES, FILE_BYTES);
    writeSmallSidecars(join(root, 'together', 'd0'), SMALL_PER_FOLDER);
    for (let i = 0; i < BIG_FILES; i++) {
      writeObjectSidecars(join(root, 'apart', `d${i}`), 1, FILE_BYTES);
      writeSmallSidecars(join(root, 'apart', `d${i}`), SMALL_PER_FOLDER);
    }
    oneKb = await peakKb('one');
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it(`${BIG_FILES} in one batch: each one's garbage is collected before the next is decoded`, async (t) => {
    const kb = await peakKb('together');
    t.diagnostic(`peak RSS: one big file ${mb(oneKb)} MB, ${BIG_FILES} in one batch ${mb(kb)} MB`);
    // Before: 644 MB against 388 MB (1.66×): the thread collected only after the batch.
    assert.ok(kb < 1.5 * oneKb, `${BIG_FILES} big files in one batch: ${mb(kb)} MB, one: ${mb(oneKb)} MB`);
  });

  it(`${BIG_FILES} in batches of their own: the two threads never decode two at once`, async (t) => {
    const kb = await peakKb('apart');
    t.diagnostic(`peak RSS: one big file ${mb(oneKb)} MB, ${BIG_FILES} in batches of their own ${mb(kb)} MB`);
    // Before: 701 MB against 388 MB (1.81×): both threads decoded a big file at once.
    assert.ok(kb < 1.5 * oneKb, `${BIG_FILES} big files in separate batches: ${mb(kb)} MB, one: ${mb(oneKb)} MB`);
  });
});
