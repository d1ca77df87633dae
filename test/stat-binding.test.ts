/**
 * The reads' descriptor stat (fs/stat-binding.ts regularFileSize, identity.ts IdentityScratch.fstat):
 * Node's fstat binding as a fast path, fs.fstatSync as the reference. Each test tries to make the
 * fast path give an answer the reference would not: files of every size, a folder, a FIFO, a
 * binding that lies, one that throws, a closed descriptor; and whole runs with it on and off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync, writeFileSync, constants } from 'node:fs';
import { join } from 'node:path';
import { regularFileSize, resetFstatForTests, fstatBinding, type BindingFstat } from '../src/fs/stat-binding.js';
import { BatchStats, IdentityScratch, identityBytes, STAT_DIR, STAT_FILE, STAT_OTHER } from '../src/fs/identity.js';
import { readFileLimitedSync, readFileSizedSync } from '../src/fs/read-file.js';
import { validate } from '../src/ops/validate.js';
import { stats } from '../src/ops/stats.js';
import { lyingBinding } from './helpers/lying-binding.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir, type TreeNode } from './helpers/tree.js';

/** Descriptors of every kind a read may meet: empty, small and 1 MiB files, Unicode, a folder, a FIFO (opened non-blocking). */
function descriptors(dir: string): { name: string; fd: number }[] {
  writeFileSync(join(dir, 'empty.json'), '');
  writeFileSync(join(dir, 'a.json'), '{"a": 1}');
  writeFileSync(join(dir, 'big.bin'), Buffer.alloc(1 << 20, 7));
  writeFileSync(join(dir, 'Ünïcødé 名前.json'), '{}');
  mkdirSync(join(dir, 'd'));
  const out = ['empty.json', 'a.json', 'big.bin', 'Ünïcødé 名前.json', 'd'].map((name) => ({ name, fd: openSync(join(dir, name), 'r') }));
  if (spawnSync('mkfifo', [join(dir, 'fifo')]).status === 0) out.push({ name: 'fifo', fd: openSync(join(dir, 'fifo'), constants.O_RDONLY | constants.O_NONBLOCK) });
  return out;
}

const referenceSize = (fd: number) => {
  const st = fstatSync(fd);
  return st.isFile() ? st.size : -1;
};

test('fstat fast path: every kind of descriptor gets the size (or -1) fs.fstatSync gives, and it is trusted after the first', (t) => {
  const dir = testDir(t, 'isc-fstat-');
  const fds = descriptors(dir);
  try {
    resetFstatForTests('unknown');
    const got = fds.map(({ fd }) => regularFileSize(fd));
    assert.deepEqual(got, fds.map(({ fd }) => referenceSize(fd)));
    assert.deepEqual(got.slice(0, 5), [0, 8, 1 << 20, 2, -1]);
    if (fds.length > 5) assert.equal(got[5], -1, 'a FIFO is not a regular file');
    assert.equal(fstatBinding().trusted, 'yes');
    // fast: false never consults the binding (a lying one cannot matter).
    resetFstatForTests('yes', (() => new Float64Array(18)) as unknown as BindingFstat);
    assert.deepEqual(fds.map(({ fd }) => regularFileSize(fd, false)), fds.map(({ fd }) => referenceSize(fd)));
  } finally {
    for (const { fd } of fds) closeSync(fd);
    resetFstatForTests('unknown');
  }
});

test('fstat fast path: the identity of a descriptor is the one fs.fstatSync gives (bigint), kinds included', (t) => {
  const dir = testDir(t, 'isc-fstat-');
  const fds = descriptors(dir);
  try {
    for (const trust of ['unknown', 'yes'] as const) {
      resetFstatForTests(trust);
      const s = new IdentityScratch();
      for (const { name, fd } of fds) {
        const kind = s.fstat(fd);
        const st = fstatSync(fd, { bigint: true });
        assert.equal(kind, st.isDirectory() ? STAT_DIR : st.isFile() ? STAT_FILE : STAT_OTHER, name);
        assert.ok(s.bytes.equals(identityBytes({ dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs })), `${name}: identity (${trust})`);
        assert.equal(s.size, st.size);
        assert.equal(s.ctimeNs, st.ctimeNs);
      }
      assert.equal(s.fastUsed, true, `the binding answered (${trust})`);
      const pure = new IdentityScratch({ fast: false });
      pure.fstat(fds[1].fd);
      assert.equal(pure.fastUsed, false, 'fast: false: fs.fstatSync only');
    }
  } finally {
    for (const { fd } of fds) closeSync(fd);
    resetFstatForTests('unknown');
  }
});

test('fstat fast path: a binding that gives other numbers is caught on the first descriptor and never used', (t) => {
  const dir = testDir(t, 'isc-fstat-');
  const fds = descriptors(dir);
  // The size moved by one in both forms (a layout that changed).
  const lying = lyingBinding('fstat', 8);
  try {
    resetFstatForTests('unknown', lying as unknown as BindingFstat);
    assert.deepEqual(fds.map(({ fd }) => regularFileSize(fd)), fds.map(({ fd }) => referenceSize(fd)));
    assert.equal(fstatBinding().trusted, 'no');
    resetFstatForTests('unknown', lying as unknown as BindingFstat);
    const s = new IdentityScratch();
    for (const { fd } of fds) {
      s.fstat(fd);
      const st = fstatSync(fd, { bigint: true });
      assert.equal(s.size, st.size, 'the identity is the reference one');
    }
    assert.equal(s.fastUsed, false, 'never answered');
    assert.equal(fstatBinding().trusted, 'no');
  } finally {
    for (const { fd } of fds) closeSync(fd);
    resetFstatForTests('unknown');
  }
});

test('fstat fast path: no binding, one that throws, a closed descriptor: the reference answers, or throws as fs.fstatSync does', (t) => {
  const dir = testDir(t, 'isc-fstat-');
  const fds = descriptors(dir);
  try {
    for (const fn of [null, () => { throw new Error('ERR_ACCESS_DENIED'); }]) {
      resetFstatForTests('unknown', fn as unknown as BindingFstat | null);
      assert.deepEqual(fds.map(({ fd }) => regularFileSize(fd)), fds.map(({ fd }) => referenceSize(fd)));
      assert.notEqual(fstatBinding().trusted, 'yes');
    }
  } finally {
    for (const { fd } of fds) closeSync(fd);
  }
  const fd = openSync(join(dir, 'a.json'), 'r');
  closeSync(fd);
  resetFstatForTests('yes');
  assert.throws(() => regularFileSize(fd), (e: NodeJS.ErrnoException) => e.code === 'EBADF');
  assert.throws(() => new IdentityScratch().fstat(fd), (e: NodeJS.ErrnoException) => e.code === 'EBADF');
  resetFstatForTests('unknown');
});

test('fstat fast path: reads refuse a FIFO and a folder and read files whole, on both paths', (t) => {
  const dir = testDir(t, 'isc-fstat-');
  writeFileSync(join(dir, 'a.json'), '{"a": 1}');
  mkdirSync(join(dir, 'd'));
  const fifo = spawnSync('mkfifo', [join(dir, 'fifo')]).status === 0;
  for (const fast of [true, false]) {
    resetFstatForTests('unknown');
    assert.equal(readFileLimitedSync(join(dir, 'a.json'), 100, undefined, fast).toString(), '{"a": 1}');
    assert.throws(() => readFileLimitedSync(join(dir, 'a.json'), 4, undefined, fast), /above the limit/);
    assert.throws(() => readFileLimitedSync(join(dir, 'd'), 100, undefined, fast));
    if (fifo) assert.throws(() => readFileLimitedSync(join(dir, 'fifo'), 100, undefined, fast), /regular/i);
    const s = new BatchStats({ fast });
    s.begin(1);
    assert.equal(readFileSizedSync(join(dir, 'a.json'), 100, undefined, s.sizeOf).toString(), '{"a": 1}');
    if (fifo) assert.throws(() => readFileSizedSync(join(dir, 'fifo'), 100, undefined, s.sizeOf), /regular/i);
  }
  resetFstatForTests('unknown');
});

test('fstat fast path: validate and stats give the same output with it on and off, with and without the index, inline and threads', async (t) => {
  const dir = testDir(t, 'isc-fstat-');
  const spec: Record<string, TreeNode> = { 'a/b/bad.jpg': FAKE_JPEG, 'a/b/bad.json': '{"face_detection": ', 'a/b/empty.json': '' };
  for (let i = 0; i < 30; i++) {
    spec[`a/IMG_${i}.jpg`] = FAKE_JPEG;
    spec[`a/IMG_${i}.json`] = { json: sidecarData(`IMG_${i}.jpg`, i % 3, 8) };
  }
  const root = makeTree(spec, join(dir, 'lib'));
  // The times, and the engine each run names (inline or threads: what it ran on, not a result).
  const noTimes = (v: unknown) => JSON.stringify(v).replace(/"(processing_time|elapsed_ms|elapsedMs)":[-0-9.e+]+/g, '"$1":0').replace(/"engine":\{[^}]*\}/g, '"engine":null');
  const outputs = new Map<string, string>();
  for (const engine of ['inline', 'threads'] as const)
    for (const fastStat of [true, false])
      for (const withIndex of [false, true])
        for (let run = 0; run < (withIndex ? 2 : 1); run++) {
          const index = withIndex ? { path: join(dir, `idx-${engine}-${fastStat}`, 'index'), racyMarginMs: 0 } : false;
          const results: unknown[] = [];
          const r = await validate(root, { engine, workers: 2, fastStat, index, onResult: (x) => void results.push(x) });
          const s = await stats(root, { engine, workers: 2, fastStat, index, list: true });
          outputs.set(`${engine} fastStat ${fastStat} index ${withIndex} run ${run + 1}`, noTimes([results, { ...r, engine: null }, { ...s, engine: null }]));
        }
  const first = [...outputs.values()][0];
  for (const [label, out] of outputs) {
    let at = 0;
    while (at < out.length && out[at] === first[at]) at++;
    assert.ok(out === first, `${label}: differs at ${at}: ${JSON.stringify(out.slice(at - 80, at + 80))} vs ${JSON.stringify(first.slice(at - 80, at + 80))}`);
  }
});

test('fstat fast path: one trust for both forms: a binding right in one form and wrong in the other is never trusted, whichever user checks it first', (t) => {
  const dir = testDir(t, 'isc-fstat-');
  writeFileSync(join(dir, 'a.json'), '{"a": 1}');
  // Wrong only in the bigint form's ctime (what the index's identity reads), or only in the number form's size (what a read's size is).
  const wrongBigCtime = lyingBinding('fstat', 15, { big: true, numbers: false });
  const wrongNumberSize = lyingBinding('fstat', 8, { big: false, numbers: true });
  const fd = openSync(join(dir, 'a.json'), 'r');
  try {
    const st = fstatSync(fd, { bigint: true });
    const reference = identityBytes({ dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs });
    // A read's stat first, then the index's identity.
    resetFstatForTests('unknown', wrongBigCtime as unknown as BindingFstat);
    assert.equal(regularFileSize(fd), 8);
    const s = new IdentityScratch();
    s.fstat(fd);
    assert.ok(s.bytes.equals(reference), 'the identity is fs.fstatSync\'s, not the binding\'s');
    assert.equal(fstatBinding().trusted, 'no');
    // The index's identity first, then a read's stat.
    resetFstatForTests('unknown', wrongNumberSize as unknown as BindingFstat);
    new IdentityScratch().fstat(fd);
    assert.equal(regularFileSize(fd), 8, 'the size is fs.fstatSync\'s, not the binding\'s');
    assert.equal(readFileLimitedSync(join(dir, 'a.json'), 100, undefined, true).toString(), '{"a": 1}');
    assert.equal(fstatBinding().trusted, 'no');
  } finally {
    closeSync(fd);
    resetFstatForTests('unknown');
  }
});

test('fast stat paths: off where fs calls the binding otherwise than we do (an older Node 20 passed a context object as the fourth argument)', () => {
  const script = `
    import fs from 'node:fs';
    import { syncBuiltinESMExports } from 'node:module';
    const { fstatSync, statSync } = fs;
    // The same answers, made by functions whose text is not Node 20.20's.
    fs.fstatSync = function fstatSync2(fd, o) { return fstatSync(fd, o); };
    fs.statSync = function statSync2(p, o) { return statSync(p, o); };
    syncBuiltinESMExports();
    const { regularFileSize, fstatBinding } = await import(${JSON.stringify(new URL('../src/fs/stat-binding.js', import.meta.url).href)});
    const { IdentityScratch } = await import(${JSON.stringify(new URL('../src/fs/identity.js', import.meta.url).href)});
    const fd = fs.openSync(process.execPath, 'r');
    const size = regularFileSize(fd);
    const s = new IdentityScratch();
    s.stat(process.execPath); s.stat(process.execPath); s.fstat(fd); s.fstat(fd);
    console.log(JSON.stringify({ size: size === fs.fstatSync(fd).size, fstat: fstatBinding().fn === null, fastUsed: s.fastUsed }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  assert.equal(r.stderr, '');
  assert.deepEqual(JSON.parse(r.stdout), { size: true, fstat: true, fastUsed: false });
  // And here, as Node 20.20 calls them, both are used (the other tests' assertions rely on it).
  const plain = spawnSync(process.execPath, ['--input-type=module', '-e', script.replace(/fs\.fstatSync = [^\n]*\n/, '').replace(/fs\.statSync = [^\n]*\n/, '')], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  assert.equal(plain.stderr, '');
  assert.deepEqual(JSON.parse(plain.stdout), { size: true, fstat: false, fastUsed: true });
});
