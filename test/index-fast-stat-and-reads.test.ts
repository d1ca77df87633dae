/**
 * Attacks on the warm checks' stat through Node's own stat binding
 * (fs/identity.ts IdentityScratch.stat), WindowReader's read-ahead per stream
 * (incremental/store.ts). Each test tries to
 * make one of their promises fail: the fast path gives what fs.statSync gives for every path, a
 * warm run is byte-identical to --no-index, a read returns exactly the bytes asked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ftruncateSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, truncateSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { formatStats, stats, validate, type IndexOptions, type IndexRunStats, type ValidationResult } from '../src/index.js';
import { IdentityScratch, identityBytes, resetFastStatForTests, STAT_FILE, STAT_NONE } from '../src/fs/identity.js';
import { statIdentityAny } from './helpers/stat-identity.js';
import { entryIdentity, entryKey, entryPayload, IndexFormatError, IndexReader, IndexWriter, TABLE_DIRS, WindowReader } from '../src/incremental/store.js';
import { CLI_PATH } from './helpers/cli.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir, wordFile } from './helpers/tree.js';
import { generator } from './helpers/accel-parity.js';

const FIXED_TIME = 1_700_000_000;
const noTimes = (v: unknown) => JSON.stringify(v).replace(/"processing_time":[-0-9.e+]+/g, '"processing_time":0');

/** What the reference (fs.statSync) gives a path: its kind and identity bytes. */
function reference(p: string): [number, string | null] {
  const s = new IdentityScratch({ fast: false });
  const kind = s.stat(p);
  return [kind, kind === STAT_NONE ? null : s.bytes.toString('hex')];
}

function viaFast(s: IdentityScratch, p: string): [number, string | null] {
  const kind = s.stat(p);
  return [kind, kind === STAT_NONE ? null : s.bytes.toString('hex')];
}

/** Wait until `f`'s ctime differs from `ctime` (utimes moves it; a coarse clock may give the same tick). */
function bumpCtimeKeepingMtime(f: string, ctime: bigint): void {
  for (let i = 0; i < 1000 && (i === 0 || statSync(f, { bigint: true }).ctimeNs === ctime); i++) utimesSync(f, FIXED_TIME, FIXED_TIME);
  assert.notEqual(statSync(f, { bigint: true }).ctimeNs, ctime);
}

test('fast stat: odd times (before 1970, past 2^63 ns), a sparse file past 4 GiB, odd names, relative, empty, too long, sockets, devices: what fs.statSync gives', async (t) => {
  const dir = testDir(t, 'isc-fast-stat-');
  const file = (name: string, body = 'x') => {
    const p = join(dir, name);
    writeFileSync(p, body);
    return p;
  };
  const timed: string[] = [];
  // Node's utimes turns a negative time into "now": touch sets them (negative seconds, positive ns).
  for (const when of ['@-1234567890.25', '@-1.000000001', '@-0.5', '1901-12-13 20:45:52', '@0', '@17179869183.999999999', '2400-01-01']) {
    const p = file(`t${timed.length}`);
    if (spawnSync('touch', ['-m', '-d', when, p]).status === 0) timed.push(p);
  }
  assert.ok(timed.length >= 3, 'touch -d sets times');
  const negative = timed.filter((p) => statSync(p, { bigint: true }).mtimeNs < 0n);
  assert.ok(negative.length > 0, 'at least one mtime before 1970 (a negative seconds field)');
  const sparse = file('sparse');
  truncateSync(sparse, 2 ** 33 + 7);
  const odd = file('odd \u{fffd} \ud800 \n\t name.json'); // a lone surrogate: both sides encode it as U+FFFD
  // A path past PATH_MAX (4096) and a name past NAME_MAX (255): ENAMETOOLONG both ways.
  const deep = `${dir}/${'d'.repeat(200)}/`.repeat(1) + 'e/'.repeat(2100);
  const longName = join(dir, 'n'.repeat(300));
  const sock = join(dir, 's.sock');
  const server = createServer();
  await new Promise<void>((res) => server.listen(sock, res));
  t.after(() => server.close());
  symlinkSync('self', join(dir, 'self'));
  symlinkSync('t0', join(dir, 'to-t0'));
  const cwd = process.cwd();
  process.chdir(dir);
  t.after(() => process.chdir(cwd));
  const list = [...timed, sparse, odd, deep, longName, sock, join(dir, 'self'), join(dir, 'to-t0'), 'sparse', './t0', 't0/', 't0/..', '', '.', '..', '/', '//', `${dir}//t0`, '/dev/null', '/proc/self/stat'];
  resetFastStatForTests('unknown');
  const fast = new IdentityScratch();
  assert.deepEqual(list.map((p) => viaFast(fast, p)), list.map(reference));
  assert.equal(fast.fastUsed, true, 'the binding answered after the first path');
  // The identity as the index stores it (identityBytes, BigUint64Array wrap of a negative time).
  for (const p of [...negative, sparse]) {
    assert.equal(fast.stat(p), STAT_FILE);
    assert.ok(fast.bytes.equals(identityBytes(statIdentityAny(p)!)), p);
  }
  assert.equal(fast.bytes.readBigUInt64LE(16), 2n ** 33n + 7n, 'the size past 2^32');
  resetFastStatForTests('unknown');
});

test('fast stat: a file replaced between two stats, and edited in place keeping size and mtime, moves the fast identity as the reference', (t) => {
  const dir = testDir(t, 'isc-fast-stat-');
  const f = join(dir, 'a.json');
  writeFileSync(f, '{"success": true}');
  utimesSync(f, FIXED_TIME, FIXED_TIME);
  resetFastStatForTests('yes');
  const s = new IdentityScratch();
  const first = viaFast(s, f);
  assert.deepEqual(first, reference(f));
  // Replaced by rename: same size, same mtime, another inode.
  const tmp = join(dir, 'a.tmp');
  writeFileSync(tmp, '{"success": tru3}');
  utimesSync(tmp, FIXED_TIME, FIXED_TIME);
  renameSync(tmp, f);
  const second = viaFast(s, f);
  assert.notDeepEqual(second, first);
  assert.deepEqual(second, reference(f));
  // In place: only ctime moves.
  const ctime = statSync(f, { bigint: true }).ctimeNs;
  writeFileSync(f, '{"success": tr4e}');
  bumpCtimeKeepingMtime(f, ctime);
  const third = viaFast(s, f);
  assert.notDeepEqual(third, second);
  assert.deepEqual(third, reference(f));
  // Replaced by a folder, a FIFO, then nothing.
  unlinkSync(f);
  mkdirSync(f);
  assert.deepEqual(viaFast(s, f), reference(f));
  rmSync(f, { recursive: true });
  if (spawnSync('mkfifo', [f]).status === 0) assert.deepEqual(viaFast(s, f), reference(f));
  rmSync(f, { force: true });
  assert.deepEqual(viaFast(s, f), [STAT_NONE, null]);
  assert.equal(s.fastUsed, true);
  resetFastStatForTests('unknown');
});

test('fast stat: not used under --pending-deprecation however Node is given it (--pending_deprecation, =true, NODE_OPTIONS), and no warning is printed', (t) => {
  const script = `
    const { IdentityScratch } = await import(${JSON.stringify(new URL('../src/fs/identity.js', import.meta.url).href)});
    const s = new IdentityScratch();
    s.stat(process.cwd()); s.stat(process.cwd());
    console.log(JSON.stringify(s.fastUsed));
  `;
  const run = (execArgv: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, [...execArgv, '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '', ...env } });
  const plain = run([]);
  assert.equal(plain.stdout.trim(), 'true', plain.stderr);
  for (const [label, argv, env] of [
    ['--pending_deprecation', ['--pending_deprecation'], {}],
    ['--pending-deprecation=true', ['--pending-deprecation=true'], {}],
    ['NODE_OPTIONS=--pending_deprecation', [], { NODE_OPTIONS: '--pending_deprecation' }],
    ['NODE_OPTIONS=--pending-deprecation', [], { NODE_OPTIONS: '--pending-deprecation' }],
  ] as [string, string[], Record<string, string>][]) {
    const r = run(argv, env);
    assert.equal(r.stderr, '', `${label}: no deprecation warning`);
    assert.equal(r.stdout.trim(), 'false', `${label}: the fast path is not tried`);
  }
  // The CLI: a warm run under it prints what --no-index prints, and nothing on stderr.
  const dir = testDir(t, 'isc-fast-stat-');
  const root = makeTree({ 'p/a.jpg': FAKE_JPEG, 'p/a.json': { json: sidecarData('a.jpg', 1, 4) }, 'p/b.jpg': FAKE_JPEG }, join(dir, 'lib'));
  const cli = CLI_PATH;
  const cliRun = (args: string[]) => spawnSync(process.execPath, ['--pending_deprecation', cli, 'stats', root, '--json', ...args], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  const plainCli = cliRun(['--no-index']);
  assert.equal(plainCli.status, 0, plainCli.stderr);
  for (let i = 0; i < 3; i++) {
    const r = cliRun(['--index', join(dir, 'idx')]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, plainCli.stderr, `run ${i + 1}: stderr as --no-index's`);
    assert.equal(noTimes(JSON.parse(r.stdout)), noTimes(JSON.parse(plainCli.stdout)));
  }
});

/** A library with photo folders, a game folder of links and a broken sidecar. */
function library(dir: string): string {
  const root = join(dir, 'lib');
  makeTree(
    {
      'photos/d1/IMG_1.jpg': FAKE_JPEG,
      'photos/d1/IMG_1.json': { json: sidecarData('IMG_1.jpg', 2, 4) },
      'photos/d1/IMG_2.jpg': FAKE_JPEG,
      'photos/d1/IMG_2.json': { json: sidecarData('IMG_2.jpg', 1, 4) },
      'photos/d2/IMG_3.jpg': FAKE_JPEG,
      'photos/d2/IMG_3.json': { json: sidecarData('IMG_3.jpg', 0, 4) },
      'photos/d2/bad.jpg': FAKE_JPEG,
      'photos/d2/bad.json': '{"face_detection": {"faces": [',
      'games/g1/IMG_1.jpg': { symlink: '../../photos/d1/IMG_1.jpg' },
      'games/g1/IMG_3.jpg': { symlink: '../../photos/d2/IMG_3.jpg' },
    },
    root,
  );
  for (const f of ['photos/d1/IMG_1.json', 'photos/d1/IMG_2.json', 'photos/d2/IMG_3.json']) utimesSync(join(root, f), FIXED_TIME, FIXED_TIME);
  return root;
}

type Cmd = (index: IndexOptions | false) => Promise<string>;
function cmds(root: string): Record<string, Cmd> {
  return {
    validate: async (index) => {
      const results: ValidationResult[] = [];
      const r = await validate(root, { index, onResult: (x) => void results.push(x) });
      return noTimes({ results, ...r });
    },
    stats: async (index) => noTimes(await stats(root, { index, list: true, folders: 5 })),
    'format-stats': async (index) => noTimes(await formatStats(root, { index })),
  };
}

/**
 * Each command with fastStat on and off (separate indexes; folder records answer warm runs):
 * every run byte-identical to --no-index, before and after `change`.
 */
async function parity(root: string, dir: string, label: string, change: () => void): Promise<IndexRunStats[]> {
  const seen: IndexRunStats[] = [];
  const opts = (fastStat: boolean, name: string): IndexOptions => ({ path: join(dir, `idx-${name}-${fastStat}`, 'index'), racyMarginMs: 0, fastStat, onStats: (s) => void seen.push(s) });
  const before: Record<string, string> = {};
  for (const [name, run] of Object.entries(cmds(root))) {
    before[name] = await run(false);
    for (const fast of [true, false]) for (let i = 0; i < 5; i++) assert.equal(await run(opts(fast, name)), before[name], `${label}: ${name} fastStat ${fast} warm run ${i + 1}`);
  }
  change();
  for (const [name, run] of Object.entries(cmds(root))) {
    const plain = await run(false);
    assert.notEqual(plain, before[name], `${label}: ${name}: the change shows in the output`);
    for (const fast of [true, false]) {
      assert.equal(await run(opts(fast, name)), plain, `${label}: ${name} fastStat ${fast} after the change differs from --no-index`);
    }
  }
  return seen;
}

const SWAPS: [string, (root: string) => void][] = [
  [
    'edited in place, same size, mtime restored (ctime only)',
    (root) => {
      const f = join(root, 'photos/d1/IMG_2.json');
      const ctime = statSync(f, { bigint: true }).ctimeNs;
      writeFileSync(f, readFileSync(f, 'utf8').replace('"success": true', '"success": !rue'));
      bumpCtimeKeepingMtime(f, ctime);
    },
  ],
  [
    'swapped for a symlink to a same-size, same-mtime copy with other bytes',
    (root) => {
      const f = join(root, 'photos/d1/IMG_2.json');
      const other = join(root, 'photos/d1/elsewhere.bin'); // not a sidecar name
      writeFileSync(other, readFileSync(f, 'utf8').replace('"success": true', '"success": !rue'));
      utimesSync(other, FIXED_TIME, FIXED_TIME);
      unlinkSync(f);
      symlinkSync('elsewhere.bin', f);
    },
  ],
  [
    'swapped for a directory',
    (root) => {
      const f = join(root, 'photos/d1/IMG_2.json');
      unlinkSync(f);
      mkdirSync(f);
    },
  ],
  [
    'swapped for a FIFO',
    (root) => {
      const f = join(root, 'photos/d1/IMG_2.json');
      unlinkSync(f);
      assert.equal(spawnSync('mkfifo', [f]).status, 0, 'mkfifo');
    },
  ],
];

for (const [label, change] of SWAPS) {
  test(`warm runs, fastStat on and off, folder records: a sidecar ${label}: byte-identical to --no-index`, async (t) => {
    if (label.includes('FIFO') && spawnSync('mkfifo', ['--version']).status !== 0) return t.skip('mkfifo unavailable');
    const dir = testDir(t, 'isc-fast-stat-');
    const root = library(dir);
    resetFastStatForTests('unknown');
    const seen = await parity(root, dir, label, () => change(root));
    assert.ok(seen.some((s) => s.fastStat === true), 'the fast path answered some checks');
    assert.ok(seen.some((s) => s.fastStat === false), 'fastStat: false ran the reference only');
    assert.ok(seen.some((s) => (s.recordsServed ?? 0) > 0 && s.fastStat === true), 'folder records served through the fast path');
  });
}

test('WindowReader: random reads (streams, scattered, straddling windows, > 1 MiB, at the end) give exactly the bytes asked; the latest view stays valid until the next read', (t) => {
  const MiB = 1 << 20;
  const size = 5 * MiB + 13; // not a multiple of a word or a window
  const { fd, data } = wordFile(t, size);
  const r = new WindowReader(fd, size);
  const { uint } = generator(0x9e3779b9);
  const rnd = (n: number) => uint() % n;
  const streams = [0, MiB + 3, 3 * MiB - 1];
  let prev: { buf: Buffer; at: number; off: number; len: number; copy: Buffer } | null = null;
  for (let k = 0; k < 4000; k++) {
    const mode = rnd(10);
    let off: number;
    let len: number;
    if (mode < 5) {
      // A stream moving on: just past where it was, sometimes straddling its window's end.
      const s = rnd(streams.length);
      len = 1 + rnd(mode === 0 ? 3 * MiB : 9000);
      off = streams[s];
      if (off + len > size) {
        streams[s] = rnd(size >> 1);
        continue;
      }
      streams[s] += len - (mode === 1 ? rnd(Math.min(len, 64)) : 0); // overlapping the last read at times
    } else if (mode < 8) {
      len = 1 + rnd(20_000);
      off = rnd(size - len + 1);
    } else if (mode === 8) {
      len = rnd(64);
      off = size - len; // at the end (len 0 included)
    } else {
      len = MiB + rnd(MiB);
      off = rnd(size - len + 1);
    }
    if (prev) assert.ok(prev.buf.subarray(prev.at, prev.at + prev.len).equals(prev.copy), `read ${k}: the previous view was overwritten before the next read`);
    const [buf, at] = r.bytes(off, len);
    assert.ok(at >= 0 && at + len <= buf.length, `read ${k}: the range is inside the buffer`);
    const got = buf.subarray(at, at + len);
    if (!got.equals(data.subarray(off, off + len))) assert.fail(`read ${k}: bytes at ${off} (+${len}) differ from the file's`);
    prev = { buf, at, off, len, copy: Buffer.from(got) };
  }
  assert.ok(r.bytesRead < 4000 * 3 * MiB, 'sanity');
  for (const [off, len] of [[size, 1], [size - 3, 4], [-1, 2], [-8, 4], [2 ** 53, 1], [0, size + 1]]) assert.throws(() => r.bytes(off, len), IndexFormatError, `out of range: ${off} +${len}`);
  // The whole file in one read, then its last byte.
  const [all, a] = r.bytes(0, size);
  assert.ok(all.subarray(a, a + size).equals(data));
  const [last, l] = r.bytes(size - 1, 1);
  assert.equal(last[l], 0xa5);
});

test('WindowReader: a file that shrank under the reader is an IndexFormatError, never bytes from elsewhere, and the reader still answers the part that is there', (t) => {
  const size = 3 << 20;
  const { fd, data } = wordFile(t, size);
  const r = new WindowReader(fd, size);
  const [b0, a0] = r.bytes(100, 8);
  assert.equal(b0.readUInt32LE(a0), 100);
  ftruncateSync(fd, 1 << 20);
  // Past the new end: nothing there, the tables' sizes were lies.
  assert.throws(() => r.bytes(2 << 20, 4096), IndexFormatError);
  assert.throws(() => r.bytes((1 << 20) - 8, 64), IndexFormatError);
  // The failed read left no window claiming bytes it does not hold; what is there still reads right.
  for (const off of [0, 4096, (1 << 20) - 4096]) {
    try {
      const [b, a] = r.bytes(off, 4096);
      assert.ok(b.subarray(a, a + 4096).equals(data.subarray(off, off + 4096)), `bytes at ${off}`);
    } catch (e) {
      assert.ok(e instanceof IndexFormatError, `at ${off}: ${String(e)}`); // read-ahead may run into the cut: an error, not other bytes
    }
  }
});

test('index file: entries of every size (a few bytes to past 1 MiB) found in scattered and in file order give their own payloads; a flipped byte or a cut file is caught, never another entry', (t) => {
  const dir = testDir(t, 'isc-fast-stat-idx-');
  const path = join(dir, 'index');
  const w = IndexWriter.create(path);
  const { uint } = generator(0x1234567);
  const rnd = (n: number) => uint() % n;
  const sizes: number[] = [];
  for (let i = 0; i < 300; i++) sizes.push(i % 50 === 7 ? (1 << 20) + rnd(1 << 20) : i % 9 === 0 ? 8000 + rnd(20000) : rnd(3000));
  const payloadOf = (i: number) => {
    const p = Buffer.alloc(sizes[i]);
    for (let j = 0; j < p.length; j++) p[j] = (i * 31 + j * 7) & 0xff;
    return p;
  };
  const idOf = (i: number) => {
    const id = Buffer.alloc(40);
    id.writeUInt32LE(i, 0);
    return id;
  };
  for (let i = 0; i < sizes.length; i++) w.add(TABLE_DIRS, `k/${i}`, idOf(i), [payloadOf(i)]);
  w.finish({ format: 'image-sidecar-index', root: dir, keys: [], written: new Date(0).toISOString() });
  renameSync(w.path, path);
  const check = (r: IndexReader, i: number) => {
    const v = r.find(TABLE_DIRS, `k/${i}`);
    assert.ok(v, `k/${i} found`);
    assert.ok(entryIdentity(v).equals(idOf(i)), `k/${i}: its identity`);
    assert.ok(entryPayload(v).equals(payloadOf(i)), `k/${i}: its payload`);
  };
  const r = IndexReader.open(path)!;
  try {
    // Scattered, then forwards and backwards (streams moving on, windows straddled), twice.
    const order = sizes.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = rnd(i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (const i of [...order, ...order.map((_, i) => i), ...order.map((_, i) => order.length - 1 - i)]) check(r, i);
    let n = 0;
    for (const v of r.entries()) {
      const i = Number(entryKey(v).slice(2));
      assert.ok(entryPayload(v).equals(payloadOf(i)), `entries(): k/${i}`);
      n++;
    }
    assert.equal(n, sizes.length);
  } finally {
    r.close();
  }
  const good = readFileSync(path);
  // A byte flipped in a big entry's payload, far past its first window: its CRC fails.
  const big = sizes.findIndex((s) => s > 1 << 20);
  const r2 = IndexReader.open(path)!;
  const off = r2.find(TABLE_DIRS, `k/${big}`)!.off;
  r2.close();
  const flipped = Buffer.from(good);
  flipped[off + 11 + `k/${big}`.length + 40 + sizes[big] - 3] ^= 0x40;
  writeFileSync(path, flipped);
  const r3 = IndexReader.open(path)!;
  try {
    assert.throws(() => r3.find(TABLE_DIRS, `k/${big}`), IndexFormatError);
    check(r3, big + 1);
  } finally {
    r3.close();
  }
  // Cut: at every size the file is refused whole (no trailer), never read as another index.
  for (const cut of [good.length - 1, good.length - 40, Math.floor(good.length / 2), 100, 8, 0]) {
    writeFileSync(path, good.subarray(0, cut));
    assert.throws(() => IndexReader.open(path)?.close(), IndexFormatError, `cut at ${cut}`);
  }
  // Cut under an open reader: lookups past the cut throw; none gives other bytes.
  writeFileSync(path, good);
  const r4 = IndexReader.open(path)!;
  try {
    truncateSync(path, Math.floor(good.length / 3));
    for (let i = 0; i < sizes.length; i++) {
      try {
        check(r4, i);
      } catch (e) {
        assert.ok(e instanceof IndexFormatError, `k/${i}: ${String(e)}`);
      }
    }
  } finally {
    r4.close();
  }
});
