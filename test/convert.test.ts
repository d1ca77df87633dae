import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { convert, type ConvertItem, type ConvertReport } from '../src/ops/convert.js';
import { saveSidecar } from '../src/ops/save.js';
import { readSidecarDetailed } from '../src/ops/read.js';
import { resolveConflicts } from '../src/ops/resolve.js';
import { decodeSidecar, deepEqualJson, detectFormat, encodeSidecar } from '../src/formats/codec.js';
import { SidecarError } from '../src/errors.js';
import type { JsonObject, SidecarFormat } from '../src/types.js';
import { hostMark } from '../src/fs/temp-files.js';
import { FAKE_JPEG, sidecarData, testDir, putFile as put } from './helpers/tree.js';
import { SAMPLES_DIR } from './helpers/samples.js';

const SAMPLES = SAMPLES_DIR;
const EXACT = 0.22490839660167694; // the earlier tool turned this into …697



/** Realistic sidecar data with floats that must survive bit for bit. */
function data(name: string, faces = 1, extra = 0): JsonObject {
  const d = sidecarData(name, faces, 24) as JsonObject;
  d.quality_assessment = { success: true, quality: { overall_score: EXACT, sharpness: 0.8123456835746765 + extra, grade: 'B' }, processing_time: 0.1 };
  return d;
}

/** An image with one sidecar in `format`; returns the sidecar path. */
function image(root: string, img: string, format: SidecarFormat, d: JsonObject = data(path.basename(img))): string {
  put(root, img, FAKE_JPEG);
  const ext = format === 'legacy' ? 'bin' : format;
  return put(root, `${img.slice(0, img.lastIndexOf('.'))}.${ext}`, encodeSidecar(d, format));
}

/** Every entry under `dir`: file bytes (base64), symlink targets, directories. */
function snapshot(dir: string, rel = '', out: Record<string, string> = {}): Record<string, string> {
  for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const st = fs.lstatSync(path.join(dir, r));
    if (st.isSymbolicLink()) out[r] = `link:${fs.readlinkSync(path.join(dir, r))}`;
    else if (st.isDirectory()) {
      out[r] = 'dir';
      snapshot(dir, r, out);
    } else out[r] = `file:${st.ino}:${st.mtimeMs}:${fs.readFileSync(path.join(dir, r)).toString('base64')}`;
  }
  return out;
}

function readData(p: string): { data: JsonObject; format: SidecarFormat } {
  const d = decodeSidecar(fs.readFileSync(p));
  return { data: d.data, format: d.format };
}

const plan = (r: ConvertReport) => r.items!.map((i) => [i.source, i.target, i.action]);

function assertCounts(r: ConvertReport): void {
  assert.equal(r.converted + r.skipped + r.failed + r.conflicts, r.items!.length, 'every item is counted once');
}

test('json → bin → json round trip is bit-exact; sources go only after a verified write', async (t) => {
  const root = testDir(t);
  const imgs = ['IMG_1.jpg', 'sub dir/Ünï 2.JPG', 'photos/2025-09-20/20250920_143022_001.jpg'];
  const originals = new Map<string, { path: string; bytes: Buffer; data: JsonObject }>();
  for (const img of imgs) {
    const d = data(path.basename(img));
    const p = image(root, img, 'json', d);
    originals.set(img, { path: p, bytes: fs.readFileSync(p), data: d });
  }

  const toBin = await convert(root, 'bin', { engine: 'inline' });
  assertCounts(toBin);
  assert.equal(toBin.format, 'bin');
  assert.equal(toBin.converted, 3);
  assert.equal(toBin.failed + toBin.conflicts, 0);
  for (const item of toBin.items!) {
    assert.equal(item.action, 'convert');
    assert.ok(item.ok && item.sourceRemoved);
    assert.ok(item.source.endsWith('.json') && item.target!.endsWith('.bin'));
  }
  for (const o of originals.values()) {
    assert.equal(fs.existsSync(o.path), false, 'source removed');
    const bin = o.path.replace(/\.json$/, '.bin');
    const bytes = fs.readFileSync(bin);
    assert.equal(detectFormat(bytes), 'bin');
    const back = readData(bin).data;
    assert.ok(deepEqualJson(back, o.data));
    const q = (back.quality_assessment as JsonObject).quality as JsonObject;
    assert.ok(Object.is(q.overall_score, EXACT));
  }
  assert.deepEqual(fs.readdirSync(root).filter((n) => n.includes('.isc-tmp-')), []);

  const toJson = await convert(root, 'json', { engine: 'inline' });
  assert.equal(toJson.converted, 3);
  for (const o of originals.values()) {
    assert.ok(fs.readFileSync(o.path).equals(o.bytes), 'the json file is byte-identical to the original');
    assert.equal(fs.existsSync(o.path.replace(/\.json$/, '.bin')), false);
  }
});

test('keepSource keeps the source; the next run finds the equal pair and dedupes it', async (t) => {
  const root = testDir(t);
  const json = image(root, 'IMG_1.jpg', 'json');
  const r1 = await convert(root, 'bin', { engine: 'inline', keepSource: true });
  assert.equal(r1.converted, 1);
  assert.equal(r1.items![0].sourceRemoved, false);
  const bin = path.join(root, 'IMG_1.bin');
  assert.ok(fs.existsSync(json) && fs.existsSync(bin));
  const binIno = fs.statSync(bin).ino;

  const r2 = await convert(root, 'bin', { engine: 'inline' });
  assertCounts(r2);
  assert.deepEqual(
    r2.items!.map((i) => [path.basename(i.source), path.basename(i.target!), i.action, i.ok, i.sourceRemoved]),
    [
      ['IMG_1.bin', 'IMG_1.bin', 'skip-already', true, false],
      ['IMG_1.json', 'IMG_1.bin', 'dedupe', true, true],
    ],
  );
  // The kept file is no second file converted ("Converted 2" for one copy removed).
  assert.deepEqual([r2.converted, r2.skipped], [1, 1]);
  assert.equal(fs.existsSync(json), false);
  assert.equal(fs.statSync(bin).ino, binIno, 'the kept file is not rewritten');
});

/** A tree with one of everything convert must tell apart. */
function mixedTree(root: string): void {
  image(root, 'a/convert-me.jpg', 'json');
  image(root, 'a/already.jpg', 'bin');
  image(root, 'a/legacy.jpg', 'legacy');
  const shared = data('pair.jpg');
  image(root, 'b/pair.jpg', 'json', shared);
  put(root, 'b/pair.bin', encodeSidecar(shared, 'legacy'));
  image(root, 'b/clash.jpg', 'json', data('clash.jpg', 1, 0));
  put(root, 'b/clash.bin', encodeSidecar(data('clash.jpg', 1, 0.001), 'bin'));
  put(root, 'b/orphan.json', encodeSidecar(data('gone.jpg'), 'json'));
  put(root, 'b/game_detection.json', JSON.stringify({ success: true, games: [{ game_id: 1, photo_files: ['x.jpg'] }] }, null, 2));
  put(root, 'b/corrupt.jpg', FAKE_JPEG);
  put(root, 'b/corrupt.json', '{"face_detection": {"faces": [');
}

test('dry run writes nothing and returns the same plan as the real run', async (t) => {
  const root = testDir(t);
  mixedTree(root);
  const dead = spawnSync(process.execPath, ['-e', '']).pid; // a pid that has certainly exited
  const stale = `a/.convert-me.bin.isc-tmp-${hostMark()}-${dead}-zz`; // a dead writer of this host
  put(root, stale, 'stale temp file of a dead writer');
  const before = snapshot(root);
  const dry = await convert(root, 'bin', { engine: 'inline', dryRun: true });
  assert.equal(dry.dryRun, true);
  assert.deepEqual(snapshot(root), before, 'nothing written, removed or renamed');
  assertCounts(dry);
  assert.ok(dry.items!.every((i) => !i.sourceRemoved));
  // Every item but the conflicts and the file that cannot be decoded (a finding: left as it is) is fine.
  assert.ok(dry.items!.filter((i) => i.action !== 'conflict' && i.action !== 'skip-corrupt').every((i) => i.ok));
  assert.deepEqual(dry.items!.filter((i) => i.action === 'skip-corrupt').map((i) => [path.relative(root, i.source), i.ok]), [['b/corrupt.json', false]]);

  const real = await convert(root, 'bin', { engine: 'inline' });
  assert.deepEqual(plan(dry), plan(real));
  assert.deepEqual(
    [dry.converted, dry.skipped, dry.failed, dry.conflicts],
    [real.converted, real.skipped, real.failed, real.conflicts],
  );
  const actions = Object.fromEntries(real.items!.map((i) => [path.relative(root, i.source), i.action]));
  assert.deepEqual(actions, {
    'a/already.bin': 'skip-already',
    'a/convert-me.json': 'convert',
    'a/legacy.bin': 'rewrite',
    'b/clash.bin': 'conflict',
    'b/clash.json': 'conflict',
    'b/corrupt.json': 'skip-corrupt',
    'b/game_detection.json': 'skip-not-sidecar',
    'b/orphan.json': 'skip-orphan',
    'b/pair.bin': 'rewrite',
    'b/pair.json': 'dedupe',
  });
  assert.equal(dry.tempFilesRemoved, 0);
  assert.equal(real.tempFilesRemoved, 1, 'the stale temp file goes before writing next to it');
  assert.equal(fs.existsSync(path.join(root, stale)), false);
});

test('a folder with nothing left to convert has the leftovers of a killed run swept too: a source moved aside and not yet unlinked (plaintext, under convert --encrypt) stayed there for good', async (t) => {
  const root = testDir(t);
  image(root, 'done/IMG.jpg', 'bin');
  image(root, 'todo/IMG.jpg', 'json');
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  const aside = `done/.IMG.bin.isc-tmp-${hostMark()}-${dead}-zz`; // the source a killed run had renamed aside
  put(root, aside, JSON.stringify(data('IMG.jpg')));
  const alone = `empty/.X.json.isc-tmp-${hostMark()}-${dead}-zz`; // a folder with nothing else in it
  put(root, alone, '{}');
  const dry = await convert(root, 'bin', { engine: 'inline', dryRun: true });
  assert.equal(dry.tempFilesRemoved, 0);
  assert.ok(fs.existsSync(path.join(root, aside)));
  const real = await convert(root, 'bin', { engine: 'inline' });
  assert.equal(real.converted, 1);
  assert.equal(real.tempFilesRemoved, 2);
  assert.equal(fs.existsSync(path.join(root, aside)), false);
  assert.equal(fs.existsSync(path.join(root, alone)), false);
});

test('orphans, reports, unrelated JSON, corrupt files and link targets outside the root are never converted', async (t) => {
  const root = testDir(t);
  const outside = testDir(t, 'isc-convert-outside-');
  image(outside, 'outside.jpg', 'json');
  put(outside, 'elsewhere.json', encodeSidecar(data('s.jpg'), 'json'));
  const outsideBefore = snapshot(outside);

  image(root, 'good.jpg', 'json');
  put(root, 'orphan.json', encodeSidecar(data('orphan.jpg'), 'json'));
  put(root, 'game_detection.json', JSON.stringify({ success: true, games: [] }));
  put(root, 'settings.json', JSON.stringify({ theme: 'dark' }));
  put(root, 'bad.jpg', FAKE_JPEG);
  put(root, 'bad.json', '{"face_detection": {"faces": [');
  put(root, 'empty.jpg', FAKE_JPEG);
  put(root, 'empty.json', '');
  fs.symlinkSync(path.join(outside, 'outside.jpg'), path.join(root, 'link.jpg'));
  // A symlinked sidecar is read through the link but never converted (it points outside the root).
  put(root, 's.jpg', FAKE_JPEG);
  fs.symlinkSync(path.join(outside, 'elsewhere.json'), path.join(root, 's.json'));
  const keep = ['orphan.json', 'game_detection.json', 'settings.json', 'bad.json', 'empty.json', 's.json'];
  const keepBefore = keep.map((n) => snapshot(root)[n]);

  const r = await convert(root, 'bin', { engine: 'inline' });
  assertCounts(r);
  assert.equal(r.converted, 1);
  // The two files that cannot be decoded are findings (left as they are), nothing else failed.
  assert.deepEqual([r.failed, r.conflicts], [2, 0]);
  assert.deepEqual(r.items!.filter((i) => !i.ok).map((i) => path.basename(i.source)).sort(), ['bad.json', 'empty.json']);
  assert.deepEqual(snapshot(outside), outsideBefore, 'nothing outside the root touched');
  assert.deepEqual(keep.map((n) => snapshot(root)[n]), keepBefore);
  for (const n of ['orphan', 'game_detection', 'settings', 'bad', 'empty', 's']) assert.equal(fs.existsSync(path.join(root, `${n}.bin`)), false, n);
  const byName = new Map(r.items!.map((i) => [path.basename(i.source), i]));
  assert.equal(byName.get('orphan.json')!.action, 'skip-orphan');
  assert.equal(byName.get('game_detection.json')!.action, 'skip-not-sidecar');
  assert.equal(byName.get('settings.json')!.action, 'skip-not-sidecar');
  assert.equal(byName.get('bad.json')!.action, 'skip-corrupt');
  assert.equal(byName.get('bad.json')!.error!.code, 'CORRUPT');
  assert.equal(byName.get('empty.json')!.action, 'skip-corrupt');
  const out = byName.get('outside.json')!;
  assert.deepEqual([out.action, out.target, out.sourceRemoved], ['skip-outside-root', null, false]);
  assert.equal(byName.get('good.json')!.action, 'convert');
  assert.equal(byName.get('s.json')!.action, 'skip-symlink');
});

test('x.json and x.bin that disagree are a conflict: both untouched, both paths reported', async (t) => {
  const root = testDir(t);
  const json = image(root, 'x.jpg', 'json', data('x.jpg', 1, 0)); // stale
  const bin = put(root, 'x.bin', encodeSidecar(data('x.jpg', 2, 0), 'bin')); // newer
  const before = snapshot(root);
  for (const format of ['json', 'bin', 'rkyv'] as const) {
    const r = await convert(root, format, { engine: 'inline' });
    assertCounts(r);
    assert.equal(r.conflicts, 2, format);
    assert.equal(r.converted + r.failed, 0);
    for (const item of r.items!) {
      assert.equal(item.action, 'conflict');
      assert.equal(item.ok, false);
      assert.equal(item.error!.code, 'CONFLICT');
      assert.ok(item.error!.message.includes(json) && item.error!.message.includes(bin), item.error!.message);
      assert.equal(item.sourceRemoved, false);
    }
    assert.deepEqual(snapshot(root), before, `${format}: both files untouched`);
  }
});

test('equal x.json and legacy x.bin: dedupe rewrites x.bin in our format and removes x.json', async (t) => {
  const root = testDir(t);
  put(root, 'x.jpg', FAKE_JPEG);
  const bin = path.join(root, 'x.bin');
  fs.copyFileSync(path.join(SAMPLES, 'legacy-test1.bin'), bin);
  fs.chmodSync(bin, 0o644);
  const legacy = readData(bin);
  assert.equal(legacy.format, 'legacy');
  const json = put(root, 'x.json', encodeSidecar(legacy.data, 'json'));

  const r = await convert(root, 'bin', { engine: 'inline' });
  assertCounts(r);
  assert.deepEqual(r.items!.map((i) => [path.basename(i.source), i.action, i.ok, i.sourceRemoved]), [
    ['x.bin', 'rewrite', true, false],
    ['x.json', 'dedupe', true, true],
  ]);
  assert.deepEqual([r.converted, r.skipped], [2, 0], 'x.bin rewritten, x.json converted into it');
  assert.equal(fs.existsSync(json), false);
  const now = readData(bin);
  assert.equal(now.format, 'bin');
  assert.ok(deepEqualJson(now.data, legacy.data));
});

test('a legacy .bin converted to bin is a same-path rewrite; legacy is written only when asked', async (t) => {
  const root = testDir(t);
  put(root, 'l.jpg', FAKE_JPEG);
  const bin = path.join(root, 'l.bin');
  fs.copyFileSync(path.join(SAMPLES, 'legacy-test2.bin'), bin);
  fs.chmodSync(bin, 0o644);
  const legacy = readData(bin);
  const r = await convert(root, 'binary', { engine: 'inline' });
  assert.deepEqual(r.items!.map((i) => [i.source, i.target, i.action, i.ok, i.sourceRemoved]), [[bin, bin, 'rewrite', true, false]]);
  assert.equal(readData(bin).format, 'bin');
  assert.ok(deepEqualJson(readData(bin).data, legacy.data));

  const back = await convert(root, 'legacy', { engine: 'inline' });
  assert.equal(back.items![0].action, 'rewrite');
  assert.ok(fs.readFileSync(bin).equals(encodeSidecar(legacy.data, 'legacy')));
});

test('re-running is a no-op: everything is skip-already and no file is rewritten', async (t) => {
  const root = testDir(t);
  for (let i = 0; i < 6; i++) image(root, `d${i % 2}/IMG_${i}.jpg`, i % 3 === 0 ? 'legacy' : 'json');
  const first = await convert(root, 'rkyv', { engine: 'inline' });
  assert.equal(first.converted, 6);
  const before = snapshot(root);
  const again = await convert(root, 'rkyv', { engine: 'inline' });
  assertCounts(again);
  assert.equal(again.items!.length, 6);
  assert.ok(again.items!.every((i) => i.action === 'skip-already' && i.ok && i.target === i.source));
  assert.equal(again.converted + again.failed + again.conflicts, 0);
  assert.deepEqual(snapshot(root), before, 'same inodes, mtimes and bytes');
});

test('failures keep the source and are reported: target is a directory, unrepresentable data, a symlink at the target', async (t) => {
  const root = testDir(t);
  image(root, 'a.jpg', 'json');
  const b = image(root, 'b.jpg', 'json');
  fs.mkdirSync(path.join(root, 'b.bin')); // the write must fail
  put(root, 'c.jpg', FAKE_JPEG);
  const c = put(root, 'c.json', '{"sidecar_info": {"image_path": "c.jpg"}, "note": "lone surrogate \\ud800"}');
  const d = image(root, 'd.jpg', 'json');
  const elsewhere = put(root, 'elsewhere/keep.txt', 'must not be overwritten');
  fs.symlinkSync(elsewhere, path.join(root, 'd.bin'));
  image(root, 'e.jpg', 'json');
  const before = snapshot(root);

  const r = await convert(root, 'bin', { engine: 'inline' });
  assertCounts(r);
  const by = new Map<string, ConvertItem>(r.items!.map((i) => [path.basename(i.source), i]));
  assert.equal(by.get('a.json')!.ok, true);
  assert.equal(by.get('e.json')!.ok, true, 'work after a failure goes on');
  // A directory in b.bin's place is an unreadable candidate: it blocks the write (conflict) and fails itself.
  const fb = by.get('b.json')!;
  assert.deepEqual([fb.action, fb.ok, fb.sourceRemoved, fb.error!.code], ['conflict', false, false, 'CONFLICT']);
  assert.deepEqual([by.get('b.bin')!.action, by.get('b.bin')!.ok], ['skip-corrupt', false]);
  // A symlink in d.bin's place is never written through.
  assert.equal(by.get('d.bin')!.action, 'skip-symlink');
  const fc = by.get('c.json')!;
  assert.deepEqual([fc.ok, fc.sourceRemoved, fc.error!.code], [false, false, 'UNREPRESENTABLE']);
  const fd = by.get('d.json')!;
  assert.deepEqual([fd.action, fd.ok, fd.error!.code], ['conflict', false, 'CONFLICT']);
  assert.equal(r.failed, 2); // b.bin (a directory) and c.json (unrepresentable)
  assert.equal(r.conflicts, 2); // b.json and d.json
  assert.equal(r.converted, 2);

  const after = snapshot(root);
  for (const rel of ['b.json', 'c.json', 'd.json', 'd.bin', 'elsewhere/keep.txt', 'b.bin']) assert.equal(after[rel], before[rel], rel);
  assert.ok(fs.existsSync(b) && fs.existsSync(c) && fs.existsSync(d));
  assert.equal(fs.existsSync(path.join(root, 'c.bin')), false);
  assert.deepEqual(fs.readdirSync(root).filter((n) => n.includes('.isc-tmp-')), [], 'no temp file left behind');
});

test('name-ext sidecars keep their naming form in every format', async (t) => {
  const root = testDir(t);
  put(root, 'IMG_2.jpg', FAKE_JPEG);
  const nameExt = put(root, 'IMG_2.jpg.json', encodeSidecar(data('IMG_2.jpg'), 'json'));
  const r = await convert(root, 'bin', { engine: 'inline' });
  assert.deepEqual(r.items!.map((i) => [path.basename(i.source), path.basename(i.target!), i.action]), [['IMG_2.jpg.json', 'IMG_2.jpg.bin', 'convert']]);
  await convert(root, 'json', { engine: 'inline' });
  assert.ok(fs.existsSync(nameExt));
  const rk = await convert(root, 'rkyv', { engine: 'inline' });
  assert.deepEqual(rk.items!.map((i) => [path.basename(i.source), path.basename(i.target!), i.action, i.ok]), [['IMG_2.jpg.json', 'IMG_2.jpg.rkyv', 'convert', true]]);
  assert.equal(fs.existsSync(nameExt), false, 'source removed after the verified write');
  assert.ok(fs.existsSync(path.join(root, 'IMG_2.jpg.rkyv')));
});

test('verify: canonical digests of every image agree before and after', async (t) => {
  const root = testDir(t);
  image(root, 'p/IMG_1.jpg', 'json');
  image(root, 'p/IMG_2.jpg', 'legacy');
  image(root, 'p/IMG_3.jpg', 'bin');
  fs.mkdirSync(path.join(root, 'game'));
  fs.symlinkSync('../p/IMG_1.jpg', path.join(root, 'game/IMG_1.jpg')); // its sidecar is the target's
  const r = await convert(root, 'json', { engine: 'inline', verify: true });
  assert.equal(r.converted, 2);
  assert.deepEqual(r.verify, { checked: 4, mismatches: [] });
  assert.equal(r.scanComplete, true);
});

test('verify reports images whose data changed or vanished during the run', async (t) => {
  const root = testDir(t);
  image(root, 'IMG_1.jpg', 'json');
  const changed = image(root, 'IMG_2.jpg', 'bin');
  const gone = image(root, 'IMG_3.jpg', 'bin');
  let touched = false;
  const r = await convert(root, 'bin', {
    engine: 'inline',
    verify: true,
    // Another writer at work while we convert: verify must notice.
    onItem: () => {
      if (touched) return;
      touched = true;
      fs.writeFileSync(changed, encodeSidecar(data('IMG_2.jpg', 3), 'bin'));
      fs.unlinkSync(gone);
    },
  });
  assert.equal(r.verify!.checked, 3);
  assert.deepEqual(
    r.verify!.mismatches.map((m) => [m.image, typeof m.before, m.after === null ? null : m.after === m.before]),
    [
      ['IMG_2.jpg', 'string', false],
      ['IMG_3.jpg', 'string', null],
    ],
  );
});

test('threads and inline engines give the same items in the same (path) order', async (t) => {
  const a = testDir(t);
  const b = testDir(t);
  for (const root of [a, b]) {
    for (let i = 0; i < 30; i++) image(root, `d${i % 3}/IMG_${String(i).padStart(2, '0')}.jpg`, i % 4 === 0 ? 'bin' : 'json');
    put(root, 'd1/orphan.json', encodeSidecar(data('x.jpg'), 'json'));
  }
  const streamed: ConvertItem[] = [];
  const ra = await convert(a, 'bin', { engine: 'threads', workers: 2, batchSize: 4, onItem: (i) => void streamed.push(i) });
  const rb = await convert(b, 'bin', { engine: 'inline' });
  assert.equal(ra.items, undefined, 'with onItem the report carries no item list');
  const rel = (root: string, items: ConvertItem[]) => items.map((i) => [path.relative(root, i.source), i.target && path.relative(root, i.target), i.action, i.ok]);
  assert.deepEqual(rel(a, streamed), rel(b, rb.items!));
  assert.deepEqual([ra.converted, ra.skipped], [rb.converted, rb.skipped]);
  assert.equal(ra.converted, 22);
});

test('an unknown format is a usage error; a missing root is NOT_FOUND', async (t) => {
  const root = testDir(t);
  await assert.rejects(convert(root, 'xml' as never), (e: unknown) => e instanceof SidecarError && e.code === 'USAGE');
  await assert.rejects(convert(path.join(root, 'nope'), 'bin'), (e: unknown) => e instanceof SidecarError && e.code === 'NOT_FOUND');
});

test('an earlier run killed between write and removal leaves a pair that the next run dedupes', async (t) => {
  const root = testDir(t);
  // Simulate the crash in a child process: write and verify the target, then die before removing.
  const json = image(root, 'k.jpg', 'json');
  const d = readData(json).data;
  const r = spawnSync(process.execPath, ['-e', `require('fs').writeFileSync(${JSON.stringify(path.join(root, 'k.bin'))}, Buffer.from(${JSON.stringify(encodeSidecar(d, 'bin').toString('base64'))}, 'base64')); process.kill(process.pid, 'SIGKILL')`]);
  assert.equal(r.signal, 'SIGKILL');
  const again = await convert(root, 'bin', { engine: 'inline' });
  assert.deepEqual(again.items!.map((i) => [path.basename(i.source), i.action, i.sourceRemoved]), [
    ['k.bin', 'skip-already', false],
    ['k.json', 'dedupe', true],
  ]);
  assert.ok(deepEqualJson(readData(path.join(root, 'k.bin')).data, d));
});

/**
 * Run a real convert to `format` in a child process and SIGKILL it as it starts removing its first
 * source: its targets are published and durable, its source and its lock are left.
 */
function killConvertAtRemoval(root: string, format: SidecarFormat, sourceExt: string): void {
  const convertModule = new URL('../src/ops/convert.js', import.meta.url).href;
  const script = `
    import fs from 'node:fs';
    import { syncBuiltinESMExports } from 'node:module';
    // A source is removed in two steps: renamed aside, then unlinked. Die before the first.
    const rename = fs.renameSync;
    fs.renameSync = (from, to) => {
      if (String(from).endsWith(${JSON.stringify(`.${sourceExt}`)})) process.kill(process.pid, 'SIGKILL');
      return rename(from, to);
    };
    syncBuiltinESMExports();
    const { convert } = await import(${JSON.stringify(convertModule)});
    await convert(${JSON.stringify(root)}, ${JSON.stringify(format)}, { engine: 'inline' });
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.signal, 'SIGKILL', `the convert was not killed at its removal: ${r.stderr}`);
}

test('a convert killed before removing its source, then a save: nothing is lost, the source is a kept copy the read names, convert calls it a conflict and resolve quarantines it (a save never removes a file)', async (t) => {
  const root = testDir(t);
  const img = path.join(root, 'IMG_1.jpg');
  const json = image(root, 'IMG_1.jpg', 'json');
  const before = readData(json);
  const sourceBytes = fs.readFileSync(json);
  killConvertAtRemoval(root, 'bin', 'json');
  const bin = path.join(root, 'IMG_1.bin');
  assert.ok(deepEqualJson(readData(bin).data, before.data), 'the kill left the target, equal to its source');

  const saved = await saveSidecar(img, 'quality', { score: 0.5 }, { lockStaleMs: 2000 });
  assert.equal(saved.path, bin);
  assert.ok(fs.readFileSync(json).equals(sourceBytes), 'the source is left byte for byte as it was');
  const read = await readSidecarDetailed(img);
  assert.equal(read.path, bin);
  assert.deepEqual(read.data.quality, { score: 0.5 });
  assert.deepEqual(read.findings.filter((f) => f.code === 'kept').map((f) => f.path), [json]);

  const conflicted = await convert(root, 'bin', { engine: 'inline' });
  assert.equal(conflicted.conflicts, 2, 'a convert does not guess which copy to keep (both files of the pair reported)');
  assert.ok(fs.existsSync(json));
  const r = await resolveConflicts(root, { engine: 'inline' });
  assert.equal(r.quarantined, 1);
  assert.ok(!fs.existsSync(json), 'resolve quarantined the older copy');
  const after = await readSidecarDetailed(img);
  for (const k of Object.keys(before.data)) if (k !== 'sidecar_info') assert.ok(deepEqualJson(after.data[k], before.data[k]), k);
  assert.deepEqual(after.data.quality, { score: 0.5 });
  const clean = await convert(root, 'bin', { engine: 'inline' });
  assert.deepEqual([clean.failed, clean.conflicts], [0, 0]);
});

test("a converted sidecar keeps its source's mode and, as root, its owner (issue 10 §6)", async (t) => {
  const root = testDir(t);
  const secret = image(root, 'p/IMG_1.jpg', 'json');
  const shared = image(root, 'p/IMG_2.jpg', 'json');
  fs.chmodSync(secret, 0o600);
  fs.chmodSync(shared, 0o644);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) fs.chownSync(secret, 4321, 8765);
  const r = await convert(root, 'bin', { engine: 'threads', workers: 2 });
  assert.equal(r.failed, 0);
  const st1 = fs.statSync(path.join(root, 'p/IMG_1.bin'));
  const st2 = fs.statSync(path.join(root, 'p/IMG_2.bin'));
  assert.equal(st1.mode & 0o7777, 0o600, 'face embeddings stay private');
  assert.equal(st2.mode & 0o7777, 0o644);
  if (asRoot) assert.deepEqual([st1.uid, st1.gid], [4321, 8765]);
  // And back, in-process this time.
  fs.chmodSync(path.join(root, 'p/IMG_1.bin'), 0o640);
  await convert(root, 'json', { engine: 'inline' });
  assert.equal(fs.statSync(path.join(root, 'p/IMG_1.json')).mode & 0o7777, 0o640);
});

test('a source that cannot be removed (immutable) is named in the error, not the target it was converted to; the target is taken back and the source kept', async (t) => {
  // Regression: the error said "IMG_1.bin: operation not permitted", a file that was writable.
  const root = testDir(t);
  const json = image(root, 'p/IMG_1.jpg', 'json');
  if (spawnSync('chattr', ['+i', json]).status !== 0) return t.skip('chattr +i is not available here');
  try {
    const r = await convert(root, 'bin', { engine: 'inline' });
    assert.equal(r.failed, 1);
    const err = r.items![0].error!;
    assert.equal(err.code, 'PERMISSION');
    assert.ok(err.message.startsWith(`${json}:`), err.message);
    assert.equal(fs.existsSync(path.join(root, 'p/IMG_1.bin')), false, 'the target is taken back');
    assert.ok(fs.existsSync(json));
  } finally {
    spawnSync('chattr', ['-i', json]);
  }
});

test('a target above the read limit is refused before anything is written; the source stays (issue 10 §5)', async (t) => {
  const root = testDir(t);
  const d = data('IMG_1.jpg', 40);
  const bin = image(root, 'p/IMG_1.jpg', 'bin', d);
  const binSize = fs.statSync(bin).size;
  const jsonSize = encodeSidecar(d, 'json').length;
  assert.ok(jsonSize > binSize);
  const limit = Math.floor((binSize + jsonSize) / 2); // the bin reads, its JSON would not
  const r = await convert(root, 'json', { maxFileSize: limit, engine: 'inline' });
  assert.equal(r.failed, 1);
  assert.equal(r.items![0].error?.code, 'TOO_LARGE');
  assert.equal(fs.existsSync(path.join(root, 'p/IMG_1.json')), false);
  assert.equal(fs.statSync(bin).size, binSize);
});

test('a source another writer (without the lock) replaces while convert runs is never removed nor overwritten: its new data stays, the target is taken back (CONFLICT)', async (t) => {
  const { convertUnits } = await import('../src/tasks/convert.js');
  const root = testDir(t);
  const replace = (p: string, data: JsonObject) => {
    fs.writeFileSync(`${p}.writer-tmp`, JSON.stringify(data));
    fs.renameSync(`${p}.writer-tmp`, p);
  };
  // json → bin: the source is removed after the target verifies.
  put(root, 'a.jpg', FAKE_JPEG);
  const json = put(root, 'a.json', JSON.stringify(sidecarData('a.jpg', 1, 4)));
  const newer = { ...sidecarData('a.jpg', 2, 4), writer: 'newer' } as JsonObject;
  // legacy bytes at b.bin rewritten in place as bin: the target is the source's own path.
  put(root, 'b.jpg', FAKE_JPEG);
  const legacy = put(root, 'b.bin', encodeSidecar(sidecarData('b.jpg', 1, 4) as JsonObject, 'legacy'));
  const running = convertUnits(
    [
      { sources: [json], target: path.join(root, 'a.bin') },
      { sources: [legacy], target: legacy },
    ],
    { format: 'bin' },
  );
  // convertUnits read both sources before its first wait (the batch's fsyncs); the writer lands now.
  replace(json, newer);
  fs.writeFileSync(`${legacy}.writer-tmp`, encodeSidecar(newer, 'legacy'));
  fs.renameSync(`${legacy}.writer-tmp`, legacy);
  const [a, b] = await running;
  for (const items of [a, b]) {
    assert.equal(items[0].ok, false);
    assert.equal(items[0].error?.code, 'CONFLICT', JSON.stringify(items));
    assert.equal(items[0].sourceRemoved, false);
  }
  assert.ok(deepEqualJson(decodeSidecar(fs.readFileSync(json)).data, newer), 'the writer\'s a.json was lost');
  assert.ok(!fs.existsSync(path.join(root, 'a.bin')), 'a.bin with the old data would shadow the newer a.json');
  const atB = decodeSidecar(fs.readFileSync(legacy));
  assert.equal(atB.format, 'legacy', 'the writer\'s b.bin was overwritten');
  assert.ok(deepEqualJson(atB.data, newer));
});

test('a writer without the lock that replaces the source at the very moment convert removes it keeps its data: the removal takes the file aside, finds another file and puts it back, the target is taken back (CONFLICT)', async (t) => {
  const { convertUnits } = await import('../src/tasks/convert.js');
  const root = testDir(t);
  put(root, 'a.jpg', FAKE_JPEG);
  const json = put(root, 'a.json', JSON.stringify(sidecarData('a.jpg', 1, 4)));
  const newer = { ...sidecarData('a.jpg', 2, 4), writer: 'newer' } as JsonObject;
  // The writer lands after every check convert makes, right before its first file call on the source.
  const mutableFs = createRequire(import.meta.url)('node:fs') as { unlinkSync: (p: fs.PathLike) => void; renameSync: (a: fs.PathLike, b: fs.PathLike) => void };
  const { unlinkSync, renameSync } = mutableFs;
  let armed = true;
  const land = (p: fs.PathLike) => {
    if (!armed || String(p) !== json) return;
    armed = false;
    fs.writeFileSync(`${json}.writer-tmp`, JSON.stringify(newer));
    renameSync(`${json}.writer-tmp`, json);
  };
  mutableFs.unlinkSync = (p) => (land(p), unlinkSync(p));
  mutableFs.renameSync = (a, b) => (land(a), renameSync(a, b));
  syncBuiltinESMExports();
  t.after(() => {
    mutableFs.unlinkSync = unlinkSync;
    mutableFs.renameSync = renameSync;
    syncBuiltinESMExports();
  });
  const [items] = await convertUnits([{ sources: [json], target: path.join(root, 'a.bin') }], { format: 'bin' });
  assert.equal(armed, false, 'the writer never landed');
  assert.equal(items[0].ok, false);
  assert.equal(items[0].error?.code, 'CONFLICT', JSON.stringify(items));
  assert.equal(items[0].sourceRemoved, false);
  assert.ok(fs.existsSync(json) && deepEqualJson(decodeSidecar(fs.readFileSync(json)).data, newer), "the writer's a.json was lost");
  assert.ok(!fs.existsSync(path.join(root, 'a.bin')), 'a.bin with the old data would shadow the newer a.json');
  assert.deepEqual(fs.readdirSync(root).sort(), ['a.jpg', 'a.json'], 'nothing is left aside');
});

test('a convert whose lock another process takes over after the target is published never removes the source: the target is taken back (CONFLICT)', async (t) => {
  const { convertUnits } = await import('../src/tasks/convert.js');
  const root = testDir(t);
  put(root, 'a.jpg', FAKE_JPEG);
  const data = sidecarData('a.jpg', 1, 4);
  const json = put(root, 'a.json', JSON.stringify(data));
  const target = path.join(root, 'a.bin');
  // Right after the target's rename: the lock is moved aside and made again by another holder.
  const mutableFs = createRequire(import.meta.url)('node:fs') as { renameSync: (a: fs.PathLike, b: fs.PathLike) => void };
  const { renameSync } = mutableFs;
  let takenOver = false;
  mutableFs.renameSync = (a, b) => {
    renameSync(a, b);
    if (takenOver || String(b) !== target) return;
    takenOver = true;
    const lock = fs.readdirSync(root).find((n) => n.endsWith('.isc-lock'));
    assert.ok(lock, 'the unit holds its lock while it publishes its target');
    renameSync(path.join(root, lock), path.join(root, `${lock}-taken`));
    fs.mkdirSync(path.join(root, lock));
    fs.writeFileSync(path.join(root, lock, 'owner'), 'another holder');
  };
  syncBuiltinESMExports();
  t.after(() => {
    mutableFs.renameSync = renameSync;
    syncBuiltinESMExports();
  });
  const [items] = await convertUnits([{ sources: [json], target, lockKey: path.join(fs.realpathSync(root), 'a') }], { format: 'bin' });
  assert.equal(takenOver, true, 'the target was never published');
  assert.equal(items[0].ok, false);
  assert.equal(items[0].error?.code, 'CONFLICT', JSON.stringify(items));
  assert.equal(items[0].sourceRemoved, false);
  assert.ok(deepEqualJson(decodeSidecar(fs.readFileSync(json)).data, data as JsonObject), 'the source is kept as it was');
  assert.ok(!fs.existsSync(target), 'the target is taken back');
  assert.equal(fs.readFileSync(path.join(root, '.a.isc-lock', 'owner'), 'utf8'), 'another holder', "the new holder's lock is left alone");
});

test('units of one image in one batch share its lock: x.json and x.jpg.json both convert, no LOCK_TIMEOUT (the second waited 10 s on the first\'s lock and failed)', async (t) => {
  const root = testDir(t);
  put(root, 'x.jpg', FAKE_JPEG);
  // Sidecar-shaped (sidecar_info): another tool's file is never converted (test/foreign-files.test.ts).
  put(root, 'x.json', JSON.stringify({ sidecar_info: {}, a: 1 }));
  put(root, 'x.jpg.json', JSON.stringify({ sidecar_info: {}, b: 1 }));
  put(root, 'y.jpg', FAKE_JPEG);
  put(root, 'y.CR2', 'raw');
  put(root, 'y.json', JSON.stringify({ sidecar_info: {}, c: 1 }));
  put(root, 'y.CR2.json', JSON.stringify({ sidecar_info: {}, d: 1 }));
  for (const engine of ['inline', 'threads'] as const) {
    const target = engine === 'inline' ? 'bin' : 'json';
    const start = Date.now();
    const r = await convert(root, target, { engine });
    assert.equal(r.failed, 0, JSON.stringify(r.items));
    assert.equal(r.converted, 4, engine);
    assert.ok(Date.now() - start < 8_000, `no unit waited for a lock its batch held (${Date.now() - start} ms)`);
  }
  assert.deepEqual(fs.readdirSync(root).sort(), ['x.jpg', 'x.jpg.json', 'x.json', 'y.CR2', 'y.CR2.json', 'y.jpg', 'y.json']);
});

test('one sidecar spelled NFC and NFD (Café.bin beside Café.json in NFD): candidates of one image — different data is a conflict, left untouched; equal data is deduped into the existing spelling', async (t) => {
  const root = testDir(t);
  const nfcName = 'Caf\u00e9';
  const nfdName = 'Cafe\u0301';
  put(root, `${nfcName}.jpg`, FAKE_JPEG);
  put(root, `${nfcName}.bin`, encodeSidecar({ sidecar_info: {}, op: { v: 'X' } }, 'bin'));
  put(root, `${nfdName}.json`, encodeSidecar({ sidecar_info: {}, op: { v: 'Y' } }, 'json'));
  const before = snapshot(root);
  const r = await convert(root, 'json', { engine: 'inline' });
  assertCounts(r);
  assert.equal(r.conflicts, 2, JSON.stringify(r.items));
  assert.equal(r.converted, 0);
  assert.deepEqual(snapshot(root), before, 'nothing written, nothing removed');
  // The same data: one file left, in the spelling already on disk.
  fs.writeFileSync(path.join(root, `${nfcName}.bin`), encodeSidecar({ sidecar_info: {}, op: { v: 'Y' } }, 'bin'));
  const again = await convert(root, 'json', { engine: 'inline' });
  assert.equal(again.conflicts, 0, JSON.stringify(again.items));
  assert.deepEqual(fs.readdirSync(root).filter((n) => !n.endsWith('.jpg')), [`${nfdName}.json`]);
  assert.deepEqual(readData(path.join(root, `${nfdName}.json`)).data, { sidecar_info: {}, op: { v: 'Y' } });
});

test('a sidecar another image\'s sidecar link reads (B.json → A.json) is never removed: a conflict naming the link; with --keep-source it converts', async (t) => {
  const root = testDir(t);
  const a = image(root, 'A.jpg', 'json');
  put(root, 'B.jpg', FAKE_JPEG);
  fs.symlinkSync('A.json', path.join(root, 'B.json'));
  fs.mkdirSync(path.join(root, 'games'));
  put(root, 'games/C.jpg', FAKE_JPEG);
  fs.symlinkSync('../A.json', path.join(root, 'games', 'C.json')); // from another folder, met after A in the walk
  const before = snapshot(root);
  const r = await convert(root, 'bin', { engine: 'inline' });
  assertCounts(r);
  const item = r.items!.find((i) => i.source === a)!;
  assert.equal(item.action, 'conflict');
  assert.match(item.error!.message, /the sidecar link .*(B|C)\.json reads this file/);
  assert.deepEqual(snapshot(root), before, 'A.json kept: both links still read it');
  const kept = await convert(root, 'bin', { engine: 'inline', keepSource: true });
  assert.equal(kept.items!.find((i) => i.source === a)!.action, 'convert');
  assert.ok(fs.existsSync(a) && fs.existsSync(path.join(root, 'A.bin')));
  assert.deepEqual(readData(path.join(root, 'B.json')).data, readData(a).data, 'the link still reads its file');
});

test('a folder the walk for sidecar links cannot list (a name that is not UTF-8) may hold a link to any file: every source is kept, and the report says why', async (t) => {
  const root = testDir(t);
  const a = image(root, 'A.jpg', 'json');
  const odd = Buffer.concat([Buffer.from(`${root}/games-`), Buffer.from([0xff])]);
  fs.mkdirSync(odd);
  fs.symlinkSync('../A.json', Buffer.concat([odd, Buffer.from('/C.json')]));
  // A link the walk does see (B.json → A.json) is no conflict either: A.json stays.
  put(root, 'B.jpg', FAKE_JPEG);
  fs.symlinkSync('A.json', path.join(root, 'B.json'));
  const dry = await convert(root, 'bin', { engine: 'inline', dryRun: true });
  assert.match(dry.sourcesKept ?? '', /could not be listed: .* every source would be kept/);
  assert.equal(dry.items!.find((i) => i.source === a)!.action, 'convert', 'the preview plans what the run does');
  const r = await convert(root, 'bin', { engine: 'inline' });
  assert.equal(r.scanComplete, false);
  assert.match(r.sourcesKept ?? '', /could not be listed: .* every source was kept/);
  assert.equal(r.items!.find((i) => i.source === a)!.action, 'convert');
  assert.ok(fs.existsSync(a), 'A.json kept: the link in the unlisted folder still reads it');
  assert.ok(fs.existsSync(path.join(root, 'A.bin')));
  assert.deepEqual(readData(path.join(root, 'A.bin')).data, readData(a).data);
});

test('a source gone since the scan whose data another convert put at the target (in the format asked) is skip-already, not a failure; gone with no such target, a failure', async (t) => {
  const { convertUnits } = await import('../src/tasks/convert.js');
  const root = testDir(t);
  put(root, 'A.jpg', FAKE_JPEG);
  put(root, 'A.bin', encodeSidecar(data('A.jpg'), 'bin'));
  put(root, 'B.jpg', FAKE_JPEG);
  put(root, 'C.jpg', FAKE_JPEG);
  put(root, 'C.json', encodeSidecar(data('C.jpg'), 'json'));
  const [[a], [b], [c]] = await convertUnits(
    [
      { sources: [path.join(root, 'A.json')], target: path.join(root, 'A.bin') },
      { sources: [path.join(root, 'B.json')], target: path.join(root, 'B.bin') },
      { sources: [path.join(root, 'C.json')], target: path.join(root, 'C.bin') },
    ],
    { format: 'bin' },
  );
  assert.deepEqual([a.action, a.ok], ['skip-already', true]);
  assert.deepEqual([b.ok, b.error?.code], [false, 'NOT_FOUND']);
  assert.deepEqual([c.action, c.ok, c.sourceRemoved], ['convert', true, true]);
});

test('sidecars hard-linked to one another (one file under two names) both convert in one run: the removal of one name is not a change of the other', async (t) => {
  // Regression: the first removal moved the shared inode's ctime, and the second source was called
  // "changed while it was converted (a writer without the sidecar lock)": a CONFLICT until a rerun.
  const root = testDir(t);
  const d = data('IMG_1.jpg');
  const h1 = image(root, 'p/IMG_1.jpg', 'json', d);
  put(root, 'p/IMG_2.jpg', FAKE_JPEG);
  const h2 = path.join(root, 'p/IMG_2.json');
  fs.linkSync(h1, h2);
  for (const engine of ['inline', 'threads'] as const) {
    const r = await convert(root, engine === 'inline' ? 'bin' : 'json', { engine, workers: 2 });
    assertCounts(r);
    assert.deepEqual([r.failed, r.conflicts], [0, 0], JSON.stringify(r.items?.filter((i) => !i.ok)));
    assert.equal(r.converted, 2);
    const ext = engine === 'inline' ? 'bin' : 'json';
    for (const n of ['IMG_1', 'IMG_2']) assert.ok(deepEqualJson(readData(path.join(root, `p/${n}.${ext}`)).data, d), `${n}.${ext} holds the data`);
    assert.deepEqual(fs.readdirSync(path.join(root, 'p')).filter((n) => !n.endsWith('.jpg')).sort(), [`IMG_1.${ext}`, `IMG_2.${ext}`]);
  }
});

test('a source rewritten in place with other bytes of the same size and its times put back (`touch -r`) while convert runs is still a conflict: only its ctime shows the change', async (t) => {
  const root = testDir(t);
  const json = image(root, 'p/IMG_1.jpg', 'json');
  const target = path.join(root, 'p/IMG_1.bin');
  const ref = path.join(root, 'times-ref');
  const mutableFs = createRequire(import.meta.url)('node:fs') as { renameSync: (a: fs.PathLike, b: fs.PathLike) => void };
  const { renameSync } = mutableFs;
  let done = false;
  // As the target is published, before the source is checked and removed: the source's bytes change, its size and times stay.
  mutableFs.renameSync = (a, b) => {
    renameSync(a, b);
    if (!done && String(b) === target) {
      done = true;
      assert.equal(spawnSync('touch', ['-r', json, ref]).status, 0);
      const bytes = fs.readFileSync(json);
      const i = bytes.indexOf('"B"');
      assert.ok(i > 0);
      bytes[i + 1] = 'C'.charCodeAt(0);
      fs.writeFileSync(json, bytes);
      assert.equal(spawnSync('touch', ['-r', ref, json]).status, 0);
    }
  };
  syncBuiltinESMExports();
  let r: ConvertReport;
  try {
    r = await convert(root, 'bin', { engine: 'inline' });
  } finally {
    mutableFs.renameSync = renameSync;
    syncBuiltinESMExports();
  }
  assert.ok(done);
  assert.equal(r.conflicts + r.failed, 1, JSON.stringify(r.items));
  assert.equal(r.items![0].error?.code, 'CONFLICT');
  const q = (readData(json).data.quality_assessment as JsonObject).quality as JsonObject;
  assert.equal(q.grade, 'C', 'the new bytes stay');
  assert.equal(fs.existsSync(target), false, 'the target is taken back');
});
