/**
 * relink (ops/relink.ts, docs/REORGANISE.md): orphans of moved and renamed images go back next to
 * them on unambiguous evidence only, the ambiguous are listed with their candidates, restore undoes
 * it byte for byte; cleanup leaves such orphans in place and stats says how many there are.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { planRelink, relink } from '../src/ops/relink.js';
import { restore } from '../src/ops/restore.js';
import { findOrphans } from '../src/ops/orphans.js';
import { encodeSidecar } from '../src/formats/codec.js';
import { cleanup } from '../src/ops/cleanup.js';
import { readSidecar } from '../src/ops/read.js';
import { saveSidecar } from '../src/ops/save.js';
import { QUARANTINE_DIR } from '../src/discovery/own-folders.js';
import { reorganisedLibrary } from './helpers/reorganised.js';
import { makeTree, removeTree, sidecarData, tempDir } from './helpers/tree.js';
import { parseJson, runCli } from './helpers/cli.js';

/** Every file under `dir` (our quarantine and index folders aside) → its bytes in base64. */
function snapshot(dir: string, rel = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of fs.readdirSync(join(dir, rel), { withFileTypes: true })) {
    if (rel === '' && (d.name === QUARANTINE_DIR || d.name === '.image-sidecar')) continue;
    const r = rel === '' ? d.name : `${rel}/${d.name}`;
    if (d.isDirectory()) for (const [k, v] of snapshot(dir, r)) out.set(k, v);
    else out.set(r, fs.readFileSync(join(dir, r)).toString('base64'));
  }
  return out;
}

const stemOf = (rel: string) => rel.replace(/\.[^./]+$/, '');

test('relink: 10 % moved, 5 % renamed, 2 % copied, decoys — every movable orphan re-attached, none wrongly, the ambiguous listed; restore undoes it byte for byte', async () => {
  const root = tempDir();
  try {
    const lib = reorganisedLibrary(root, 400);
    const before = snapshot(root);
    const contents = new Map([...lib.movable.keys()].map((o) => [o, fs.readFileSync(join(root, o))]));

    // Without hashing, an image beside a same-size, same-time decoy is ambiguous.
    const plain = await planRelink(root, { index: false });
    const plainAttached = new Map(plain.matches.flatMap((m) => m.sidecars.map((s) => [s.rel, m.imageRel] as const)));
    for (const o of lib.decoyed) assert.ok(!plainAttached.has(o), `${o} attached without --hash-images`);
    for (const [o, image] of plainAttached) assert.equal(image, lib.movable.get(o), `${o} attached to the wrong image`);
    assert.ok(plain.ambiguous.some((a) => lib.decoyed.has(a.sidecars[0]) && /--hash-images/.test(a.reason)));

    const r = await relink(root, { index: false, hashImages: true });
    const attached = new Map(r.matches.flatMap((m) => m.sidecars.map((s) => [s.rel, m.imageRel] as const)));
    assert.deepEqual([...attached.keys()].sort(), [...lib.movable.keys()].sort(), 'every movable orphan, and only those');
    for (const [o, image] of attached) assert.equal(image, lib.movable.get(o), `${o}: wrong image`);
    for (const m of r.matches) assert.ok(m.evidence.includes('size') && m.evidence.includes('mtime'));
    assert.ok(r.matches.some((m) => m.evidence.includes('sha256')));
    assert.ok(r.matches.some((m) => m.evidence.includes('name')));
    const ambiguous = new Set(r.ambiguous.flatMap((a) => a.sidecars));
    assert.deepEqual([...ambiguous].sort(), [...lib.ambiguous].sort());
    for (const a of r.ambiguous) assert.equal(a.candidates.length, 2, `${a.sidecars}: ${a.reason}`);
    assert.deepEqual(new Set(r.unmatched.flatMap((u) => u.sidecars)), lib.gone);
    assert.equal(r.relinked, lib.movable.size);
    assert.deepEqual(r.skipped, []);

    // Each image reads the results that were its own; its sidecar is named after it.
    for (const [o, image] of lib.movable) {
      const sidecar = `${stemOf(image)}.json`;
      assert.deepEqual(fs.readFileSync(join(root, sidecar)), contents.get(o), `${image}`);
      assert.equal(fs.existsSync(join(root, o)), false);
      assert.deepEqual(Object.keys(await readSidecar(join(root, image))).sort(), ['face_detection', 'sidecar_info']);
    }
    // A second run has nothing left to do.
    const again = await planRelink(root, { index: false, hashImages: true });
    assert.equal(again.matches.length, 0);

    // The manifest lists, per moved file, what stood beside it where it was (nothing: it was an orphan there).
    const manifest = JSON.parse(fs.readFileSync(join(root, QUARANTINE_DIR, fs.readdirSync(join(root, QUARANTINE_DIR))[0], 'manifest.json'), 'utf8')) as { entries: { beside?: unknown[] }[] };
    assert.ok(manifest.entries.length > 0 && manifest.entries.every((e) => Array.isArray(e.beside) && e.beside.length === 0), JSON.stringify(manifest.entries.slice(0, 2)));
    const back = await restore(root);
    assert.equal(back.restored, lib.movable.size);
    assert.deepEqual(back.skipped, []);
    assert.deepEqual(snapshot(root), before);
    assert.equal(fs.existsSync(join(root, QUARANTINE_DIR)), false);
  } finally {
    removeTree(root);
  }
});

test('relink: the orphans of one image go together (its JSON kept beside its .bin); a stem file takes the name-ext form next to an image sharing the new stem', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': Buffer.alloc(1234, 1), 'b/x.txt': 'x' });
  try {
    const st = fs.statSync(join(root, 'a/IMG_1.jpg'), { bigint: true });
    const record = (name: string) => ({ sidecar_info: { image_path: name, image: { size: 1234, mtime_ns: st.mtimeNs.toString(), operations: ['face_detection'] } }, face_detection: { faces: [] } });
    fs.writeFileSync(join(root, 'a/IMG_1.json'), JSON.stringify(record('IMG_1.jpg')));
    fs.writeFileSync(join(root, 'a/IMG_1.jpg.json'), JSON.stringify(record('IMG_1.jpg')));
    fs.renameSync(join(root, 'a/IMG_1.jpg'), join(root, 'b/shot.jpg'));
    const r = await relink(root, { index: false });
    assert.equal(r.matches.length, 1);
    assert.deepEqual(r.matches[0].sidecars.map((s) => s.toRel).sort(), ['b/shot.jpg.json', 'b/shot.json']);
    assert.deepEqual(fs.readdirSync(join(root, 'a')), []);
    // Back, then the RAW arrives beside it: the stem file would be shared with shot.CR2, so it takes the name-ext form.
    await restore(root);
    fs.rmSync(join(root, 'a/IMG_1.jpg.json'));
    fs.writeFileSync(join(root, 'b/shot.CR2'), 'raw');
    const r2 = await relink(root, { index: false });
    assert.deepEqual(r2.matches[0].sidecars.map((s) => s.toRel), ['b/shot.jpg.json']);
    assert.deepEqual(fs.readdirSync(join(root, 'b')).sort(), ['shot.CR2', 'shot.jpg', 'shot.jpg.json', 'x.txt']);
  } finally {
    removeTree(root);
  }
});

test('relink: an image that gets a sidecar of its own after the plan (a save where it now is) keeps it alone: the orphan stays where it is (moved beside it, the old results hid the new ones)', async () => {
  const root = makeTree({ 'a/X.jpg': Buffer.alloc(1234, 1), 'd2/y.txt': 'y' });
  try {
    const st = fs.statSync(join(root, 'a/X.jpg'), { bigint: true });
    const record = (score: number, image = 'X.jpg') => ({ sidecar_info: { image_path: image, image: { size: 1234, mtime_ns: st.mtimeNs.toString(), operations: ['quality'] } }, quality: { score } });
    fs.writeFileSync(join(root, 'a/X.bin'), encodeSidecar(record(0.11), 'bin'));
    fs.renameSync(join(root, 'a/X.jpg'), join(root, 'd2/R.jpg'));
    // The clock is read after the plan, right before the moves: the pipeline saves R's new result.
    const now = () => {
      fs.writeFileSync(join(root, 'd2/R.json'), JSON.stringify(record(0.99, 'R.jpg')));
      return new Date('2026-11-30T00:00:00Z');
    };
    const r = await relink(root, { index: false, now });
    assert.equal(r.matches.length, 1, 'planned before the save');
    assert.equal(r.relinked, 0);
    assert.deepEqual(r.skipped.map((k) => k.rel), ['a/X.bin']);
    assert.match(r.skipped[0]!.reason, /has a sidecar of its own since the plan/);
    assert.ok(fs.existsSync(join(root, 'a/X.bin')));
    assert.equal(fs.existsSync(join(root, 'd2/R.bin')), false);
    assert.deepEqual(((await readSidecar(join(root, 'd2/R.jpg'))) as { quality: unknown }).quality, { score: 0.99 });
  } finally {
    removeTree(root);
  }
});

test('relink: a save of the RAW beside the JPEG it returns to, after the plan, is no sidecar of the JPEG\'s: the orphan still moves (refused: "a sidecar of its own")', async () => {
  const root = makeTree({ 'a/x.txt': 'x', 'b/y.txt': 'y' });
  try {
    fs.writeFileSync(join(root, 'a/IMG_1.jpg'), Buffer.alloc(1000, 7));
    await saveSidecar(join(root, 'a/IMG_1.jpg'), 'face_detection', { faces: [{ score: 0.9 }] }, { format: 'bin' }); // a/IMG_1.bin
    fs.writeFileSync(join(root, 'b/IMG_1.CR2'), Buffer.alloc(2000, 8));
    await saveSidecar(join(root, 'b/IMG_1.CR2'), 'yolov8', { objects: [] }, { format: 'bin' }); // b/IMG_1.bin, the RAW's
    fs.renameSync(join(root, 'a/IMG_1.jpg'), join(root, 'b/IMG_1.jpg')); // a plain mv next to its RAW
    const raws = join(root, 'b/IMG_1.bin');
    const now = () => {
      // The RAW's pipeline saves meanwhile: its file written anew (another inode), as an atomic write does.
      fs.writeFileSync(`${raws}.new`, fs.readFileSync(raws));
      fs.renameSync(`${raws}.new`, raws);
      return new Date('2026-11-30T00:00:00Z');
    };
    const r = await relink(root, { index: false, now });
    assert.deepEqual(r.matches.map((m) => m.sidecars.map((x) => x.toRel)), [['b/IMG_1.jpg.bin']]);
    assert.deepEqual([r.relinked, r.skipped], [1, []]);
    assert.deepEqual(((await readSidecar(join(root, 'b/IMG_1.jpg'))) as { face_detection: unknown }).face_detection, { faces: [{ score: 0.9 }] });
    assert.deepEqual(((await readSidecar(join(root, 'b/IMG_1.CR2'))) as { yolov8: unknown }).yolov8, { objects: [] });
  } finally {
    removeTree(root);
  }
});

test('relink: an image that already has a sidecar, an orphan without an identity record, two orphans claiming one image — listed, never attached', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': Buffer.alloc(999, 1), 'c/IMG_2.jpg': Buffer.alloc(998, 2), 'b/x.txt': 'x', 'd/old.json': { json: sidecarData('old.jpg') } });
  try {
    const id = (p: string) => {
      const st = fs.statSync(p, { bigint: true });
      return { size: Number(st.size), mtime_ns: st.mtimeNs.toString(), operations: ['face_detection'] };
    };
    const rec = (name: string, image: object) => JSON.stringify({ sidecar_info: { image_path: name, image }, face_detection: { faces: [] } });
    fs.writeFileSync(join(root, 'a/IMG_1.json'), rec('IMG_1.jpg', id(join(root, 'a/IMG_1.jpg'))));
    fs.renameSync(join(root, 'a/IMG_1.jpg'), join(root, 'b/IMG_1.jpg'));
    fs.writeFileSync(join(root, 'b/IMG_1.json'), rec('IMG_1.jpg', { size: 1, mtime_ns: '1', operations: [] })); // it has one already
    const i2 = id(join(root, 'c/IMG_2.jpg'));
    fs.writeFileSync(join(root, 'c/IMG_2.json'), rec('IMG_2.jpg', i2));
    fs.mkdirSync(join(root, 'e'));
    fs.writeFileSync(join(root, 'e/IMG_2.json'), rec('IMG_2.jpg', i2)); // a copy of the sidecar elsewhere
    fs.renameSync(join(root, 'c/IMG_2.jpg'), join(root, 'b/IMG_2.jpg'));
    const r = await relink(root, { index: false });
    assert.equal(r.relinked, 0);
    assert.deepEqual(r.matches, []);
    const reasons = Object.fromEntries(r.ambiguous.map((a) => [a.sidecars.join(','), a.reason]));
    assert.match(reasons['a/IMG_1.json'], /has a sidecar of its own/);
    assert.match(reasons['c/IMG_2.json'], /2 orphans/);
    assert.match(reasons['e/IMG_2.json'], /2 orphans/);
    assert.match(r.unmatched.find((u) => u.sidecars[0] === 'd/old.json')!.reason, /no image identity recorded/);
    assert.equal(r.manifest, null);
  } finally {
    removeTree(root);
  }
});

test('relink finds the orphans the scan finds, reading only lone files: corrupt, foreign, look-alike and symlinked ones stay; a bin orphan is read; a lone file it cannot read is listed, a name that is not UTF-8 stops it', async () => {
  const root = tempDir();
  try {
    reorganisedLibrary(root, 120);
    const f = join(root, 'odd');
    fs.mkdirSync(f);
    fs.writeFileSync(join(f, 'bad.json'), '{"sidecar_info": {'); // corrupt: not an orphan
    fs.writeFileSync(join(f, 'notes.json'), '{"title": "another tool\'s file"}'); // foreign: not an orphan
    fs.writeFileSync(join(f, 'IMG_9.json'), JSON.stringify({ sidecar_info: { image_path: 'IMG_9.xyz' }, face_detection: { faces: [] } }));
    fs.writeFileSync(join(f, 'IMG_9.xyz'), 'an image type not in the list'); // a look-alike: unknown-image, never an orphan
    fs.symlinkSync(join(f, 'IMG_9.json'), join(f, 'linked.json')); // read through, never moved
    // A bin orphan whose image moved: found and read (its record) like a JSON one.
    fs.writeFileSync(join(root, 'odd/IMG_8.jpg'), Buffer.alloc(777, 8));
    const st = fs.statSync(join(root, 'odd/IMG_8.jpg'), { bigint: true });
    const data = { sidecar_info: { image_path: 'IMG_8.jpg', image: { size: 777, mtime_ns: st.mtimeNs.toString(), operations: [] } }, face_detection: { faces: [] } };
    fs.writeFileSync(join(f, 'IMG_8.bin'), encodeSidecar(data as never, 'bin'));
    fs.mkdirSync(join(root, 'moved'));
    fs.renameSync(join(root, 'odd/IMG_8.jpg'), join(root, 'moved/IMG_8.jpg'));

    const opts = { index: false } as const;
    const own = await planRelink(root, opts);
    const scanned = await planRelink(root, opts, await findOrphans(root, opts));
    assert.deepEqual(own, scanned);
    assert.ok(own.matches.some((m) => m.imageRel === 'moved/IMG_8.jpg' && m.sidecars[0].rel === 'odd/IMG_8.bin'));
    const listed = [...own.matches.flatMap((m) => m.sidecars.map((s) => s.rel)), ...own.ambiguous.flatMap((a) => a.sidecars), ...own.unmatched.flatMap((u) => u.sidecars)];
    for (const stay of ['odd/bad.json', 'odd/notes.json', 'odd/IMG_9.json', 'odd/linked.json']) assert.ok(!listed.includes(stay), `${stay} taken for an orphan`);

    // A folder in a lone sidecar's name reads as unreadable: relink lists it and goes on; cleanup's
    // scan (findOrphans) declares no orphan at all. A name that is not UTF-8 stops both.
    fs.mkdirSync(join(f, 'ghost.json'));
    const withGhost = await planRelink(root, opts);
    assert.deepEqual(withGhost.matches, own.matches);
    assert.equal(withGhost.unmatched.find((u) => u.sidecars[0] === 'odd/ghost.json')!.unreadable, true);
    await assert.rejects(findOrphans(root, opts), { code: 'INCOMPLETE_SCAN' });
    fs.writeFileSync(Buffer.concat([Buffer.from(join(f, 'G_')), Buffer.from([0xff]), Buffer.from('.json')]), '{}');
    await assert.rejects(planRelink(root, opts), { code: 'INCOMPLETE_SCAN' });
  } finally {
    removeTree(root);
  }
});

test('relink: a run killed between a link and its unlink is finished by the next (no orphan twin left behind)', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': Buffer.alloc(777, 1), b: { dir: true } });
  try {
    const st = fs.statSync(join(root, 'a/IMG_1.jpg'), { bigint: true });
    fs.writeFileSync(join(root, 'a/IMG_1.json'), JSON.stringify({ sidecar_info: { image_path: 'IMG_1.jpg', image: { size: 777, mtime_ns: st.mtimeNs.toString(), operations: [] } }, x_detection: {} }));
    fs.renameSync(join(root, 'a/IMG_1.jpg'), join(root, 'b/IMG_1.jpg'));
    fs.linkSync(join(root, 'a/IMG_1.json'), join(root, 'b/IMG_1.json'));
    const r = await relink(root, { index: false });
    assert.equal(r.relinked, 1);
    assert.deepEqual(fs.readdirSync(join(root, 'a')), []);
    assert.deepEqual(fs.readdirSync(join(root, 'b')).sort(), ['IMG_1.jpg', 'IMG_1.json']);
  } finally {
    removeTree(root);
  }
});

test('relink: an orphan another run moves away while this one plans (its name already beside the image) is named and left, never a crash (exit 2: ENOENT from the plan)', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': Buffer.alloc(777, 1), b: { dir: true } });
  const lstatSync = fs.lstatSync;
  try {
    const st = fs.statSync(join(root, 'a/IMG_1.jpg'), { bigint: true });
    fs.writeFileSync(join(root, 'a/IMG_1.json'), JSON.stringify({ sidecar_info: { image_path: 'IMG_1.jpg', image: { size: 777, mtime_ns: st.mtimeNs.toString(), operations: [] } }, x_detection: {} }));
    fs.renameSync(join(root, 'a/IMG_1.jpg'), join(root, 'b/IMG_1.jpg'));
    fs.linkSync(join(root, 'a/IMG_1.json'), join(root, 'b/IMG_1.json'));
    // The other run unlinks the orphan right when this one's plan names its destination.
    const orphan = join(root, 'a/IMG_1.json');
    (fs as { lstatSync: unknown }).lstatSync = (p: fs.PathLike, o?: fs.StatSyncOptions) => {
      if (String(p) === orphan && new Error().stack?.includes('destinations') && fs.existsSync(orphan)) fs.unlinkSync(orphan);
      return lstatSync(p, o as never);
    };
    syncBuiltinESMExports();
    const plan = await planRelink(root, { index: false });
    assert.deepEqual([plan.matches, plan.ambiguous], [[], []]);
    assert.equal(plan.unmatched.length, 1);
    assert.match(plan.unmatched[0].reason, /a\/IMG_1\.json was moved or removed since the walk/);
    assert.deepEqual(fs.readdirSync(join(root, 'b')).sort(), ['IMG_1.jpg', 'IMG_1.json'], 'nothing else touched');
  } finally {
    (fs as { lstatSync: unknown }).lstatSync = lstatSync;
    syncBuiltinESMExports();
    removeTree(root);
  }
});

test('cleanup leaves the orphans relink can save and says how many; stats names them on stderr', async () => {
  const root = tempDir();
  try {
    const lib = reorganisedLibrary(root, 200);
    const dry = await cleanup(root, { dryRun: true, force: true, index: false });
    // Re-attachable, and ambiguous ones (their image is here, relink lists the candidates): all stay.
    assert.equal(dry.relinkable, lib.movable.size + lib.ambiguous.size);
    // Of them, the ones relink lists but does not re-attach are counted apart: the user decides.
    const relinkPlan = await relink(root, { dryRun: true });
    const undecided = relinkPlan.ambiguous.reduce((n, a) => n + a.sidecars.length, 0);
    assert.ok(undecided > 0);
    assert.equal(dry.relinkUndecided, undecided);
    const planned = new Set(dry.actions.map((a) => a.rel));
    for (const o of [...lib.movable.keys(), ...lib.ambiguous]) assert.ok(!planned.has(o), `${o} would be quarantined`);
    for (const o of lib.gone) assert.ok(planned.has(o));
    const s = await runCli(['stats', root, '--json', '--no-index']);
    assert.equal(s.code, 0);
    assert.match(s.stderr, new RegExp(`${lib.movable.size - lib.decoyed.size} of the \\d+ orphan\\(s\\) belong to images that moved`));
    const c = await runCli(['cleanup', root, '--json', '--force']);
    assert.equal(parseJson<{ relinkable: number }>(c).relinkable, lib.movable.size + lib.ambiguous.size);
    assert.match(c.stderr, new RegExp(`${dry.relinkable - undecided} orphan\\(s\\) left in place: their images moved or were renamed`));
    assert.match(c.stderr, new RegExp(`${undecided} orphan\\(s\\) left in place for you to decide`));
    for (const o of lib.movable.keys()) if (!lib.decoyed.has(o)) assert.ok(fs.existsSync(join(root, o)));
  } finally {
    removeTree(root);
  }
});

test('the plan of orphans a scan found (stats, cleanup) reads their records first: none recorded its image, no walk of the library; some did, the same plan as relink\'s own walk', async () => {
  const root = tempDir();
  try {
    const lib = reorganisedLibrary(root, 120);
    const found = await findOrphans(root, { index: false });
    // The same plan as relink's own walk (which finds the orphans itself), from its walk of the images alone.
    const fromScan = await planRelink(root, { index: false }, found);
    assert.deepEqual(fromScan, await planRelink(root, { index: false }));
    assert.equal(fromScan.matches.reduce((n, m) => n + m.sidecars.length, 0), lib.movable.size - lib.decoyed.size);
    for (const m of fromScan.matches) for (const sc of m.sidecars) assert.equal(lib.movable.get(sc.rel), m.imageRel, sc.rel);
    // An image of a wanted size but another time is no candidate (the second lstat's check): the plan stays as it was.
    const first = fromScan.matches[0];
    fs.mkdirSync(join(root, 'zz-decoy'));
    fs.copyFileSync(first.image, join(root, 'zz-decoy', 'DECOY.jpg'));
    fs.utimesSync(join(root, 'zz-decoy', 'DECOY.jpg'), 1_000_000_000, 1_000_000_000);
    assert.deepEqual(await planRelink(root, { index: false }, found), fromScan);
    // Orphans that recorded no image: nothing to match by, so nothing is walked (an aborted walk would throw).
    const bare = join(root, 'bare');
    fs.mkdirSync(bare);
    fs.writeFileSync(join(bare, 'GONE_1.json'), JSON.stringify(sidecarData('GONE_1.jpg')));
    const orphans = [{ path: join(bare, 'GONE_1.json'), rel: 'bare/GONE_1.json', format: 'json', size: 1 }];
    const signal = AbortSignal.abort();
    const plan = await planRelink(root, { index: false, signal }, { orphans });
    assert.deepEqual(plan.matches, []);
    assert.match(plan.unmatched[0].reason, /no image identity recorded/);
    // With one that did, the walk runs (and stops at the aborted signal).
    await assert.rejects(planRelink(root, { index: false, signal }, found), { name: 'AbortError' });
  } finally {
    removeTree(root);
  }
});

test('cli relink: --dry-run lists and changes nothing; ambiguous orphans exit 1; restore undoes the last relink', async () => {
  const root = tempDir();
  try {
    const lib = reorganisedLibrary(root, 120, 4, 3);
    const before = snapshot(root);
    const dry = await runCli(['relink', root, '--dry-run', '--json']);
    assert.equal(dry.code, 1); // the copied ones are ambiguous
    const plan = parseJson<{ message: string; matches: unknown[] }>(dry);
    assert.match(plan.message, /^Would re-attach \d+ orphaned sidecar files$/);
    assert.deepEqual(snapshot(root), before);
    const real = await runCli(['relink', root, '--json', '--hash-images']);
    assert.equal(real.code, 1);
    assert.equal(parseJson<{ relinked: number }>(real).relinked, lib.movable.size);
    assert.match(real.stderr, /undo with: image-sidecar restore/);
    const back = await runCli(['restore', root, '--json']);
    assert.equal(back.code, 0);
    assert.deepEqual(snapshot(root), before);
  } finally {
    removeTree(root);
  }
});

test('cli relink: an orphan-named file it cannot read is a finding (exit 1, named on stderr); the movable orphans still move', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': Buffer.alloc(1500, 3), 'b/x.txt': 'x' });
  try {
    const st = fs.statSync(join(root, 'a/IMG_1.jpg'), { bigint: true });
    fs.writeFileSync(join(root, 'a/IMG_1.json'), JSON.stringify({ sidecar_info: { image_path: 'IMG_1.jpg', image: { size: 1500, mtime_ns: st.mtimeNs.toString(), operations: [] } }, face_detection: { faces: [] } }));
    fs.renameSync(join(root, 'a/IMG_1.jpg'), join(root, 'b/IMG_1.jpg'));
    fs.mkdirSync(join(root, 'a/ghost.json')); // reads as unreadable
    const r = await runCli(['relink', root, '--json']);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(parseJson<{ relinked: number }>(r).relinked, 1);
    assert.match(r.stderr, /a\/ghost\.json: cannot be read/);
    assert.ok(fs.existsSync(join(root, 'b/IMG_1.json')));
  } finally {
    removeTree(root);
  }
});

test('relink first removes the empty quarantine folder a killed relink or cleanup left over an hour ago; a young one (a run writing its manifest now) stays', async () => {
  const root = tempDir();
  try {
    reorganisedLibrary(root, 40);
    const base = join(root, QUARANTINE_DIR);
    const aged = join(base, '20261101T000000Z');
    const young = join(base, '20261102T000000Z');
    fs.mkdirSync(aged, { recursive: true });
    fs.mkdirSync(young);
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    fs.utimesSync(aged, twoHoursAgo, twoHoursAgo);
    const r = await relink(root, { index: false, hashImages: true });
    assert.ok(r.relinked > 0, 'the library has orphans to relink');
    assert.equal(fs.existsSync(aged), false, 'the aged empty folder is removed');
    assert.equal(fs.existsSync(young), true, 'the young one is left to its writer');
    assert.ok(r.quarantine !== null && fs.existsSync(join(r.quarantine, 'manifest.json')), 'the run\'s own quarantine beside it');
  } finally {
    removeTree(root);
  }
});

test('relink never gives a deleted image\'s results to an image that has not moved or been renamed since the save (a burst of uncompressed RAWs: same size, same whole-second time), and still re-attaches one renamed since', async () => {
  const root = makeTree({});
  try {
    fs.mkdirSync(join(root, 'a'));
    const t = new Date('2025-03-01T10:00:00Z');
    for (const n of ['R1', 'R2', 'R3']) {
      fs.writeFileSync(join(root, `a/${n}.CR2`), Buffer.alloc(n === 'R3' ? 6000 : 5000, n === 'R1' ? 0 : n === 'R2' ? 1 : 2));
      fs.utimesSync(join(root, `a/${n}.CR2`), t, t);
    }
    // R2 saved an hour after the files were made (their ctime): the pipeline ran later than the
    // import. R3 saved now, and renamed after (its ctime then is after the save).
    const later = () => new Date(Date.now() + 60 * 60_000);
    await saveSidecar(join(root, 'a/R2.CR2'), 'face_detection', { faces: [{ name: 'alice' }] }, { format: 'json', now: later });
    await saveSidecar(join(root, 'a/R3.CR2'), 'face_detection', { faces: [{ name: 'bob' }] }, { format: 'json' });
    fs.unlinkSync(join(root, 'a/R2.CR2')); // culled
    fs.renameSync(join(root, 'a/R3.CR2'), join(root, 'a/Game_3.CR2')); // renamed since the save
    const plan = await planRelink(root, { index: false });
    assert.deepEqual(plan.matches.map((m) => [m.sidecars.map((s) => s.rel), m.imageRel]), [[['a/R3.json'], 'a/Game_3.CR2']], JSON.stringify(plan));
    const r2 = plan.ambiguous.find((u) => u.sidecars[0] === 'a/R2.json');
    assert.match(r2?.reason ?? '', /not changed since the save/, JSON.stringify(plan.ambiguous));
    assert.deepEqual(r2?.candidates, ['a/R1.CR2']);
    const r = await relink(root, { index: false });
    assert.equal(r.relinked, 1);
    assert.deepEqual(await readSidecar(join(root, 'a/R1.CR2')), {}, 'R1 never got R2\'s results');
    assert.equal(((await readSidecar(join(root, 'a/Game_3.CR2'))).face_detection as { faces: { name: string }[] }).faces[0].name, 'bob');
  } finally {
    removeTree(root);
  }
});

test('relink\'s checks before a move list the destination folder again only when it may have changed (a wait for a lock, a second gone by): three listings per move made 1,000 moves into a folder of 20,000 files take 75 s instead of 13', async () => {
  const files: Record<string, Buffer | string> = { b: { dir: true } as never };
  for (let i = 0; i < 60; i++) files[`a/IMG_${i}.jpg`] = Buffer.alloc(900 + i, i);
  const root = makeTree(files);
  const readdirSync = fs.readdirSync;
  let listingsOfB = 0;
  try {
    for (let i = 0; i < 60; i++) {
      const st = fs.statSync(join(root, `a/IMG_${i}.jpg`), { bigint: true });
      fs.writeFileSync(join(root, `a/IMG_${i}.json`), JSON.stringify({ sidecar_info: { image_path: `IMG_${i}.jpg`, image: { size: 900 + i, mtime_ns: st.mtimeNs.toString(), operations: [] } }, x_detection: {} }));
      fs.renameSync(join(root, `a/IMG_${i}.jpg`), join(root, `b/P_${i}.jpg`));
    }
    const b = join(root, 'b');
    (fs as { readdirSync: unknown }).readdirSync = (p: fs.PathLike, o?: unknown) => {
      if (String(p) === b) listingsOfB++;
      return readdirSync(p, o as never);
    };
    syncBuiltinESMExports();
    const r = await relink(root, { index: false });
    assert.equal(r.relinked, 60, JSON.stringify(r.skipped.slice(0, 2)));
    // One listing per move remains: the check for a sidecar of its own saved since the plan (locate).
    assert.ok(listingsOfB <= 60 + 5, `b was listed ${listingsOfB} times for 60 moves`);
  } finally {
    (fs as { readdirSync: unknown }).readdirSync = readdirSync;
    syncBuiltinESMExports();
    removeTree(root);
  }
});
