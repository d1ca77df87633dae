/**
 * A batch's sidecars read, and its image links' calls made, many at once where a call takes a
 * round trip (a file server: fs/read-ahead.ts, LinkResolver.readAhead, tasks/inspect.ts). Every
 * result and index entry must be the one a read at its turn gives, for every kind of file and
 * link; each is read ahead once; batches of one thread are inspected one after another;
 * `readAhead: false` reads one at a time. Reading threads are never ended with calls in flight.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { generateSampleLibrary } from '../src/index.js';
import { inspectFilesReadingAhead as inspectFiles } from '../src/tasks/inspect.js';
import { rewindEntries, storedResult } from '../src/tasks/index-entry.js';
import { madeIdentity, madeResult, TABLE_FILES } from '../src/incremental/store.js';
import { setRoundTripMsForTests } from '../src/fs/identity.js';
import { ThreadRuntime } from '../src/engine/threads.js';
import { FILES_OPEN_AHEAD, THREAD_STOP_WAIT_MS } from '../src/tuning.js';
import { makeCornerTree, removeTree, tempDir } from './helpers/cli.js';
import { sidecarFiles, sidecarData } from './helpers/tree.js';
import { INSPECT_OPTION_SETS } from './helpers/inspection-arbitraries.js';
import { awkwardLinks } from './helpers/awkward-links.js';
import type { FileInspection, InspectItem, InspectOptions } from '../src/model/inspection.js';

/** fs.open and fs.readlink (the reads taken ahead) spied: the paths opened, and the links read, asynchronously. */
const opened: string[] = [];
const linksRead: string[] = [];
const origOpen = fs.open;
const origReadlink = fs.readlink;
/** fs.openSync spied: the paths opened at their turn. */
const openedAtTurn: string[] = [];
const origOpenSync = fs.openSync;
(fs as unknown as Record<string, unknown>).openSync = function (...a: unknown[]) {
  openedAtTurn.push(String(a[0]));
  return (origOpenSync as unknown as (...x: unknown[]) => unknown).apply(fs, a);
};
(fs as unknown as Record<string, unknown>).open = function (...a: unknown[]) {
  opened.push(String(a[0]));
  return (origOpen as unknown as (...x: unknown[]) => unknown).apply(fs, a);
};
(fs as unknown as Record<string, unknown>).readlink = function (...a: unknown[]) {
  linksRead.push(String(a[0]));
  return (origReadlink as unknown as (...x: unknown[]) => unknown).apply(fs, a);
};
syncBuiltinESMExports();

/** Results as text, their clocks zeroed; each index entry as its stored result (its clock zeroed) and identity. */
function shown(results: readonly FileInspection[]): string {
  const entry = (e: Uint8Array) => ({ result: { ...(storedResult(madeResult(e)) as object), elapsedMs: 0 }, identity: Buffer.from(madeIdentity(e, TABLE_FILES)).toString('hex') });
  return JSON.stringify(
    results.map((r) => ({ ...r, elapsedMs: 0, indexEntry: r.indexEntry === undefined ? undefined : entry(r.indexEntry) })),
    (_, v) => (typeof v === 'bigint' ? `${v}n` : v),
  );
}

async function inspected(items: readonly InspectItem[], opts: InspectOptions, roundTrip: boolean): Promise<string> {
  setRoundTripMsForTests(roundTrip ? -1 : Infinity);
  try {
    const out = await inspectFiles(items, opts);
    const text = shown(out);
    rewindEntries();
    return text;
  } finally {
    setRoundTripMsForTests(null);
  }
}

describe('sidecars read ahead on a file server', () => {
  let roots: string[] = [];
  let items: InspectItem[] = [];
  let links: InspectItem[] = [];
  before(async () => {
    const sample = tempDir('isc-read-ahead-');
    await generateSampleLibrary(sample, { images: 40, seed: 5, formatMix: { json: 2, bin: 1, legacy: 1 } });
    const corner = makeCornerTree();
    // Beside them: every kind of path a batch may name.
    const odd = tempDir('isc-read-ahead-odd-');
    writeFileSync(path.join(odd, 'empty.json'), '');
    writeFileSync(path.join(odd, 'corrupt.json'), '{"image_path": "x.jpg", ');
    writeFileSync(path.join(odd, 'big.json'), JSON.stringify({ ...sidecarData('big.jpg', 2, 8), pad: 'x'.repeat(1_200_000) })); // past the 1 MiB read ahead
    writeFileSync(path.join(odd, 'ok.json'), JSON.stringify(sidecarData('ok.jpg', 1, 8)));
    mkdirSync(path.join(odd, 'folder.json'));
    symlinkSync('ok.json', path.join(odd, 'link.json'));
    symlinkSync('none.json', path.join(odd, 'dangling.json'));
    symlinkSync('loop-b.json', path.join(odd, 'loop-a.json'));
    symlinkSync('loop-a.json', path.join(odd, 'loop-b.json'));
    const names = ['empty.json', 'corrupt.json', 'big.json', 'ok.json', 'folder.json', 'link.json', 'dangling.json', 'loop-a.json', 'none.json'];
    if (spawnSync('mkfifo', [path.join(odd, 'fifo.json')]).status === 0) names.push('fifo.json');
    // Image links of every kind, as a scan gives them to resolve.
    const awkward = awkwardLinks();
    const at = { scan: 424242, rootReal: path.join(awkward.dir, '..'), dirRel: 'links' };
    links = awkward.links.map((name) => ({ path: path.join(awkward.dir, name), name, resolveLink: at }));
    roots = [sample, corner, odd, awkward.top];
    items = [...sidecarFiles(sample), ...links.slice(0, 20), ...sidecarFiles(corner), ...names.map((name) => ({ path: path.join(odd, name), name })), ...links.slice(20)];
  });
  after(() => {
    for (const r of roots) removeTree(r);
  });

  it('every option set: results and index entries as read at each turn, every kind of file and link, the small regular files and the links read ahead once', async () => {
    assert.ok(items.length > 40 && links.length > 20, `${items.length} items, ${links.length} links`);
    for (const [name, base] of Object.entries(INSPECT_OPTION_SETS)) {
      for (const entries of [false, true]) {
        if (entries && (base.keepData === true || base.dataJson === true)) continue; // never stored
        const opts: InspectOptions = entries ? { ...base, indexEntries: { racyCutoffMs: Date.now() + 60_000, root: roots[0], keyNo: 0 } } : base;
        const want = await inspected(items, opts, false);
        const from = opened.length;
        const linksFrom = linksRead.length;
        const turnFrom = openedAtTurn.length;
        const got = await inspected(items, opts, true);
        if (got !== want) {
          let k = 0;
          while (got[k] === want[k]) k++;
          assert.fail(`${name}${entries ? ' with entries' : ''}: read ahead differs at ${k}: …${want.slice(k - 300, k + 200)}… against …${got.slice(k - 300, k + 200)}…`);
        }
        const ahead = opened.slice(from);
        assert.equal(new Set(ahead).size, ahead.length, `${name}: a file opened ahead twice`);
        assert.ok(ahead.includes(items.find((it) => it.name === 'ok.json')!.path), `${name}: ok.json read ahead`);
        assert.deepEqual(linksRead.slice(linksFrom).sort(), links.map((it) => it.path).sort(), `${name}: each link read ahead once`);
        // What was read ahead is used: only what it left out (too big, not a regular file, gone) is opened at its turn.
        const leftOut = new Set(['big.json', 'folder.json', 'fifo.json', 'dangling.json', 'loop-a.json', 'none.json'].map((n) => items.find((it) => it.name === n)?.path));
        const again = openedAtTurn.slice(turnFrom).filter((p) => ahead.includes(p) && !leftOut.has(p));
        assert.deepEqual(again, [], `${name}: files read ahead opened again at their turn`);
      }
    }
  });

  it('without a round trip, or with readAhead: false, nothing is read ahead', async () => {
    const [from, linksFrom] = [opened.length, linksRead.length];
    await inspected(items, INSPECT_OPTION_SETS[Object.keys(INSPECT_OPTION_SETS)[0]], false);
    await inspected(items, { ...INSPECT_OPTION_SETS[Object.keys(INSPECT_OPTION_SETS)[0]], readAhead: false }, true);
    assert.equal(opened.length - from, 0);
    assert.equal(linksRead.length - linksFrom, 0);
  });
});

/** Descriptors of this process open on files under `dir`. */
function openUnder(dir: string): number {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir + path.sep)) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('reading threads on a file server', () => {
  const ROUND_TRIP_WORKER = new URL('./helpers/round-trip-worker.js', import.meta.url);
  const CALLS_WORKER = new URL('./helpers/calls-worker.js', import.meta.url);
  let dir = '';
  let items: InspectItem[] = [];
  before(() => {
    dir = tempDir('isc-read-ahead-threads-');
    items = Array.from({ length: 40 }, (_, i) => {
      const name = `s${i}.json`;
      writeFileSync(path.join(dir, name), JSON.stringify(sidecarData(`s${i}.jpg`, 1, 4)));
      return { path: path.join(dir, name), name };
    });
  });
  after(() => removeTree(dir));

  /** A pool of one reading thread whose every call is a round trip, each read answering `slowReadMs` late. */
  function roundTripPool(slowReadMs: number): ThreadRuntime {
    process.env.SLOW_READ_MS = String(slowReadMs);
    try {
      return new ThreadRuntime(1, { workerUrl: ROUND_TRIP_WORKER });
    } finally {
      delete process.env.SLOW_READ_MS;
    }
  }

  it('a fractional or NaN maxFileSize reads what a read at each turn reads (no crash in a read callback)', async () => {
    // 100000.5: each file read ahead (its size compared with it); 0.5: each opened, then left out by
    // its size; NaN: nothing read ahead (the guard).
    for (const [maxFileSize, opens] of [[100_000.5, 5], [0.5, 5], [Number.NaN, 0]] as const) {
      const want = await inspected(items.slice(0, 5), { maxFileSize, readAhead: false }, true);
      const from = opened.length;
      assert.equal(await inspected(items.slice(0, 5), { maxFileSize }, true), want, `maxFileSize ${maxFileSize}`);
      assert.equal(opened.length - from, opens, `maxFileSize ${maxFileSize}: files opened ahead`);
    }
  });

  it('a hash batch sent to a thread behind an inspect batch reading ahead is answered, each with its own results', { timeout: 30_000 }, async () => {
    const pool = roundTripPool(20);
    try {
      const inspect = pool.run('inspect', items, { brief: true, validate: true });
      const hash = pool.run('hash', items.slice(0, 3).map((it) => ({ path: it.path })), { mode: 'bytes' });
      const [a, b] = await Promise.all([inspect, hash]);
      assert.deepEqual(a.map((r) => r.path), items.map((it) => it.path));
      assert.equal(b.length, 3);
      assert.ok(b.every((r) => typeof r.digest === 'string' && r.digest.length === 64), JSON.stringify(b[0]));
    } finally {
      await pool.close();
    }
  });

  it('a reading thread holds at most FILES_OPEN_AHEAD files open at once (the descriptors of the process are shared)', async () => {
    const pool = roundTripPool(50);
    try {
      let most = 0;
      let done = false;
      const run = pool.run('inspect', items, { brief: true }).finally(() => (done = true));
      while (!done) {
        most = Math.max(most, openUnder(dir));
        await new Promise((r) => setTimeout(r, 1));
      }
      assert.equal((await run).length, items.length);
      assert.ok(most > 0 && most <= FILES_OPEN_AHEAD, `${most} open at once`);
    } finally {
      await pool.close();
    }
  });

  /**
   * Every thread of libuv's pool held by a read of an empty FIFO until `release`: the reading
   * thread's calls made meanwhile wait in its queue (as on a file server that is slow to answer).
   */
  function holdPool(): { release: () => Promise<void> } {
    const fifo = path.join(dir, 'hold');
    if (!fs.existsSync(fifo)) assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const fd = fs.openSync(fifo, 'r+');
    const HOLDERS = 128; // more than any pool's threads
    let back = 0;
    for (let i = 0; i < HOLDERS; i++) fs.read(fd, Buffer.alloc(1), 0, 1, null, () => back++);
    return {
      release: async () => {
        fs.writeSync(fd, Buffer.alloc(HOLDERS));
        await until('the pool released', () => back === HOLDERS);
        fs.closeSync(fd);
      },
    };
  }

  /**
   * A batch reading ahead, with its reads back but their closes waiting in libuv's queue (each read
   * answers 300 ms late, and the pool is held meanwhile): ending its thread now drops the closes.
   */
  async function closesWaiting(pool: ThreadRuntime, signal?: AbortSignal): Promise<{ run: Promise<string>; release: () => Promise<void> }> {
    const run = pool.run('inspect', items, { brief: true }, { signal }).then(() => 'done', (e: Error) => `${e.name}: ${e.message}`);
    await until('as many files open as a thread reads at once', () => openUnder(dir) === Math.min(items.length, FILES_OPEN_AHEAD));
    await new Promise((r) => setTimeout(r, 50));
    const { release } = holdPool();
    await new Promise((r) => setTimeout(r, 400));
    return { run, release };
  }

  it('a batch aborted while its calls are in flight leaves no descriptor open, and its thread goes on serving', async () => {
    const pool = roundTripPool(300);
    try {
      await pool.run('inspect', items.slice(0, 2), { brief: true }); // the thread is up
      const threadIds = pool.threadIds;
      const ac = new AbortController();
      const { run, release } = await closesWaiting(pool, ac.signal);
      ac.abort();
      assert.match(await run, /^AbortError/);
      await release();
      await until('every descriptor closed', () => openUnder(dir) === 0, 5_000);
      const again = await pool.run('inspect', items.slice(0, 4), { brief: true });
      assert.deepEqual(again.map((r) => r.path), items.slice(0, 4).map((it) => it.path));
      assert.deepEqual(pool.threadIds, threadIds, 'the thread was not ended');
    } finally {
      await pool.close();
    }
    assert.equal(openUnder(dir), 0);
  });

  it('closing the pool while a thread has calls in flight waits for them: no descriptor left open', async () => {
    const pool = roundTripPool(300);
    await pool.run('inspect', items.slice(0, 2), { brief: true });
    const { run, release } = await closesWaiting(pool);
    let isClosed = false;
    const closed = pool.close().then(() => (isClosed = true));
    assert.match(await run, /closed/);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(isClosed, false, 'the close waits for the calls in flight');
    await release();
    await closed;
    assert.equal(openUnder(dir), 0);
  });

  it('closing the pool as a thread dies with calls in flight does not wait on them', async () => {
    const pool = new ThreadRuntime(1, { workerUrl: CALLS_WORKER, pipelined: () => true });
    const started = new SharedArrayBuffer(4);
    const from = { ms: 0 };
    // Closed as soon as its batch fails (the thread's 'error'), before its 'exit'.
    const closed = pool.run('calls' as 'inspect', [1] as never, { ms: 60_000, started, crash: true } as never).then(
      () => assert.fail('the batch of a thread that died answered'),
      (e: Error) => {
        from.ms = performance.now();
        return pool.close().then(() => e.message);
      },
    );
    assert.match(await closed, /crash/);
    assert.ok(performance.now() - from.ms < THREAD_STOP_WAIT_MS / 2, `the close took ${Math.round(performance.now() - from.ms)} ms`);
  });

  it('a batch stopped for an abort of the batch before it (whose answer was on its way) runs again', async () => {
    const pool = new ThreadRuntime(1, { workerUrl: CALLS_WORKER, pipelined: () => true });
    try {
      await pool.run('quick' as 'inspect', [0] as never, {} as never); // the thread is up
      const started = new SharedArrayBuffer(4);
      const ac = new AbortController();
      const first = pool.run('quick' as 'inspect', [1] as never, {} as never, { signal: ac.signal }).then(() => 'done', (e: Error) => e.name);
      const second = pool.run('calls' as 'inspect', [2] as never, { ms: 300, started } as never);
      // The thread answers the first and begins the second's calls while this thread is busy: the
      // first's answer is not read yet when it is aborted.
      const end = Date.now() + 10_000;
      while (Atomics.load(new Int32Array(started), 0) === 0 && Date.now() < end) {
        /* busy */
      }
      assert.equal(Atomics.load(new Int32Array(started), 0), 1, 'the second batch began');
      ac.abort();
      assert.equal(await first, 'AbortError');
      assert.deepEqual(await second, [2], 'run twice: stopped once, then to its end');
    } finally {
      await pool.close();
    }
  });
});
