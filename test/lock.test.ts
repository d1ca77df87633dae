import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import * as path from 'node:path';
import { threadId } from 'node:worker_threads';
import { acquireSidecarLockSync, assertLockHeld, lockHolderDead, lockPathFor, lockTakeoverProbe, withSidecarLock, type HeldLock } from '../src/fs/lock.js';
import { hostMark, isAbandonedTempFile, isLockName, processState, removeStaleTempFiles, TEMP_MARK } from '../src/fs/temp-files.js';
import { SidecarError } from '../src/errors.js';
import { deadPid, plantLock, testDir, zombiePid } from './helpers/tree.js';


const LOCK_MODULE = new URL('../src/fs/lock.js', import.meta.url).href;

/**
 * A child process that takes the lock, says "locked", holds it for holdMs (or forever when
 * holdMs < 0), creates `doneMarker` (if given) while still holding it, then releases it.
 */
function holder(
  keyPath: string,
  holdMs: number,
  staleMs = 2000,
  doneMarker = '',
): { child: ChildProcess; locked: Promise<void>; exited: Promise<number | null> } {
  const script = `
    const { withSidecarLock } = await import(${JSON.stringify(LOCK_MODULE)});
    const { writeFileSync } = await import('node:fs');
    const [key, hold, stale, marker] = process.argv.slice(1);
    await withSidecarLock(key, async () => {
      process.stdout.write('locked\\n');
      await new Promise((r) => (Number(hold) < 0 ? setInterval(() => {}, 1000) : setTimeout(r, Number(hold))));
      if (marker) writeFileSync(marker, 'done');
    }, { staleMs: Number(stale) });
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, keyPath, String(holdMs), String(staleMs), doneMarker], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8');
  const locked = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('locked\n')) resolve();
    });
    child.on('exit', () => reject(new Error(`holder exited before locking: ${out}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, locked, exited };
}

test('in-process holders of one key run one after another; other keys do not wait', async (t) => {
  const dir = testDir(t);
  const key = path.join(dir, 'IMG_1');
  const events: string[] = [];
  let inside = 0;
  const work = (name: string, ms: number) =>
    withSidecarLock(key, async () => {
      inside++;
      assert.equal(inside, 1, 'two holders inside at once');
      events.push(`${name}+`);
      await new Promise((r) => setTimeout(r, ms));
      events.push(`${name}-`);
      inside--;
      return name;
    });
  const other = withSidecarLock(path.join(dir, 'IMG_2'), async () => {
    events.push('other');
    return 'other';
  });
  const results = await Promise.all([work('a', 30), work('b', 5), work('c', 10), other]);
  assert.deepEqual(results, ['a', 'b', 'c', 'other']);
  assert.deepEqual(
    events.filter((e) => e !== 'other'),
    ['a+', 'a-', 'b+', 'b-', 'c+', 'c-'],
  );
  assert.ok(events.indexOf('other') < events.indexOf('a-'), 'another key is not blocked');
  assert.equal(fs.existsSync(lockPathFor(key)), false, 'lock dir removed after release');
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('an error inside the lock is passed through and the lock is released', async (t) => {
  const dir = testDir(t);
  const key = path.join(dir, 'x');
  await assert.rejects(
    withSidecarLock(key, async () => {
      assert.ok(fs.statSync(lockPathFor(key)).isDirectory());
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal(fs.existsSync(lockPathFor(key)), false);
  assert.equal(await withSidecarLock(key, async () => 42), 42);
});

test('a holder in another process blocks us until it releases; a short timeout gives LOCK_TIMEOUT', async (t) => {
  const dir = testDir(t);
  const key = path.join(dir, 'IMG_1');
  const marker = path.join(testDir(t), 'holder-done');
  const h = holder(key, 1000, 2000, marker);
  await h.locked;
  assert.ok(fs.statSync(lockPathFor(key)).isDirectory());
  await assert.rejects(withSidecarLock(key, async () => 'never', { timeoutMs: 200 }), (e: unknown) => {
    assert.ok(e instanceof SidecarError);
    assert.equal(e.code, 'LOCK_TIMEOUT');
    return true;
  });
  const got = await withSidecarLock(key, async () => {
    assert.ok(fs.existsSync(marker), 'the holder finished its work before we got in');
    assert.deepEqual(fs.readdirSync(dir), [path.basename(lockPathFor(key))]);
    return 'mine';
  });
  assert.equal(got, 'mine');
  assert.equal(await h.exited, 0);
});

test('a lock left by a SIGKILLed holder is recovered within a few seconds', async (t) => {
  const dir = testDir(t);
  const key = path.join(dir, 'IMG_9');
  const h = holder(key, -1, 2000);
  await h.locked;
  h.child.kill('SIGKILL');
  await h.exited;
  assert.ok(fs.statSync(lockPathFor(key)).isDirectory(), 'the killed holder left its lock dir');
  const started = Date.now();
  const got = await withSidecarLock(key, async () => 'recovered', { staleMs: 2000, timeoutMs: 10_000 });
  const waited = Date.now() - started;
  assert.equal(got, 'recovered');
  assert.ok(waited < 6000, `recovery took ${waited} ms`); // bound: staleMs + up to 1 s of mtime rounding + backoff
  assert.equal(fs.existsSync(lockPathFor(key)), false);
});

test('a lock lost while held (lock dir removed by someone else) becomes a CONFLICT, not a crash', async (t) => {
  const dir = testDir(t);
  const key = path.join(dir, 'IMG_3');
  let sawAbort = false;
  await assert.rejects(
    withSidecarLock(
      key,
      async (signal) => {
        fs.rmSync(lockPathFor(key), { recursive: true });
        // the heartbeat notices on its next check (every staleMs / 3)
        const until = Date.now() + 3000;
        while (!signal.aborted && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
        sawAbort = signal.aborted;
        return 'done';
      },
      { staleMs: 2000 },
    ),
    { name: 'SidecarError', code: 'CONFLICT' },
  );
  assert.ok(sawAbort, 'fn was told through its signal');
  // the key is usable again
  assert.equal(await withSidecarLock(key, async () => 'again'), 'again');
});

test('a lock directory that cannot be created is an error, not a wait', async (t) => {
  const dir = testDir(t);
  await assert.rejects(withSidecarLock(path.join(dir, 'missing', 'IMG'), async () => 1, { timeoutMs: 5000 }), { code: 'NOT_FOUND' });
});

/**
 * A sync holder (a convert unit in a worker thread) in a child process: it takes the lock (stale
 * age 2 s), runs `before`, says "locked", stalls 4.5 s with no heartbeat (no timer can run), then
 * runs `check` ("still-ours" or "lost CODE") and releases ("released").
 */
async function stalledSyncHolder(key: string, before: string, check: string): Promise<{ output: () => string; exited: Promise<void> }> {
  const script = `
    const { acquireSidecarLockSync } = await import(${JSON.stringify(LOCK_MODULE)});
    const [key] = process.argv.slice(1);
    const held = acquireSidecarLockSync(key, { staleMs: 2000 });
    ${before}
    process.stdout.write('locked\\n');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 4500);
    try { ${check}; process.stdout.write('still-ours\\n'); } catch (e) { process.stdout.write('lost ' + e.code + '\\n'); }
    held.release();
    process.stdout.write('released\\n');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, key], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  while (!out.includes('locked')) await new Promise((r) => setTimeout(r, 20));
  return { output: () => out, exited };
}

/**
 * Take the lock over from a stalled holder, hold it while the holder wakes up and releases, and
 * check ours survived. `liveHolderMs: 0`: the holder is treated as another host's would be (its
 * pid cannot be asked there); a live holder of this host keeps its lock (tests below).
 */
async function takeOverFrom(key: string, holder: { exited: Promise<void> }): Promise<void> {
  const t0 = Date.now();
  await withSidecarLock(
    key,
    async (signal) => {
      const waited = Date.now() - t0;
      assert.ok(waited >= 1000, `took over a live lock after ${waited} ms`);
      await holder.exited; // the old holder wakes up, checks, releases while we hold it
      assert.ok(!signal.aborted, 'our lock survived the old holder\'s release');
      assert.ok(fs.existsSync(lockPathFor(key)), 'the old holder did not remove our lock');
      assertLockHeld(signal);
    },
    { staleMs: 2000, timeoutMs: 20_000, liveHolderMs: 0 },
  );
}

test('a sync holder blocked past the stale age loses its lock to another process, notices it in check(), and never removes the new holder\'s lock', async (t) => {
  const key = path.join(testDir(t), 'IMG_9');
  const holder = await stalledSyncHolder(key, '', 'held.check()');
  await takeOverFrom(key, holder);
  assert.match(holder.output(), /lost CONFLICT/);
  assert.equal(fs.existsSync(lockPathFor(key)), false);
});

test('a freshly verified lock skips the touch only while no taker can have found it stale: a holder that stalled past the stale age after its last check still notices the takeover, and its release leaves the new lock', async (t) => {
  const key = path.join(testDir(t), 'IMG_10');
  // Verified on disk, then fresh for staleMs / 3; the check after the stall must go to the disk again.
  const holder = await stalledSyncHolder(key, 'held.check(); held.check(true);', 'held.check(true)');
  await takeOverFrom(key, holder);
  assert.match(holder.output(), /lost CONFLICT/);
  assert.match(holder.output(), /released/);
});

test('a symlink planted under a lock\'s name is refused, never taken over through (regression: the stale take-over deleted `owner` in the folder it pointed to, outside the library)', async (t) => {
  const dir = testDir(t);
  const lib = path.join(dir, 'lib');
  const victim = path.join(dir, 'victim');
  fs.mkdirSync(lib);
  fs.mkdirSync(victim);
  fs.writeFileSync(path.join(victim, 'owner'), 'precious');
  const sidecar = path.join(lib, 'IMG_1.json');
  fs.symlinkSync(victim, lockPathFor(sidecar));
  const old = new Date(Date.now() - 3_600_000);
  fs.utimesSync(victim, old, old); // looks stale through the link
  await assert.rejects(
    withSidecarLock(sidecar, async () => 'ran', { timeoutMs: 2_000 }),
    (e: unknown) => e instanceof SidecarError && e.code === 'CONFLICT' && /not a lock folder/.test(e.message),
  );
  assert.deepEqual(fs.readdirSync(victim), ['owner']);
  assert.equal(fs.readFileSync(path.join(victim, 'owner'), 'utf8'), 'precious');
  assert.ok(fs.lstatSync(lockPathFor(sidecar)).isSymbolicLink(), 'the planted link is left for the user to see');
  // A file under the lock's name is refused the same way.
  fs.rmSync(lockPathFor(sidecar));
  fs.writeFileSync(lockPathFor(sidecar), 'x');
  await assert.rejects(withSidecarLock(sidecar, async () => 'ran', { timeoutMs: 2_000 }), (e: unknown) => e instanceof SidecarError && e.code === 'CONFLICT');
});

test('a lock folder dated far in the future is stale, not held forever (regression: a planted lock dated 2099 blocked every writer for its whole timeout)', async (t) => {
  const dir = testDir(t);
  const sidecar = path.join(dir, 'IMG_1.json');
  const lockDir = lockPathFor(sidecar);
  fs.mkdirSync(lockDir);
  fs.writeFileSync(path.join(lockDir, 'owner'), '999999-planted');
  const future = new Date(Date.UTC(2099, 0, 1));
  fs.utimesSync(lockDir, future, future);
  const t0 = Date.now();
  assert.equal(await withSidecarLock(sidecar, async () => 'ran', { timeoutMs: 5_000 }), 'ran');
  assert.ok(Date.now() - t0 < 4_000, 'taken over, not waited out');
  // A lock refreshed a moment ago (a live holder, a little clock skew) is still respected.
  fs.mkdirSync(lockDir);
  fs.writeFileSync(path.join(lockDir, 'owner'), '999999-live');
  const soon = new Date(Date.now() + 2_000);
  fs.utimesSync(lockDir, soon, soon);
  await assert.rejects(withSidecarLock(sidecar, async () => 'ran', { timeoutMs: 500 }), (e: unknown) => e instanceof SidecarError && e.code === 'LOCK_TIMEOUT');
});


// A lock dated ahead of our clock (a file server's clock a few minutes ahead dates a new lock so;
// a holder killed before its first heartbeat leaves it so) showed no age: within the skew tolerance
// (10 minutes) it was waited on until our clock passed its date, whoever held it.
test('a lock dated minutes ahead of our clock is stale once the taker has seen it unchanged for the stale age; one whose heartbeat goes on is still respected', async (t) => {
  const dir = testDir(t);
  const here = hostMark();
  const elsewhere = here === '00000000' ? '11111111' : '00000000';
  const ahead = (lockDir: string, ms: number) => {
    const at = new Date(Date.now() + ms);
    fs.utimesSync(lockDir, at, at);
  };
  const cases = [
    { token: `${here}-${deadPid()}.0-ab`, why: 'a dead process of this host' },
    { token: `${elsewhere}-${process.pid}.0-ab`, why: 'another host\'s holder that stopped' },
    { token: '', why: 'a holder killed before it wrote its token' },
  ];
  for (const [i, c] of cases.entries()) {
    const key = path.join(dir, `IMG_${i}`);
    plantLock(lockPathFor(key), c.token, 0);
    ahead(lockPathFor(key), 5 * 60_000);
    const t0 = Date.now();
    assert.equal(await withSidecarLock(key, async () => 'taken', { staleMs: 2000, timeoutMs: 8000 }), 'taken', c.why);
    assert.ok(Date.now() - t0 >= 2000, `${c.why}: not before the stale age`);
  }
  // A caller that tries again and again with short waits counts the silence from its first look.
  const retried = path.join(dir, 'IMG_retried');
  plantLock(lockPathFor(retried), `${here}-${deadPid()}.0-ab`, 0);
  ahead(lockPathFor(retried), 5 * 60_000);
  const t1 = Date.now();
  let got = '';
  while (got !== 'taken' && Date.now() - t1 < 8000) {
    got = await withSidecarLock(retried, async () => 'taken', { staleMs: 2000, timeoutMs: 300 }).catch((e: unknown) => {
      if (e instanceof SidecarError && e.code === 'LOCK_TIMEOUT') return 'waited';
      throw e;
    });
  }
  assert.equal(got, 'taken', 'short tries add up to the stale age');
  // Another host's live holder whose clock is ahead of ours: each heartbeat dates the lock ahead.
  const key = path.join(dir, 'IMG_beating');
  plantLock(lockPathFor(key), `${elsewhere}-${process.pid}.0-ab`, 0);
  ahead(lockPathFor(key), 5 * 60_000);
  const beat = setInterval(() => ahead(lockPathFor(key), 5 * 60_000 + 1), 500);
  t.after(() => clearInterval(beat));
  await assert.rejects(withSidecarLock(key, async () => 'taken', { staleMs: 2000, timeoutMs: 4000 }), (e: unknown) => e instanceof SidecarError && e.code === 'LOCK_TIMEOUT');
  clearInterval(beat);
  // A live holder of this host, dated ahead and silent: its own rule (liveHolderMs) still holds.
  const live = path.join(dir, 'IMG_live');
  plantLock(lockPathFor(live), `${here}-${process.pid}.${threadId}-ab`, 0);
  ahead(lockPathFor(live), 5 * 60_000);
  await assert.rejects(withSidecarLock(live, async () => 'taken', { staleMs: 2000, timeoutMs: 3000 }), (e: unknown) => e instanceof SidecarError && e.code === 'LOCK_TIMEOUT');
});

test('a live holder of this host keeps its lock past the stale age (starved of CPU, or stopped): the taker waits, the holder finds its lock still its own', async (t) => {
  const key = path.join(testDir(t), 'IMG_11');
  // Stalls 4.5 s with no heartbeat, twice the stale age; it was taken over at 2 s before.
  const holder = await stalledSyncHolder(key, '', 'held.check()');
  await assert.rejects(withSidecarLock(key, async () => 'taken', { staleMs: 2000, timeoutMs: 3500 }), (e: unknown) => e instanceof SidecarError && e.code === 'LOCK_TIMEOUT');
  await holder.exited;
  assert.match(holder.output(), /still-ours/);
  assert.match(holder.output(), /released/);
  assert.equal(await withSidecarLock(key, async () => 'after', { staleMs: 2000 }), 'after');
  assert.equal(fs.existsSync(lockPathFor(key)), false);
});

test('whose lock is stale: a dead process of this host\'s at the stale age, a live one\'s only past liveHolderMs, another host\'s or an unmarked one\'s by its age alone', async (t) => {
  const dir = testDir(t);
  const here = hostMark();
  const elsewhere = here === '00000000' ? '11111111' : '00000000';
  const gone = deadPid();
  const cases = [
    { token: `${here}-${process.pid}.${threadId}-ab`, ageMs: 3_000, taken: false, why: 'a live process of this host, silent for 3 s' },
    { token: `${here}-${process.pid}.${threadId}-ab`, ageMs: 61_000, taken: true, why: 'a live process of this host silent past liveHolderMs (a reused pid, a holder stopped for good)' },
    { token: `${here}-${gone}.0-ab`, ageMs: 3_000, taken: true, why: 'a dead process of this host' },
    { token: `${here}-${gone}.0-ab`, ageMs: 500, taken: false, why: 'a fresh lock, whoever holds it' },
    { token: `${here}-${process.pid}.${threadId + 1}-ab`, ageMs: 3_000, taken: true, why: 'another thread of this process: a worker its pool terminated leaves its locks' },
    { token: `${here}-0.0-ab`, ageMs: 3_000, taken: true, why: 'pid 0 names no holder (kill(0, 0) signals our own group)' },
    { token: `${here}-99999999999999999999.0-ab`, ageMs: 3_000, taken: true, why: 'a pid no kernel hands out' },
    { token: `${elsewhere}-${process.pid}.0-ab`, ageMs: 3_000, taken: true, why: 'another host\'s process: its pid means nothing here' },
    { token: `${process.pid}-ab`, ageMs: 3_000, taken: true, why: 'a token from before host marks' },
    { token: '', ageMs: 3_000, taken: true, why: 'a holder killed before it wrote its token' },
  ];
  for (const [i, c] of cases.entries()) {
    const key = path.join(dir, `IMG_${i}`);
    plantLock(lockPathFor(key), c.token, c.ageMs);
    const got = await withSidecarLock(key, async () => 'taken', { staleMs: 2000, timeoutMs: 400 }).catch((e: unknown) => (e as SidecarError).code);
    assert.equal(got, c.taken ? 'taken' : 'LOCK_TIMEOUT', c.why);
  }
  // liveHolderMs: 0 gives a live holder of this host the rule of any other.
  const key = path.join(dir, 'IMG_live');
  plantLock(lockPathFor(key), `${here}-${process.pid}.${threadId}-ab`, 3_000);
  assert.equal(await withSidecarLock(key, async () => 'taken', { staleMs: 2000, timeoutMs: 400, liveHolderMs: 0 }), 'taken');
});


// A holder killed but not yet reaped by its parent (a zombie) answers kill(pid, 0): taken for a
// live one, its lock was kept up to liveHolderMs (60 s) and its temp files an hour.
test('a process killed but not yet reaped by its parent (a zombie) is dead: its lock is stale at the stale age, its temp files abandoned at once', { skip: process.platform !== 'linux' && 'a zombie is told by /proc' }, async (t) => {
  const dir = testDir(t);
  const zombie = await zombiePid(t);
  assert.equal(processState(hostMark(), zombie), 'dead');
  const key = path.join(dir, 'IMG_1');
  plantLock(lockPathFor(key), `${hostMark()}-${zombie}.0-ab`, 3_000);
  assert.equal(lockHolderDead(key), true);
  assert.equal(await withSidecarLock(key, async () => 'taken', { staleMs: 2000, timeoutMs: 400 }), 'taken');
  const temp = `.IMG_1.json${TEMP_MARK}${hostMark()}-${zombie}-0123abcd`;
  assert.ok(isAbandonedTempFile(temp, Date.now()), 'its temp file is abandoned');
  // Its parent alive is no zombie's: still a live holder.
  assert.equal(processState(hostMark(), process.ppid), 'alive');
});

/**
 * Replace `node:fs`'s `name` with `wrap(original)` for the test's duration: lock.ts reads node:fs
 * through its module namespace, which syncBuiltinESMExports updates.
 */
function hookFs<K extends 'renameSync' | 'openSync' | 'utimesSync'>(t: TestContext, name: K, wrap: (original: (typeof fs)[K]) => (typeof fs)[K]): void {
  const fsCjs = createRequire(import.meta.url)('node:fs') as typeof fs;
  const original = fsCjs[name];
  fsCjs[name] = wrap(original);
  syncBuiltinESMExports();
  t.after(() => {
    fsCjs[name] = original;
    syncBuiltinESMExports();
  });
}

/**
 * A stale lock of a dead holder; `play(takeOverMeanwhile)` arranges for another taker and a new
 * holder to act at one point of our taker's attempt. Our taker must time out without ever moving
 * the new holder's lock, which stays the new holder's.
 */
function lateTaker(t: TestContext, play: (lockDir: string, takeOverMeanwhile: () => void) => void): { dir: string } {
  const dir = testDir(t);
  const key = path.join(dir, 'IMG_1');
  const lockDir = lockPathFor(key);
  plantLock(lockDir, `${hostMark()}-${deadPid()}.0-ab`, 60_000);
  let newHolder: HeldLock | undefined;
  const moved: string[] = [];
  hookFs(t, 'renameSync', (rename) => (from, to) => {
    rename(from, to);
    if (newHolder !== undefined && path.resolve(String(from)) === lockDir) moved.push(String(to));
  });
  t.after(() => (lockTakeoverProbe.afterLook = undefined));
  play(lockDir, () => {
    // As other processes would: a taker takes the stale lock, a new holder makes it again.
    newHolder = acquireSidecarLockSync(key, { staleMs: 2000, timeoutMs: 1000 });
  });
  assert.throws(() => acquireSidecarLockSync(key, { staleMs: 2000, timeoutMs: 300 }), (e: unknown) => e instanceof SidecarError && e.code === 'LOCK_TIMEOUT');
  assert.ok(newHolder, 'the interleaving was played');
  assert.deepEqual(moved, [], 'the new holder\'s lock was moved aside');
  newHolder.check(); // still its own
  newHolder.release();
  return { dir };
}

test('a taker that found a lock stale, then lost the CPU while another took it over and a new holder made it, never moves the new holder\'s lock aside (regression: two holders at once in the concurrency run)', (t) => {
  const { dir } = lateTaker(t, (_lockDir, takeOverMeanwhile) => {
    lockTakeoverProbe.afterLook = () => {
      lockTakeoverProbe.afterLook = undefined;
      takeOverMeanwhile();
    };
  });
  const left = fs.readdirSync(dir);
  assert.equal(left.length, 1, 'the taken lock is kept aside for the sweep');
  assert.ok(isLockName(left[0]), 'the aside is never walked as data');
});

test('a taker whose look at a stale lock straddles another\'s takeover (the folder stat\'ed, then the new holder\'s token read) does not take the new lock for the stale one', (t) => {
  lateTaker(t, (lockDir, takeOverMeanwhile) => {
    let armed = true;
    hookFs(t, 'openSync', (open) => ((p: fs.PathLike, ...rest: unknown[]) => {
      if (armed && path.resolve(String(p)) === path.join(lockDir, 'owner')) {
        armed = false;
        takeOverMeanwhile(); // between the taker's stat of the stale folder and its read of the token
      }
      return (open as (...a: unknown[]) => number)(p, ...rest);
    }) as typeof fs.openSync);
  });
});

test('a lock its stalled holder released and a new holder made after a taker\'s look is put back by that taker: the new holder keeps it', (t) => {
  const dir = testDir(t);
  const key = path.join(dir, 'IMG_1');
  const lockDir = lockPathFor(key);
  plantLock(lockDir, `${hostMark()}-${deadPid()}.0-ab`, 60_000);
  let newHolder: HeldLock | undefined;
  lockTakeoverProbe.afterLook = () => {
    lockTakeoverProbe.afterLook = undefined;
    fs.rmSync(lockDir, { recursive: true }); // released by its holder, stalled on another host
    newHolder = acquireSidecarLockSync(key, { staleMs: 2000, timeoutMs: 1000 });
  };
  t.after(() => (lockTakeoverProbe.afterLook = undefined));
  assert.throws(() => acquireSidecarLockSync(key, { staleMs: 2000, timeoutMs: 300 }), (e: unknown) => e instanceof SidecarError && e.code === 'LOCK_TIMEOUT');
  assert.ok(newHolder);
  newHolder.check();
  newHolder.release();
  assert.deepEqual(fs.readdirSync(dir), [], 'put back, nothing left aside');
});

test('a holder\'s check that touched a lock taken over and made again since it read its token says the lock is lost (regression: the touch by name refreshed the new holder\'s lock and the check passed)', (t) => {
  const dir = testDir(t);
  const key = path.join(dir, 'IMG_1');
  const lockDir = lockPathFor(key);
  const held = acquireSidecarLockSync(key, { staleMs: 2000 });
  let played = false;
  hookFs(t, 'utimesSync', (utimes) => (p, a, m) => {
    if (!played && path.resolve(String(p)) === lockDir) {
      played = true;
      // Between the holder's read and its touch: taken over, and made again by another holder.
      fs.renameSync(lockDir, path.join(dir, 'taken'));
      fs.mkdirSync(lockDir);
      fs.writeFileSync(path.join(lockDir, 'owner'), 'another-holder');
    }
    utimes(p, a, m);
  });
  assert.throws(() => held.check(), (e: unknown) => e instanceof SidecarError && e.code === 'CONFLICT' && /another holder took it over/.test(e.message));
  assert.ok(played);
  held.release();
  assert.equal(fs.readFileSync(path.join(lockDir, 'owner'), 'utf8'), 'another-holder', 'the new holder\'s lock is left alone');
});

test('a stale lock whose owner cannot be read (a folder, a FIFO planted as `owner`) is taken over, not waited on forever', async (t) => {
  const dir = testDir(t);
  for (const [i, plant] of [(p: string) => fs.mkdirSync(p), (p: string) => spawnSync('mkfifo', [p])].entries()) {
    const key = path.join(dir, `IMG_${i}`);
    const lockDir = lockPathFor(key);
    fs.mkdirSync(lockDir);
    plant(path.join(lockDir, 'owner'));
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(lockDir, old, old);
    assert.equal(await withSidecarLock(key, async () => 'taken', { staleMs: 2000, timeoutMs: 2000 }), 'taken');
  }
});

test('a lock taken away is kept aside for ten minutes (its mtime is set when it is moved), then swept; a lock of an image whose name looks like an aside is never swept', async (t) => {
  const dir = testDir(t);
  const key = path.join(dir, 'IMG_1');
  plantLock(lockPathFor(key), `${hostMark()}-${deadPid()}.0-ab`, 3_600_000);
  assert.equal(await withSidecarLock(key, async () => 'taken', { staleMs: 2000, timeoutMs: 2000 }), 'taken');
  const [aside] = fs.readdirSync(dir);
  assert.ok(aside !== undefined && isLockName(aside));
  assert.deepEqual(await removeStaleTempFiles(dir, { now: Date.now() + 9 * 60_000 }), [], 'its mtime is an hour old, but it was moved just now');
  // Held locks of stems shaped like the asides of this and the version before (`<12 hex>.stale`).
  const odd = [path.join(dir, '0123456789abcdef'), path.join(dir, '0123456789ab.stale')].map((k) => acquireSidecarLockSync(k, { staleMs: 2000 }));
  assert.deepEqual(await removeStaleTempFiles(dir, { now: Date.now() + 11 * 60_000 }), [path.join(dir, aside)]);
  for (const h of odd) {
    h.check();
    h.release();
  }
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('an aside its taker never dated (killed right after the rename) is kept ten minutes from the rename, not swept by the dead lock\'s mtime', async (t) => {
  const dir = testDir(t);
  const key = path.join(dir, 'IMG_1');
  plantLock(lockPathFor(key), `${hostMark()}-${deadPid()}.0-ab`, 20 * 60_000);
  // The taker stops after its rename: the aside keeps the dead lock's mtime, 20 minutes old.
  hookFs(t, 'utimesSync', (utimes) => (p, a, m) => {
    if (!String(p).endsWith('.isc-lock-aside')) utimes(p, a, m);
  });
  assert.equal(await withSidecarLock(key, async () => 'taken', { staleMs: 2000, timeoutMs: 2000 }), 'taken');
  const [aside] = fs.readdirSync(dir);
  assert.ok(aside !== undefined && Date.now() - fs.statSync(path.join(dir, aside)).mtimeMs > 19 * 60_000, 'not dated');
  assert.deepEqual(await removeStaleTempFiles(dir), [], 'its name stays taken for a late taker');
  assert.deepEqual(await removeStaleTempFiles(dir, { now: Date.now() + 11 * 60_000 }), [path.join(dir, aside)]);
});

test('a holder whose lock was taken moments after its last good check finds it lost even in check(true), and its release leaves the new holder\'s lock alone (regression: both trusted the earlier check; the release removed the new lock)', (t) => {
  const dir = testDir(t);
  const key = path.join(dir, 'IMG_1');
  const lockDir = lockPathFor(key);
  const held = acquireSidecarLockSync(key, { staleMs: 2000 });
  held.check();
  // Moved away by a taker that could not put it back (see lock.ts `fresh`); another holder made it.
  fs.renameSync(lockDir, path.join(dir, 'taken'));
  fs.mkdirSync(lockDir);
  fs.writeFileSync(path.join(lockDir, 'owner'), 'another-holder');
  assert.throws(() => held.check(true), (e: unknown) => e instanceof SidecarError && e.code === 'CONFLICT');
  held.release();
  assert.equal(fs.readFileSync(path.join(lockDir, 'owner'), 'utf8'), 'another-holder');
  // A release right after a good check, with no check in between, leaves it too.
  const other = acquireSidecarLockSync(path.join(dir, 'IMG_2'), { staleMs: 2000 });
  other.check();
  const otherDir = lockPathFor(path.join(dir, 'IMG_2'));
  fs.renameSync(otherDir, path.join(dir, 'taken2'));
  fs.mkdirSync(otherDir);
  fs.writeFileSync(path.join(otherDir, 'owner'), 'another-holder');
  other.release();
  assert.equal(fs.readFileSync(path.join(otherDir, 'owner'), 'utf8'), 'another-holder');
});

test("a holder's check takes only its exact token as its own: a folder, a FIFO, a file one byte longer or shorter, a symlink to a device, or nothing in its owner file's place is a lost lock, and its release removes neither the lock folder nor what is in it", { skip: process.platform === 'win32' && 'no mkfifo' }, (t) => {
  const dir = testDir(t, 'isc-lock-holder-token-');
  const plants: [string, (owner: string, token: Buffer) => void][] = [
    ['a folder', (owner) => fs.mkdirSync(owner)],
    ['a FIFO', (owner) => assert.equal(spawnSync('mkfifo', [owner]).status, 0)],
    ['a longer file', (owner, token) => fs.writeFileSync(owner, Buffer.concat([token, Buffer.from('x')]))],
    ['a shorter file', (owner, token) => fs.writeFileSync(owner, token.subarray(0, token.length - 1))],
    ['a symlink to a device', (owner) => fs.symlinkSync('/dev/zero', owner)],
    ['nothing', () => undefined],
  ];
  for (const [i, [what, plant]] of plants.entries()) {
    const key = path.join(dir, `IMG_${i}`);
    const lock = acquireSidecarLockSync(key);
    const owner = path.join(lockPathFor(key), 'owner');
    const token = fs.readFileSync(owner);
    fs.unlinkSync(owner);
    plant(owner, token);
    const started = Date.now();
    assert.throws(() => lock.check(true), (e: unknown) => e instanceof SidecarError && e.code === 'CONFLICT', what);
    assert.throws(() => lock.check(), (e: unknown) => e instanceof SidecarError && e.code === 'CONFLICT', what);
    assert.ok(Date.now() - started < 5_000, `${what}: answered at once, never blocked`);
    lock.release();
    assert.ok(fs.existsSync(lockPathFor(key)), `${what}: the lock folder is not removed by a holder that lost it`);
    if (what !== 'nothing') assert.ok(fs.lstatSync(owner, { throwIfNoEntry: false }), `${what}: what is in the owner file's place is left as it is`);
  }
});

test('a holder whose wall clock moved on while its monotonic clock stood still (a suspend), or was set back, touches the lock on check(true)', (t) => {
  const dir = testDir(t, 'isc-lock-clocks-');
  const realNow = Date.now;
  t.after(() => {
    Date.now = realNow;
  });
  for (const shiftMs of [30_000, -60_000]) {
    const key = path.join(dir, `IMG_${shiftMs > 0 ? 'suspend' : 'setback'}`);
    const lock = acquireSidecarLockSync(key, { staleMs: 60_000 }); // fresh for 20 s by the monotonic clock
    const lockDir = lockPathFor(key);
    const past = new Date(Math.floor(realNow() / 1000) * 1000 - 1000);
    fs.utimesSync(lockDir, past, past);
    Date.now = () => realNow() + shiftMs;
    try {
      lock.check(true);
    } finally {
      Date.now = realNow;
    }
    assert.notEqual(fs.statSync(lockDir).mtimeMs, past.getTime(), `touched (wall clock ${shiftMs > 0 ? 'ahead' : 'set back'})`);
    lock.release();
  }
});

test('a lock just taken counts as just verified (its folder was made then): check(true) reads the token without touching the folder, and finds a lock taken from it lost', (t) => {
  const dir = testDir(t, 'isc-lock-fresh-');
  const key = path.join(dir, 'IMG_1');
  const lock = acquireSidecarLockSync(key, { staleMs: 60_000 }); // fresh for 20 s: a loaded machine cannot make this test race
  const lockDir = lockPathFor(key);
  const past = new Date(Math.floor(Date.now() / 1000) * 1000 - 1000); // a second ago: well within staleMs
  fs.utimesSync(lockDir, past, past);
  lock.check(true);
  assert.equal(fs.statSync(lockDir).mtimeMs, past.getTime(), 'not touched');
  fs.writeFileSync(path.join(lockDir, 'owner'), 'another holder');
  assert.throws(() => lock.check(true), (e: unknown) => e instanceof SidecarError && e.code === 'CONFLICT');
  lock.release();
  assert.ok(fs.existsSync(lockDir), "another holder's lock is not removed");
});

test('a caller that does not wait (timeout 0) takes a dead holder\'s stale lock over and gets it at once (it moved the lock aside and then gave up with LOCK_TIMEOUT: a restore right after a killed one refused)', async (t) => {
  const key = path.join(testDir(t), 'IMG_12');
  plantLock(lockPathFor(key), `${hostMark()}-${deadPid()}.0-0123abcd`, 60_000);
  assert.equal(await withSidecarLock(key, async () => 'got it', { timeoutMs: 0 }), 'got it');
  // A live holder's lock is not taken: the caller gives up at once.
  await withSidecarLock(key, async () => {
    await assert.rejects(withSidecarLock(key, async () => 'second', { timeoutMs: 0 }), (e: unknown) => e instanceof SidecarError && e.code === 'LOCK_TIMEOUT');
  });
});
