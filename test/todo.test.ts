/**
 * todo and stale. On the sample library the expected lists are computed here, independently:
 * a plain fs walk in tree order, pairing by file name, and JSON.parse of every raw sidecar —
 * none of the scan, pairing, skim or summary code.
 */
import assert from 'node:assert/strict';
import { lstatSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { generateSampleLibrary } from '../src/sample/generate.js';
import { staleSidecars, todo, type TodoEntry } from '../src/ops/todo.js';
import { saveSidecar } from '../src/ops/save.js';
import { readSidecar } from '../src/ops/read.js';
import { stats } from '../src/ops/stats.js';
import { runCli } from './helpers/cli.js';
import { putFile, removeTree, tempDir, testDir } from './helpers/tree.js';
import { hostileBytes, seedCorpus } from './reliability/fuzz-inputs.js';
import { accelDecode } from '../src/accel/decode.js';
import { decodeSidecar } from '../src/formats/codec.js';
import { probeView } from './helpers/accel-parity.js';
import { deepEqualJson } from '../src/formats/value.js';
import { ORACLE_IMAGE_EXTS, parseRawSidecar } from './helpers/raw-oracle.js';


interface Expected {
  listed: { rel: string; reason: string }[];
  problems: Set<string>;
  links: number;
  broken: number;
  done: number;
}

/** The operation's outcome in a raw sidecar: 'absent', 'failed' or 'done'. */
function outcomeOf(data: Record<string, unknown>, op: string): 'absent' | 'failed' | 'done' {
  const keys = op === 'face_detection' ? ['face_detection', 'Face_detector'] : [op];
  const key = keys.find((k) => Object.hasOwn(data, k));
  if (key === undefined) return 'absent';
  const v = data[key] as Record<string, unknown>;
  const flags: boolean[] = [];
  if (typeof v?.success === 'boolean') flags.push(v.success);
  else if (v && typeof v === 'object') {
    // nested backend form: face_detection.insightface / yolov8.yolov8
    for (const sub of Object.values(v)) if (sub && typeof sub === 'object' && typeof (sub as { success?: unknown }).success === 'boolean') flags.push((sub as { success: boolean }).success);
  }
  return flags.includes(false) ? 'failed' : 'done';
}

/** Tree order: a folder's files (names by UTF-16 code unit) before its subfolders. */
function walkImages(root: string, rel = '', out: { rel: string; dir: string; name: string; kind: 'file' | 'link' | 'broken' }[] = []) {
  const dir = join(root, rel);
  const names = readdirSync(dir).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const subdirs: string[] = [];
  for (const name of names) {
    if (name === '.image-sidecar-quarantine') continue;
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) subdirs.push(name);
    const dot = name.lastIndexOf('.');
    const ext = dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
    if (!ORACLE_IMAGE_EXTS.has(ext)) continue;
    const r = rel === '' ? name : `${rel}/${name}`;
    if (st.isSymbolicLink()) out.push({ rel: r, dir, name, kind: existsSync(p) ? 'link' : 'broken' });
    else if (st.isFile()) out.push({ rel: r, dir, name, kind: 'file' });
  }
  for (const s of subdirs) walkImages(root, rel === '' ? s : `${rel}/${s}`, out);
  return out;
}

function expectedTodo(root: string, op: string): Expected {
  const exp: Expected = { listed: [], problems: new Set(), links: 0, broken: 0, done: 0 };
  for (const img of walkImages(root)) {
    if (img.kind === 'link') {
      exp.links++;
      continue;
    }
    if (img.kind === 'broken') {
      exp.broken++;
      continue;
    }
    const stem = img.name.slice(0, img.name.lastIndexOf('.'));
    // Names are compared after Unicode NFC (a Mac writes NFD).
    const here = new Set(readdirSync(img.dir).map((n) => n.normalize('NFC')));
    const candidates = [`${stem}.bin`, `${stem}.rkyv`, `${stem}.json`, `${img.name}.bin`, `${img.name}.rkyv`, `${img.name}.json`].filter((n) => here.has(n.normalize('NFC')));
    if (candidates.length === 0) {
      exp.listed.push({ rel: img.rel, reason: 'no-sidecar' });
      continue;
    }
    // Another image with this stem (IMG_1.jpg + IMG_1.CR2) makes its stem files shared: they come
    // after the image's own files, and belong to the image their record names (docs/PAIRING.md §3).
    const companions = readdirSync(img.dir).filter((n) => n !== img.name && n.normalize('NFC').startsWith(`${stem.normalize('NFC')}.`) && ORACLE_IMAGE_EXTS.has(n.slice(n.lastIndexOf('.') + 1).toLowerCase()));
    const isShared = (c: string) => companions.length > 0 && c.startsWith(`${stem}.`) && !c.startsWith(`${img.name}.`);
    const ordered = [...candidates.filter((c) => !isShared(c)), ...candidates.filter(isShared)];
    let data: Record<string, any> | null = null;
    let ambiguous = false;
    for (const c of ordered) {
      const real = readdirSync(img.dir).find((n) => n.normalize('NFC') === c.normalize('NFC'))!;
      const parsed = parseRawSidecar(readFileSync(join(img.dir, real)));
      if (parsed === null) continue;
      if (isShared(c)) {
        const info = parsed.sidecar_info ?? {};
        const recorded = String(info.symlink_info?.target_path ?? info.image_path ?? '').split('/').pop()!.normalize('NFC');
        if (recorded !== img.name.normalize('NFC') && companions.some((o) => o.normalize('NFC') === recorded)) continue; // another image's
        ambiguous = recorded !== img.name.normalize('NFC');
      }
      data = parsed;
      break;
    }
    if (ambiguous || (data === null && ordered.some((c) => !isShared(c)))) {
      exp.problems.add(img.rel); // a shared file that records none of its images, or no own file decodes
      continue;
    }
    if (data === null) {
      exp.listed.push({ rel: img.rel, reason: 'no-sidecar' });
      continue;
    }
    const o = outcomeOf(data, op);
    if (o === 'absent') exp.listed.push({ rel: img.rel, reason: 'no-result' });
    else if (o === 'failed') exp.listed.push({ rel: img.rel, reason: 'failed' });
    else exp.done++;
  }
  return exp;
}

describe('todo on the sample library (expected results computed from raw files)', () => {
  let root: string;
  before(async () => {
    root = tempDir('isc-todo-');
    await generateSampleLibrary(root, { images: 400, seed: 11 });
  });

  for (const op of ['yolov8', 'face_detection', 'quality_assessment', 'game_detection']) {
    it(`lists exactly the images that need ${op}, in tree order, with the reason`, async () => {
      const exp = expectedTodo(root, op);
      const r = await todo(root, { operation: op });
      const got = r.entries!.map((e: TodoEntry) => ({ rel: e.rel, reason: e.reason }));
      assert.deepEqual(got, exp.listed);
      assert.deepEqual(new Set(r.problems.map((p) => p.rel)), exp.problems);
      assert.equal(r.counts.done, exp.done);
      assert.equal(r.skipped.links, exp.links);
      assert.equal(r.skipped.brokenLinks, exp.broken);
      // The sample's sidecars were not written by saveSidecar: no identity record, never stale.
      assert.equal(r.counts.stale, 0);
      assert.equal(r.identityUnknown, exp.done);
      // The sample holds every kind of entry for these operations.
      assert.ok(exp.listed.some((e) => e.reason === 'no-sidecar') && exp.listed.some((e) => e.reason === 'no-result'));
      if (op === 'face_detection') assert.ok(exp.listed.some((e) => e.reason === 'failed'), 'failed results present');
      assert.ok(exp.problems.size > 0, 'the sample has corrupt and ambiguous sidecars');
    });
  }

  it('accepts any spelling of the operation (Face_detector → face_detection)', async () => {
    const a = await todo(root, { operation: 'Face_detector' });
    const b = await todo(root, { operation: 'face_detection' });
    assert.equal(a.operation, 'face_detection');
    assert.deepEqual(a.entries, b.entries);
  });

  it('gives the same list with the threads and inline engines', async () => {
    const a = await todo(root, { operation: 'yolov8', engine: 'threads', workers: 2 });
    const b = await todo(root, { operation: 'yolov8', engine: 'inline' });
    assert.deepEqual(a.entries, b.entries);
  });

  it('CLI: --print0 for xargs, --jsonl with reasons, --json totals; exit 1 because some images cannot be decided', async () => {
    const exp = expectedTodo(root, 'yolov8');
    const p0 = await runCli(['todo', root, '--operation', 'yolov8', '--print0', '-q']);
    assert.equal(p0.code, 1, p0.stderr);
    assert.equal(p0.stderr, '');
    assert.ok(p0.stdout.endsWith('\0'));
    assert.deepEqual(p0.stdout.slice(0, -1).split('\0'), exp.listed.map((e) => join(root, e.rel)));
    const lines = await runCli(['todo', root, '--operation', 'yolov8', '--jsonl']);
    const recs = lines.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(recs.map((r) => [r.image, r.reason]), exp.listed.map((e) => [join(root, e.rel), e.reason]));
    assert.match(lines.stderr, /image\(s\) to process for yolov8/);
    const doc = await runCli(['todo', '--input', root, '--operation', 'yolov8', '--json', '-q']);
    const d = JSON.parse(doc.stdout);
    assert.equal(d.todo.length, exp.listed.length);
    assert.equal(d.total, exp.listed.length);
    assert.equal(d.problem_count, exp.problems.size);
    assert.equal(d.scan_complete, true);
    const plain = await runCli(['todo', root, '--operation', 'yolov8', '-q']);
    assert.deepEqual(plain.stdout.trimEnd().split('\n'), exp.listed.map((e) => join(root, e.rel)));
  });

  it('CLI: usage errors exit 2', async () => {
    assert.equal((await runCli(['todo', root])).code, 2);
    assert.equal((await runCli(['todo', root, '--operation', 'x', '--print0', '--jsonl'])).code, 2);
    assert.equal((await runCli(['todo', join(root, 'nope'), '--operation', 'x'])).code, 2);
  });
});

describe('image identity and stale results', () => {
  const img = (root: string, name: string, body = 'jpeg-bytes') => putFile(root, name, Buffer.from(`\xff\xd8${body}\xff\xd9`, 'latin1'));

  it('saveSidecar records size and mtime_ns exactly (decimal string), readable as an integer by Python', async (t) => {
    const root = testDir(t);
    const p = img(root, 'a.jpg');
    await saveSidecar(p, 'yolov8', { success: true, objects: [] }, { format: 'json' });
    const raw = JSON.parse(readFileSync(join(root, 'a.json'), 'utf8'));
    const st = statSync(p, { bigint: true });
    assert.deepEqual(raw.sidecar_info.image, { size: Number(st.size), mtime_ns: st.mtimeNs.toString(), operations: ['yolov8'] });
    assert.match(raw.sidecar_info.image.mtime_ns, /^\d+$/);
    const py = spawnSync('python3', ['-c', 'import json,os,sys; i=json.load(open(sys.argv[1]))["sidecar_info"]["image"]; print(int(i["mtime_ns"]) == os.stat(sys.argv[2]).st_mtime_ns and i["size"] == os.stat(sys.argv[2]).st_size)', join(root, 'a.json'), p], { encoding: 'utf8' });
    if (py.status === 0) assert.equal(py.stdout.trim(), 'True');
  });

  it('todo and stale find an image changed after its result was saved (size, or mtime only)', async (t) => {
    const root = testDir(t);
    const a = img(root, 'a.jpg');
    const b = img(root, 'b.jpg');
    const c = img(root, 'c.jpg');
    for (const p of [a, b, c]) await saveSidecar(p, 'yolov8', { success: true, objects: [] });
    let r = await todo(root, { operation: 'yolov8' });
    assert.deepEqual(r.entries, []);
    assert.equal(r.counts.done, 3);
    assert.equal(r.identityUnknown, 0);

    writeFileSync(a, 'a different, longer image body'); // size and mtime change
    const st = statSync(b);
    utimesSync(b, st.atime, new Date(st.mtimeMs + 5000)); // touched: mtime only
    r = await todo(root, { operation: 'yolov8' });
    assert.deepEqual(r.entries!.map((e) => [e.rel, e.reason, e.changes]), [['a.jpg', 'stale', ['size', 'mtime']], ['b.jpg', 'stale', ['mtime']]]);
    const s = await staleSidecars(root);
    assert.deepEqual(s.entries!.map((e) => [e.rel, e.sidecar, e.changes, e.operations]), [['a.jpg', 'a.bin', ['size', 'mtime'], ['yolov8']], ['b.jpg', 'b.bin', ['mtime'], ['yolov8']]]);
    assert.deepEqual(s.counts, { stale: 2, current: 1, unknown: 0 });
    // The same through worker threads (the record's bigint mtime crosses the thread boundary).
    assert.deepEqual((await todo(root, { operation: 'yolov8', engine: 'threads', workers: 2 })).entries, r.entries);
    assert.deepEqual((await staleSidecars(root, { engine: 'threads', workers: 2 })).entries, s.entries);
    assert.deepEqual((await stats(root)).image_identity, { current: 1, stale: 2, unknown: 0 });

    // Re-running the operation makes it current again.
    await saveSidecar(a, 'yolov8', { success: true, objects: [] });
    r = await todo(root, { operation: 'yolov8' });
    assert.deepEqual(r.entries!.map((e) => e.rel), ['b.jpg']);
  });

  it('stale and find name the images whose sidecar they cannot read (encrypted without the key, corrupt) as problems, exit 1, as todo does (they passed them over: "0 stale", exit 0)', async (t) => {
    const root = testDir(t);
    const keyDir = testDir(t);
    const key = join(keyDir, 'k.key');
    assert.equal((await runCli(['keygen', '-o', key])).code, 0);
    const a = img(root, 'a.jpg');
    const b = img(root, 'b.jpg');
    const c = img(root, 'c.jpg');
    for (const p of [a, b, c]) await saveSidecar(p, 'face_detection', { success: true, faces: [] });
    assert.equal((await runCli(['convert', root, '-f', 'bin', '--encrypt', '--key-file', key, '-q'])).code, 0);
    for (const p of [a, b, c]) writeFileSync(p, 'a changed image, longer than before');
    writeFileSync(join(root, 'c.bin'), 'garbage');
    const withKey = await runCli(['stale', root, '--json', '--key-file', key]);
    assert.equal(withKey.code, 1, withKey.stderr);
    const wk = JSON.parse(withKey.stdout);
    assert.deepEqual(wk.stale.map((e: { image: string }) => e.image), [a, b]);
    assert.deepEqual(wk.problems.map((p: { image: string; category: string }) => [p.image, p.category]), [[c, 'corrupt']]);
    for (const args of [['stale', root, '--no-index'], ['stale', root], ['find', root, '--where', 'faces >= 0']]) {
      const r = await runCli([...args, '--json']);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      const doc = JSON.parse(r.stdout);
      assert.deepEqual(doc.problems.map((p: { image: string; category: string }) => [p.image, p.category]), [[a, 'encrypted'], [b, 'encrypted'], [c, 'corrupt']], args.join(' '));
      assert.equal(doc.problem_count, 3);
      const line = await runCli(args);
      assert.equal(line.code, 1);
      assert.match(line.stderr, /not listed \(encrypted\): .*a\.jpg: .*encrypted/);
    }
    const lib = await staleSidecars(root);
    assert.deepEqual([lib.counts, lib.problemCount], [{ stale: 0, current: 0, unknown: 0 }, 3]);
  });

  it("todo names as problems the links no save pairs with (a target not named like an image: git-annex's store; a target in the quarantine): they were dropped inside the tree, and listed as no-sidecar outside it while their save is refused", async (t) => {
    const base = testDir(t);
    const root = join(base, 'lib');
    putFile(root, 'store/SHA256-s500--deadbeef', 'annexed image bytes');
    putFile(root, '.image-sidecar-quarantine/Q.jpg', 'a quarantined image');
    putFile(base, 'out/blob', 'an image outside, unnamed');
    img(root, 'photos/IMG_3.jpg');
    symlinkSync('../store/SHA256-s500--deadbeef', join(root, 'photos/IMG_1.jpg'));
    symlinkSync('../.image-sidecar-quarantine/Q.jpg', join(root, 'photos/IMG_2.jpg'));
    symlinkSync('../../out/blob', join(root, 'photos/IMG_4.jpg'));
    // A link into the index folder is an image a save writes beside (not unpairable); one into another library's quarantine is.
    putFile(root, '.image-sidecar/idx.jpg', 'an image kept there');
    symlinkSync('../.image-sidecar/idx.jpg', join(root, 'photos/IMG_5.jpg'));
    putFile(base, 'other/.image-sidecar-quarantine/2026/Q2.jpg', 'quarantined elsewhere');
    symlinkSync('../../other/.image-sidecar-quarantine/2026/Q2.jpg', join(root, 'photos/IMG_6.jpg'));
    for (const engine of ['inline', 'threads'] as const) {
      const r = await todo(root, { operation: 'face_detection', engine, workers: 2 });
      assert.deepEqual(r.entries!.map((e) => [e.rel, e.reason]), [['photos/IMG_3.jpg', 'no-sidecar']]);
      assert.deepEqual(r.problems.map((p) => [p.rel, p.category]), [['photos/IMG_1.jpg', 'unpairable'], ['photos/IMG_2.jpg', 'unpairable'], ['photos/IMG_4.jpg', 'unpairable'], ['photos/IMG_6.jpg', 'unpairable']]);
      assert.equal(r.skipped.links, 1, 'IMG_5.jpg: a link into the tree, its target\'s record lists it');
      assert.match(r.problems[0].message, /not named like an image/);
      assert.match(r.problems[1].message, /in a quarantine folder, where a save never writes/);
    }
    // What the problem says: the save is refused.
    const save = await runCli(['write', join(root, 'photos/IMG_4.jpg'), '--operation', 'face_detection', '--data', '-'], { input: '{"success":true}' });
    assert.equal(save.code, 2);
    assert.match(save.stderr, /not named like an image/);
    const cli = await runCli(['todo', root, '--operation', 'face_detection']);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /not listed \(unpairable\): .*IMG_1\.jpg/);
  });

  it('an image whose mtime is before 1970 (a negative mtime_ns, as saved) is judged like any other: stale once changed (its record was unusable: "unknown", never stale)', async (t) => {
    const root = testDir(t);
    const a = img(root, 'a.jpg');
    const old = new Date('1960-01-01T00:00:00.123Z');
    utimesSync(a, old, old);
    await saveSidecar(a, 'yolov8', { success: true, objects: [] });
    assert.deepEqual((await staleSidecars(root)).counts, { stale: 0, current: 1, unknown: 0 });
    assert.equal((await todo(root, { operation: 'yolov8' })).counts.done, 1);
    utimesSync(a, old, new Date('1960-01-02T00:00:00Z'));
    const s = await staleSidecars(root);
    assert.deepEqual(s.counts, { stale: 1, current: 0, unknown: 0 });
    assert.deepEqual(s.entries!.map((e) => [e.rel, e.changes]), [['a.jpg', ['mtime']]]);
    assert.match(String(s.entries![0].recorded!.mtime_ns), /^-\d+$/);
    assert.deepEqual((await todo(root, { operation: 'yolov8' })).entries!.map((e) => [e.rel, e.reason]), [['a.jpg', 'stale']]);
  });

  it('todo, stale and find name the paths they could not read (stderr, scan_problems and scan_problem_list in --json), as validate and stats do (they were only counted)', async (t) => {
    const root = testDir(t);
    img(root, 'ok.jpg');
    writeFileSync(Buffer.concat([Buffer.from(`${root}/bad`), Buffer.from([0xff]), Buffer.from('.jpg')]), 'x');
    for (const args of [['todo', root, '--operation', 'yolov8'], ['stale', root], ['find', root, '--where', 'faces >= 0']]) {
      const r = await runCli([...args, '--json']);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(JSON.parse(r.stdout).scan_problems, 1, args.join(' '));
      assert.deepEqual(JSON.parse(r.stdout).scan_problem_list.map((p: { code: string; message: string }) => [p.code, p.message]), [['UNADDRESSABLE', `${root}/bad\\xff.jpg: file name is not valid UTF-8`]], args.join(' '));
      assert.match(r.stderr, /not read: .*bad\\xff\.jpg: file name is not valid UTF-8/, args.join(' '));
    }
  });

  it("stale and find name an image of a RAW+JPEG pair whose own file is corrupt (the pair's other image read fine, so the record's category said nothing): it was passed over, exit 0", async (t) => {
    const root = testDir(t);
    img(root, 'IMG_1.JPG');
    img(root, 'IMG_1.CR2');
    putFile(root, 'IMG_1.CR2.json', JSON.stringify({ face_detection: { success: true, faces: [] }, sidecar_info: { image_path: 'IMG_1.CR2' } }));
    putFile(root, 'IMG_1.JPG.json', '{"face_detection": {"success": true, "faces": [');
    // The pipeline's shared stem file makes the two one group (recording the RAW).
    putFile(root, 'IMG_1.json', JSON.stringify({ yolov8: { success: true, objects: [] }, sidecar_info: { image_path: 'IMG_1.CR2' } }));
    for (const args of [['stale', root], ['find', root, '--where', 'faces >= 0'], ['todo', root, '--operation', 'face_detection']]) {
      const r = await runCli([...args, '--json']);
      assert.equal(r.code, 1, `${args[0]}: ${r.stdout}${r.stderr}`);
      assert.deepEqual(JSON.parse(r.stdout).problems.map((p: { image: string; category: string }) => [p.image, p.category]), [[join(root, 'IMG_1.JPG'), 'corrupt']], args[0]);
    }
  });

  it('re-running one operation on a changed image leaves the others stale, per operation', async (t) => {
    const root = testDir(t);
    const a = img(root, 'a.jpg');
    await saveSidecar(a, 'face_detection', { success: true, faces: [] });
    await saveSidecar(a, 'yolov8', { success: true, objects: [] });
    writeFileSync(a, 'edited image');
    await saveSidecar(a, 'yolov8', { success: true, objects: [] });
    const info = (await readSidecar(a)).sidecar_info as Record<string, Record<string, unknown>>;
    assert.deepEqual(info.image.operations, ['yolov8']);
    assert.deepEqual(info.image.stale_operations, ['face_detection']);
    assert.deepEqual((await todo(root, { operation: 'yolov8' })).entries, []);
    const f = await todo(root, { operation: 'face_detection' });
    assert.deepEqual(f.entries!.map((e) => [e.rel, e.reason, e.changes]), [['a.jpg', 'stale', ['stale-operation']]]);
    assert.deepEqual((await staleSidecars(root)).entries!.map((e) => [e.changes, e.operations]), [[['stale-operations'], ['face_detection']]]);
    await saveSidecar(a, 'face_detection', { success: true, faces: [] });
    assert.deepEqual((await todo(root, { operation: 'face_detection' })).entries, []);
    assert.equal((await staleSidecars(root)).counts.stale, 0);
  });

  it('sidecars written without the record are unknown, never stale', async (t) => {
    const root = testDir(t);
    const a = img(root, 'a.jpg');
    putFile(root, 'a.json', JSON.stringify({ face_detection: { success: true, faces: [] }, sidecar_info: { operation_type: 'face_detection' } }));
    writeFileSync(a, 'changed later'); // no record: nothing to compare with
    assert.deepEqual((await todo(root, { operation: 'face_detection' })).entries, []);
    assert.deepEqual((await staleSidecars(root)).counts, { stale: 0, current: 0, unknown: 1 });
    // A later save of another operation records the image; the older result stays unknown.
    await saveSidecar(a, 'yolov8', { success: true, objects: [] });
    const r = await todo(root, { operation: 'face_detection' });
    assert.deepEqual(r.entries, []);
    assert.equal(r.identityUnknown, 1);
    // A record whose mtime was rounded through a double is unusable: unknown, not stale.
    const raw = JSON.parse(readFileSync(join(root, 'a.json'), 'utf8'));
    raw.sidecar_info.image.mtime_ns = Number(raw.sidecar_info.image.mtime_ns) + 0.5;
    writeFileSync(join(root, 'a.json'), JSON.stringify(raw));
    writeFileSync(a, 'changed again, longer');
    assert.deepEqual((await staleSidecars(root)).counts, { stale: 0, current: 0, unknown: 1 });
  });

  it('a hostile or foreign image record is unknown, never stale, never a crash', async (t) => {
    const root = testDir(t);
    const records: unknown[] = [
      'yes', 42, [], null, {}, { size: 'abc', mtime_ns: '1' }, { size: 1, mtime_ns: '-' }, { size: 1, mtime_ns: '-05' }, { size: 1, mtime_ns: '1'.repeat(40) },
      { size: -1, mtime_ns: '1' }, { size: 1.5, mtime_ns: '1' }, { size: 2 ** 60, mtime_ns: '1' }, { size: 1, mtime_ns: 1.5e18 },
      { size: 1, mtime_ns: '01' }, { __proto__: { size: 1 } },
    ];
    // (A negative mtime_ns is a time before 1970, as a save records it: a record like any other.)
    for (let k = 0; k < records.length; k++) {
      img(root, `i${k}.jpg`);
      putFile(root, `i${k}.json`, JSON.stringify({ yolov8: { success: true }, sidecar_info: { operation_type: 'yolov8', image: records[k] } }));
    }
    const r = await todo(root, { operation: 'yolov8' });
    assert.deepEqual(r.entries, []);
    assert.equal(r.identityUnknown, records.length);
    assert.deepEqual((await staleSidecars(root)).counts, { stale: 0, current: 0, unknown: records.length });
    // A safe-integer mtime (another writer's choice) is accepted and compared exactly.
    const p = img(root, 'int.jpg');
    const st = statSync(p, { bigint: true });
    const asNumber = Number(st.mtimeNs);
    putFile(root, 'int.json', JSON.stringify({ yolov8: { success: true }, sidecar_info: { image: { size: Number(st.size), mtime_ns: asNumber, operations: ['yolov8'] } } }));
    const s2 = await staleSidecars(root);
    // 1.8e18 is beyond 2^53: as a JSON number it is rounded, so the record is unusable (unknown).
    assert.equal(Number.isSafeInteger(asNumber), false);
    assert.equal(s2.counts.unknown, records.length + 1);
  });

  it('hashImage records sha256; verifyHash catches same-size same-mtime edits and forgives a touch', async (t) => {
    const root = testDir(t);
    const a = img(root, 'a.jpg', 'AAAA');
    const b = img(root, 'b.jpg', 'BBBB');
    await saveSidecar(a, 'yolov8', { success: true }, { hashImage: true });
    await saveSidecar(b, 'yolov8', { success: true }, { hashImage: true });
    const rec = (await readSidecar(a)).sidecar_info as Record<string, Record<string, unknown>>;
    assert.match(String(rec.image.sha256), /^[0-9a-f]{64}$/);
    // a: same size, other bytes, mtime put back exactly → only the hash can tell.
    const st = statSync(a);
    writeFileSync(a, Buffer.from('\xff\xd8ZZZZ\xff\xd9', 'latin1'));
    utimesSync(a, st.atime, st.mtime);
    // Sub-ms mtimes cannot be set through utimes on every fs: compare what the record says.
    const sameMtime = statSync(a, { bigint: true }).mtimeNs.toString() === (rec.image.mtime_ns as string);
    // b: touched only.
    const sb = statSync(b);
    utimesSync(b, sb.atime, new Date(sb.mtimeMs + 3000));
    const plain = await staleSidecars(root);
    const verified = await staleSidecars(root, { verifyHash: true });
    assert.deepEqual(verified.entries!.map((e) => [e.rel, e.changes]), [['a.jpg', ['sha256']]]);
    assert.equal(verified.entries![0].current!.sha256 !== verified.entries![0].recorded!.sha256, true);
    assert.deepEqual(plain.entries!.map((e) => e.rel), sameMtime ? ['b.jpg'] : ['a.jpg', 'b.jpg']);
    const viaTodo = await todo(root, { operation: 'yolov8', verifyHash: true });
    assert.deepEqual(viaTodo.entries!.map((e) => [e.rel, e.reason]), [['a.jpg', 'stale']]);
  });

  it('a symlinked image is judged by its target; a save through the link records the target', async (t) => {
    const root = testDir(t);
    const a = img(root, 'photos/a.jpg');
    putFile(root, 'games/g1/.keep', '');
    const { symlinkSync } = await import('node:fs');
    symlinkSync('../../photos/a.jpg', join(root, 'games/g1/a.jpg'));
    await saveSidecar(join(root, 'games/g1/a.jpg'), 'yolov8', { success: true });
    assert.ok(existsSync(join(root, 'photos/a.bin')));
    assert.deepEqual((await todo(root, { operation: 'yolov8' })).entries, []);
    writeFileSync(a, 'changed');
    const r = await todo(root, { operation: 'yolov8' });
    assert.deepEqual(r.entries!.map((e) => [e.rel, e.reason]), [['photos/a.jpg', 'stale']]); // once, not per link
    assert.equal(r.skipped.links, 1);
  });

  it('links into the root are left to their targets, but a record that also holds an image of its own is judged whole', async (t) => {
    // todo does not pair records made only of in-root links (scan option inRootLinkRecords):
    // attack the cases where that would change the answer.
    const root = testDir(t);
    const { symlinkSync } = await import('node:fs');
    img(root, 'photos/a.jpg');
    putFile(root, 'photos/a.json', JSON.stringify({ yolov8: { success: true } }));
    img(root, 'photos/b.jpg');
    putFile(root, 'photos/b.json', JSON.stringify({ yolov8: { success: false } }));
    const outside = testDir(t);
    img(outside, 'c.jpg');
    putFile(outside, 'c.json', JSON.stringify({ yolov8: { success: false } })); // read through the link
    putFile(root, 'games/g/.keep', '');
    symlinkSync('../../photos/a.jpg', join(root, 'games/g/a.jpg')); // in-root link: its target's record
    // An in-root link grouped with an image of the folder's own by a local sidecar: two candidate
    // sidecars (the target's and b.json), so b.png cannot be decided. Unpaired, b.json alone would
    // look like a RAW+JPEG pair's one sidecar and decide it.
    symlinkSync('../../photos/b.jpg', join(root, 'games/g/b.jpg'));
    img(root, 'games/g/b.png');
    putFile(root, 'games/g/b.json', JSON.stringify({ yolov8: { success: true } }));
    symlinkSync(join(outside, 'c.jpg'), join(root, 'games/g/c.jpg')); // outside the root: listed here
    symlinkSync('../../photos/missing.jpg', join(root, 'games/g/d.jpg')); // broken
    putFile(root, 'games/g/e.json', JSON.stringify({ yolov8: { success: true } }));
    symlinkSync('../../photos/a.jpg', join(root, 'games/g/e.jpg')); // in-root link with a local sidecar: still its target's
    const r = await todo(root, { operation: 'yolov8' });
    assert.deepEqual(r.entries!.map((e) => [e.rel, e.reason]), [['games/g/c.jpg', 'failed'], ['photos/b.jpg', 'failed']]);
    // The same answers from the in-process engine, and with the index (its folders resolve the
    // links on the scan's thread; without it the engine resolves a folder of links).
    const inline = await todo(root, { operation: 'yolov8', engine: 'inline' });
    assert.deepEqual([inline.entries, inline.problems, inline.skipped, inline.counts], [r.entries, r.problems, r.skipped, r.counts]);
    const cli = async (...extra: string[]) => (await runCli(['todo', root, '--operation', 'yolov8', '--json', ...extra])).stdout;
    const noIndex = await cli('--no-index');
    assert.equal(await cli(), noIndex);
    assert.equal(await cli(), noIndex); // a warm index
    assert.deepEqual(r.problems.map((p) => [p.rel, p.category]), [['games/g/b.png', 'ambiguous']]);
    assert.deepEqual(r.skipped, { links: 3, brokenLinks: 1 });
    assert.equal(r.counts.done, 1);
  });

  it('CLI: write --hash-images, stale lists with reasons', async (t) => {
    const root = testDir(t);
    const a = img(root, 'a b.jpg');
    const w = await runCli(['write', a, '--operation', 'yolov8', '--data', '-', '--hash-images', '-q'], { input: '{"success": true}' });
    assert.equal(w.code, 0, w.stderr);
    const rec = (await readSidecar(a)).sidecar_info as Record<string, Record<string, unknown>>;
    assert.match(String(rec.image.sha256), /^[0-9a-f]{64}$/);
    writeFileSync(a, 'new content');
    const s = await runCli(['stale', root, '--jsonl', '-q']);
    assert.equal(s.code, 0, s.stderr);
    const recs = s.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(recs.length, 1);
    assert.equal(recs[0].image, join(root, 'a b.jpg'));
    assert.deepEqual(recs[0].changes, ['size', 'mtime']);
    assert.deepEqual(recs[0].operations, ['yolov8']);
    const p0 = await runCli(['stale', root, '-0', '-q']);
    assert.equal(p0.stdout, join(root, 'a b.jpg') + '\0');
  });
});

/**
 * todo and stale read sidecars with the probe: the WebAssembly scanner's probe skeleton when it
 * vouches for a file (src/accel/skeleton.ts, arrays skipped on the tape), else the skim decoder.
 * Whatever path a file takes, the printed output must be the reference's, byte for byte.
 */
describe('todo and stale: the WebAssembly probe gives the reference output (IMAGE_SIDECAR_ACCEL=off)', () => {
  let root = '';
  before(async () => {
    root = tempDir('isc-todo-accel-');
    await generateSampleLibrary(root, { images: 150, seed: 23 });
    const img = (name: string, body = 'jpeg-bytes') => putFile(root, `saved/${name}`, Buffer.from(`\xff\xd8${body}\xff\xd9`, 'latin1'));
    // Identity records of every kind: current, stale by size, stale for one operation only, hashed.
    const cur = img('current.jpg');
    await saveSidecar(cur, 'yolov8', { success: true, objects: [{ class_name: 'person', bbox: [1, 2, 3, 4] }] });
    const grown = img('grown.jpg');
    await saveSidecar(grown, 'yolov8', { success: true, objects: [] });
    writeFileSync(grown, 'a longer image body than before');
    const perOp = img('per-op.jpg');
    await saveSidecar(perOp, 'face_detection', { success: true, faces: [{ bbox: [0.1, 0.2], embedding: [0.5, -0.25] }] });
    await saveSidecar(perOp, 'yolov8', { success: true, objects: [] });
    writeFileSync(perOp, 'edited');
    await saveSidecar(perOp, 'yolov8', { success: false, objects: [] });
    const hashed = img('hashed.jpg');
    await saveSidecar(hashed, 'quality_assessment', { success: true, quality: { grade: 'A' } }, { hashImage: true });
    // Hostile sidecars (the fuzz corpus and its mutations), each next to an image: certified,
    // deferred, corrupt or foreign, they must come out as the reference says.
    const corpus = seedCorpus('json', 29);
    const hostile = fc.sample(hostileBytes('json', corpus), { numRuns: 120, seed: 29 });
    [...corpus, ...hostile].forEach((bytes, k) => {
      putFile(root, `hostile/h${String(k).padStart(3, '0')}.jpg`, Buffer.from('\xff\xd8img\xff\xd9', 'latin1'));
      putFile(root, `hostile/h${String(k).padStart(3, '0')}.json`, Buffer.from(bytes));
    });
    // Duplicate keys inside skipped arrays (the probe checks them by key id), escaped spellings of
    // the same key, sibling and nested objects that share keys (not duplicates), image records.
    const cases: Record<string, string> = {
      'dup-in-array': '{"yolov8": {"success": true, "objects": [{"class_name": "a", "class_name": "b"}]}}',
      'dup-escaped': '{"yolov8": {"success": true, "objects": [{"k\\u0031": 1, "k1": 2}]}}',
      'dup-deep': '{"yolov8": {"success": true, "objects": [[{"a": {"b": [{"c": 1, "d": 2, "c": 3}]}}]]}}',
      'dup-many-keys': `{"yolov8": {"success": true, "objects": [{${Array.from({ length: 40 }, (_, i) => `"k${i}": ${i}`).join(', ')}, "k3": 0}]}}`,
      'dup-after-nested': '{"yolov8": {"success": true, "objects": [{"x": {"x": {"x": 1}}, "y": 1, "x": 2}]}}',
      'shared-not-dup': '{"yolov8": {"success": true, "objects": [{"x": {"x": {"x": 1}}, "y": 1}, {"x": 2, "y": [{"x": 1}, {"x": 2}]}]}}',
      'many-keys-ok': `{"yolov8": {"success": true, "objects": [{${Array.from({ length: 70 }, (_, i) => `"k${i}": [${i}.5]`).join(', ')}}]}}`,
      'dup-non-ascii': '{"yolov8": {"success": true, "objects": [{"\\u00e9t\\u00e9": 1, "été": [2]}]}}',
      'escaped-ok': '{"yolov8": {"success": true, "objects": [{"\\u00e9t\\u00e9": 1, "ete": [2], "été2": 3, "k\\u0031": 4, "k2": 5}]}}',
      'failed-nested': '{"yolov8": {"yolov8": {"success": false, "objects": [1.5, 2.5]}}}',
      'info-dup': '{"yolov8": {"success": true}, "sidecar_info": {"image": {"operations": [{"a": 1, "a": 2}]}}}',
      'report-shape': '{"games": [{"game_id": 1}], "yolov8": {"success": true}}',
      'proto': '{"__proto__": {"success": false}, "yolov8": {"success": false, "objects": [{"__proto__": 1}]}}',
    };
    for (const [name, text] of Object.entries(cases)) {
      putFile(root, `cases/${name}.jpg`, Buffer.from('\xff\xd8img\xff\xd9', 'latin1'));
      putFile(root, `cases/${name}.json`, text);
    }
    // A record written by another tool: current for yolov8, stale for face detection (its lists hold foreign values too).
    const listsImage = putFile(root, 'cases/info-lists.jpg', Buffer.from('\xff\xd8img\xff\xd9', 'latin1'));
    const st = statSync(listsImage, { bigint: true });
    putFile(root, 'cases/info-lists.json', `{"yolov8": {"success": true}, "face_detection": {"success": true, "faces": []}, "sidecar_info": {"operation_type": "yolov8", "image": {"size": ${st.size}, "mtime_ns": "${st.mtimeNs}", "operations": ["yolov8", 3, ["x"]], "stale_operations": ["Face_detector"]}}}`);
  });
  after(() => removeTree(root));

  const OPS = ['yolov8', 'face_detection', 'quality_assessment', 'game_detection'];

  it('todo --json and --jsonl, stale --json: byte-identical with the scanner on and off', async () => {
    const run = async (args: string[], off: boolean) => {
      const r = await runCli(args, off ? { env: { IMAGE_SIDECAR_ACCEL: 'off' } } : {});
      return { code: r.code, stdout: r.stdout, stderr: r.stderr };
    };
    for (const op of OPS) {
      for (const form of ['--json', '--jsonl']) {
        // --no-index: the index's results would be served to the second run (its key ignores accel).
        const args = ['todo', root, '--operation', op, form, '--no-index'];
        const on = await run(args, false);
        assert.deepEqual(on, await run(args, true), `todo ${op} ${form}`);
        assert.ok(on.code === 0 || on.code === 1, on.stderr);
      }
    }
    const args = ['stale', root, '--json', '--no-index'];
    assert.deepEqual(await run(args, false), await run(args, true), 'stale');
  });

  it('what the output says about the attacks: duplicates are corrupt, records are read whole', async () => {
    const report = await todo(root, { operation: 'yolov8' });
    const corrupt = new Set(report.problems.filter((p) => p.category === 'corrupt').map((p) => p.rel));
    for (const name of ['dup-in-array', 'dup-escaped', 'dup-non-ascii', 'dup-deep', 'dup-many-keys', 'dup-after-nested', 'info-dup']) assert.ok(corrupt.has(`cases/${name}.jpg`), name);
    const listed = new Map(report.entries!.map((e) => [e.rel, e]));
    for (const name of ['shared-not-dup', 'many-keys-ok', 'escaped-ok', 'info-lists']) assert.ok(!corrupt.has(`cases/${name}.jpg`) && !listed.has(`cases/${name}.jpg`), name);
    assert.equal(listed.get('cases/failed-nested.jpg')?.reason, 'failed');
    assert.equal(listed.get('cases/proto.jpg')?.reason, 'failed');
    assert.equal(listed.get('saved/grown.jpg')?.reason, 'stale');
    assert.equal(listed.get('saved/per-op.jpg')?.reason, 'failed');
    const face = await todo(root, { operation: 'face_detection' });
    const perOp = face.entries!.find((e) => e.rel === 'saved/per-op.jpg');
    assert.deepEqual([perOp?.reason, perOp?.changes], ['stale', ['stale-operation']]);
    // The image record's lists are read with the probe (stale_operations: face_detection).
    const info = await todo(root, { operation: 'Face_detector' });
    assert.equal(info.entries!.find((e) => e.rel === 'cases/info-lists.jpg')?.reason, 'stale');
  });

  it('the probe skeleton certifies only what the reference accepts, as the reference data skimmed outside sidecar_info', () => {
    let certified = 0;
    const files: string[] = [];
    for (const dir of ['cases', 'hostile', 'saved']) for (const n of readdirSync(join(root, dir))) if (n.endsWith('.json')) files.push(join(root, dir, n));
    for (const f of files) {
      const bytes = readFileSync(f);
      const probe = accelDecode(bytes, {}, { arrays: 'skim' });
      if (probe === null || probe === 'deferred') continue;
      certified++;
      const ref = decodeSidecar(bytes); // throws (fails the test) if the reference rejects it
      assert.ok(deepEqualJson(probe.data, probeView(ref.data)), f);
    }
    assert.ok(certified > 30, `certified ${certified} of ${files.length}`);
  });
});

describe('todo on images that share a stem (RAW+JPEG): each image by its own sidecar', () => {
  it('a JPEG exported beside an already processed RAW is "no-sidecar", never "stale" against the RAW\'s record; each pair member by its own file', async (t) => {
    const root = testDir(t);
    putFile(root, 'a/IMG_1.CR2', 'raw bytes of the RAW');
    await saveSidecar(join(root, 'a/IMG_1.CR2'), 'yolov8', { success: true, objects: [] }, { format: 'json' });
    assert.ok(existsSync(join(root, 'a/IMG_1.json')), 'the RAW was alone: a stem sidecar');
    putFile(root, 'a/IMG_1.jpg', 'a JPEG exported later, other bytes');
    // b: the JPEG has its own file, the stem file is the RAW's; c: a shared stem file recording no image.
    putFile(root, 'b/IMG_2.CR2', 'raw');
    await saveSidecar(join(root, 'b/IMG_2.CR2'), 'yolov8', { success: false, objects: [] }, { format: 'json' });
    putFile(root, 'b/IMG_2.jpg', 'jpeg');
    await saveSidecar(join(root, 'b/IMG_2.jpg'), 'yolov8', { success: true, objects: [] });
    putFile(root, 'c/IMG_3.CR2', 'raw');
    putFile(root, 'c/IMG_3.jpg', 'jpeg');
    putFile(root, 'c/IMG_3.json', JSON.stringify({ yolov8: { success: true } }));
    for (const engine of ['inline', 'threads'] as const) {
      const r = await todo(root, { operation: 'yolov8', engine, index: false });
      const byImage = Object.fromEntries(r.entries!.map((e) => [e.rel, e.reason]));
      assert.deepEqual(byImage, { 'a/IMG_1.jpg': 'no-sidecar', 'b/IMG_2.CR2': 'failed' }, engine);
      assert.equal(r.counts.done, 2, 'IMG_1.CR2 and IMG_2.jpg');
      assert.deepEqual(r.problems.map((p) => [p.rel, p.category]).sort(), [['c/IMG_3.CR2', 'ambiguous'], ['c/IMG_3.jpg', 'ambiguous']]);
    }
    // What todo said is what a save does: the JPEG's save lands in its own file, the RAW's is untouched.
    const saved = await saveSidecar(join(root, 'a/IMG_1.jpg'), 'yolov8', { success: true, objects: [] });
    assert.equal(saved.path, join(root, 'a/IMG_1.jpg.json'));
    assert.equal(saved.created, true);
  });
});
