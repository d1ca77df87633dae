/**
 * Images that share a stem (RAW+JPEG, Live Photos): the tree commands judge each image by the
 * sidecar a read of it takes (docs/PAIRING.md §3, §4), as todo and export do. Before, find, stale
 * and stats judged the pair by its one effective file (the pipeline's shared IMG_1.json): after the
 * JPEG and the RAW each saved faces into a file of their own, `find --where 'faces >= 1'` matched
 * neither image, stats counted 0 faces, and stale called neither image stale after both were edited.
 */
import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { exportSidecars } from '../src/ops/export.js';
import { find } from '../src/ops/find.js';
import { readSidecarDetailed, readSidecarPath } from '../src/ops/read.js';
import { scan } from '../src/ops/scan.js';
import { imageSidecars } from '../src/ops/common.js';
import { saveSidecar } from '../src/ops/save.js';
import { stats } from '../src/ops/stats.js';
import { staleSidecars } from '../src/ops/todo.js';
import { validate } from '../src/ops/validate.js';
import { putFile, testDir } from './helpers/tree.js';
import { keyFromBytes } from '../src/crypto/keys.js';
import type { Keyring } from '../src/types.js';

const faces = (n: number) => ({ success: true, faces: Array.from({ length: n }, (_, i) => ({ bbox: [i, 1, 2, 3], confidence: 0.9 })) });

/** An image at `rel` (its bytes name it), then `n` faces saved for it in `format`. */
async function imageWithFaces(root: string, rel: string, n: number, format: 'json' | 'bin'): Promise<void> {
  putFile(root, rel, `${rel} bytes`);
  await saveSidecar(join(root, rel), 'face_detection', faces(n), { format });
}

/**
 * a/: IMG_1.jpg and IMG_1.CR2 beside the pipeline's oldest IMG_1.json (faces: [], records no image);
 * the JPEG saved 1 face (IMG_1.jpg.bin), the RAW 1 face in json then 2 in bin (IMG_1.CR2.bin, its
 * IMG_1.CR2.json a kept copy). b/: a pair sharing one stem file recorded for the JPEG (3 faces): one
 * readable file, judged as one record as before.
 */
async function pairTree(root: string): Promise<void> {
  putFile(root, 'a/IMG_1.jpg', 'jpeg bytes');
  putFile(root, 'a/IMG_1.CR2', 'raw bytes');
  putFile(root, 'a/IMG_1.json', JSON.stringify({ face_detection: { faces: [] }, sidecar_info: { operation_type: 'face_detection' } }));
  await saveSidecar(join(root, 'a/IMG_1.jpg'), 'face_detection', faces(1), { format: 'bin' });
  await saveSidecar(join(root, 'a/IMG_1.CR2'), 'face_detection', faces(1), { format: 'json' });
  await saveSidecar(join(root, 'a/IMG_1.CR2'), 'face_detection', faces(2), { format: 'bin' });
  assert.deepEqual(readdirSync(join(root, 'a')).sort(), ['IMG_1.CR2', 'IMG_1.CR2.bin', 'IMG_1.CR2.json', 'IMG_1.jpg', 'IMG_1.jpg.bin', 'IMG_1.json']);
  await imageWithFaces(root, 'b/IMG_2.jpg', 3, 'json');
  putFile(root, 'b/IMG_2.CR2', 'raw bytes');
  assert.deepEqual(readdirSync(join(root, 'b')).sort(), ['IMG_2.CR2', 'IMG_2.jpg', 'IMG_2.json']);
}

/** What a read of each image takes: the reference the tree commands must agree with. */
async function readsOf(root: string, rels: string[]): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  for (const rel of rels) {
    const r = await readSidecarDetailed(join(root, rel));
    out[rel] = r.path === null ? null : r.path.slice(root.length + 1);
  }
  return out;
}

// Index off, then an index's first, second and third runs: every run gives the same answer.
const RUNS = [{ index: false as const }, ...[1, 2, 3].map(() => ({ index: {} }))];

describe('tree commands on images that share a stem: each image by the sidecar its read takes', () => {
  it('find matches each image by its own file (the shared file\'s 0 faces matched neither)', async (t) => {
    const root = testDir(t);
    await pairTree(root);
    assert.deepEqual(await readsOf(root, ['a/IMG_1.jpg', 'a/IMG_1.CR2']), { 'a/IMG_1.jpg': 'a/IMG_1.jpg.bin', 'a/IMG_1.CR2': 'a/IMG_1.CR2.bin' });
    for (const run of RUNS) {
      for (const engine of ['inline', 'threads'] as const) {
        const r = await find(root, { where: 'faces >= 1', engine, ...run });
        const got = Object.fromEntries(r.entries!.map((e) => [e.rel, [e.sidecar, e.summary.faces]]));
        // b/: the one shared file counts for both images of its pair, as before.
        assert.deepEqual(got, { 'a/IMG_1.CR2': ['a/IMG_1.CR2.bin', 2], 'a/IMG_1.jpg': ['a/IMG_1.jpg.bin', 1], 'b/IMG_2.CR2': ['b/IMG_2.json', 3], 'b/IMG_2.jpg': ['b/IMG_2.json', 3] }, `${engine} ${JSON.stringify(run)}`);
        assert.equal(r.examined, 3, 'IMG_1.jpg.bin, IMG_1.CR2.bin, IMG_2.json');
        const two = await find(root, { where: 'faces == 2', engine, ...run });
        assert.deepEqual(two.entries!.map((e) => e.rel), ['a/IMG_1.CR2']);
      }
    }
  });

  it('stats counts each image\'s own file once (faces 1 + 2 + 3; the shared unrecorded file is not an image\'s)', async (t) => {
    const root = testDir(t);
    await pairTree(root);
    for (const run of RUNS) {
      const s = await stats(root, { ...run, list: true });
      assert.equal(s.faces.total, 6, JSON.stringify(run));
      assert.equal(s.total_sidecars, 3);
      assert.equal(s.images_with_sidecar, 4);
      assert.deepEqual(s.operation_counts, { face_detection: 3 });
      assert.deepEqual(
        s.sidecars!.map((e) => [e.image, e.path, e.faces]),
        [['a/IMG_1.CR2', 'a/IMG_1.CR2.bin', 2], ['a/IMG_1.jpg', 'a/IMG_1.jpg.bin', 1], ['b/IMG_2.jpg', 'b/IMG_2.json', 3]],
      );
      // Every file is still a sidecar file (sidecar_files: the one count every command shares).
      assert.equal(s.sidecar_files, 5);
    }
    const filtered = await stats(root, { index: false, where: 'faces == 2' });
    assert.equal(filtered.images_with_sidecar, 1, 'only the RAW\'s own file has 2 faces');
  });

  it('stale compares each image with the record of its own file: the edited RAW is stale, the JPEG current', async (t) => {
    const root = testDir(t);
    await pairTree(root);
    const fresh = await staleSidecars(root, { index: false });
    assert.deepEqual(fresh.counts, { stale: 0, current: 3, unknown: 0 });
    appendFileSync(join(root, 'a/IMG_1.CR2'), ' edited');
    for (const run of RUNS) {
      const r = await staleSidecars(root, run);
      assert.deepEqual(r.entries!.map((e) => [e.rel, e.sidecar, e.changes.includes('size')]), [['a/IMG_1.CR2', 'a/IMG_1.CR2.bin', true]], JSON.stringify(run));
      assert.deepEqual(r.counts, { stale: 1, current: 2, unknown: 0 });
    }
    // stats' freshness counts agree: each image's own file against that image.
    const s = await stats(root, { index: false });
    assert.deepEqual(s.image_identity, { current: 2, stale: 1, unknown: 0 });
  });
});

describe('a symlinked image whose target is an image of its own group', () => {
  it('IMG_1.png -> IMG_1.jpg beside a RAW+JPEG pair: the pair\'s files are still inspected and counted (they were taken as the link target\'s, left to a record that was this one, and vanished)', async (t) => {
    const base = testDir(t);
    const root = join(base, 'lib');
    await imageWithFaces(root, 'IMG_1.jpg', 3, 'json');
    await imageWithFaces(root, 'IMG_1.CR2', 1, 'json');
    symlinkSync('IMG_1.jpg', join(root, 'IMG_1.png'));
    assert.deepEqual(readdirSync(root).sort(), ['IMG_1.CR2', 'IMG_1.CR2.json', 'IMG_1.jpg', 'IMG_1.json', 'IMG_1.png']);
    symlinkSync('lib', join(base, 'alias'));
    // The root as given and through a symlink; the index's first, second and third runs too.
    for (const at of [root, join(base, 'alias')]) {
      for (const run of RUNS) {
        const what = `${at} ${JSON.stringify(run)}`;
        const v = await validate(at, { ...run });
        assert.equal(v.total_files, 2, what);
        const f = await find(at, { where: 'faces >= 1', ...run });
        assert.deepEqual(f.entries!.map((e) => [e.rel, e.sidecar, e.summary.faces]), [['IMG_1.CR2', 'IMG_1.CR2.json', 1], ['IMG_1.jpg', 'IMG_1.json', 3]], what);
        const s = await stats(at, { ...run });
        assert.equal(s.sidecar_files, 2, what);
        assert.equal(s.faces.total, 4, what);
        // The link reads its target's file: covered, as its target is.
        assert.equal(s.images_with_sidecar, 3, what);
      }
    }
  });

  it('the link is found once, through its target, whatever its name sorts as and with or without a RAW beside', async (t) => {
    const root = testDir(t);
    // o/: the link sorts before its target; p/: no RAW (one readable file).
    for (const [dir, link, raw] of [['o', 'IMG_1.avif', true], ['p', 'IMG_1.png', false]] as const) {
      await imageWithFaces(root, `${dir}/IMG_1.jpg`, 3, 'json');
      if (raw) await imageWithFaces(root, `${dir}/IMG_1.CR2`, 1, 'json');
      symlinkSync('IMG_1.jpg', join(root, dir, link));
    }
    for (const run of RUNS) {
      const what = JSON.stringify(run);
      const f = await find(root, { where: 'faces >= 1', ...run });
      assert.deepEqual(f.entries!.map((e) => [e.rel, e.sidecar]), [['o/IMG_1.CR2', 'o/IMG_1.CR2.json'], ['o/IMG_1.jpg', 'o/IMG_1.json'], ['p/IMG_1.jpg', 'p/IMG_1.json']], what);
      const s = await stats(root, { ...run, list: true });
      assert.deepEqual(s.sidecars!.map((e) => [e.image, e.path]), [['o/IMG_1.CR2', 'o/IMG_1.CR2.json'], ['o/IMG_1.jpg', 'o/IMG_1.json'], ['p/IMG_1.jpg', 'p/IMG_1.json']], what);
      assert.equal(s.images_with_sidecar, 5, what);
    }
    appendFileSync(join(root, 'o/IMG_1.jpg'), ' edited');
    const st = await staleSidecars(root, { index: false });
    assert.deepEqual(st.entries!.map((e) => [e.rel, e.sidecar]), [['o/IMG_1.jpg', 'o/IMG_1.json']]);
  });
});

describe('readSidecarPath: which file a read takes, without decoding what the scan decoded', () => {
  it('gives the path and findings readSidecarDetailed gives, for every image of groups of several images (own files, kept copies, a corrupt own file, another tool\'s file, a shared file recording none)', async (t) => {
    const root = testDir(t);
    await pairTree(root); // a/: own files, a kept copy, a shared file recording none; b/: one shared file
    putFile(root, 'c/IMG_3.jpg', 'jpeg');
    await imageWithFaces(root, 'c/IMG_3.CR2', 1, 'json');
    putFile(root, 'c/IMG_3.jpg.bin', 'not a sidecar at all'); // corrupt: the read falls back
    putFile(root, 'c/IMG_3.jpg.json', JSON.stringify({ faces: [] })); // another tool's file: passed over
    putFile(root, 'c/IMG_3.json', JSON.stringify({ face_detection: { faces: [] }, sidecar_info: { operation_type: 'face_detection' } }));
    let compared = 0;
    for await (const rec of scan(root, { inspect: { summarize: true }, index: false })) {
      if (rec.images.length < 2) continue;
      const vouched = (path: string) => rec.sidecars.find((sc) => sc.path === path && sc.inspection.status === 'ok' && sc.inspection.shape === 'sidecar')?.inspection.format ?? null;
      for (const img of rec.images) {
        const full = await readSidecarDetailed(img.path).then((r) => ({ path: r.path, findings: r.findings.map((f) => [f.code, f.path]) }), (e: { code?: string }) => ({ error: e.code }));
        const bare = await readSidecarPath(img.path, {}, vouched).then((r) => ({ path: r.path, findings: r.findings.map((f) => [f.code, f.path]) }), (e: { code?: string }) => ({ error: e.code }));
        assert.deepEqual(bare, full, img.rel);
        compared++;
      }
    }
    assert.equal(compared, 6, 'a/, b/ and c/: two images each');
  });
});

describe('links into a RAW+JPEG pair outside the root', () => {
  it('each link is exported once, with the file its read takes (the pair\'s other files were exported under every link\'s name)', async (t) => {
    const base = testDir(t);
    const pair = join(base, 'originals');
    await imageWithFaces(pair, 'IMG_1.jpg', 3, 'json');
    await imageWithFaces(pair, 'IMG_1.CR2', 1, 'bin');
    await saveSidecar(join(pair, 'IMG_1.jpg'), 'face_detection', faces(2), { format: 'bin' }); // IMG_1.json becomes a kept copy
    assert.deepEqual(readdirSync(pair).sort(), ['IMG_1.CR2', 'IMG_1.CR2.bin', 'IMG_1.bin', 'IMG_1.jpg', 'IMG_1.json']);
    const root = join(base, 'game');
    putFile(root, 'keep.txt', '');
    symlinkSync(join(pair, 'IMG_1.jpg'), join(root, 'Lj.jpg'));
    symlinkSync(join(pair, 'IMG_1.CR2'), join(root, 'Lr.CR2'));
    // What a read of each link takes: the reference.
    assert.equal((await readSidecarDetailed(join(root, 'Lj.jpg'))).path, join(pair, 'IMG_1.bin'));
    assert.equal((await readSidecarDetailed(join(root, 'Lr.CR2'))).path, join(pair, 'IMG_1.CR2.bin'));
    for (const run of RUNS) {
      const out = join(base, `out-${RUNS.indexOf(run)}.jsonl`);
      await exportSidecars(root, { format: 'jsonl', output: out, ...run });
      const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { image: string; sidecar: string });
      assert.deepEqual(rows.map((r) => [r.image, r.sidecar]), [['Lj.jpg', '../originals/IMG_1.bin'], ['Lr.CR2', '../originals/IMG_1.CR2.bin']], JSON.stringify(run));
      const f = await find(root, { where: 'faces >= 1', ...run });
      assert.deepEqual(f.entries!.map((e) => [e.rel, e.summary.faces]), [['Lj.jpg', 2], ['Lr.CR2', 1]]);
    }
  });
});

describe('a pair whose JPEG has a file this reader cannot decode', () => {
  it('the JPEG\'s own encrypted file, no key: find and stats do not give it the RAW\'s results (read fails with ENCRYPTED); with the key, each its own', async (t) => {
    const root = testDir(t);
    const ring: Keyring = { keys: [keyFromBytes(Buffer.alloc(32, 9))], encryptWith: 0 };
    await imageWithFaces(root, 'IMG_1.CR2', 1, 'bin'); // alone: IMG_1.bin
    putFile(root, 'IMG_1.jpg', 'jpeg bytes');
    await saveSidecar(join(root, 'IMG_1.jpg'), 'face_detection', faces(2), { format: 'bin', keyring: ring });
    assert.deepEqual(readdirSync(root).sort(), ['IMG_1.CR2', 'IMG_1.bin', 'IMG_1.jpg', 'IMG_1.jpg.bin']);
    await assert.rejects(readSidecarDetailed(join(root, 'IMG_1.jpg')), (e: { code?: string }) => e.code === 'ENCRYPTED');
    for (const run of RUNS) {
      const f = await find(root, { where: 'faces >= 1', ...run });
      assert.deepEqual(f.entries!.map((e) => [e.rel, e.sidecar]), [['IMG_1.CR2', 'IMG_1.bin']], JSON.stringify(run));
      const s = await stats(root, { ...run });
      assert.equal(s.images_with_sidecar, 1);
      assert.equal(s.faces.total, 1);
      const keyed = await find(root, { where: 'faces >= 1', keyring: ring, ...run });
      assert.deepEqual(keyed.entries!.map((e) => [e.rel, e.sidecar, e.summary.faces]), [['IMG_1.CR2', 'IMG_1.bin', 1], ['IMG_1.jpg', 'IMG_1.jpg.bin', 2]], JSON.stringify(run));
    }
  });
});

describe('judging a pair image by image: when no image takes a file of its own, and when the folder changes meanwhile', () => {
  it('the JPEG\'s own file encrypted (no key) beside a shared file recording neither image: no image is given the shared file (each read fails or finds it ambiguous)', async (t) => {
    const root = testDir(t);
    const ring: Keyring = { keys: [keyFromBytes(Buffer.alloc(32, 5))], encryptWith: 0 };
    putFile(root, 'IMG_1.CR2', 'raw bytes');
    putFile(root, 'IMG_1.jpg', 'jpeg bytes');
    putFile(root, 'IMG_1.json', JSON.stringify({ face_detection: { success: true, faces: [{ bbox: [1, 2, 3, 4], confidence: 0.9 }] }, sidecar_info: { operation_type: 'face_detection' } }));
    // The JPEG's encrypted file, saved where it was alone (a save beside the plaintext shared file stays plaintext).
    putFile(root, 'alone/IMG_1.jpg', 'jpeg bytes');
    const saved = await saveSidecar(join(root, 'alone/IMG_1.jpg'), 'face_detection', faces(2), { format: 'bin', naming: 'name-ext', keyring: ring });
    renameSync(saved.path, join(root, 'IMG_1.jpg.bin'));
    rmSync(join(root, 'alone'), { recursive: true });
    assert.deepEqual(readdirSync(root).sort(), ['IMG_1.CR2', 'IMG_1.jpg', 'IMG_1.jpg.bin', 'IMG_1.json']);
    await assert.rejects(readSidecarDetailed(join(root, 'IMG_1.jpg')), (e: { code?: string }) => e.code === 'ENCRYPTED');
    assert.ok((await readSidecarDetailed(join(root, 'IMG_1.CR2'))).findings.some((f) => f.code === 'ambiguous'));
    for (const run of RUNS) {
      const f = await find(root, { where: 'faces >= 1', ...run });
      assert.deepEqual(f.entries, [], JSON.stringify(run));
      const s = await stats(root, { ...run });
      assert.equal(s.images_with_sidecar, 0, JSON.stringify(run));
      assert.equal(s.total_sidecars, 0);
    }
  });

  it('a save landing between the scan and the per-image reads: the record\'s own view is kept (the JPEG was dropped)', async (t) => {
    const root = testDir(t);
    await imageWithFaces(root, 'IMG_1.jpg', 3, 'json'); // IMG_1.json, the JPEG's
    await imageWithFaces(root, 'IMG_1.CR2', 1, 'json'); // IMG_1.CR2.json
    const recs = [];
    for await (const rec of scan(root, { index: false, inspect: { summarize: true } })) recs.push(rec);
    assert.equal(recs.length, 1);
    const before = await imageSidecars(recs[0], {});
    assert.deepEqual(before.entries.map((e) => [e.image?.name, e.sidecar.name]), [['IMG_1.CR2', 'IMG_1.CR2.json'], ['IMG_1.jpg', 'IMG_1.json']]);
    // The JPEG saves now, in .bin beside its JSON: its read takes IMG_1.bin, a file the scan never saw.
    await saveSidecar(join(root, 'IMG_1.jpg'), 'face_detection', faces(4), { format: 'bin' });
    assert.equal((await readSidecarDetailed(join(root, 'IMG_1.jpg'))).path, join(root, 'IMG_1.bin'));
    const after = await imageSidecars(recs[0], {});
    assert.equal(after.perImage, false);
    assert.deepEqual(after.entries.map((e) => [e.image?.name, e.sidecar.name]), [[undefined, recs[0].effective!.name]], 'the record as scanned: every image with its effective file');
  });
});

describe('a link in a pair\'s stem pointing elsewhere in the root', () => {
  it('IMG_1.png -> ../other/X.jpg beside a RAW+JPEG pair, or beside a JPEG alone: the images keep their own files (the record\'s effective file was X\'s, counted by X\'s record, and the pair vanished from find, stale and stats)', async (t) => {
    const root = testDir(t);
    await imageWithFaces(root, 'other/X.jpg', 7, 'json');
    await imageWithFaces(root, 'a/IMG_1.jpg', 3, 'json');
    await imageWithFaces(root, 'a/IMG_1.CR2', 1, 'json');
    symlinkSync('../other/X.jpg', join(root, 'a/IMG_1.png'));
    // b/: a JPEG alone with its file and such a link (one file of ours).
    await imageWithFaces(root, 'b/IMG_2.jpg', 2, 'json');
    symlinkSync('../other/X.jpg', join(root, 'b/IMG_2.png'));
    assert.deepEqual(await readsOf(root, ['b/IMG_2.jpg', 'b/IMG_2.png']), { 'b/IMG_2.jpg': 'b/IMG_2.json', 'b/IMG_2.png': 'other/X.json' });
    assert.deepEqual(await readsOf(root, ['a/IMG_1.jpg', 'a/IMG_1.CR2', 'a/IMG_1.png']), { 'a/IMG_1.jpg': 'a/IMG_1.json', 'a/IMG_1.CR2': 'a/IMG_1.CR2.json', 'a/IMG_1.png': 'other/X.json' });
    appendFileSync(join(root, 'a/IMG_1.CR2'), ' edited');
    for (const run of RUNS) {
      const what = JSON.stringify(run);
      const f = await find(root, { where: 'faces >= 1', ...run });
      assert.deepEqual(f.entries!.map((e) => [e.rel, e.sidecar, e.summary.faces]), [['a/IMG_1.CR2', 'a/IMG_1.CR2.json', 1], ['a/IMG_1.jpg', 'a/IMG_1.json', 3], ['b/IMG_2.jpg', 'b/IMG_2.json', 2], ['other/X.jpg', 'other/X.json', 7]], what);
      const s = await stats(root, { ...run });
      assert.equal(s.faces.total, 13, what);
      assert.equal(s.images_with_sidecar, 6, `${what}: the links too, through their target`);
      const st = await staleSidecars(root, run);
      assert.deepEqual(st.entries!.map((e) => [e.rel, e.sidecar]), [['a/IMG_1.CR2', 'a/IMG_1.CR2.json']], what);
    }
  });
});

describe('coverage of a group whose only local file cannot be read, beside a link into the root', () => {
  it('the pair\'s images are not covered by the link target\'s file (their reads fail: corrupt); the link is', async (t) => {
    const root = testDir(t);
    await imageWithFaces(root, 'other/X.jpg', 1, 'json');
    putFile(root, 'a/IMG_1.jpg', 'jpeg bytes');
    putFile(root, 'a/IMG_1.CR2', 'raw bytes');
    putFile(root, 'a/IMG_1.json', 'garbage{');
    symlinkSync('../other/X.jpg', join(root, 'a/IMG_1.png'));
    await assert.rejects(readSidecarDetailed(join(root, 'a/IMG_1.jpg')), (e: { code?: string }) => e.code === 'CORRUPT');
    for (const run of RUNS) {
      const s = await stats(root, { ...run, folders: 10 });
      assert.equal(s.total_images, 4, JSON.stringify(run));
      assert.equal(s.images_with_sidecar, 2, `${JSON.stringify(run)}: X.jpg, and the link through it`);
      assert.deepEqual(s.folder_coverage!.folders.map((f) => [f.dir, f.images, f.images_with_sidecar]).sort(), [['a', 3, 1], ['other', 1, 1]]);
    }
  });
});

describe('coverage of each link of a group whose own file is corrupt', () => {
  it('only links whose read takes a file are covered: not a link to the pair\'s JPEG, a broken one, or one to an image without a file', async (t) => {
    const root = testDir(t);
    await imageWithFaces(root, 'o/X.jpg', 7, 'json');
    await imageWithFaces(root, 'o/Y.jpg', 1, 'json');
    putFile(root, 'o/Z.jpg', 'z');
    const extra: Record<string, string> = { p1: 'IMG_1.jpg', p2: 'nowhere.jpg', p3: '../o/Z.jpg', p4: '../o/Y.jpg' };
    for (const [dir, target] of Object.entries(extra)) {
      putFile(root, `${dir}/IMG_1.jpg`, 'jpeg');
      putFile(root, `${dir}/IMG_1.CR2`, 'raw');
      putFile(root, `${dir}/IMG_1.json`, 'garbage{');
      symlinkSync('../o/X.jpg', join(root, dir, 'IMG_1.png'));
      symlinkSync(target, join(root, dir, 'IMG_1.gif'));
    }
    const coverage = async (where?: string) => {
      const s = await stats(root, { index: false, folders: 10, where });
      return Object.fromEntries(s.folder_coverage!.folders.filter((f) => f.dir.startsWith('p')).map((f) => [f.dir, f.images_with_sidecar]));
    };
    // The png reads X's file in every folder; p4's gif reads Y's; nothing else reads a file.
    assert.deepEqual(await coverage(), { p1: 1, p2: 1, p3: 1, p4: 2 });
    assert.deepEqual(await coverage('faces >= 5'), { p1: 1, p2: 1, p3: 1, p4: 1 });
    assert.deepEqual(await coverage('faces <= 2'), { p1: 0, p2: 0, p3: 0, p4: 1 });
  });

  it('a save beside a link\'s target during the command leaves the pair\'s own images as they were (it hid the whole pair)', async (t) => {
    const root = testDir(t);
    await imageWithFaces(root, 'o/X.jpg', 7, 'json');
    await imageWithFaces(root, 'p/IMG_1.jpg', 3, 'json');
    await imageWithFaces(root, 'p/IMG_1.CR2', 1, 'json');
    symlinkSync('../o/X.jpg', join(root, 'p/IMG_1.png'));
    const recs = [];
    for await (const rec of scan(root, { index: false, inspect: { summarize: true } })) if (rec.dir === 'p') recs.push(rec);
    assert.equal(recs.length, 1);
    const names = (r: Awaited<ReturnType<typeof imageSidecars>>) => r.entries.map((e) => [e.image?.name, e.sidecar.name]);
    assert.deepEqual(names(await imageSidecars(recs[0], {})), [['IMG_1.CR2', 'IMG_1.CR2.json'], ['IMG_1.jpg', 'IMG_1.json']]);
    await saveSidecar(join(root, 'o/X.jpg'), 'face_detection', faces(8), { format: 'bin' }); // X.bin, read before X.json
    const after = await imageSidecars(recs[0], {});
    assert.equal(after.perImage, true);
    assert.deepEqual(names(after), [['IMG_1.CR2', 'IMG_1.CR2.json'], ['IMG_1.jpg', 'IMG_1.json']]);
  });
});
