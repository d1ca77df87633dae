/**
 * The engine on its own: the worker pool (respawn once per crash, a thread removed on exit, abort
 * per batch, give up on a crash loop, never keep the process alive) and the ordered, bounded
 * pipeline (order, bounds by count and by bytes, errors in order, cancellation).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { mapJobs, mapOrdered } from '../src/engine/pipeline.js';
import type { Runtime } from '../src/engine/runtime.js';
import { ThreadRuntime } from '../src/engine/threads.js';
import { HOLD_AHEAD_PER_HELD_ITEM, HOLD_MAX_AHEAD, THREADS_BREAK_EVEN_FILES, WORKER_YOUNG_GENERATION_MB } from '../src/tuning.js';
import { createRuntime } from '../src/engine/select.js';
import { isSidecarError } from '../src/errors.js';
import { runTask } from '../src/tasks/index.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PROBE = new URL('./helpers/probe-worker.js', import.meta.url);

// The probe tasks are not in the task registry: call the pool untyped.
type Untyped = { run(task: string, items: unknown[], options: unknown, opts?: { signal?: AbortSignal }): Promise<number[]> };
const untyped = (rt: ThreadRuntime) => rt as unknown as Untyped;

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('worker pool', () => {
  it('a thread that exits mid-batch fails that batch and is replaced exactly once', async () => {
    const pool = new ThreadRuntime(2, { workerUrl: PROBE });
    try {
      const before = pool.threadIds;
      await assert.rejects(untyped(pool).run('exit', [{}], null), (e) => isSidecarError(e) && e.code === 'INTERNAL' && /exited with code 7/.test(e.message));
      await until(() => pool.threads === 2 && pool.threadIds.some((id) => !before.includes(id)), 'the replacement thread');
      await sleep(100); // a second respawn would show up now
      assert.equal(pool.threads, 2, 'a 2-thread pool has 2 threads after one crash');
      const ids = await Promise.all(Array.from({ length: 6 }, () => untyped(pool).run('echo', [{}, {}], null)));
      assert.deepEqual(ids.map((r) => r.length), [2, 2, 2, 2, 2, 2]);
    } finally {
      await pool.close();
    }
  });

  it("an uncaught exception ('error' then 'exit') also gives exactly one new thread", async () => {
    const pool = new ThreadRuntime(2, { workerUrl: PROBE });
    try {
      await assert.rejects(untyped(pool).run('crash', [{}], null), /probe crash/);
      await sleep(150);
      assert.equal(pool.threads, 2);
      assert.equal((await untyped(pool).run('echo', [{}], null)).length, 1);
    } finally {
      await pool.close();
    }
  });

  it('a task error travels back as a SidecarError and the thread stays', async () => {
    const pool = new ThreadRuntime(1, { workerUrl: PROBE });
    try {
      const [id] = await untyped(pool).run('echo', [{}], null);
      await assert.rejects(untyped(pool).run('fail', [{}], null), (e) => isSidecarError(e) && e.code === 'CORRUPT' && e.path === '/x');
      assert.deepEqual(await untyped(pool).run('echo', [{}], null), [id]);
    } finally {
      await pool.close();
    }
  });

  it('abort: a queued batch is dropped, a running one ends its thread (replaced); the others finish', async () => {
    const pool = new ThreadRuntime(1, { workerUrl: PROBE });
    try {
      const [first] = await untyped(pool).run('echo', [{}], null);
      const running = new AbortController();
      const queued = new AbortController();
      const t0 = Date.now();
      const a = untyped(pool).run('spin', [{ ms: 20_000 }], null, { signal: running.signal });
      const b = untyped(pool).run('echo', [{}], null, { signal: queued.signal });
      const c = untyped(pool).run('echo', [{}], null);
      queued.abort(new Error('queued abort'));
      await assert.rejects(b, /queued abort/);
      running.abort(new Error('running abort'));
      await assert.rejects(a, /running abort/);
      const [after] = await c;
      assert.ok(Date.now() - t0 < 10_000, 'the spinning batch was not waited for');
      assert.notEqual(after, first, 'the aborted thread was replaced');
      await until(() => pool.threads === 1, 'one thread');
      const pre = new AbortController();
      pre.abort(new Error('already'));
      await assert.rejects(untyped(pool).run('echo', [{}], null, { signal: pre.signal }), /already/);
    } finally {
      await pool.close();
    }
  });

  it('threads that crash again and again: the pool gives up instead of respawning forever', async () => {
    const pool = new ThreadRuntime(1, { workerUrl: PROBE, maxCrashes: 2 });
    try {
      for (let i = 0; i < 3; i++) await assert.rejects(untyped(pool).run('exit', [{}], null));
      await until(() => pool.threads === 0, 'the pool to stop respawning');
      await assert.rejects(untyped(pool).run('echo', [{}], null), /keep failing/);
    } finally {
      await pool.close();
    }
  });

  it('close rejects queued batches; an idle pool never keeps the process alive', async () => {
    const pool = new ThreadRuntime(1, { workerUrl: PROBE });
    const a = untyped(pool).run('spin', [{ ms: 200 }], null);
    const b = untyped(pool).run('echo', [{}], null);
    const both = Promise.all([assert.rejects(a, /closed/), assert.rejects(b, /closed/)]);
    await pool.close();
    await both;
    await assert.rejects(untyped(pool).run('echo', [{}], null), /closed/);
    const mod = fileURLToPath(new URL('../src/engine/threads.js', import.meta.url));
    const code = `const { ThreadRuntime } = await import(${JSON.stringify(mod)}); const p = new ThreadRuntime(2); await new Promise((r) => setTimeout(r, 300)); console.log('end');`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'end');
  });
});

describe('worker pool: memory', () => {
  it("a worker's young generation stays within WORKER_YOUNG_GENERATION_MB (V8's default grows it to ~34 MB per thread)", async () => {
    const rt = new ThreadRuntime(1, { workerUrl: PROBE });
    try {
      const [max] = await untyped(rt).run('young', [{}], {});
      assert.ok(max > 0);
      assert.ok(max <= (WORKER_YOUNG_GENERATION_MB + 1) * 1024 * 1024, `young generation reached ${(max / 1e6).toFixed(1)} MB`);
    } finally {
      await rt.close();
    }
  });
});

describe('worker pool: a busy thread is sent its next batch (pipelined tasks)', () => {
  // The probe tasks are synchronous except crash/exit, which end the thread.
  const pipelined = (task: string) => task === 'spin' || task === 'echo' || task === 'fail';

  it('a second batch waits in the running thread, not in the queue; results stay with their batches', async () => {
    const pool = new ThreadRuntime(1, { workerUrl: PROBE, pipelined });
    try {
      const [id] = await untyped(pool).run('echo', [{}], null);
      const a = untyped(pool).run('spin', [{ ms: 300 }], null);
      const b = untyped(pool).run('echo', [{}, {}], null);
      const c = untyped(pool).run('echo', [{}, {}, {}], null);
      assert.deepEqual(pool.batchesPerThread, [2], 'one running, one waiting in the thread; the third queued');
      assert.deepEqual(await Promise.all([a, b, c]), [[id], [id, id], [id, id, id]]);
      assert.deepEqual(pool.batchesPerThread, [0]);
    } finally {
      await pool.close();
    }
  });

  it('tasks that are not pipelined (convert) still get one batch per thread', async () => {
    const pool = new ThreadRuntime(1, { workerUrl: PROBE, pipelined: () => false });
    try {
      const a = untyped(pool).run('spin', [{ ms: 200 }], null);
      const b = untyped(pool).run('echo', [{}], null);
      assert.deepEqual(pool.batchesPerThread, [1]);
      await Promise.all([a, b]);
      // The real registry: reads are pipelined, convert (async, fsyncs in flight) is not.
      const { isPipelined } = await import('../src/tasks/index.js');
      assert.deepEqual(['inspect', 'hash', 'convert', 'spin'].map(isPipelined), [true, true, false, false]);
    } finally {
      await pool.close();
    }
  });

  it('abort: a batch waiting in a thread is dropped without ending the thread; a running one ends it and the batch behind runs on the replacement', async () => {
    const pool = new ThreadRuntime(1, { workerUrl: PROBE, pipelined });
    try {
      const [first] = await untyped(pool).run('echo', [{}], null);
      const waiting = new AbortController();
      const a = untyped(pool).run('spin', [{ ms: 300 }], null);
      const b = untyped(pool).run('echo', [{}], null, { signal: waiting.signal });
      assert.deepEqual(pool.batchesPerThread, [2]);
      waiting.abort(new Error('waiting abort'));
      await assert.rejects(b, /waiting abort/);
      assert.deepEqual(await a, [first], 'the thread was not ended');
      assert.deepEqual(await untyped(pool).run('echo', [{}], null), [first], 'and still serves');

      const running = new AbortController();
      const c = untyped(pool).run('spin', [{ ms: 20_000 }], null, { signal: running.signal });
      const d = untyped(pool).run('echo', [{}, {}], null);
      assert.deepEqual(pool.batchesPerThread, [2]);
      running.abort(new Error('running abort'));
      await assert.rejects(c, /running abort/);
      const after = await d;
      assert.equal(after.length, 2);
      assert.notEqual(after[0], first, 'the batch behind ran on the replacement thread');
    } finally {
      await pool.close();
    }
  });

  it('a crash fails the running batch only: the batch waiting behind it runs on the replacement', async () => {
    const pool = new ThreadRuntime(1, { workerUrl: PROBE, pipelined: (t) => t !== 'exit' });
    try {
      const [first] = await untyped(pool).run('echo', [{}], null);
      const a = untyped(pool).run('exit', [{}], null);
      // 'exit' is not pipelined here: the echo waits in the pool's queue, not in the thread behind it.
      const b = untyped(pool).run('echo', [{}], null);
      assert.deepEqual(pool.batchesPerThread, [1]);
      await assert.rejects(a, /exited with code 7/);
      const [id] = await b;
      assert.notEqual(id, first);
      // A pipelined batch behind a batch that crashes the thread (a task error is not a crash: 'fail' keeps it).
      const crashing = new ThreadRuntime(1, { workerUrl: PROBE, pipelined: () => true });
      try {
        const [c0] = await untyped(crashing).run('echo', [{}], null);
        const x = untyped(crashing).run('crash', [{}], null);
        const y = untyped(crashing).run('echo', [{}, {}], null);
        assert.deepEqual(crashing.batchesPerThread, [2]);
        await assert.rejects(x, /probe crash/);
        const ys = await y;
        assert.equal(ys.length, 2);
        assert.notEqual(ys[0], c0, 'ran again on the new thread');
      } finally {
        await crashing.close();
      }
    } finally {
      await pool.close();
    }
  });
});

/** A runtime that runs the identity task after a random delay and records what it saw. */
function fakeRuntime(workers = 2, failOn?: (items: unknown[]) => boolean) {
  let running = 0;
  const seen = { maxRunning: 0, batches: [] as unknown[][], expected: 0 };
  const rt = {
    kind: 'threads' as const,
    workers,
    expect(n: number) {
      seen.expected = n;
    },
    async run(_task: string, items: unknown[]) {
      running++;
      seen.maxRunning = Math.max(seen.maxRunning, running);
      seen.batches.push(items);
      await sleep(Math.random() * 5);
      running--;
      if (failOn?.(items)) throw new Error('batch failed');
      return items.map((i) => ({ of: i }));
    },
    async close() {},
  };
  return { rt: rt as unknown as Runtime, seen };
}

describe('worker pool: the calling thread as one of the workers (callerRuns)', () => {
  const tree = (t: { after: (fn: () => void) => void }) => {
    const dir = mkdtempSync(join(tmpdir(), 'isc-caller-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const items = Array.from({ length: 8 }, (_, i) => {
      const path = join(dir, `s${i}.json`);
      writeFileSync(path, i === 5 ? '{"broken": ' : JSON.stringify({ face_detection: { success: true, faces: [] }, n: i }));
      return { path, name: `s${i}.json` };
    });
    return items;
  };
  const strip = (rs: unknown[]) => rs.map((r) => ({ ...(r as object), elapsedMs: 0 }));

  it('workers: 2 starts one thread; a batch no thread may take runs on the caller, with the same results', async (t) => {
    const items = tree(t);
    const opts = { validate: true, brief: true };
    const pool = new ThreadRuntime(2, { callerRuns: true });
    try {
      assert.equal(pool.threads, 1);
      assert.equal(pool.workers, 2);
      const batches = [items.slice(0, 2), items.slice(2, 4), items.slice(4, 6), items.slice(6)];
      // The thread takes two (one running, one waiting); the caller runs the other two at once.
      const runs = batches.map((b) => pool.run('inspect', b, opts));
      assert.equal(pool.ranByCaller, 2);
      const got = await Promise.all(runs);
      const inline = await Promise.all(batches.map(async (b) => runTask('inspect', b, opts)));
      assert.deepEqual(got.map(strip), inline.map(strip));
    } finally {
      await pool.close();
    }
  });

  it('never on the caller: a batch whose signal fired, a task that is not pipelined; a failing batch rejects, never throws', async (t) => {
    const items = tree(t);
    const pool = new ThreadRuntime(2, { callerRuns: true, pipelined: (task) => task !== 'convert' });
    try {
      const busy = [pool.run('inspect', items.slice(0, 4), {}), pool.run('inspect', items.slice(4), {})];
      const aborted = AbortSignal.abort(new Error('stop'));
      await assert.rejects(pool.run('inspect', items, {}, { signal: aborted }), /stop/);
      let rejected: Promise<unknown> | null = null;
      assert.doesNotThrow(() => {
        rejected = untyped(pool).run('no-such-task', [{}], null);
      });
      await assert.rejects(rejected!, /no-such-task|unknown/i);
      assert.equal(pool.ranByCaller, 1, 'only the failing batch ran on the caller');
      const queued = pool.run('convert', [], { format: 'bin' } as never);
      assert.equal(pool.ranByCaller, 1, 'convert waits for a thread');
      await Promise.all(busy);
      await queued.catch(() => undefined);
    } finally {
      await pool.close();
    }
  });

  it('without callerRuns (the default, and workers: 1) every batch goes to a thread', async (t) => {
    const items = tree(t);
    for (const pool of [new ThreadRuntime(2), new ThreadRuntime(1, { callerRuns: true })]) {
      try {
        await Promise.all([0, 2, 4, 6].map((i) => pool.run('inspect', items.slice(i, i + 2), {})));
        assert.equal(pool.ranByCaller, 0);
        assert.equal(pool.threads, pool.workers);
      } finally {
        await pool.close();
      }
    }
  });
});

describe('pipeline', () => {
  it('jobs come out in source order with their own results, whatever the batch timing', async () => {
    const { rt, seen } = fakeRuntime(3);
    const jobs = Array.from({ length: 500 }, (_, i) => ({ i, items: Array.from({ length: i % 4 }, (_, k) => ({ path: `${i}/${k}`, name: '' })) }));
    const out: number[] = [];
    for await (const { job, results } of mapJobs(rt, 'inspect', {}, jobs, (j) => j.items, { batchFiles: 7 })) {
      out.push(job.i);
      assert.deepEqual(results, job.items.map((it) => ({ of: it })));
    }
    assert.deepEqual(out, jobs.map((j) => j.i));
    assert.ok(seen.maxRunning <= 6, `at most 2 × workers batches in flight (saw ${seen.maxRunning})`);
    for (const b of seen.batches) assert.ok(b.length <= 7);
    assert.equal(seen.expected, jobs.reduce((n, j) => n + j.items.length, 0));
  });

  it('batches are bounded by bytes; an item bigger than the bound travels alone', async () => {
    const { rt, seen } = fakeRuntime(2);
    const sizes = [10, 10, 10, 100, 10, 50, 50, 1];
    const items = sizes.map((size, i) => ({ path: String(i), name: '', size }));
    const got: string[] = [];
    for await (const { item } of mapOrdered(rt, 'inspect', {}, items, { batchBytes: 30, weigh: (i) => i.size ?? 0, maxInflightBytes: 60 })) got.push(item.path);
    assert.deepEqual(got, items.map((i) => i.path));
    for (const b of seen.batches as { size: number }[][]) {
      const total = b.reduce((n, i) => n + i.size, 0);
      assert.ok(total <= 30 || b.length === 1, `batch of ${total} bytes with ${b.length} items`);
    }
  });

  it('bytes in flight stay under the bound (plus one job), counted until the results are consumed', async () => {
    let inflight = 0;
    let peak = 0;
    const rt = {
      kind: 'threads' as const,
      workers: 4,
      async run(_t: string, items: { size: number }[]) {
        await sleep(1);
        return items.map(() => ({}));
      },
      async close() {},
    } as unknown as Runtime;
    const items = Array.from({ length: 200 }, (_, i) => ({ path: String(i), name: '', size: 10 + (i % 7) }));
    const weigh = (i: { size?: number }) => i.size ?? 0;
    const source = function* () {
      for (const it of items) {
        inflight += it.size;
        peak = Math.max(peak, inflight);
        yield it;
      }
    };
    for await (const { item } of mapOrdered(rt, 'inspect', {}, source(), { batchBytes: 40, weigh, maxInflightBytes: 100 })) inflight -= item.size!;
    assert.ok(peak <= 100 + 40 + 16, `peak ${peak} bytes taken from the source and not yet consumed`);
  });

  it('a failed batch raises when its first job is due, after the earlier jobs came out', async () => {
    const { rt } = fakeRuntime(2, (items) => (items as { path: string }[]).some((i) => i.path === '50'));
    const items = Array.from({ length: 100 }, (_, i) => ({ path: String(i), name: '' }));
    const got: string[] = [];
    await assert.rejects(async () => {
      for await (const { item } of mapOrdered(rt, 'inspect', {}, items, { batchFiles: 10 })) got.push(item.path);
    }, /batch failed/);
    assert.deepEqual(got, items.slice(0, 50).map((i) => i.path));
  });

  it('many jobs without items do not pile up behind a partial batch', async () => {
    const { rt } = fakeRuntime(1);
    let pulled = 0;
    let emitted = 0;
    let maxAhead = 0;
    const source = function* () {
      yield { items: [{ path: 'x', name: '' }] };
      for (let i = 0; i < 10_000; i++) {
        pulled++;
        maxAhead = Math.max(maxAhead, pulled - emitted);
        yield { items: [] as { path: string; name: string }[] };
      }
    };
    for await (const _ of mapJobs(rt, 'inspect', {}, source(), (j) => j.items, { batchFiles: 64 })) emitted++;
    assert.equal(emitted, 10_001);
    assert.ok(maxAhead <= 64 * 4 + 2, `jobs waiting: ${maxAhead}`);
  });

  it('queueWeight: jobs that stand for several records wait as that many (the bound is in records, not jobs)', async () => {
    const { rt } = fakeRuntime(1);
    let pulled = 0;
    let emitted = 0;
    let maxAhead = 0;
    // A partial batch at the head, then bundles of 10 records each (no items of their own).
    const source = function* () {
      yield { items: [{ path: 'x', name: '' }], records: 1 };
      for (let i = 0; i < 1_000; i++) {
        pulled += 10;
        maxAhead = Math.max(maxAhead, pulled - emitted);
        yield { items: [] as { path: string; name: string }[], records: 10 };
      }
    };
    for await (const { job } of mapJobs(rt, 'inspect', {}, source(), (j) => j.items, { batchFiles: 64, maxQueued: 100, queueWeight: (j) => j.records })) emitted += job.records;
    assert.equal(emitted, 10_001);
    // At most maxQueued records wait (plus the job that crossed the bound), not maxQueued jobs of 10.
    assert.ok(maxAhead <= 100 + 10 + 1, `records waiting: ${maxAhead}`);
  });

  it('an abort stops the pipeline with the signal reason, closes the source and lets running batches settle', async () => {
    const { rt } = fakeRuntime(2);
    const ac = new AbortController();
    let closed = false;
    const source = (function* () {
      try {
        for (let i = 0; ; i++) yield { path: String(i), name: '' };
      } finally {
        closed = true;
      }
    })();
    let n = 0;
    await assert.rejects(async () => {
      for await (const _ of mapOrdered(rt, 'inspect', {}, source, { batchFiles: 5, signal: ac.signal })) if (++n === 20) ac.abort(new Error('stop now'));
    }, /stop now/);
    assert.equal(closed, true);
  });
});

/**
 * A runtime that is undecided until it has been told of `decideAt` items (Runtime.undecided), then
 * reports `workers` threads; it records the batches run while it was undecided.
 */
function undecidedRuntime(decideAt: number, workers: number) {
  let seenItems = 0;
  let running = 0;
  const seen = { runWhileUndecided: 0, batches: 0, maxRunning: 0, maxRunningDecided: 0 };
  const decided = () => seenItems >= decideAt;
  const rt = {
    kind: 'threads' as const,
    get workers() {
      return decided() ? workers : 1;
    },
    get undecided() {
      return !decided();
    },
    expect(n: number) {
      seenItems = Math.max(seenItems, n);
    },
    async run(_task: string, items: unknown[]) {
      seen.batches++;
      if (!decided()) seen.runWhileUndecided++;
      running++;
      seen.maxRunning = Math.max(seen.maxRunning, running);
      await sleep(Math.random() * 3);
      running--;
      return items.map((i) => ({ of: i }));
    },
    async close() {},
  };
  return { rt: rt as unknown as Runtime, seen };
}

describe('pipeline: an undecided runtime (the auto engine below its break-even)', () => {
  const jobsOf = (n: number, per = 1) => Array.from({ length: n }, (_, i) => ({ i, items: Array.from({ length: per }, (_, k) => ({ path: `${i}/${k}`, name: '' })) }));

  it('holds the batches until the runtime decides, then runs them all there, in order; the in-flight bound follows its workers', async () => {
    // Regression: the auto engine ran every batch before the break-even in-process, and the pipeline
    // sized its in-flight bound from the one worker it reported at the start (2 batches for 2 threads).
    const { rt, seen } = undecidedRuntime(1_000, 3);
    const jobs = jobsOf(3_000);
    const out: number[] = [];
    for await (const { job, results } of mapJobs(rt, 'inspect', {}, jobs, (j) => j.items, { batchFiles: 10 })) {
      out.push(job.i);
      assert.deepEqual(results, job.items.map((it) => ({ of: it })));
    }
    assert.deepEqual(out, jobs.map((j) => j.i));
    assert.equal(seen.runWhileUndecided, 0, 'no batch ran before the runtime decided');
    assert.equal(seen.batches, 300);
    assert.ok(seen.maxRunning > 2, `the bound grew with the runtime's workers (saw ${seen.maxRunning} in flight)`);
  });

  it('a source that ends before the runtime decides: the held batches run where the runtime puts them', async () => {
    const { rt, seen } = undecidedRuntime(1_000_000, 2);
    const jobs = jobsOf(500, 2);
    const out: number[] = [];
    for await (const { job, results } of mapJobs(rt, 'inspect', {}, jobs, (j) => j.items, { batchFiles: 16 })) {
      out.push(job.i);
      assert.equal(results.length, 2);
    }
    assert.deepEqual(out, jobs.map((j) => j.i));
    assert.equal(seen.batches, Math.ceil(1000 / 16));
    // Regression: released all at once, a convert's held batches ran their fsyncs together.
    assert.ok(seen.maxRunning <= 2, `held batches start as the in-flight bound allows (saw ${seen.maxRunning} at once)`);
  });

  it('reads ahead a bounded number of jobs: many jobs without items do not wait for the end of the source', async () => {
    const { rt } = undecidedRuntime(1_000_000, 2);
    const total = HOLD_MAX_AHEAD * 3;
    let pulled = 0;
    let pulledAtFirst = -1;
    const source = function* () {
      for (let i = 0; i < total; i++) {
        pulled++;
        yield { items: i === 0 ? [{ path: 'x', name: '' }] : [] };
      }
    };
    let emitted = 0;
    for await (const _ of mapJobs(rt, 'inspect', {}, source(), (j) => j.items, { batchFiles: 64 })) {
      if (emitted++ === 0) pulledAtFirst = pulled;
    }
    assert.equal(emitted, total);
    assert.ok(pulledAtFirst > 0 && pulledAtFirst <= HOLD_MAX_AHEAD + 1, `the first job came out after ${pulledAtFirst} of ${total} jobs were read`);
  });

  it('a few items among many jobs without items run before the read-ahead bound, where the undecided runtime puts them, and holding goes on', async () => {
    // Regression: a repeat run over the index with 1 % changed held its first miss until
    // HOLD_MAX_AHEAD served records were read ahead, and the collector copied them all meanwhile.
    const { rt, seen } = undecidedRuntime(1_000_000, 2);
    const total = HOLD_MAX_AHEAD * 2;
    let pulled = 0;
    let pulledAtFirst = -1;
    const source = function* () {
      for (let i = 0; i < total; i++) {
        pulled++;
        yield { i, items: i % 5_000 === 0 ? [{ path: String(i), name: '' }] : [] };
      }
    };
    const out: number[] = [];
    for await (const { job, results } of mapJobs(rt, 'inspect', {}, source(), (j) => j.items, { batchFiles: 64 })) {
      if (out.length === 0) pulledAtFirst = pulled;
      out.push(job.i);
      assert.equal(results.length, job.items.length);
    }
    assert.equal(out.length, total);
    assert.ok(out.every((v, k) => v === k), 'jobs come out in source order');
    assert.ok(pulledAtFirst > 0 && pulledAtFirst <= HOLD_AHEAD_PER_HELD_ITEM + 2, `the first job came out after ${pulledAtFirst} jobs were read (bound ${HOLD_AHEAD_PER_HELD_ITEM + 2})`);
    // Each item ran on its own, while the runtime stayed undecided.
    assert.equal(seen.batches, Math.ceil(total / 5_000));
    assert.equal(seen.runWhileUndecided, seen.batches);
  });

  it('jobs that are nearly all items are held until the runtime decides (a first run): no early release', async () => {
    const { rt, seen } = undecidedRuntime(2_000, 2);
    // One job without items after every item: far below HOLD_AHEAD_PER_HELD_ITEM jobs per held item.
    const jobs = Array.from({ length: 4_000 }, (_, i) => ({ i, items: i % 2 === 0 ? [{ path: String(i), name: '' }] : [] }));
    const out: number[] = [];
    for await (const { job } of mapJobs(rt, 'inspect', {}, jobs, (j) => j.items, { batchFiles: 16 })) out.push(job.i);
    assert.deepEqual(out, jobs.map((j) => j.i));
    assert.equal(seen.runWhileUndecided, 0, 'no batch ran before the runtime decided');
  });

  it('the read-ahead bound counts what a job holds (jobWeight: a folder of records served from the index)', async () => {
    const { rt } = undecidedRuntime(1_000_000, 2);
    const perJob = 1_000;
    let pulled = 0;
    let pulledAtFirst = -1;
    const source = function* () {
      for (let i = 0; i < 100; i++) {
        pulled++;
        yield { items: i === 0 ? [{ path: 'x', name: '' }] : [], records: i === 0 ? 1 : perJob };
      }
    };
    let emitted = 0;
    for await (const _ of mapJobs(rt, 'inspect', {}, source(), (j) => j.items, { jobWeight: (j) => j.records })) {
      if (emitted++ === 0) pulledAtFirst = pulled;
    }
    assert.equal(emitted, 100);
    assert.ok(pulledAtFirst > 0 && pulledAtFirst <= Math.ceil(HOLD_MAX_AHEAD / perJob) + 2, `the first job came out after ${pulledAtFirst} jobs of ${perJob} records were read`);
  });

  it('reads ahead a bounded number of bytes: held batches never exceed the in-flight byte bound', async () => {
    const { rt, seen } = undecidedRuntime(1_000_000, 2);
    let pulled = 0;
    let pulledAtFirstRun = -1;
    const items = Array.from({ length: 400 }, (_, i) => ({ path: String(i), name: '', size: 10 }));
    const source = function* () {
      for (const it of items) {
        pulled++;
        yield it;
      }
    };
    const probe = rt as unknown as { run: (...a: unknown[]) => Promise<unknown[]> };
    const run = probe.run.bind(rt);
    probe.run = (...a: unknown[]) => {
      if (pulledAtFirstRun < 0) pulledAtFirstRun = pulled;
      return run(...a);
    };
    let n = 0;
    for await (const _ of mapOrdered(rt, 'inspect', {}, source(), { batchBytes: 40, weigh: (i) => i.size ?? 0, maxInflightBytes: 200 })) n++;
    assert.equal(n, 400);
    assert.ok(seen.batches > 0);
    assert.ok(pulledAtFirstRun > 0 && pulledAtFirstRun <= 200 / 10 + 4 + 1, `the first batch ran after ${pulledAtFirstRun} items were read`);
  });

  it('the auto engine on a tree above its break-even runs no batch in-process', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'isc-hold-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 's.json'), JSON.stringify({ face_detection: { success: true, faces: [] } }));
    const rt = createRuntime({ engine: 'auto', workers: 2 });
    try {
      const n = THREADS_BREAK_EVEN_FILES + 100;
      const items = Array.from({ length: n }, () => ({ path: join(dir, 's.json'), name: 's.json' }));
      let got = 0;
      for await (const { result } of mapOrdered(rt, 'inspect', { validate: true, brief: true }, items)) {
        assert.equal(result.status, 'ok');
        got++;
      }
      assert.equal(got, n);
      assert.equal(rt.inlineBatches, 0, 'every batch ran on the threads');
      assert.equal(rt.threadsStarted, true);
    } finally {
      await rt.close();
    }
    // Below the break-even the whole work stays in-process, as before.
    const small = createRuntime({ engine: 'auto', workers: 2 });
    try {
      const items = Array.from({ length: 100 }, () => ({ path: join(dir, 's.json'), name: 's.json' }));
      for await (const _ of mapOrdered(small, 'inspect', { validate: true, brief: true }, items));
      assert.equal(small.threadsStarted, false);
      assert.ok(small.inlineBatches > 0);
    } finally {
      await small.close();
    }
  });
});

describe('adaptive runtime: the report is sized by the whole work, threads by the work that runs', () => {
  const items = (t: { after: (fn: () => void) => void }, n: number) => {
    const dir = mkdtempSync(join(tmpdir(), 'isc-adaptive-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    return Array.from({ length: n }, (_, i) => {
      const path = join(dir, `s${i}.json`);
      writeFileSync(path, JSON.stringify({ face_detection: { success: true, faces: [] }, n: i }));
      return { path, name: `s${i}.json` };
    });
  };

  it('a few files to run out of many (an index answering the rest) run in-process; the report still names threads', async (t) => {
    const rt = createRuntime({ engine: 'auto', workers: 2 });
    try {
      rt.expect(THREADS_BREAK_EVEN_FILES * 10, 3);
      rt.warm();
      const out = await rt.run('inspect', items(t, 3), { validate: true, brief: true });
      assert.equal(out.length, 3);
      assert.equal(rt.threadsStarted, false, 'no pool for three files');
      assert.deepEqual([rt.kind, rt.workers], ['threads', 2], 'the report names the engine the whole work is sized for');
      // Once the work that runs reaches the break-even, the pool starts.
      rt.expect(THREADS_BREAK_EVEN_FILES * 10, THREADS_BREAK_EVEN_FILES);
      await rt.run('inspect', items(t, 2), { validate: true, brief: true });
      assert.equal(rt.threadsStarted, true);
    } finally {
      await rt.close();
    }
  });

  it('threads asked for explicitly start at once; without the index (everything runs) at the break-even, as before', async () => {
    const explicit = createRuntime({ engine: 'threads', workers: 2 });
    try {
      explicit.expect(10, 0);
      explicit.warm();
      assert.equal(explicit.threadsStarted, true);
    } finally {
      await explicit.close();
    }
    const auto = createRuntime({ engine: 'auto', workers: 2 });
    try {
      auto.expect(THREADS_BREAK_EVEN_FILES - 1);
      auto.warm();
      assert.equal(auto.threadsStarted, false);
      assert.equal(auto.kind, 'inline');
      auto.expect(THREADS_BREAK_EVEN_FILES);
      auto.warm();
      assert.equal(auto.threadsStarted, true);
      assert.equal(auto.kind, 'threads');
    } finally {
      await auto.close();
    }
  });
});
