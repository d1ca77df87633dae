import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { cleanup, quarantineStamp, type CleanupReport } from '../src/ops/cleanup.js';
import { QUARANTINE_DIR } from '../src/discovery/own-folders.js';
import { isSidecarError } from '../src/errors.js';
import { readSidecar } from '../src/ops/read.js';
import { saveSidecar } from '../src/ops/save.js';
import { FAKE_JPEG, makeTree, removeTree, sidecarData, tempDir, type TreeNode } from './helpers/tree.js';

const NOW = new Date('2026-11-21T11:33:00.123Z');
const STAMP = '20261121T113300Z';
const fixedClock = () => NOW;

/** Every regular file and symlink under `dir` (the quarantine included): rel → bytes / link target. */
function snapshot(dir: string, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, d.name);
    const rel = prefix + d.name;
    if (d.isSymbolicLink()) out.set(rel, `link:${readlinkSync(p)}`);
    else if (d.isDirectory()) for (const [k, v] of snapshot(p, rel + '/')) out.set(k, v);
    else out.set(rel, readFileSync(p).toString('base64'));
  }
  return out;
}

/** Legacy layout: u64 LE length + compact JSON (the earlier tool's .bin). */
function legacyBytes(data: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(data));
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(body.length));
  return Buffer.concat([head, body]);
}

const small = (name: string) => ({ json: sidecarData(name, 1, 8) });

/** 10 paired images and 2 orphans (2 of 12 sidecar files: under the 20 % guard). */
function libraryWithOrphans(): string {
  const spec: Record<string, TreeNode> = {};
  for (let i = 0; i < 5; i++) {
    spec[`photos/IMG_${i}.jpg`] = FAKE_JPEG;
    spec[`photos/IMG_${i}.json`] = small(`IMG_${i}.jpg`);
    spec[`photos/sub/DSC_${i}.JPG`] = FAKE_JPEG;
    spec[`photos/sub/DSC_${i}.json`] = small(`DSC_${i}.JPG`);
  }
  spec['photos/gone.json'] = small('gone.jpg');
  spec['photos/sub/deep/lost.bin'] = legacyBytes(sidecarData('lost.jpg', 1, 8));
  spec['photos/game_detection.json'] = { json: { success: true, games: [{ game_id: 1, photo_files: ['IMG_0.jpg'] }] } };
  spec['photos/notes.json'] = { json: { foo: 1 } };
  return makeTree(spec);
}

function sha256(p: string): string {
  return createHash('sha256').update(readFileSync(p)).digest('hex');
}

async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isSidecarError(e), `expected a SidecarError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

test('quarantineStamp is compact UTC', () => {
  assert.equal(quarantineStamp(NOW), STAMP);
  assert.equal(quarantineStamp(new Date('2025-01-02T03:04:05Z')), '20250102T030405Z');
});

test('a dry run changes nothing and plans exactly what the real run does', async () => {
  const root = libraryWithOrphans();
  try {
    const before = snapshot(root);
    const dry = await cleanup(root, { dryRun: true, engine: 'inline', now: fixedClock });
    assert.deepEqual(snapshot(root), before, 'the dry run must not touch the tree');
    assert.equal(existsSync(join(root, QUARANTINE_DIR)), false);
    assert.equal(dry.dryRun, true);
    assert.equal(dry.removed, 0);
    assert.equal(dry.orphans, 2);
    assert.equal(dry.sidecarFiles, 12); // 10 paired + 2 orphans (the report and the unrelated JSON are not sidecar files)
    assert.deepEqual(
      dry.actions.map((a) => a.rel),
      ['photos/gone.json', 'photos/sub/deep/lost.bin'],
    );

    const real = await cleanup(root, { engine: 'inline', now: fixedClock });
    const strip = (r: CleanupReport) => ({ ...r, dryRun: null, removed: null, skipped: null });
    assert.deepEqual(strip(real), strip(dry), 'same plan, same destinations');
    assert.equal(real.removed, 2);
    assert.deepEqual(real.skipped, []);
  } finally {
    removeTree(root);
  }
});

test('quarantine keeps relative paths, never touches paired sidecars, and writes a manifest', async () => {
  const root = libraryWithOrphans();
  try {
    const gone = readFileSync(join(root, 'photos/gone.json'));
    const lost = readFileSync(join(root, 'photos/sub/deep/lost.bin'));
    const lostSha = sha256(join(root, 'photos/sub/deep/lost.bin'));
    const before = snapshot(root);
    const report = await cleanup(root, { engine: 'inline', now: fixedClock });

    const q = join(root, QUARANTINE_DIR, STAMP);
    assert.equal(report.mode, 'quarantine');
    assert.equal(report.quarantine, q);
    assert.equal(report.manifest, join(q, 'manifest.json'));
    assert.deepEqual(readFileSync(join(q, 'photos/gone.json')), gone);
    assert.deepEqual(readFileSync(join(q, 'photos/sub/deep/lost.bin')), lost);
    assert.equal(existsSync(join(root, 'photos/gone.json')), false);
    assert.equal(existsSync(join(root, 'photos/sub/deep/lost.bin')), false);
    assert.deepEqual(
      report.actions.map((a) => a.destination),
      [join(q, 'photos/gone.json'), join(q, 'photos/sub/deep/lost.bin')],
    );

    // Everything else is exactly as it was.
    const after = snapshot(root);
    for (const [rel, bytes] of before) {
      if (rel === 'photos/gone.json' || rel === 'photos/sub/deep/lost.bin') continue;
      assert.equal(after.get(rel), bytes, rel);
    }

    const manifest = JSON.parse(readFileSync(join(q, 'manifest.json'), 'utf8'));
    assert.equal(manifest.version, 1);
    assert.equal(manifest.status, 'complete');
    assert.equal(manifest.created_at, NOW.toISOString().replace('Z', '000+00:00'));
    assert.equal(manifest.root, root);
    assert.deepEqual(manifest.entries, [
      { rel: 'photos/gone.json', size: gone.length, sha256: createHash('sha256').update(gone).digest('hex'), beside: [] },
      { rel: 'photos/sub/deep/lost.bin', size: lost.length, sha256: lostSha, beside: [] },
    ]);

    // A second run finds nothing left to do (the quarantine is never scanned).
    const again = await cleanup(root, { engine: 'inline', now: fixedClock });
    assert.equal(again.orphans, 0);
    assert.equal(again.quarantine, null);
  } finally {
    removeTree(root);
  }
});

test('a second cleanup in the same second gets its own folder and never overwrites', async () => {
  const root = libraryWithOrphans();
  try {
    await cleanup(root, { engine: 'inline', now: fixedClock });
    writeFileSync(join(root, 'photos/gone.json'), JSON.stringify(sidecarData('gone.jpg', 2, 8)));
    const second = await cleanup(root, { engine: 'inline', now: fixedClock });
    assert.equal(second.quarantine, join(root, QUARANTINE_DIR, `${STAMP}-1`));
    assert.equal(second.removed, 1);
    const first = JSON.parse(readFileSync(join(root, QUARANTINE_DIR, STAMP, 'photos/gone.json'), 'utf8'));
    const newer = JSON.parse(readFileSync(join(root, QUARANTINE_DIR, `${STAMP}-1`, 'photos/gone.json'), 'utf8'));
    assert.equal(first.face_detection.faces.length, 1);
    assert.equal(newer.face_detection.faces.length, 2);
  } finally {
    removeTree(root);
  }
});

test('--delete removes orphans for good, after the same guard', async () => {
  const root = libraryWithOrphans();
  try {
    const report = await cleanup(root, { delete: true, engine: 'inline', now: fixedClock });
    assert.equal(report.mode, 'delete');
    assert.equal(report.removed, 2);
    assert.equal(report.quarantine, null);
    assert.equal(report.manifest, null);
    assert.ok(report.actions.every((a) => a.action === 'delete' && a.destination === null));
    assert.equal(existsSync(join(root, 'photos/gone.json')), false);
    assert.equal(existsSync(join(root, 'photos/sub/deep/lost.bin')), false);
    assert.equal(existsSync(join(root, QUARANTINE_DIR)), false);
    assert.ok(existsSync(join(root, 'photos/IMG_0.json')));
    assert.ok(existsSync(join(root, 'photos/game_detection.json')));
    assert.ok(existsSync(join(root, 'photos/notes.json')));
  } finally {
    removeTree(root);
  }
});

test('the guard refuses to remove more than 20 % of sidecars unless forced', async () => {
  const spec: Record<string, TreeNode> = {};
  for (let i = 0; i < 10; i++) spec[`IMG_${i}.json`] = small(`IMG_${i}.jpg`);
  for (let i = 0; i < 7; i++) spec[`IMG_${i}.jpg`] = FAKE_JPEG; // 3 of 10 sidecars lose their image
  const root = makeTree(spec);
  try {
    const before = snapshot(root);
    const message = /^refusing to remove 3 of 10 sidecars \(30 %\) — more than 20 %; pass --force if this is really intended$/;
    await rejectsWith(cleanup(root, { engine: 'inline' }), 'GUARD', message);
    await rejectsWith(cleanup(root, { engine: 'inline', delete: true }), 'GUARD', message);
    // A dry run shows the orphans that trip the guard, and the refusal, instead of failing.
    const dry = await cleanup(root, { engine: 'inline', dryRun: true });
    assert.match(dry.guard ?? '', message);
    assert.deepEqual(dry.actions.map((a) => a.rel).sort(), ['IMG_7.json', 'IMG_8.json', 'IMG_9.json']);
    assert.equal(dry.removed, 0);
    assert.deepEqual(snapshot(root), before, 'nothing moved when the guard trips');

    const loose = await cleanup(root, { engine: 'inline', maxFraction: 0.5, dryRun: true });
    assert.equal(loose.orphans, 3);
    assert.equal(loose.fraction, 0.3);

    const forced = await cleanup(root, { engine: 'inline', force: true, now: fixedClock });
    assert.equal(forced.removed, 3);
    assert.deepEqual(readdirSync(join(root, QUARANTINE_DIR, STAMP)).sort(), ['IMG_7.json', 'IMG_8.json', 'IMG_9.json', 'manifest.json']);
  } finally {
    removeTree(root);
  }
});

test('the earlier tool\'s disaster: timestamp names, bursts, nested folders and upper-case extensions are never orphans', async () => {
  const spec: Record<string, TreeNode> = {};
  const stems: string[] = [];
  for (let i = 0; i < 283; i++) {
    const sec = String(i % 60).padStart(2, '0');
    const min = String(Math.floor(i / 60)).padStart(2, '0');
    const folder = i % 3 === 0 ? '' : i % 3 === 1 ? 'photos/2025-09-20/' : 'photos/2025-09-20/game 1/';
    const base = i % 7 === 0 ? `20250920_14${min}${sec}_00${i % 4}` : `20250920_14${min}${sec}`;
    const ext = i % 5 === 0 ? 'JPG' : i % 5 === 1 ? 'Jpeg' : 'jpg';
    stems.push(`${folder}${base}`);
    spec[`${folder}${base}.${ext}`] = FAKE_JPEG;
    spec[`${folder}${base}.json`] = small(`${base}.${ext}`);
    // The burst's first frame sits next to it without a sidecar: X_001.json is not X.jpg's.
    if (base.length > 15) spec[`${folder}${base.slice(0, 15)}.jpg`] = FAKE_JPEG;
  }
  spec['photos/2025-09-20/game_detection.json'] = { json: { success: true, games: [{ game_id: 1, photo_files: ['x.jpg'] }] } };
  spec['game_detection_report.json'] = { json: { sidecar_info: { operation_type: 'game_detection' }, data: { success: true, games: [] } } };
  const root = makeTree(spec);
  try {
    const report = await cleanup(root, { engine: 'inline', now: fixedClock });
    assert.equal(report.orphans, 0);
    assert.equal(report.removed, 0);
    assert.equal(report.sidecarFiles, 283); // reports and unrelated JSON are not sidecar files (README, Categories)
    assert.equal(existsSync(join(root, QUARANTINE_DIR)), false);

    // Now the images are moved away (an unmounted or reorganised photo folder): the guard trips.
    for (const [rel] of Object.entries(spec)) if (/\.(jpg|jpeg)$/i.test(rel) && rel.startsWith('photos/')) unlinkSync(join(root, rel));
    const before = snapshot(root);
    await rejectsWith(cleanup(root, { engine: 'inline' }), 'GUARD', /^refusing to remove 188 of 283 sidecars \(66.4 %\) — more than 20 %/);
    assert.deepEqual(snapshot(root), before);
    assert.ok(existsSync(join(root, 'photos/2025-09-20/game_detection.json')));
  } finally {
    removeTree(root);
  }
});

test('a tree with sidecars but no image at all trips the guard even under 20 %', async () => {
  const spec: Record<string, TreeNode> = { 'photos/IMG_1.json': small('IMG_1.jpg') };
  for (let i = 0; i < 6; i++) spec[`photos/other_${i}.json`] = { json: { unrelated: i } };
  const root = makeTree(spec);
  try {
    const forcedDry = await cleanup(root, { engine: 'inline', force: true, dryRun: true });
    assert.equal(forcedDry.orphans, 1);
    // Unrelated JSON is not a sidecar file: the one orphan is 100 % of the sidecar files. The
    // no-image rule still speaks first, with the clearer message.
    assert.equal(forcedDry.sidecarFiles, 1);
    await rejectsWith(cleanup(root, { engine: 'inline' }), 'GUARD', /no images at all/);
    const dry = await cleanup(root, { engine: 'inline', dryRun: true });
    assert.match(dry.guard ?? '', /no images at all/);
    assert.deepEqual(dry.actions.map((a) => a.rel), ['photos/IMG_1.json']);
    assert.equal(forcedDry.guard, null, '--force: no refusal');
    assert.ok(existsSync(join(root, 'photos/IMG_1.json')));
  } finally {
    removeTree(root);
  }
});

test('an incomplete scan (a directory name that is not valid UTF-8) refuses to declare orphans', async () => {
  const root = libraryWithOrphans();
  try {
    const bad = Buffer.concat([Buffer.from(root + '/photos/'), Buffer.from([0x66, 0xff])]);
    mkdirSync(bad);
    writeFileSync(Buffer.concat([bad, Buffer.from('/IMG_9.jpg')]), FAKE_JPEG);
    const before = snapshot(join(root, 'photos/sub'));
    await rejectsWith(cleanup(root, { engine: 'inline', dryRun: true }), 'INCOMPLETE_SCAN');
    await rejectsWith(cleanup(root, { engine: 'inline', force: true }), 'INCOMPLETE_SCAN');
    await rejectsWith(cleanup(root, { engine: 'inline', force: true, delete: true }), 'INCOMPLETE_SCAN');
    assert.ok(existsSync(join(root, 'photos/gone.json')));
    assert.deepEqual(snapshot(join(root, 'photos/sub')), before);
    assert.equal(existsSync(join(root, QUARANTINE_DIR)), false);
  } finally {
    removeTree(root);
  }
});

test('a file replaced or changed between plan and move is left alone and reported', async () => {
  const root = libraryWithOrphans();
  const elsewhere = tempDir();
  try {
    writeFileSync(join(elsewhere, 'victim.json'), 'outside the root');
    // The clock is read after the plan and guard, right before acting: swap files in there.
    const now = () => {
      unlinkSync(join(root, 'photos/gone.json'));
      symlinkSync(join(elsewhere, 'victim.json'), join(root, 'photos/gone.json'));
      writeFileSync(join(root, 'photos/sub/deep/lost.bin'), 'rewritten meanwhile, different size');
      return NOW;
    };
    const report = await cleanup(root, { engine: 'inline', now });
    assert.equal(report.removed, 0);
    assert.deepEqual(report.skipped.map((s) => [s.rel, s.code]), [
      ['photos/gone.json', 'CONFLICT'],
      ['photos/sub/deep/lost.bin', 'CONFLICT'],
    ]);
    assert.ok(lstatSync(join(root, 'photos/gone.json')).isSymbolicLink());
    assert.equal(readFileSync(join(elsewhere, 'victim.json'), 'utf8'), 'outside the root');
    assert.equal(readFileSync(join(root, 'photos/sub/deep/lost.bin'), 'utf8'), 'rewritten meanwhile, different size');
    // Nothing moved: no quarantine folder is left (its manifest listed nothing to restore).
    assert.equal(report.quarantine, null);
    assert.equal(existsSync(join(root, QUARANTINE_DIR, STAMP)), false);
  } finally {
    removeTree(root);
    removeTree(elsewhere);
  }
});

test('an orphan whose image arrived after the scan (an mv finishing, a new photo) is no orphan any more: neither deleted nor quarantined (--delete removed it for good: the image read nothing)', async () => {
  for (const mode of ['delete', 'quarantine'] as const) {
    const root = libraryWithOrphans();
    try {
      const before = readFileSync(join(root, 'photos/gone.json'));
      // The clock is read after the plan and guard, right before acting: the image lands there.
      const now = () => {
        writeFileSync(join(root, 'photos/gone.jpg'), FAKE_JPEG);
        return NOW;
      };
      const report = await cleanup(root, { engine: 'inline', now, delete: mode === 'delete' });
      assert.deepEqual(report.skipped.map((s) => [s.rel, s.code]), [['photos/gone.json', 'CONFLICT']], mode);
      assert.match(report.skipped[0]!.reason, /gone\.jpg claims it now/, mode);
      assert.equal(report.removed, 1, `${mode}: the other orphan goes as planned`);
      assert.deepEqual(readFileSync(join(root, 'photos/gone.json')), before, mode);
      assert.ok((await readSidecar(join(root, 'photos/gone.jpg'))) !== null, mode);
    } finally {
      removeTree(root);
    }
  }
});

test('a stem file a JPEG left behind beside its RAW is that JPEG\'s again once the JPEG is back before the move: neither deleted nor quarantined; a folder named like an image claims no orphan (it stayed for good)', async () => {
  for (const mode of ['delete', 'quarantine'] as const) {
    const root = makeTree({ 'k/K.jpg': FAKE_JPEG, 'k/K.json': small('K.jpg'), 'k/L.jpg': FAKE_JPEG, 'k/L.json': small('L.jpg') });
    const outside = tempDir();
    try {
      mkdirSync(join(root, 'a'));
      writeFileSync(join(root, 'a/IMG_1.jpg'), FAKE_JPEG);
      await saveSidecar(join(root, 'a/IMG_1.jpg'), 'face_detection', { faces: [{ score: 0.9 }] }, { format: 'bin' }); // a/IMG_1.bin, recorded for the JPEG
      writeFileSync(join(root, 'a/IMG_1.CR2'), 'raw');
      await saveSidecar(join(root, 'a/IMG_1.CR2'), 'yolov8', { objects: [] }, { format: 'bin' }); // a/IMG_1.CR2.bin
      renameSync(join(root, 'a/IMG_1.jpg'), join(outside, 'IMG_1.jpg')); // moved away with a plain mv
      // A folder named like an image beside a plain orphan: folders are never images.
      mkdirSync(join(root, 'k/M.jpg'));
      writeFileSync(join(root, 'k/M.json'), JSON.stringify(sidecarData('M.jpg', 1, 8)));
      const now = () => {
        renameSync(join(outside, 'IMG_1.jpg'), join(root, 'a/IMG_1.jpg')); // back before the move
        return NOW;
      };
      const report = await cleanup(root, { engine: 'inline', now, delete: mode === 'delete', force: true });
      assert.deepEqual(report.skipped.map((s) => [s.rel, s.code]), [['a/IMG_1.bin', 'CONFLICT']], mode);
      assert.match(report.skipped[0]!.reason, /IMG_1\.jpg claims it now/, mode);
      assert.equal(existsSync(join(root, 'k/M.json')), false, `${mode}: the orphan beside a folder named M.jpg goes`);
      assert.deepEqual(((await readSidecar(join(root, 'a/IMG_1.jpg'))) as { face_detection: unknown }).face_detection, { faces: [{ score: 0.9 }] }, mode);
    } finally {
      removeTree(root);
      removeTree(outside);
    }
  }
});

test('a quarantine folder that is a symlink out of the root is refused', async () => {
  const root = libraryWithOrphans();
  const elsewhere = tempDir();
  try {
    symlinkSync(elsewhere, join(root, QUARANTINE_DIR));
    await rejectsWith(cleanup(root, { engine: 'inline', now: fixedClock }), 'OUTSIDE_ROOT');
    assert.deepEqual(readdirSync(elsewhere), []);
    assert.ok(existsSync(join(root, 'photos/gone.json')));
  } finally {
    removeTree(root);
    removeTree(elsewhere);
  }
});

test('a parent directory swapped for a symlink before the move is refused', async () => {
  const root = libraryWithOrphans();
  const elsewhere = tempDir();
  try {
    const now = () => {
      // photos/sub/deep → outside; the same name now leads out of the root.
      renameSync(join(root, 'photos/sub/deep'), join(elsewhere, 'deep'));
      symlinkSync(join(elsewhere, 'deep'), join(root, 'photos/sub/deep'));
      return NOW;
    };
    const report = await cleanup(root, { engine: 'inline', now });
    assert.deepEqual(report.skipped.map((s) => [s.rel, s.code]), [['photos/sub/deep/lost.bin', 'OUTSIDE_ROOT']]);
    assert.ok(existsSync(join(elsewhere, 'deep/lost.bin')), 'the file outside the root stays where it is');
    assert.equal(report.removed, 1);
  } finally {
    removeTree(root);
    removeTree(elsewhere);
  }
});

test('a save into an orphan whose image just appeared is never undone by the cleanup moving it (the move holds the lock a save takes)', async () => {
  const root = libraryWithOrphans();
  const gone = join(root, 'photos', 'gone.json');
  const realLink = fsp.link;
  let save: Promise<unknown> | null = null;
  // The image of photos/gone.json appears, and the pipeline saves its result, while cleanup is
  // moving the file: after the link into the quarantine, before the unlink of the original.
  (fsp as { link: typeof fsp.link }).link = async (src, dest) => {
    await realLink(src, dest);
    if (save === null && String(src) === gone) {
      writeFileSync(join(root, 'photos', 'gone.jpg'), FAKE_JPEG);
      save = saveSidecar(join(root, 'photos', 'gone.jpg'), 'yolov8', { success: true, objects: [] });
      save.catch(() => undefined);
      await Promise.race([save, new Promise((r) => setTimeout(r, 500))]);
    }
  };
  syncBuiltinESMExports();
  try {
    const r = await cleanup(root, { now: fixedClock });
    assert.ok(save !== null, 'the move of gone.json was not seen');
    await save;
    assert.ok(r.actions.some((a) => a.rel === 'photos/gone.json'));
    // The save reported success: its result is in the library (not removed with the orphan).
    const data = (await readSidecar(join(root, 'photos', 'gone.jpg'))) as Record<string, unknown>;
    assert.ok(data.yolov8 !== undefined, 'the saved result was removed by the cleanup');
    assert.deepEqual(readdirSync(join(root, 'photos')).filter((n) => n.includes('isc-')), [], 'a lock or temp file was left');
  } finally {
    (fsp as { link: typeof fsp.link }).link = realLink;
    syncBuiltinESMExports();
    removeTree(root);
  }
});

test('cleanup and resolve leave alone a file another image\'s sidecar link reads (quarantined, the link dangled: that image\'s reads failed, and every later cleanup stopped)', async () => {
  const root = makeTree({ 'd1/I1.jpg': FAKE_JPEG, 'd1/I1.json': { json: sidecarData('I1.jpg') }, 'd1/Z.json': { json: { ...sidecarData('Z.jpg'), op: 'what M reads' } }, 'x/M.jpg': FAKE_JPEG });
  try {
    symlinkSync('../d1/Z.json', join(root, 'x/M.json'));
    const c = await cleanup(root, { engine: 'inline', force: true, index: false });
    assert.equal(c.removed, 0);
    assert.deepEqual(c.linkRead, [{ rel: 'd1/Z.json', link: join(root, 'x/M.json') }]);
    assert.equal((await readSidecar(join(root, 'x/M.jpg'))).op, 'what M reads');

    // resolve: the copy it would quarantine is what the link reads.
    writeFileSync(join(root, 'd1/I1.jpg.json'), JSON.stringify({ ...sidecarData('I1.jpg'), op: 'newer' }));
    const old = new Date('2025-01-01T00:00:00Z');
    utimesSync(join(root, 'd1/I1.json'), old, old); // the older copy: the one resolve quarantines
    symlinkSync('../d1/I1.json', join(root, 'x/N.json'));
    writeFileSync(join(root, 'x/N.jpg'), FAKE_JPEG);
    const before = (await readSidecar(join(root, 'x/N.jpg')));
    const { resolveConflicts } = await import('../src/ops/resolve.js');
    const r = await resolveConflicts(root, { engine: 'inline', index: false });
    assert.ok(r.skipped.some((s) => /sidecar link .*x\/N\.json reads this file/.test(s.reason)), JSON.stringify(r.skipped));
    assert.ok(existsSync(join(root, 'd1/I1.json')), 'the file N.json reads was quarantined');
    assert.deepEqual(await readSidecar(join(root, 'x/N.jpg')), before);
  } finally {
    removeTree(root);
  }
});

test('cleanup leaves a sidecar without an image encrypted under a key not given (whose it is, and whether relink puts it back, is inside it): --delete removed it for good when its image had only moved', async () => {
  const { keyFromBytes } = await import('../src/crypto/keys.js');
  const keyring = { keys: [keyFromBytes(Buffer.alloc(32, 0x5c))], encryptWith: 0 };
  const tree: Record<string, TreeNode> = { 'b/keep.txt': 'b' };
  for (let i = 0; i < 10; i++) {
    tree[`a/IMG_${i}.jpg`] = FAKE_JPEG;
    tree[`a/IMG_${i}.json`] = { json: sidecarData(`IMG_${i}.jpg`) };
  }
  const root = makeTree(tree);
  try {
    // E.jpg's results, encrypted, saved while it was in a/; then E.jpg moved to b/ without them.
    writeFileSync(join(root, 'a/E.jpg'), FAKE_JPEG);
    await saveSidecar(join(root, 'a/E.jpg'), 'face_detection', { faces: [] }, { keyring, format: 'bin' });
    renameSync(join(root, 'a/E.jpg'), join(root, 'b/E.jpg'));
    // With the key it is read: its image moved (relink's to re-attach), no orphan to remove either.
    const withKey = await cleanup(root, { engine: 'inline', index: false, keyring, dryRun: true });
    assert.deepEqual([withKey.encryptedLeft, withKey.relinkable, withKey.actions], [0, 1, []]);
    for (const del of [false, true]) {
      const r = await cleanup(root, { engine: 'inline', index: false, delete: del, now: fixedClock });
      assert.equal(r.removed, 0, JSON.stringify(r.actions));
      assert.equal(r.encryptedLeft, 1);
      assert.ok(existsSync(join(root, 'a/E.bin')), `delete=${del}: the encrypted file was removed`);
    }
  } finally {
    removeTree(root);
  }
});

test('cleanup --delete and the dry run leave in place a file another image\'s sidecar link reads, as the quarantine did (deleted for good, the link dangled; the dry run listed it for removal); it is no orphan, and no finding', async () => {
  const tree: Record<string, TreeNode> = { 'd1/other.jpg': FAKE_JPEG, 'd1/other.json': { json: sidecarData('other.jpg') }, 'd1/Z.json': { json: { ...sidecarData('Z.jpg'), op: 'what M reads' } }, 'x/M.jpg': FAKE_JPEG };
  for (let i = 0; i < 20; i++) {
    tree[`x/IMG_${i}.jpg`] = FAKE_JPEG;
    tree[`x/IMG_${i}.json`] = { json: sidecarData(`IMG_${i}.jpg`) };
  }
  const root = makeTree(tree);
  try {
    symlinkSync('../d1/Z.json', join(root, 'x/M.json'));
    for (const opts of [{ dryRun: true }, { delete: true }, {}]) {
      const r = await cleanup(root, { engine: 'inline', index: false, now: fixedClock, ...opts });
      assert.deepEqual(r.actions, [], JSON.stringify(opts));
      assert.equal(r.removed, 0);
      assert.deepEqual([r.skipped, r.linkRead], [[], [{ rel: 'd1/Z.json', link: join(root, 'x/M.json') }]], JSON.stringify(opts));
      assert.equal((await readSidecar(join(root, 'x/M.jpg'))).op, 'what M reads', JSON.stringify(opts));
    }
  } finally {
    removeTree(root);
  }
});

test('a file where the quarantine folder goes is named as such, in the dry run too (a name inside it failed with ENOTDIR)', async () => {
  const root = libraryWithOrphans();
  try {
    writeFileSync(join(root, QUARANTINE_DIR), 'not a folder');
    for (const dryRun of [true, false]) {
      await assert.rejects(cleanup(root, { engine: 'inline', dryRun, index: false }), (e: unknown) => isSidecarError(e) && e.code === 'NOT_A_DIRECTORY' && /\.image-sidecar-quarantine is a file, not the quarantine folder/.test(e.message));
    }
    // resolve's quarantine too (it said OUTSIDE_ROOT).
    const { resolveConflicts } = await import('../src/ops/resolve.js');
    writeFileSync(join(root, 'photos/IMG_1.jpg.json'), JSON.stringify(sidecarData('IMG_1.jpg')));
    await assert.rejects(resolveConflicts(root, { engine: 'inline', index: false }), (e: unknown) => isSidecarError(e) && e.code === 'NOT_A_DIRECTORY');
    // A link in its place (planted): refused as the real run refuses it, in the dry run too (it planned moves into it).
    unlinkSync(join(root, QUARANTINE_DIR));
    symlinkSync(join(root, 'nowhere'), join(root, QUARANTINE_DIR));
    for (const dryRun of [true, false]) await rejectsWith(cleanup(root, { engine: 'inline', dryRun, index: false }), 'OUTSIDE_ROOT');
    assert.ok(existsSync(join(root, 'photos/gone.json')));
  } finally {
    removeTree(root);
  }
});
