/**
 * The traced link resolution (the index's) must give realpath's answers, and report every folder
 * the answer depends on: the index serves a stored answer while those folders are unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs, { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { LinkResolver, LOOKUP_MEMO_ENTRIES, LookupMemo, resolveLinks, resolveLinkTraced } from '../src/discovery/resolve-link.js';
import { DirSnapshots } from '../src/incremental/dir-cache.js';
import { FAKE_JPEG, tempDir } from './helpers/tree.js';
import { awkwardLinks } from './helpers/awkward-links.js';

test('resolveLinkTraced and the scan\'s LinkResolver give realpath + stat answers on every kind of link', () => {
  const { dir, links } = awkwardLinks();
  const native = resolveLinks(links.map((n) => join(dir, n)));
  const memo = new LookupMemo();
  const lib = join(dir, '..');
  const scanResolver = new LinkResolver(lib);
  for (const name of links) {
    assert.deepEqual(scanResolver.resolve(join(dir, name), 'links', name), native.get(join(dir, name)), `${name} (LinkResolver)`);
    const quiet = { beforeLookup: () => undefined, looked: () => undefined };
    const traced = resolveLinkTraced(dir, name, quiet, memo);
    assert.deepEqual(traced, native.get(join(dir, name)), name);
    // A fresh memo gives the same answer (the memo only saves calls).
    assert.deepEqual(resolveLinkTraced(dir, name, quiet), traced, `${name} without the shared memo`);
    // The link's own name read with one readlink (the index's way: its stamp is never used) changes
    // no answer, with the shared memo or without, and reports the same lookups otherwise.
    const steps = (ownStampUnused: boolean, m?: LookupMemo) => {
      const seen: string[] = [];
      const r = resolveLinkTraced(dir, name, { beforeLookup: (d) => seen.push(`>${d}`), looked: (d, n, stamp) => seen.push(`${d}/${n}:${stamp === null ? 'none' : stamp.toString('hex')}`), ownStampUnused }, m);
      return { r, seen };
    };
    const full = steps(false);
    const lean = steps(true);
    assert.deepEqual(lean.r, traced, `${name} (own name by readlink)`);
    assert.deepEqual(steps(true, memo).r, traced, `${name} (own name by readlink, shared memo)`);
    // Folders above this test's own (/, /tmp) are shared with other tests running now: their
    // stamps (ctime where there is no birth time) may move between the two walks; the lookups may not.
    const top = join(dir, '..', '..');
    const ours = (seen: string[]) => seen.map((x) => (x.startsWith('>') || x.startsWith(`${top}/`) ? x : x.replace(/:[0-9a-f]+$/, ':*')));
    assert.deepEqual(ours(lean.seen.slice(2)), ours(full.seen.slice(2)), `${name}: the same lookups after the link's own`);
    assert.equal(lean.seen[0], full.seen[0]);
    assert.equal(lean.seen[1].replace(/:[0-9a-f]+$/, ''), full.seen[1].replace(/:[0-9a-f]+$/, ''), `${name}: its own name looked up first`);
  }
  // The cases are what they claim to be (the parity above is not parity of errors only).
  assert.equal(native.get(join(dir, 'alias-dotdot.jpg'))!.target, join(dir, '../a/IMG.jpg'));
  assert.equal(native.get(join(dir, 'ok0.jpg'))!.broken, false);
  assert.equal(native.get(join(dir, 'long0.jpg'))!.reason, 'symlink loop');
  assert.equal(native.get(join(dir, 'to-fifo.jpg'))!.reason, 'target is not a file');
  assert.equal(native.get(join(dir, 'file-as-dir.jpg'))!.reason, 'ENOTDIR');
});

test('resolveLinkTraced reports each folder it looked a name up in, before looking, and what the name was', () => {
  const { dir } = awkwardLinks();
  const lib = join(dir, '..');
  const seen: string[] = [];
  const looked: string[] = [];
  const r = resolveLinkTraced(dir, 'through-alias.jpg', { beforeLookup: (d) => seen.push(d), looked: (d, n, stamp) => looked.push(`${d}/${n}:${stamp ? 'inode' : 'none'}`) });
  assert.equal(r.target, join(lib, 'a/IMG.jpg'));
  // links (the link's name), lib (alias), lib/a (IMG.jpg, after following alias → a): a change in
  // any of them can change the answer; nothing else can.
  assert.deepEqual(seen, [dir, lib, lib, join(lib, 'a')]);
  assert.deepEqual(looked, [`${dir}/through-alias.jpg:inode`, `${lib}/alias:inode`, `${lib}/a:inode`, `${lib}/a/IMG.jpg:inode`], 'and each lookup with the inode it named');
  const broken: string[] = [];
  resolveLinkTraced(dir, 'dangling-dir.jpg', { beforeLookup: (d) => broken.push(d), looked: () => undefined });
  assert.deepEqual([...new Set(broken)], [dir, lib], 'a missing name depends on the folder it is missing from');
});

test('what a run keeps of lookups is bounded and owns its memory (no pool slab kept alive per stamp or folder identity)', () => {
  const dir = realpathSync(tempDir('isc-memo-'));
  mkdirSync(join(dir, 'd'));
  writeFileSync(join(dir, 'd', 'IMG.jpg'), FAKE_JPEG);
  const n = LOOKUP_MEMO_ENTRIES + 50;
  for (let i = 0; i < n; i++) symlinkSync('d/IMG.jpg', join(dir, `l${i}.jpg`));
  const memo = new LookupMemo();
  const stamps: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const r = memo.lookup(join(dir, `l${i}.jpg`));
    assert.ok('kind' in r && r.kind === 'link');
    stamps.push(r.stamp);
  }
  assert.equal(memo.size, LOOKUP_MEMO_ENTRIES, 'the oldest lookups went');
  // A pooled Buffer's ArrayBuffer is Node's 8 KiB slab: one kept stamp would keep it all.
  assert.ok(stamps.every((s) => s.buffer.byteLength === s.length), 'each kept stamp in memory of its own');
  const sink = { ref: () => undefined, add: () => true, addMade: () => true };
  const dirs = new DirSnapshots(null, dir, dir, 0n, sink);
  const id = dirs.dirIdentity(join(dir, 'd'))!.id;
  assert.equal(id.buffer.byteLength, id.length, 'a folder identity kept for the run in memory of its own');
});

test('a link whose target path passes PATH_MAX (its folder\'s does not) is broken for the scan\'s LinkResolver as for realpath', () => {
  // The fast path took realpath of the folder (4,094 bytes: fine) plus the name: a 4,100-byte target
  // path whose sidecars then read as unreadable without the index, while the index called it broken.
  const top = realpathSync(tempDir('isc-pathmax-'));
  const lib = join(top, 'lib');
  mkdirSync(join(lib, 'g'), { recursive: true });
  let deep = join(top, 'out');
  const goal = 4100 - '/X.jpg'.length;
  // Folders of at most 200 bytes, the last of at least 2 (a '/' and a name) whatever the temp folder's length.
  while (deep.length < goal) {
    const left = goal - deep.length - 1;
    deep = join(deep, 'c'.repeat(left <= 200 ? left : Math.min(200, left - 2)));
  }
  mkdirSync(deep, { recursive: true }); // 4,094 bytes: a path one call may name
  execFileSync('sh', ['-c', ': > X.jpg'], { cwd: deep }); // 4,100 bytes: made from inside
  assert.equal(Buffer.byteLength(join(deep, 'X.jpg')), 4100);
  symlinkSync(deep, join(top, 'out', 's'));
  const link = join(lib, 'g', 'L.jpg');
  symlinkSync(join(top, 'out', 's', 'X.jpg'), link);
  const native = resolveLinks([link]).get(link)!;
  assert.deepEqual(native, { broken: true, reason: 'ENAMETOOLONG' });
  assert.deepEqual(new LinkResolver(lib).resolve(link, 'g', 'L.jpg'), native);
  assert.deepEqual(resolveLinkTraced(join(lib, 'g'), 'L.jpg', { beforeLookup: () => undefined, looked: () => undefined }), native);
  execFileSync('rm', ['-rf', top]); // rm walks by descriptor: a path past PATH_MAX is no trouble
});

test('the scan\'s LinkResolver with its links read ahead (a file server) gives the same answers on every kind of link, each read used once', async () => {
  const { dir, links } = awkwardLinks();
  const native = resolveLinks(links.map((n) => join(dir, n)));
  const resolver = new LinkResolver(join(dir, '..'));
  await resolver.readAhead(links.map((n) => ({ path: join(dir, n), dirRel: 'links' })), { aborted: false });
  const calls: string[] = [];
  const spied = { readlinkSync: fs.readlinkSync, lstatSync: fs.lstatSync };
  const fsMut = fs as unknown as Record<string, (...a: unknown[]) => unknown>;
  fsMut.readlinkSync = (...a) => (calls.push(`readlink ${String(a[0])}`), (spied.readlinkSync as (...x: unknown[]) => unknown)(...a));
  fsMut.lstatSync = (...a) => (calls.push(`lstat ${String(a[0])}`), (spied.lstatSync as (...x: unknown[]) => unknown)(...a));
  syncBuiltinESMExports();
  try {
    for (const name of links) assert.deepEqual(resolver.resolve(join(dir, name), 'links', name), native.get(join(dir, name)), name);
    assert.deepEqual(calls, [], 'no link read, no target looked at again');
    // Each answer served once: the next resolution of a link reads it at its turn.
    assert.deepEqual(resolver.resolve(join(dir, 'rel.jpg'), 'links', 'rel.jpg'), native.get(join(dir, 'rel.jpg')));
    assert.deepEqual(calls, [`readlink ${join(dir, 'rel.jpg')}`, `lstat ${join(dir, '../a/IMG.jpg')}`]);
  } finally {
    Object.assign(fsMut, spied);
    syncBuiltinESMExports();
  }
  // Stopped midway (a batch given up: its texts read, then the stop): what was read is let go; each link read at its turn.
  let asked = 0;
  const midway = new LinkResolver(join(dir, '..'));
  await midway.readAhead(links.map((n) => ({ path: join(dir, n), dirRel: 'links' })), { get aborted() { return ++asked > 1; } });
  const atTurn: string[] = [];
  fsMut.readlinkSync = (...a) => (atTurn.push(String(a[0])), (spied.readlinkSync as (...x: unknown[]) => unknown)(...a));
  syncBuiltinESMExports();
  try {
    for (const name of links) assert.deepEqual(midway.resolve(join(dir, name), 'links', name), native.get(join(dir, name)), `${name} (stopped midway)`);
  } finally {
    Object.assign(fsMut, spied);
    syncBuiltinESMExports();
  }
  assert.equal(atTurn.length, links.length, 'every link read at its turn');
  // Stopped before it starts: nothing read ahead, every answer the same.
  const stopped = new LinkResolver(join(dir, '..'));
  await stopped.readAhead(links.map((n) => ({ path: join(dir, n), dirRel: 'links' })), { aborted: true });
  for (const name of links) assert.deepEqual(stopped.resolve(join(dir, name), 'links', name), native.get(join(dir, name)), `${name} (stopped)`);
});
