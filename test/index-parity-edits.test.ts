/**
 * Attacks on the incremental index's folders, links and folder records (docs/INDEX.md, issue 20):
 * every run with the index must give what `--no-index` gives, after any change. Each test makes a
 * small tree, runs with the index, changes the tree, and compares the scan's records and a
 * command's report with and without the index.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DEFAULT_IMAGE_EXTENSIONS,
  encodeSidecar,
  exportSidecars,
  formatStats,
  saveSidecar,
  scan,
  shardKey,
  shardOfKey,
  staleSidecars,
  stats,
  todo,
  validate,
  type IndexOptions,
  type IndexRunStats,
  type JsonObject,
} from '../src/index.js';
import { find } from '../src/ops/find.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir } from './helpers/tree.js';

// Folder records are on by default (`folderRecords: false` turns them off):
// these tests run with them, as users do; the parity tests also run with `folderRecords: false`.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reports and records as text; measured times zeroed (the one documented difference). */
function text(v: unknown): string {
  return JSON.stringify(v, (k, x: unknown) => (k === 'elapsedMs' ? 0 : typeof x === 'bigint' ? `${x}n` : x)).replace(/"processing_time":[-0-9.e+]+/g, '"processing_time":0');
}

/** Keys sorted at every level (values compared, not key order: see the key-order test). */
function sorted(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sorted);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])]));
  return v;
}

/** Every record of a scan, as text (the strongest comparison: what every command is built on). */
async function records(root: string, index: IndexOptions | false, extra: { imageExtensions?: string[] } = {}, keyOrder = false): Promise<string> {
  const out: unknown[] = [];
  const session = scan(root, { index, engine: 'inline', inspect: { summarize: true }, ...extra });
  for await (const r of session) out.push(r);
  return text(keyOrder ? [out, session.summary] : sorted([out, session.summary]));
}

/** The commands' reports (validate, stats, format-stats, find, todo, stale, export csv) as one text. */
async function reports(root: string, outDir: string, index: IndexOptions | false, extra: { imageExtensions?: string[] } = {}): Promise<string> {
  const o = { index, engine: 'inline' as const, ...extra };
  const csv = join(outDir, 'export.csv');
  const parts = [
    text(await validate(root, o)),
    text(await stats(root, { ...o, list: true })),
    text(await stats(root, { ...o, operationType: 'yolov8' })),
    text(await formatStats(root, o)),
    text(await find(root, { ...o, where: 'faces >= 1' })),
    text(await todo(root, { ...o, operation: 'yolov8' })),
    text(await staleSidecars(root, o)),
    text(await exportSidecars(root, { ...o, format: 'csv', output: csv })) + readFileSync(csv, 'utf8'),
  ];
  return parts.join('\n');
}

/** The link's target as the scan reports it (the record of games/L.jpg). */
async function linkTarget(root: string, index: IndexOptions | false): Promise<string | undefined> {
  for await (const r of scan(root, { index, engine: 'inline' })) {
    const img = r.images.find((i) => i.rel === 'games/L.jpg');
    if (img) return img.target;
  }
  return undefined;
}

/** photos/IMG_1 with a sidecar, photos/IMG_3 without; games/L.jpg links to IMG_1. */
function gameTree(dir: string): string {
  const root = join(dir, 'lib');
  makeTree(
    {
      'photos/IMG_1.jpg': FAKE_JPEG,
      'photos/IMG_1.json': { json: sidecarData('IMG_1.jpg', 1, 8) },
      'photos/IMG_3.jpg': FAKE_JPEG,
      'games/L.jpg': { symlink: '../photos/IMG_1.jpg' },
      'games/own.jpg': FAKE_JPEG,
    },
    root,
  );
  return root;
}

function repoint(root: string, target: string): void {
  rmSync(join(root, 'games/L.jpg'));
  symlinkSync(target, join(root, 'games/L.jpg'));
}

// BREAK 1. A shard run lists the link's folder (it walks every folder) and stores the folder's new
// identity, but does not resolve the links other shards own; it keeps the index's other entries
// (prune: false), so the link's OLD resolution survives next to the folder's NEW identity. The next
// run finds the folder "unchanged" and serves the old target.
test('a link re-pointed, then a shard that does not own it runs: the next run still sees the new target', async (t) => {
  const dir = testDir(t, 'isc-index-edits-shard-link-');
  const root = gameTree(dir);
  const index: IndexOptions = { path: join(dir, 'index'), folderRecords: true, racyMarginMs: 0 };
  const owner = shardOfKey(shardKey('games', 'L.jpg', new Set(DEFAULT_IMAGE_EXTENSIONS)), 2);
  await validate(root, { index, engine: 'inline' });
  await sleep(20);
  repoint(root, '../photos/IMG_3.jpg');
  await sleep(20);
  await stats(root, { index, shard: { index: 1 - owner, count: 2 } });
  assert.equal(await linkTarget(root, false), join(root, 'photos/IMG_3.jpg'));
  assert.equal(await linkTarget(root, index), join(root, 'photos/IMG_3.jpg'), 'the index serves the link\'s old target');
  const plain = text(await stats(root, { index: false }));
  assert.equal(text(await stats(root, { index })), plain, 'stats with the index differs from --no-index');
});

// BREAK 2. The same without shards: an incomplete walk (a folder name that is not UTF-8) also keeps
// the index's other entries; a link re-pointed while a folder on its way changed just now (racy:
// its new resolution is not stored) leaves the old resolution next to the link folder's new identity.
test('a link re-pointed, then an incomplete run while its target folder is racy: the next run still sees the new target', async (t) => {
  const dir = testDir(t, 'isc-index-edits-racy-link-');
  const root = gameTree(dir);
  mkdirSync(Buffer.concat([Buffer.from(`${root}/bad-`), Buffer.from([0xff])])); // a name that is not UTF-8: the walk is incomplete
  const index: IndexOptions = { path: join(dir, 'index'), folderRecords: true, racyMarginMs: 300 };
  await sleep(400);
  await stats(root, { index });
  repoint(root, '../photos/IMG_3.jpg');
  await sleep(400); // games/ is not racy any more …
  writeFileSync(join(root, 'photos/notes.txt'), 'x'); // … photos/ (on the link's way) is
  await stats(root, { index });
  await sleep(400);
  assert.equal(await linkTarget(root, false), join(root, 'photos/IMG_3.jpg'));
  assert.equal(await linkTarget(root, index), join(root, 'photos/IMG_3.jpg'), 'the index serves the link\'s old target');
});

/** What held: each change below, then records and every command's report with the index = without. */
test('held: pairing, image, Unicode, link and option changes give the --no-index output', async (t) => {
  const dir = testDir(t, 'isc-index-edits-held-');
  const root = gameTree(dir);
  const outside = join(dir, 'outside');
  makeTree({ 'far.jpg': FAKE_JPEG, 'far.json': { json: sidecarData('far.jpg', 2, 8) }, 'far2.jpg': FAKE_JPEG, 'far2.json': { json: sidecarData('far2.jpg', 0, 8) } }, outside);
  makeTree(
    {
      'photos/IMG_2.jpg': FAKE_JPEG,
      'photos/IMG_2.jpg.json': { json: sidecarData('IMG_2.jpg', 2, 8) },
      'photos/weird.xyz': FAKE_JPEG,
      'photos/weird.json': { json: sidecarData('weird.xyz', 1, 8) },
      'photos/Ñandú.jpg': FAKE_JPEG,
      'photos/Ñandú.json': { json: sidecarData('Ñandú.jpg', 1, 8) },
      'photos/sub/IMG_9.jpg': FAKE_JPEG,
      'photos/sub/IMG_9.json': { json: sidecarData('IMG_9.jpg', 3, 8) },
      'games/out.jpg': { symlink: join(outside, 'far.jpg') },
      'games/cur.jpg': { symlink: '../current/IMG_2.jpg' },
      current: { symlink: 'photos' },
    },
    root,
  );
  await saveSidecar(join(root, 'photos/IMG_1.jpg'), 'yolov8', { success: true, objects: [] });
  await saveSidecar(join(outside, 'far.jpg'), 'yolov8', { success: true, objects: [] });
  const out = join(dir, 'out');
  mkdirSync(out);
  const runs: IndexRunStats[] = [];
  const index: IndexOptions = { path: join(dir, 'index'), folderRecords: true, racyMarginMs: 0, onStats: (s) => runs.push(s) };
  const P = (rel: string) => join(root, rel);
  const changes: [string, () => void | Promise<void>][] = [
    ['unchanged', () => undefined],
    ['same size edit, mtime put back', () => {
      const f = P('photos/IMG_1.json');
      const b = readFileSync(f);
      b[b.lastIndexOf(0x31)] = 0x32;
      writeFileSync(f, b);
      utimesSync(f, 1_700_000_000, 1_700_000_000);
    }],
    ['IMG_2.jpg.json -> IMG_2.json', () => renameSync(P('photos/IMG_2.jpg.json'), P('photos/IMG_2.json'))],
    ['a .bin next to the .json', () => writeFileSync(P('photos/IMG_2.bin'), encodeSidecar(sidecarData('IMG_2.jpg', 1, 8) as JsonObject, 'bin'))],
    ['case change of a sidecar', () => renameSync(P('photos/IMG_2.json'), P('photos/img_2.json'))],
    ['image removed: its sidecar an orphan', () => rmSync(P('photos/IMG_2.jpg'))],
    ['image touched (todo/stale)', () => utimesSync(P('photos/IMG_1.jpg'), 1_700_000_100, 1_700_000_100)],
    ['outside target image touched', () => utimesSync(join(outside, 'far.jpg'), 1_700_000_200, 1_700_000_200)],
    ['NFC name -> NFD', () => renameSync(P('photos/Ñandú.json'), P('photos/Ñandú.json'.normalize('NFD')))],
    ['subfolder changed only', () => writeFileSync(P('photos/sub/IMG_9.json'), JSON.stringify(sidecarData('IMG_9.jpg', 1, 8)))],
    ['folder link re-pointed', () => {
      rmSync(P('current'));
      symlinkSync('photos/sub', P('current'));
    }],
    ['outside sidecars swapped by rename', () => {
      renameSync(join(outside, 'far.json'), join(outside, 't'));
      renameSync(join(outside, 'far2.json'), join(outside, 'far.json'));
      renameSync(join(outside, 't'), join(outside, 'far2.json'));
    }],
    ['link re-pointed (full run)', () => repoint(root, '../photos/IMG_3.jpg')],
  ];
  for (const [label, change] of changes) {
    await change();
    await sleep(20);
    const plain = (await records(root, false)) + (await reports(root, out, false));
    assert.equal((await records(root, index)) + (await reports(root, out, index)), plain, `${label}: first run with the index`);
    assert.equal((await records(root, index)) + (await reports(root, out, index)), plain, `${label}: warm run`);
    // Options that shape pairing (a config file's image extensions): never served across.
    const ext = { imageExtensions: [...DEFAULT_IMAGE_EXTENSIONS, 'xyz'] };
    assert.equal(await records(root, index, ext), await records(root, false, ext), `${label}: with an extra image extension`);
    await sleep(20);
  }
  assert.ok(runs.some((r) => r.foldersServed > 0), 'folder records were served');
});

// MINOR. scan() records built from per-file hits carry `inspection.path` as the LAST key (the hit is
// stored without it and `path` is put back), where the engine's result has it FIRST; records served
// whole from folder records keep the engine's order. deepEqual holds, JSON.stringify differs.
test('minor: scan records from per-file hits keep the key order of --no-index', async (t) => {
  const dir = testDir(t, 'isc-index-edits-key-order-');
  const root = gameTree(dir);
  const index: IndexOptions = { path: join(dir, 'index'), folderRecords: true, racyMarginMs: 0 };
  await stats(root, { index }); // stores per-file results with stats' options (summarize)
  await sleep(20);
  writeFileSync(join(root, 'photos/new.txt'), 'x'); // photos/ changed: its records are made again, from per-file hits
  const plain = await records(root, false, {}, true);
  assert.equal(await records(root, index, {}, true), plain);
});
