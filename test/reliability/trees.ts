/**
 * Hostile trees that run in-process: names that are not UTF-8, a directory where a sidecar file
 * is expected, symlink loops, a directory symlink leading outside the root, names with
 * newlines, a big folder, files deleted or replaced while a scan runs, and the cleanup guard.
 * The cases that need another process (another user, a private mount namespace, a hang guard)
 * are in trees-special.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeSidecar, deepEqualJson } from '../../src/formats/codec.js';
import { readSidecar, readSidecarDetailed } from '../../src/ops/read.js';
import { saveSidecar } from '../../src/ops/save.js';
import { convert } from '../../src/ops/convert.js';
import { cleanup } from '../../src/ops/cleanup.js';
import { findOrphans } from '../../src/ops/orphans.js';
import { QUARANTINE_DIR } from '../../src/discovery/own-folders.js';
import { InlineRuntime } from '../../src/engine/inline.js';
import type { TaskName, TaskItem, TaskOptions, TaskResult } from '../../src/tasks/index.js';
import { Rng } from '../../src/sample/prng.js';
import { sampleSidecar } from '../../src/sample/shapes.js';
import type { JsonObject } from '../../src/types.js';
import { freshDir, removeDir, snapshotTree } from './fs-util.js';
import { check, checkNothingLost, errorCode, healthyPairs, rawPath, recordsFor, scanAll, SMALL_SIDECAR, type TreeCase } from './tree-kit.js';

const json = (d: JsonObject) => encodeSidecar(d, 'json');

// ---------------------------------------------------------------------------------------------

const nonUtf8Names: TreeCase = {
  id: 'non-utf8',
  title: 'names that are not valid UTF-8 (files and a folder)',
  standsFor: 'files and folders we cannot address by name (an unreadable file or folder)',
  async run(row, root) {
    const dir = path.join(root, 'photos');
    healthyPairs(dir, 20);
    fs.writeFileSync(rawPath(dir, [0xff, 0xfe], 'IMG.jpg'), 'jpeg');
    fs.writeFileSync(rawPath(dir, [0xff, 0xfe], 'IMG.json'), json(SMALL_SIDECAR));
    fs.writeFileSync(rawPath(dir, 'lost', [0xc3, 0x28], '.json'), json(SMALL_SIDECAR)); // no image: would look orphaned
    const badDir = rawPath(dir, 'folder', [0xe9]);
    fs.mkdirSync(badDir);
    fs.writeFileSync(Buffer.concat([badDir, Buffer.from('/IMG_X.jpg')]), 'jpeg');
    fs.writeFileSync(Buffer.concat([badDir, Buffer.from('/ORPHAN.json')]), json(SMALL_SIDECAR));
    const before = snapshotTree(root);

    const { records, summary } = await scanAll(root);
    check(row, !summary.complete, 'scan claims to be complete although three names and a folder cannot be addressed');
    const unreadable = records.filter((r) => r.category === 'unreadable').length;
    check(row, unreadable >= 3, `expected the three unaddressable files as unreadable records, got ${unreadable}`);
    check(row, summary.problems.some((p) => p.path.includes('folder')), `the unaddressable folder is not among the problems: ${JSON.stringify(summary.problems)}`);
    check(row, records.every((r) => r.category !== 'orphan'), 'an orphan was declared in an incomplete scan');
    check(row, (await errorCode(() => findOrphans(root, { engine: 'inline' }))) === 'INCOMPLETE_SCAN', 'findOrphans did not refuse');
    check(row, (await errorCode(() => cleanup(root, { engine: 'inline', force: true }))) === 'INCOMPLETE_SCAN', 'cleanup did not refuse');
    const conv = await convert(root, 'bin', { engine: 'inline' });
    check(row, conv.scanComplete === false, 'convert did not report the incomplete scan');
    check(row, conv.converted === 20, `convert converted ${conv.converted} of the 20 addressable sidecars`);
    checkNothingLost(row, before, root, (rel) => /^photos\/OK_\d+\.json$/.test(rel));
  },
};

const directoryAsSidecar: TreeCase = {
  id: 'dir-as-file',
  title: 'a directory where a sidecar file is expected',
  standsFor: 'an unreadable sidecar file (reading it fails with EISDIR, also for root)',
  async run(row, root) {
    const dir = path.join(root, 'photos');
    healthyPairs(dir, 10);
    fs.writeFileSync(path.join(dir, 'IMG_D.jpg'), 'jpeg');
    fs.mkdirSync(path.join(dir, 'IMG_D.json'));
    fs.writeFileSync(path.join(dir, 'IMG_D.json', 'inside.txt'), 'user file');
    const before = snapshotTree(root);

    const { records } = await scanAll(root);
    check(row, records.every((r) => r.category !== 'orphan'), 'an orphan was declared');
    // A clear error: the image's sidecar is out of reach, never "none" (docs/PAIRING.md §1).
    const read = await errorCode(() => readSidecar(path.join(dir, 'IMG_D.jpg')));
    check(row, read === 'IO', `reading the image: ${read}, expected IO (its sidecar slot holds a directory)`);
    await cleanup(root, { engine: 'inline' }).catch(() => undefined);
    await convert(root, 'bin', { engine: 'inline' });
    checkNothingLost(row, before, root, (rel) => /^photos\/OK_\d+\.json$/.test(rel));
  },
};

/** The spec's expectation for the same tree: the blocked sidecar slot is reported, the scan incomplete. */
const directoryAsSidecarReported: TreeCase = {
  id: 'dir-as-file-reported',
  title: 'a directory where a sidecar file is expected is reported as unreadable',
  standsFor: 'an unreadable sidecar file',
  async run(row, root) {
    const dir = path.join(root, 'photos');
    healthyPairs(dir, 3);
    fs.writeFileSync(path.join(dir, 'IMG_D.jpg'), 'jpeg');
    fs.mkdirSync(path.join(dir, 'IMG_D.json'));
    const { records, summary } = await scanAll(root);
    const rec = recordsFor(records, path.join(dir, 'IMG_D.jpg'))[0];
    check(row, rec?.category === 'unreadable', `IMG_D.jpg is "${rec?.category}", expected "unreadable" (its sidecar slot holds a directory)`);
    check(row, !summary.complete, 'the scan claims to be complete');
  },
};

// ---------------------------------------------------------------------------------------------

const symlinkLoops: TreeCase = {
  id: 'symlink-loops',
  title: 'symlink loops (directory and image links)',
  async run(row, root) {
    const dir = path.join(root, 'games', 'Game1');
    healthyPairs(path.join(root, 'photos'), 10);
    fs.mkdirSync(dir, { recursive: true });
    fs.symlinkSync('.', path.join(dir, 'loop')); // directory loop
    fs.symlinkSync('../..', path.join(dir, 'up')); // back to the root
    fs.symlinkSync('b.jpg', path.join(dir, 'a.jpg'));
    fs.symlinkSync('a.jpg', path.join(dir, 'b.jpg'));
    fs.symlinkSync('self.jpg', path.join(dir, 'self.jpg'));
    fs.writeFileSync(path.join(dir, 'a.json'), json({ face_detection: { success: true, faces: [], note: 'link side' } }));
    const before = snapshotTree(root);

    const { records, summary } = await scanAll(root);
    check(row, summary.directories === 4, `the walk entered ${summary.directories} directories, expected 4 (root, photos, games, games/Game1): links were followed`);
    const loopImages = records.filter((r) => r.images.some((i) => /\/(a|b|self)\.jpg$/.test(i.path)));
    check(row, loopImages.length >= 1 && loopImages.every((r) => r.category === 'broken-symlink'), `looping image links: ${loopImages.map((r) => r.category).join(', ')}`);
    check(row, records.every((r) => r.category !== 'orphan'), 'a.json (next to a looping link) was declared an orphan');
    const read = await readSidecarDetailed(path.join(dir, 'a.jpg'));
    check(row, read.location.broken && read.findings.some((f) => f.code === 'broken-symlink'), 'reading a looping link does not say it is broken');
    check(row, (await errorCode(() => saveSidecar(path.join(dir, 'a.jpg'), 'yolov8', {}))) === 'NOT_FOUND', 'saving through a looping link did not refuse');
    await cleanup(root, { engine: 'inline' });
    await convert(root, 'bin', { engine: 'inline' });
    checkNothingLost(row, before, root, (rel) => /^photos\/OK_\d+\.json$/.test(rel));
  },
};

const outsideRoot: TreeCase = {
  id: 'outside-root',
  title: 'a directory symlink and an image link pointing outside the root',
  async run(row, root) {
    const outside = freshDir('outside');
    try {
      healthyPairs(outside, 3, 'EXT');
      fs.writeFileSync(path.join(outside, 'ORPHAN_OUT.json'), json(SMALL_SIDECAR));
      fs.writeFileSync(path.join(outside, 'IMG_O.jpg'), 'jpeg');
      fs.writeFileSync(path.join(outside, 'IMG_O.json'), json({ face_detection: { success: true, faces: [], where: 'outside' } }));
      const lib = path.join(root, 'lib');
      healthyPairs(path.join(lib, 'photos'), 10);
      fs.symlinkSync(outside, path.join(lib, 'external')); // a folder link out of the root
      fs.mkdirSync(path.join(lib, 'games'));
      fs.symlinkSync(path.join(outside, 'IMG_O.jpg'), path.join(lib, 'games', 'IMG_O.jpg'));
      const outsideBefore = snapshotTree(outside);

      const { records } = await scanAll(lib);
      check(row, records.every((r) => r.sidecars.every((s) => s.side === 'target' || !s.path.startsWith(outside))), 'the walk listed files outside the root');
      const linked = recordsFor(records, path.join(lib, 'games', 'IMG_O.jpg'))[0];
      check(row, linked?.findings.some((f) => f.code === 'outside-root') === true, 'the outside image link is not flagged outside-root');
      check(row, deepEqualJson((await readSidecar(path.join(lib, 'games', 'IMG_O.jpg'))).face_detection ?? null, { success: true, faces: [], where: 'outside' }), 'reading through the link did not find the target-side sidecar');
      await convert(lib, 'bin', { engine: 'inline' });
      await cleanup(lib, { engine: 'inline', force: true });
      checkNothingLost(row, outsideBefore, outside);
    } finally {
      removeDir(outside);
    }
  },
};

// ---------------------------------------------------------------------------------------------

const oddNames: TreeCase = {
  id: 'odd-names',
  title: 'names with newlines, tabs, CR, backslashes, NFD/NFC and emoji',
  async run(row, root, opts) {
    const dir = path.join(root, 'photos');
    healthyPairs(dir, 4);
    const rng = new Rng(opts.seed);
    const pairs: [string, string][] = [
      ['IMG\n1.jpg', 'IMG\n1.json'],
      ['a\tb\rc.jpg', 'a\tb\rc.json'],
      ['back\\slash.jpg', 'back\\slash.json'],
      ['caf\u0065\u0301.jpg', 'caf\u00e9.json'], // image NFD, sidecar NFC (a macOS copy)
      ['🎉 party.png', '🎉 party.json'],
      ['-rf .jpg', '-rf .json'],
    ];
    const data = new Map<string, JsonObject>();
    for (const [img, sc] of pairs) {
      fs.writeFileSync(path.join(dir, img), 'jpeg');
      const d = sampleSidecar(rng.fork(), { faces: 1 });
      data.set(img, d);
      fs.writeFileSync(path.join(dir, sc), json(d));
    }
    const { records, summary } = await scanAll(root);
    check(row, summary.complete, `scan incomplete: ${JSON.stringify(summary.problems)}`);
    check(row, records.every((r) => r.category === 'ok'), `categories: ${records.filter((r) => r.category !== 'ok').map((r) => `${r.category}:${JSON.stringify(r.images[0]?.name ?? r.sidecars[0]?.name)}`).join(', ')}`);
    const conv = await convert(root, 'bin', { engine: 'inline' });
    check(row, conv.failed === 0 && conv.converted === pairs.length + 4, `convert: ${conv.converted} converted, ${conv.failed} failed`);
    for (const [img] of pairs) {
      const p = path.join(dir, img);
      const back = await readSidecar(p).catch(() => null);
      check(row, back !== null && deepEqualJson(back, data.get(img)!), `${JSON.stringify(img)}: data changed through convert`);
      if (back === null || !deepEqualJson(back, data.get(img)!)) row.recordsLost++;
      check(row, (await errorCode(() => saveSidecar(p, 'yolov8', { success: true }))) === 'OK', `${JSON.stringify(img)}: save failed`);
    }
    check(row, (await cleanup(root, { engine: 'inline' })).orphans === 0, 'cleanup found orphans among odd names');
  },
};

// ---------------------------------------------------------------------------------------------

const bigFolder: TreeCase = {
  id: 'big-folder',
  title: 'one folder with many files (scan, orphans, quarantine)',
  async run(row, root, opts) {
    const dir = path.join(root, 'photos');
    fs.mkdirSync(dir);
    const total = opts.bigFolderFiles;
    const orphans = Math.floor(total * 0.04);
    const pairs = Math.floor((total - orphans) / 2);
    const jsonBytes = json(SMALL_SIDECAR);
    const binBytes = encodeSidecar(SMALL_SIDECAR, 'bin');
    for (let i = 0; i < pairs; i++) {
      const stem = `20250920_${String(i).padStart(6, '0')}`;
      fs.writeFileSync(path.join(dir, `${stem}.jpg`), 'jpeg');
      fs.writeFileSync(path.join(dir, `${stem}.${i % 2 ? 'bin' : 'json'}`), i % 2 ? binBytes : jsonBytes);
    }
    for (let i = 0; i < orphans; i++) fs.writeFileSync(path.join(dir, `20250920_${String(i).padStart(6, '0')}_001.json`), jsonBytes);
    row.notes.push(`${pairs * 2 + orphans} files in one folder`);
    const before = snapshotTree(root);

    const t0 = performance.now();
    const { summary } = await scanAll(root, { engine: 'auto' });
    row.notes.push(`scan took ${Math.round(performance.now() - t0)} ms (${summary.engine.kind}, ${summary.engine.workers} workers)`);
    check(row, summary.complete, 'scan incomplete');
    check(row, summary.counts.ok === pairs, `ok ${summary.counts.ok}, expected ${pairs}`);
    check(row, summary.counts.orphan === orphans, `orphans ${summary.counts.orphan}, expected ${orphans}`);
    check(row, summary.filesScanned === pairs * 2 + orphans, `files scanned ${summary.filesScanned}`);

    const report = await cleanup(root);
    check(row, report.removed === orphans && report.skipped.length === 0, `cleanup moved ${report.removed} of ${orphans} orphans (${report.skipped.length} skipped)`);
    // Every orphan is in the quarantine byte for byte; nothing else moved.
    const quarantined = report.quarantine === null ? [] : fs.readdirSync(path.join(report.quarantine, 'photos'));
    check(row, quarantined.length === orphans, `${quarantined.length} files in the quarantine`);
    checkNothingLost(row, before, root, (rel) => /_001\.json$/.test(rel) || rel.startsWith(QUARANTINE_DIR));
    for (const name of quarantined) {
      if (!fs.readFileSync(path.join(report.quarantine!, 'photos', name)).equals(jsonBytes)) {
        row.recordsLost++;
        check(row, false, `quarantined ${name} differs from the original`);
      }
    }
  },
};

// ---------------------------------------------------------------------------------------------

/**
 * Between listing a folder and reading its sidecars, another process deletes some, replaces
 * others (new content, a directory) and deletes an image. A runtime wrapper does that right
 * before the first inspection batch runs, so the race is hit every time.
 */
const changedDuringScan: TreeCase = {
  id: 'changed-during-scan',
  title: 'files deleted or replaced while a scan runs',
  async run(row, root) {
    const dir = path.join(root, 'photos');
    healthyPairs(dir, 100, 'IMG');
    const replacement = { face_detection: { success: true, faces: [], replaced: true } };
    const inline = new InlineRuntime();
    let mutated = false;
    const runtime = {
      kind: 'inline' as const,
      workers: 1,
      run<N extends TaskName>(task: N, items: readonly TaskItem<N>[], options: TaskOptions<N>): Promise<TaskResult<N>[]> {
        if (!mutated) {
          mutated = true;
          for (let i = 10; i < 20; i++) fs.unlinkSync(path.join(dir, `IMG_${i}.json`));
          for (let i = 20; i < 30; i++) {
            const tmp = path.join(dir, `.new_${i}`);
            fs.writeFileSync(tmp, json(replacement));
            fs.renameSync(tmp, path.join(dir, `IMG_${i}.json`));
          }
          fs.unlinkSync(path.join(dir, 'IMG_30.json'));
          fs.mkdirSync(path.join(dir, 'IMG_30.json'));
          fs.unlinkSync(path.join(dir, 'IMG_40.jpg'));
        }
        return inline.run(task, items, options);
      },
      close: () => inline.close(),
    };
    const { records, summary } = await scanAll(root, { runtime, inspect: { keepData: true } });
    const cat = (i: number) => recordsFor(records, path.join(dir, `IMG_${i}.jpg`))[0]?.category;
    check(row, mutated, 'the scan never inspected anything');
    for (let i = 10; i < 20; i++) check(row, cat(i) === 'unreadable', `IMG_${i}: sidecar deleted mid-scan is "${cat(i)}", expected unreadable`);
    for (let i = 20; i < 30; i++) {
      const rec = recordsFor(records, path.join(dir, `IMG_${i}.jpg`))[0];
      check(row, rec?.category === 'ok' && deepEqualJson(rec.effective?.inspection.data ?? null, replacement), `IMG_${i}: replaced sidecar not read whole (${rec?.category})`);
    }
    check(row, cat(30) === 'unreadable', `IMG_30: sidecar replaced by a directory is "${cat(30)}", expected unreadable`);
    check(row, !summary.complete, 'the scan claims to be complete');
    check(row, records.every((r) => r.category !== 'orphan'), 'an orphan was declared');
    check(row, records.length === 100, `${records.length} records for 100 listed images`);
  },
};

// ---------------------------------------------------------------------------------------------

const guardMissingImages: TreeCase = {
  id: 'guard-missing-images',
  title: 'cleanup guard: the images are missing (only sidecars left)',
  async run(row, root) {
    const dir = path.join(root, 'photos', '2025-09-20');
    fs.mkdirSync(dir, { recursive: true });
    for (let i = 0; i < 30; i++) fs.writeFileSync(path.join(dir, `20250920_1430${String(i).padStart(2, '0')}.json`), json(SMALL_SIDECAR));
    const before = snapshotTree(root);
    const code = await errorCode(() => cleanup(root, { engine: 'inline' }));
    check(row, code === 'GUARD', `cleanup gave ${code}, expected GUARD`);
    // A dry run lists the orphans and says the guard would refuse (it changes nothing either way).
    const dry = await cleanup(root, { engine: 'inline', dryRun: true });
    check(row, dry.guard !== null && /no images at all/.test(dry.guard) && dry.actions.length === 30, `cleanup --dry-run: guard ${dry.guard}, ${dry.actions.length} actions`);
    check(row, (await errorCode(() => cleanup(root, { engine: 'inline', delete: true }))) === 'GUARD', 'cleanup --delete did not trip the guard');
    checkNothingLost(row, before, root);
  },
};

const guardMostOrphaned: TreeCase = {
  id: 'guard-fraction',
  title: 'cleanup guard: most images of a folder are gone',
  async run(row, root) {
    const dir = path.join(root, 'photos');
    healthyPairs(dir, 10);
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(dir, `GONE_${i}.json`), json(SMALL_SIDECAR));
    const before = snapshotTree(root);
    check(row, (await errorCode(() => cleanup(root, { engine: 'inline' }))) === 'GUARD', 'cleanup of 20 of 30 sidecars did not trip the guard');
    checkNothingLost(row, before, root);
  },
};

const guardUnreadableImages: TreeCase = {
  id: 'guard-unreadable-images',
  title: 'cleanup guard: the images folder cannot be read',
  standsFor: 'an unreadable images folder (a folder name that is not UTF-8 cannot be entered)',
  async run(row, root) {
    healthyPairs(path.join(root, 'photos', 'ok'), 10);
    const images = rawPath(path.join(root, 'photos'), 'images', [0xff]);
    fs.mkdirSync(images);
    for (let i = 0; i < 5; i++) fs.writeFileSync(Buffer.concat([images, Buffer.from(`/IMG_${i}.jpg`)]), 'jpeg');
    // Sidecars that pair with nothing readable: orphans only if the unreadable folder is ignored.
    for (let i = 0; i < 2; i++) fs.writeFileSync(path.join(root, 'photos', 'ok', `LOST_${i}.json`), json(SMALL_SIDECAR));
    const before = snapshotTree(root);
    check(row, (await errorCode(() => cleanup(root, { engine: 'inline' }))) === 'INCOMPLETE_SCAN', 'cleanup did not refuse with INCOMPLETE_SCAN');
    checkNothingLost(row, before, root);
  },
};

const guardUnmounted: TreeCase = {
  id: 'guard-unmounted',
  title: 'cleanup with the originals folder unmounted (a dangling directory symlink)',
  standsFor: 'an unmounted images folder: the link to the NAS share dangles, game-folder links into it are broken',
  async run(row, root) {
    fs.mkdirSync(path.join(root, 'photos'));
    fs.symlinkSync('/nonexistent-isc-nas/2025-09-20', path.join(root, 'photos', '2025-09-20'));
    const game = path.join(root, 'games', 'Game1_20Sep2025_143000-160000');
    fs.mkdirSync(game, { recursive: true });
    for (let i = 0; i < 10; i++) {
      const name = `20250920_1430${String(i).padStart(2, '0')}`;
      fs.symlinkSync(`../../photos/2025-09-20/${name}.jpg`, path.join(game, `${name}.jpg`));
      fs.writeFileSync(path.join(game, `${name}.json`), json(SMALL_SIDECAR)); // link-side sidecars
    }
    fs.writeFileSync(path.join(game, 'game_detection.json'), json({ success: true, games: [], summary: {} }));
    const before = snapshotTree(root);
    const { records } = await scanAll(root);
    check(row, records.every((r) => r.category !== 'orphan'), 'sidecars next to broken links were declared orphans');
    check(row, records.filter((r) => r.category === 'broken-symlink').length === 10, 'the broken links are not reported as such');
    const code = await errorCode(() => cleanup(root, { engine: 'inline' }));
    const report = code === 'OK' ? await cleanup(root, { engine: 'inline', dryRun: true }) : null;
    check(row, code === 'GUARD' || code === 'INCOMPLETE_SCAN' || report?.orphans === 0, `cleanup: ${code} ${report ? `${report.orphans} orphans` : ''}`);
    checkNothingLost(row, before, root);
  },
};

export const IN_PROCESS_TREE_CASES: readonly TreeCase[] = [
  nonUtf8Names,
  directoryAsSidecar,
  directoryAsSidecarReported,
  symlinkLoops,
  outsideRoot,
  oddNames,
  bigFolder,
  changedDuringScan,
  guardMissingImages,
  guardMostOrphaned,
  guardUnreadableImages,
  guardUnmounted,
];
