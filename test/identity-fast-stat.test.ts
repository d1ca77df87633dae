/**
 * The warm checks' stat (fs/identity.ts IdentityScratch.stat): Node's own stat binding as
 * a fast path, fs.statSync as the reference. Each test tries to make the fast path give an answer
 * the reference would not: every kind of path, a binding that lies, one that is missing, a NUL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, utimesSync, writeFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BatchStats, IdentityScratch, identityBytes, resetFastStatForTests, STAT_DIR, STAT_FILE, STAT_NONE, STAT_OTHER } from '../src/fs/identity.js';
import { pathsOfEveryKind, referenceStat, statIdentityAny } from './helpers/stat-identity.js';
import { testDir } from './helpers/tree.js';
import { lyingBinding } from './helpers/lying-binding.js';
import { resetFstatForTests } from '../src/fs/stat-binding.js';
import { parseJson, runCli } from './helpers/cli.js';
import { performanceInfo } from '../src/ops/performance.js';
import { doctorSummary } from '../src/cli/summaries.js';
import { makeStyle } from '../src/cli/style.js';

test('fast stat: every kind of path gets the kind and identity fs.statSync gives', (t) => {
  const dir = testDir(t, 'isc-faststat-');
  const list = pathsOfEveryKind(dir);
  resetFastStatForTests('unknown');
  const fast = new IdentityScratch();
  const got = list.map((p) => {
    const kind = fast.stat(p);
    return [kind, kind === STAT_NONE ? null : fast.bytes.toString('hex')];
  });
  assert.deepEqual(got, list.map(referenceStat));
  assert.equal(fast.fastUsed, true, 'the binding was trusted after the first path and answered the rest');
  // The kinds themselves, as statSync names them.
  const kinds = list.map((p) => referenceStat(p)[0]);
  assert.deepEqual(kinds.slice(0, 11), [STAT_DIR, STAT_FILE, STAT_FILE, STAT_FILE, STAT_DIR, STAT_NONE, STAT_NONE, STAT_NONE, STAT_NONE, STAT_DIR, STAT_DIR]);
  if (list.length > 11) assert.equal(kinds[11], STAT_OTHER);
  // The identity is identity.ts's own layout (what the index stores).
  const id = statIdentityAny(list[1]);
  assert.ok(id);
  fast.stat(list[1]);
  assert.ok(fast.bytes.equals(identityBytes(id)));
});

test('fast stat: an edit that keeps size and mtime moves the identity through the fast path too', (t) => {
  const dir = testDir(t, 'isc-faststat-');
  const f = join(dir, 'a.json');
  writeFileSync(f, '{"success": true}');
  utimesSync(f, 1_700_000_000, 1_700_000_000);
  resetFastStatForTests('yes');
  const s = new IdentityScratch();
  assert.equal(s.stat(f), STAT_FILE);
  const before = Buffer.from(s.bytes);
  const ctime = statSync(f, { bigint: true }).ctimeNs;
  writeFileSync(f, readFileSync(f, 'utf8').replace('true', 'tru3'));
  // utimes moves ctime too: again until the clock has ticked (a coarse one may give the same tick).
  for (let i = 0; i < 1000 && (i === 0 || statSync(f, { bigint: true }).ctimeNs === ctime); i++) utimesSync(f, 1_700_000_000, 1_700_000_000);
  assert.notEqual(statSync(f, { bigint: true }).ctimeNs, ctime);
  assert.equal(s.stat(f), STAT_FILE);
  assert.equal(s.fastUsed, true);
  assert.ok(!s.bytes.equals(before), 'the ctime change is in the identity');
  assert.equal(s.bytes.toString('hex'), referenceStat(f)[1]);
});

test('fast stat: a binding that gives other numbers is caught on the first path and never used', (t) => {
  const dir = testDir(t, 'isc-faststat-');
  const list = pathsOfEveryKind(dir);
  // Node's real binding, with the ctime's nanoseconds moved by one in both forms: the numbers
  // (what the fast path reads) and the BigInts (its fallback).
  const lying = lyingBinding('stat', 15);
  resetFastStatForTests('unknown', lying as unknown as Parameters<typeof resetFastStatForTests>[1]);
  const s = new IdentityScratch();
  assert.deepEqual(list.map((p) => [s.stat(p), Buffer.from(s.bytes).toString('hex')]).map(([k, b]) => [k, k === STAT_NONE ? null : b]), list.map(referenceStat));
  assert.equal(s.fastUsed, false, 'never answered');
  const later = new IdentityScratch();
  later.stat(list[1]);
  assert.equal(later.fastUsed, false, 'refused for the rest of the process');
  resetFastStatForTests('unknown');
});

test('fast stat: no binding (a Node without it), a binding that throws, a NUL in a path: the reference answers', (t) => {
  const dir = testDir(t, 'isc-faststat-');
  const list = pathsOfEveryKind(dir);
  for (const fn of [null, () => { throw new Error('ERR_ACCESS_DENIED'); }]) {
    resetFastStatForTests('unknown', fn as null);
    const s = new IdentityScratch();
    assert.deepEqual(list.map((p) => { const k = s.stat(p); return [k, k === STAT_NONE ? null : s.bytes.toString('hex')]; }), list.map(referenceStat));
    assert.equal(s.fastUsed, false);
  }
  resetFastStatForTests('yes');
  const s = new IdentityScratch();
  // statSync refuses a NUL; the binding would stat the name up to it (here: the folder).
  assert.equal(s.stat(`${join(dir, 'd')}\0/a.json`), STAT_NONE);
  assert.equal(referenceStat(`${join(dir, 'd')}\0/a.json`)[0], STAT_NONE);
  resetFastStatForTests('unknown');
});

test('fast stat: not used under --pending-deprecation (process.binding would warn), and the run prints no warning', () => {
  const script = `
    const { IdentityScratch } = await import(${JSON.stringify(new URL('../src/fs/identity.js', import.meta.url).href)});
    const s = new IdentityScratch();
    s.stat(process.cwd()); s.stat(process.cwd());
    console.log(JSON.stringify(s.fastUsed));
  `;
  const run = (execArgv: string[]) => spawnSync(process.execPath, [...execArgv, '--input-type=module', '-e', script], { encoding: 'utf8' });
  const plain = run([]);
  assert.equal(plain.stdout.trim(), 'true', plain.stderr);
  assert.equal(plain.stderr, '');
  const pending = run(['--pending-deprecation']);
  assert.equal(pending.stdout.trim(), 'false', pending.stderr);
  assert.equal(pending.stderr, '');
});

test('fast stat: doctor says whether the stat calls use it, and IMAGE_SIDECAR_FAST_STAT=off turns it off', async () => {
  type Info = { index: { fastStat: { enabled: boolean; available: boolean; inUse: boolean } } };
  const on = parseJson<Info>(await runCli(['doctor', '--json']));
  assert.deepEqual(on.index.fastStat, { enabled: true, available: true, inUse: true });
  const off = parseJson<Info>(await runCli(['doctor', '--json'], { env: { IMAGE_SIDECAR_FAST_STAT: 'off' } }));
  assert.deepEqual(off.index.fastStat, { enabled: false, available: false, inUse: false });
  const line = (fastStat: boolean) => doctorSummary(performanceInfo({ fastStat }), makeStyle(false)).find((l) => l.includes('stat calls'));
  assert.match(line(false) ?? '', /stat calls +fs\.fstatSync, fs\.statSync \(IMAGE_SIDECAR_FAST_STAT=off\)/);
  assert.match(line(true) ?? '', /stat calls +Node's own binding, reads and index checks/);
  assert.match(doctorSummary(performanceInfo({ fastStat: true }, { fastStat: false }), makeStyle(false)).find((l) => l.includes('stat calls')) ?? '', /IMAGE_SIDECAR_FAST_STAT=off/, 'the index option alone turns it off too');
});

test('fast stat: mtimes across the range (before 1970, at 2^32 s, near 2^34 s, past it) give what fs.statSync gives', (t) => {
  const dir = testDir(t, 'isc-faststat-');
  const f = join(dir, 'a.json');
  writeFileSync(f, '{}');
  resetFastStatForTests('yes');
  const s = new IdentityScratch();
  for (const secs of [-86_400.5, 0, 1.000000001, 2 ** 31 - 1, 2 ** 32 + 0.25, 2 ** 33 + 0.123456789, 2 ** 34 - 1, 2 ** 34 + 7, 1_700_000_000.987654321]) {
    try {
      utimesSync(f, secs, secs);
    } catch {
      continue; // a file system that refuses the time
    }
    assert.equal(s.stat(f), STAT_FILE);
    assert.equal(s.bytes.toString('hex'), referenceStat(f)[1], `mtime ${secs}`);
  }
  assert.equal(s.fastUsed, true);
  resetFastStatForTests('unknown');
});

test('batch stats (a batch\'s reads, tasks/inspect.ts): each item keeps its own read\'s identity, fast and pure alike, across the time range; a lying fstat is caught', (t) => {
  const dir = testDir(t, 'isc-batchstat-');
  const secs = [-86_400.5, 0, 1.000000001, 2 ** 32 + 0.25, 2 ** 34 + 7, 1_700_000_000.987654321];
  const files = secs.map((s, i) => {
    const f = join(dir, `f${i}.json`);
    writeFileSync(f, '{}'.padEnd(2 + i, ' '));
    try {
      utimesSync(f, s, s);
    } catch {
      // a file system that refuses the time: the file keeps its own
    }
    return f;
  });
  // What fs.fstatSync gives each descriptor (IdentityScratch({ fast: false }).fstat: the reference).
  const reference = (fd: number) => {
    const s = new IdentityScratch({ fast: false });
    s.fstat(fd);
    return s.bytes.toString('hex');
  };
  const run = (stats: BatchStats) => {
    stats.begin(files.length + 1);
    const sizes: number[] = [];
    const want: string[] = [];
    // Every item read before any identity is made of one (as a batch does): no slot overwrites another.
    for (let i = 0; i < files.length; i++) {
      const fd = openSync(files[i], 'r');
      try {
        stats.slot = i;
        sizes.push(stats.sizeOf(fd));
        want.push(reference(fd));
      } finally {
        closeSync(fd);
      }
    }
    const dfd = openSync(dir, 'r');
    try {
      stats.slot = files.length;
      assert.equal(stats.sizeOf(dfd), -1, 'a folder: not a regular file');
    } finally {
      closeSync(dfd);
    }
    const id = new IdentityScratch({ fast: false });
    for (let i = files.length - 1; i >= 0; i--) {
      stats.loadInto(i, id);
      assert.equal(id.bytes.toString('hex'), want[i], `item ${i} (mtime ${secs[i]})`);
      assert.equal(sizes[i], 2 + i);
    }
  };
  resetFastStatForTests('yes');
  const fast = new BatchStats();
  run(fast);
  assert.equal(fast.fastUsed, true);
  const pure = new BatchStats({ fast: false });
  run(pure);
  assert.equal(pure.fastUsed, false);
  // An fstat binding that moves the ctime's ns: caught on the first read (fs.fstatSync answers it), never used.
  resetFastStatForTests('unknown');
  resetFstatForTests('unknown', lyingBinding('fstat', 15) as never);
  const lied = new BatchStats();
  run(lied);
  assert.equal(lied.fastUsed, false);
  resetFastStatForTests('unknown');
});
