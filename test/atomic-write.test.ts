import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic, writeFileAtomicSync, writeFilesAtomic } from '../src/fs/atomic-write.js';
import {
  TEMP_MARK,
  hostMark,
  isLockName,
  isTempName,
  lockNameFor,
  removeStaleTempFiles,
  tempNameFor,
  tempNamePid,
  tempNameWriter,
} from '../src/fs/temp-files.js';
import { tempTargetName } from '../src/temp-name.js';
import { SidecarError } from '../src/errors.js';
import { saveSidecar } from '../src/ops/save.js';
import { convert } from '../src/ops/convert.js';
import { deadPid, plantLockAside, testDir } from './helpers/tree.js';


function tempLeftovers(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.includes(TEMP_MARK));
}


test('writeFileAtomic creates, replaces, and leaves no temp file', async (t) => {
  const dir = testDir(t);
  const p = path.join(dir, 'IMG_1.json');
  assert.deepEqual(await writeFileAtomic(p, Buffer.from('{"a":1}')), { written: true });
  assert.equal(fs.readFileSync(p, 'utf8'), '{"a":1}');
  assert.deepEqual(await writeFileAtomic(p, Buffer.from('{"a":2,"b":[1,2,3]}')), { written: true });
  assert.equal(fs.readFileSync(p, 'utf8'), '{"a":2,"b":[1,2,3]}');
  assert.deepEqual(await writeFileAtomic(p, Buffer.alloc(0)), { written: true });
  assert.equal(fs.statSync(p).size, 0);
  assert.deepEqual(fs.readdirSync(dir), ['IMG_1.json']);
});

test('skipIfSame: identical bytes are not rewritten (same inode), unless disabled', async (t) => {
  const dir = testDir(t);
  const p = path.join(dir, 'x.bin');
  await writeFileAtomic(p, Buffer.from([1, 2, 3, 4]));
  const ino = fs.statSync(p).ino;
  assert.deepEqual(await writeFileAtomic(p, Buffer.from([1, 2, 3, 4])), { written: false });
  assert.equal(fs.statSync(p).ino, ino);
  // same size, different bytes: written
  assert.deepEqual(await writeFileAtomic(p, Buffer.from([1, 2, 3, 5])), { written: true });
  assert.notEqual(fs.statSync(p).ino, ino);
  const ino2 = fs.statSync(p).ino;
  assert.deepEqual(await writeFileAtomic(p, Buffer.from([1, 2, 3, 5]), { skipIfSame: false }), { written: true });
  assert.notEqual(fs.statSync(p).ino, ino2);
  assert.deepEqual(writeFileAtomicSync(p, Buffer.from([1, 2, 3, 5])), { written: false });
});

test('an existing file keeps its mode; a new file gets opts.mode', async (t) => {
  const dir = testDir(t);
  const p = path.join(dir, 'keep.json');
  fs.writeFileSync(p, 'old');
  fs.chmodSync(p, 0o640);
  await writeFileAtomic(p, Buffer.from('new'));
  assert.equal(fs.statSync(p).mode & 0o777, 0o640);
  fs.chmodSync(p, 0o604);
  writeFileAtomicSync(p, Buffer.from('newer'));
  assert.equal(fs.statSync(p).mode & 0o777, 0o604);
  const q = path.join(dir, 'new.json');
  await writeFileAtomic(q, Buffer.from('x'), { mode: 0o600 });
  assert.equal(fs.statSync(q).mode & 0o777, 0o600);
});

test('failure (target is a directory): SidecarError, temp file removed, nothing changed', async (t) => {
  const dir = testDir(t);
  const p = path.join(dir, 'IMG.json');
  fs.mkdirSync(p);
  fs.writeFileSync(path.join(p, 'inside'), 'keep');
  await assert.rejects(writeFileAtomic(p, Buffer.from('{}')), (e: unknown) => {
    assert.ok(e instanceof SidecarError);
    assert.equal(e.path, p);
    return true;
  });
  assert.throws(() => writeFileAtomicSync(p, Buffer.from('{}')), SidecarError);
  assert.deepEqual(tempLeftovers(dir), []);
  assert.deepEqual(fs.readdirSync(dir), ['IMG.json']);
  assert.equal(fs.readFileSync(path.join(p, 'inside'), 'utf8'), 'keep');
});

test('failure (parent directory missing): NOT_FOUND and nothing created', async (t) => {
  const dir = testDir(t);
  const p = path.join(dir, 'missing', 'IMG.json');
  await assert.rejects(writeFileAtomic(p, Buffer.from('{}')), { name: 'SidecarError', code: 'NOT_FOUND' });
  assert.throws(() => writeFileAtomicSync(p, Buffer.from('{}')), { code: 'NOT_FOUND' });
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('a symlinked sidecar is updated through the link, and the link stays a link', async (t) => {
  const dir = testDir(t);
  fs.mkdirSync(path.join(dir, 'real'));
  const real = path.join(dir, 'real', 'a.json');
  fs.writeFileSync(real, 'old');
  const link = path.join(dir, 'a.json');
  fs.symlinkSync('real/a.json', link);
  await writeFileAtomic(link, Buffer.from('new'));
  assert.ok(fs.lstatSync(link).isSymbolicLink());
  assert.equal(fs.readFileSync(real, 'utf8'), 'new');
  assert.deepEqual(tempLeftovers(dir), []);
  assert.deepEqual(tempLeftovers(path.join(dir, 'real')), []);
});

// Version k is self-describing, so the reader can tell a complete version from a torn one.
const versionSize = (k: number) => 1 + ((k * 7919) % 30000);
const version = (k: number) => `v${k}:${'x'.repeat(versionSize(k))}:end${k}`;
const READER = `
const fs = require('fs');
const [target, stop] = process.argv.slice(1);
const size = (k) => 1 + ((k * 7919) % 30000);
const re = /^v(\\d+):(x*):end(\\d+)$/;
let reads = 0, bad = 0, sample = '';
const seen = new Set();
let announced = false;
while (!fs.existsSync(stop)) {
  let s;
  try { s = fs.readFileSync(target, 'latin1'); } catch (e) { bad++; sample = String(e.code); continue; }
  reads++;
  const m = re.exec(s);
  if (!m || m[1] !== m[3] || m[2].length !== size(Number(m[1]))) { bad++; sample = s.slice(0, 40) + '... length ' + s.length; }
  else seen.add(m[1]);
  if (!announced) { announced = true; process.stdout.write('ready\\n'); }
}
process.stdout.write(JSON.stringify({ reads, bad, sample, distinct: seen.size }) + '\\n');
`;

test('no partially written file is ever visible to a concurrent reader (200 rewrites)', async (t) => {
  const dir = testDir(t);
  const target = path.join(dir, 'IMG.json');
  const stop = path.join(dir, 'stop');
  fs.writeFileSync(target, version(0));
  const reader = spawn(process.execPath, ['-e', READER, target, stop], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  reader.stdout.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    reader.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (out.startsWith('ready\n')) resolve();
    });
    reader.on('exit', () => reject(new Error(`reader exited early: ${out}`)));
  });
  for (let k = 1; k <= 200; k++) {
    if (k % 2 === 0) await writeFileAtomic(target, Buffer.from(version(k), 'latin1'));
    else writeFileAtomicSync(target, Buffer.from(version(k), 'latin1'));
    // give the reader a chance to observe this version
    if (k % 20 === 0) await new Promise((r) => setTimeout(r, 2));
  }
  fs.writeFileSync(stop, '');
  await new Promise<void>((resolve) => reader.on('close', () => resolve()));
  const result = JSON.parse(out.split('\n')[1]) as { reads: number; bad: number; sample: string; distinct: number };
  assert.equal(result.bad, 0, `torn or missing read: ${result.sample}`);
  assert.ok(result.reads > 0);
  assert.ok(result.distinct > 1, 'the reader saw the file change');
  assert.equal(fs.readFileSync(target, 'latin1'), version(200));
  assert.deepEqual(tempLeftovers(dir), []);
});

test('temp and lock names are recognisable and carry host, pid and target (the form without a host too)', () => {
  const n = tempNameFor('IMG_1.json');
  assert.ok(n.startsWith(`.IMG_1.json.isc-tmp-${hostMark()}-${process.pid}-`));
  assert.match(hostMark(), /^[0-9a-f]{8}$/);
  assert.ok(isTempName(n));
  assert.equal(tempNamePid(n), process.pid);
  assert.deepEqual(tempNameWriter(n), { pid: process.pid, host: hostMark() });
  assert.equal(tempTargetName(n), 'IMG_1.json');
  assert.notEqual(tempNameFor('IMG_1.json'), n);
  assert.equal(tempTargetName(tempNameFor('a.isc-tmp-1-b.json')), 'a.isc-tmp-1-b.json');
  // Written before temp names had a host mark: still ours, host unknown.
  const old = '.IMG_1.json.isc-tmp-1234-k3x9';
  assert.ok(isTempName(old));
  assert.deepEqual(tempNameWriter(old), { pid: 1234, host: null });
  assert.equal(tempTargetName(old), 'IMG_1.json');
  assert.deepEqual(tempNameWriter('.IMG_1.json.isc-tmp-12345678-99-z'), { pid: 99, host: '12345678' });
  assert.deepEqual(tempNameWriter('.IMG_1.json.isc-tmp-12345678-z'), { pid: 12345678, host: null });
  for (const other of ['IMG_1.json', '.IMG_1.json', 'IMG_1.json.isc-tmp-1-a', '.x.isc-tmp-', '.x.isc-tmp-12-', '.x.isc-tmp-ab-cd', '.x.isc-tmp-abcdefgh-1-a', '.x.isc-tmp-0123abcd--a']) {
    assert.equal(isTempName(other), false, other);
    assert.equal(tempNamePid(other), null, other);
  }
  assert.equal(lockNameFor('IMG_1'), '.IMG_1.isc-lock');
  assert.ok(isLockName('.IMG_1.isc-lock'));
  assert.equal(isLockName('IMG_1.isc-lock'), false);
  assert.equal(isLockName('.isc-lock'), false);
  assert.equal(isTempName('.IMG_1.isc-lock'), false);
});

test('removeStaleTempFiles: removes dead writers\' and old temp files only', async (t) => {
  const dir = testDir(t);
  const dead = deadPid();
  const make = (name: string, ageMs = 0) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, 'partial');
    if (ageMs) {
      const when = new Date(Date.now() - ageMs);
      fs.utimesSync(p, when, when);
    }
    return p;
  };
  const here = hostMark();
  const deadTemp = make(`.A.json.isc-tmp-${here}-${dead}-1a`);
  const liveTemp = make(`.A.bin.isc-tmp-${here}-${process.pid}-2b`);
  const oldLiveTemp = make(`.B.json.isc-tmp-${here}-${process.pid}-3c`, 2 * 60 * 60 * 1000);
  make('A.json');
  make('.hidden');
  make(`A.json.isc-tmp-${dead}-1a`); // no leading dot: not ours
  fs.mkdirSync(path.join(dir, `.C.json.isc-tmp-${dead}-4d`)); // a directory: not ours

  // restricted to A's sidecars: B's old temp is left alone
  assert.deepEqual(await removeStaleTempFiles(dir, { targetPrefixes: ['A.'] }), [deadTemp]);
  assert.ok(fs.existsSync(oldLiveTemp));
  assert.deepEqual(await removeStaleTempFiles(dir), [oldLiveTemp]);
  assert.ok(fs.existsSync(liveTemp));
  // the live writer's file goes once it is older than the limit
  assert.deepEqual(await removeStaleTempFiles(dir, { olderThanMs: 10, now: Date.now() + 1000 }), [liveTemp]);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['.C.json.isc-tmp-' + dead + '-4d', '.hidden', 'A.json', `A.json.isc-tmp-${dead}-1a`].sort());
  await assert.rejects(removeStaleTempFiles(path.join(dir, 'nope')), { code: 'NOT_FOUND' });
});

test('another host\'s temp file, or one without a host mark, is left alone until it is an hour old (regression: a sweep removed in-flight temp files of jobs on other hosts sharing the folder)', async (t) => {
  const dir = testDir(t);
  const dead = deadPid(); // dead here; on another host the same pid may be a running writer
  const here = hostMark();
  const other = here.replace(/^./, (c) => (c === '0' ? '1' : '0'));
  const make = (name: string, ageMs: number) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, 'partial');
    const when = new Date(Date.now() - ageMs);
    fs.utimesSync(p, when, when);
    return p;
  };
  const minute = 60 * 1000;
  const foreignFresh = make(`.F1.json.isc-tmp-${other}-${dead}-1a`, 0);
  const foreignWriting = make(`.F2.json.isc-tmp-${other}-${dead}-2a`, 59 * minute);
  const foreignOld = make(`.F3.json.isc-tmp-${other}-${dead}-3a`, 120 * minute);
  const unmarkedFresh = make(`.U1.json.isc-tmp-${dead}-4a`, 0);
  const unmarkedOld = make(`.U2.json.isc-tmp-${dead}-5a`, 120 * minute);
  const localDead = make(`.L1.json.isc-tmp-${here}-${dead}-6a`, 0);
  const localLive = make(`.L2.json.isc-tmp-${here}-${process.pid}-7a`, 0);
  const removed = await removeStaleTempFiles(dir);
  assert.deepEqual(removed.sort(), [foreignOld, unmarkedOld, localDead].sort());
  for (const kept of [foreignFresh, foreignWriting, unmarkedFresh, localLive]) assert.ok(fs.existsSync(kept), path.basename(kept));
  // The same rule for convert's sweep of a folder it writes into.
  fs.writeFileSync(path.join(dir, 'IMG_1.jpg'), 'jpg');
  fs.writeFileSync(path.join(dir, 'IMG_1.json'), '{"face_detection": {"faces": []}}');
  const localDead2 = make(`.L3.json.isc-tmp-${here}-${dead}-8a`, 0);
  const r = await convert(dir, 'bin', { engine: 'inline' });
  assert.equal(r.converted, 1);
  assert.equal(r.tempFilesRemoved, 1);
  assert.equal(fs.existsSync(localDead2), false);
  for (const kept of [foreignFresh, foreignWriting, unmarkedFresh, localLive]) assert.ok(fs.existsSync(kept), path.basename(kept));
});

test('a stale lock taken aside is kept ten minutes from its rename, then swept (by a save in its folder, or any sweep)', async (t) => {
  const dir = testDir(t);
  fs.writeFileSync(path.join(dir, 'IMG_1.jpg'), 'jpg');
  // What takeOverIfStale leaves: the lock's folder under its aside name. This one still has the
  // dead lock's mtime (its taker was killed before it dated it): its ctime, set by the rename, keeps
  // it (regression: swept by its mtime at once, its name was free for a late taker's rename again).
  const undated = plantLockAside(dir, '2049:1234:token', 20 * 60_000);
  // A test cannot make a ctime old; an aside dated far in the future is no taker's and is swept too.
  const future = plantLockAside(dir, '2049:1235:token', -2 * 3_600_000);
  for (const p of [undated, future]) assert.ok(isLockName(path.basename(p)), 'the scan treats it as our leftover, not as data');
  await saveSidecar(path.join(dir, 'IMG_1.jpg'), 'face_detection', { success: true, faces: [] });
  assert.equal(fs.existsSync(future), false, 'swept by the save');
  assert.equal(fs.existsSync(undated), true, 'kept: a taker that saw the same lock may still be about to rename onto its name');
  assert.deepEqual(await removeStaleTempFiles(dir, { now: Date.now() + 9 * 60_000 }), []);
  assert.deepEqual(await removeStaleTempFiles(dir, { now: Date.now() + 11 * 60_000 }), [undated]);
});

{
  const writeBatch = writeFilesAtomic;
  test(`writeFilesAtomic (group commit): every temp file is written before the first rename; one bad entry fails alone; no temp file left`, async (t) => {
    const dir = testDir(t);
    const dirs = ['a', 'b', 'c'].map((d) => path.join(dir, d));
    for (const d of dirs) fs.mkdirSync(d);
    fs.mkdirSync(path.join(dirs[1], 'taken.bin')); // a directory where a file should go
    const entries = Array.from({ length: 30 }, (_, i) => ({ target: path.join(dirs[i % 3], `f${i}.bin`), bytes: Buffer.from(`payload ${i}\n`.repeat(100)) }));
    entries.splice(10, 0, { target: path.join(dirs[1], 'taken.bin'), bytes: Buffer.from('x') });
    const renamed: string[] = [];
    let tempsAtFirstRename = -1;
    const withHooks = entries.map((e) => ({
      ...e,
      beforeRename: () => {
        if (renamed.length === 0) tempsAtFirstRename = dirs.reduce((n, d) => n + tempLeftovers(d).length, 0);
        renamed.push(e.target);
      },
    }));
    const results = await writeBatch(withHooks);
    assert.equal(results.length, entries.length);
    results.forEach((r, i) => {
      if (i === 10) assert.ok('error' in r && r.error instanceof SidecarError, `entry 10: ${JSON.stringify(r)}`);
      else {
        assert.deepEqual(r, { written: true });
        assert.ok(fs.readFileSync(entries[i].target).equals(entries[i].bytes));
      }
    });
    // All 31 temp files (the bad entry fails only at its rename) were on disk before the first rename.
    assert.equal(tempsAtFirstRename, 31);
    assert.deepEqual(renamed, entries.map((e) => e.target), 'renames in entry order');
    for (const d of dirs) assert.deepEqual(tempLeftovers(d), []);
    assert.ok(fs.statSync(path.join(dirs[1], 'taken.bin')).isDirectory());
  });
}

test('names up to 255 bytes: atomic writes, saves and converts work (temp and lock names fit in NAME_MAX), one lock per stem, stale temp files of such names are swept', async (t) => {
  const dir = testDir(t);
  // A 255-byte file name (250-byte stem + .json; 125 two-byte characters + .json): the longest a file system allows.
  for (const stem of ['L'.repeat(250), 'é'.repeat(125)]) {
    assert.ok(Buffer.byteLength(tempNameFor(`${stem}.json`)) <= 255);
    assert.ok(Buffer.byteLength(lockNameFor(stem)) <= 255);
    assert.ok(isTempName(tempNameFor(`${stem}.json`)));
    assert.ok(isLockName(lockNameFor(stem)));
    await writeFileAtomic(path.join(dir, `${stem}.json`), Buffer.from('{}'));
    assert.equal(fs.readFileSync(path.join(dir, `${stem}.json`), 'utf8'), '{}');
  }
  // Two long stems that differ only past the part a lock name keeps: two locks.
  assert.notEqual(lockNameFor('L'.repeat(249) + 'a'), lockNameFor('L'.repeat(249) + 'b'));
  // A dead writer's temp file of a long name is found by the sweep restricted to that name.
  const stem = 'M'.repeat(246); // M….jpg: 250 bytes, its sidecar M….bin 250 bytes
  const deadTemp = path.join(dir, tempNameFor(`${stem}.bin`).replace(`-${process.pid}-`, `-${deadPid()}-`));
  fs.writeFileSync(deadTemp, 'partial');
  assert.deepEqual(await removeStaleTempFiles(dir, { targetPrefixes: [`${stem}.bin`] }), [deadTemp]);
  // A save (lock + temp file) next to the 250-byte image name, then a convert of that sidecar.
  fs.writeFileSync(path.join(dir, `${stem}.jpg`), 'x');
  await saveSidecar(path.join(dir, `${stem}.jpg`), 'face_detection', { success: true, faces: [] }, { format: 'bin' });
  assert.ok(fs.existsSync(path.join(dir, `${stem}.bin`)));
  const r = await convert(dir, 'json', { engine: 'inline' });
  assert.deepEqual([r.failed, r.items?.filter((i) => !i.ok).map((i) => i.error?.message)], [0, []]);
  assert.ok(fs.existsSync(path.join(dir, `${stem}.json`)));
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.includes(TEMP_MARK) || isLockName(n)), []);
});

test('a FIFO (or a link to one) at the target is refused, never replaced by a regular file: the same for a device (hash --manifest /dev/null as root)', async (t) => {
  const dir = testDir(t);
  const fifo = path.join(dir, 'pipe.json');
  if (spawnSync('mkfifo', [fifo]).status !== 0) return t.skip('mkfifo unavailable');
  const link = path.join(dir, 'link.json');
  fs.symlinkSync('pipe.json', link);
  for (const target of [fifo, link]) {
    await assert.rejects(writeFileAtomic(target, Buffer.from('{}')), (e: SidecarError) => e.code === 'IO' && /not a regular file/.test(e.message));
    assert.throws(() => writeFileAtomicSync(target, Buffer.from('{}')), (e: SidecarError) => e.code === 'IO');
  }
  assert.ok(fs.lstatSync(fifo).isFIFO(), 'the FIFO was replaced');
  assert.ok(fs.lstatSync(link).isSymbolicLink());
  assert.deepEqual(fs.readdirSync(dir).sort(), ['link.json', 'pipe.json'], 'no temp file left');
});

test("a new file that takes another file's permissions (like) is created with them, never wider for a moment: a 0600 file's bytes were open to others between the create (umask's 0644) and the fchmod", async (t) => {
  const dir = testDir(t);
  const { createRequire, syncBuiltinESMExports } = await import('node:module');
  const cjs = createRequire(import.meta.url)('node:fs') as typeof fs;
  const openSync = cjs.openSync;
  const modes: number[] = [];
  cjs.openSync = ((p: fs.PathLike, flags: fs.OpenMode, mode?: fs.Mode) => {
    if (flags === 'wx') modes.push(Number(mode)); // the temp file's create
    return openSync(p, flags, mode);
  }) as typeof fs.openSync;
  syncBuiltinESMExports();
  try {
    const target = path.join(dir, 'a.bin');
    writeFileAtomicSync(target, Buffer.from('faces'), { like: { mode: 0o100600, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 } });
    assert.equal(fs.statSync(target).mode & 0o7777, 0o600);
    assert.ok(modes.length >= 1, 'the temp file was opened through openSync');
    for (const m of modes) assert.equal(m & 0o077, 0, `created with mode ${m.toString(8)}`);
  } finally {
    cjs.openSync = openSync;
    syncBuiltinESMExports();
  }
});
