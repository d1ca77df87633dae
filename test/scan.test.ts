import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scan } from '../src/ops/scan.js';
import { type ScanRecord } from '../src/scan/records.js';
import { CATEGORIES, type EngineKind } from '../src/types.js';
import { FAKE_JPEG, makeTree, removeTree, sidecarData } from './helpers/tree.js';

/** Legacy layout: u64 LE length + compact JSON (the earlier tool's .bin). */
function legacyBytes(data: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(data));
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(body.length));
  return Buffer.concat([head, body]);
}

function libraryTree(): string {
  const root = makeTree({
    'photos/a.jpg': FAKE_JPEG,
    'photos/a.json': { json: sidecarData('a.jpg') },
    'photos/b.jpg': FAKE_JPEG,
    'photos/c.jpg': FAKE_JPEG,
    'photos/c.json': { json: sidecarData('c.jpg') },
    'photos/c.bin': legacyBytes(sidecarData('c.jpg')),
    'photos/d.jpg': FAKE_JPEG,
    'photos/d.json': '{"face_detection": {"success": tr',
    'photos/e.json': { json: sidecarData('e.jpg') },
    'photos/game_detection.json': { json: { success: true, games: [{ game_id: 1, photo_files: ['a.jpg'] }] } },
    'photos/other.json': { json: { foo: 1 } },
    'photos/F.JPG': FAKE_JPEG,
    'photos/F.json': { json: sidecarData('F.JPG') },
    'photos/E\u0301te\u0301.jpg': FAKE_JPEG, // NFD on disk
    'photos/\u00C9t\u00E9.json': { json: sidecarData('Été.jpg') }, // NFC sidecar
    'photos/burst/20250920_143022.jpg': FAKE_JPEG,
    'photos/burst/20250920_143022_001.jpg': FAKE_JPEG,
    'photos/burst/20250920_143022_001.json': { json: sidecarData('20250920_143022_001.jpg') },
    'photos/bom.jpg': FAKE_JPEG,
    'photos/bom.json': Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(sidecarData('bom.jpg')))]),
    'games/g1/a.jpg': { symlink: '../../photos/a.jpg' },
    'games/g1/gone.jpg': { symlink: '../../photos/missing.jpg' },
    'games/g1/loop': { symlink: '..' },
    'notes.txt': 'not a sidecar',
  });
  return root;
}

async function collect(root: string, engine: EngineKind = 'inline', workers?: number) {
  const session = scan(root, { engine, workers, inspect: { summarize: true } });
  const records: ScanRecord[] = [];
  for await (const r of session) records.push(r);
  return { records, summary: session.summary };
}

const byName = (records: ScanRecord[], name: string) =>
  records.find((r) => r.images.some((i) => i.name === name) || (r.images.length === 0 && r.sidecars[0]?.name === name));

test('every category is recognised and the counts add up', async () => {
  const root = libraryTree();
  try {
    const { records, summary } = await collect(root);
    const cat = (name: string) => byName(records, name)?.category;
    assert.equal(cat('a.jpg'), 'ok');
    assert.equal(cat('b.jpg'), 'missing');
    assert.equal(cat('c.jpg'), 'ok', 'several files of one image: the first that decodes is its sidecar (was ambiguous)');
    assert.equal(cat('d.jpg'), 'corrupt');
    assert.equal(cat('e.json'), 'orphan');
    assert.equal(cat('game_detection.json'), 'unrelated');
    assert.equal(cat('other.json'), 'unrelated');
    assert.equal(cat('F.JPG'), 'ok');
    assert.equal(cat('E\u0301te\u0301.jpg'), 'ok');
    assert.equal(cat('20250920_143022.jpg'), 'missing');
    assert.equal(cat('20250920_143022_001.jpg'), 'ok');
    assert.equal(cat('gone.jpg'), 'broken-symlink');
    assert.equal(cat('bom.jpg'), 'ok');
    assert.ok(byName(records, 'bom.jpg')!.findings.some((f) => f.code === 'bom'));

    // Symlinked image: the sidecar next to the target is its effective sidecar.
    const link = records.find((r) => r.dir === 'games/g1' && r.images[0].name === 'a.jpg')!;
    assert.equal(link.category, 'ok');
    assert.equal(link.effective!.side, 'target');
    assert.equal(link.effective!.rel, 'photos/a.json');
    assert.equal(link.files, 1, 'the target sidecar belongs to its own directory record');

    // The preferred (.bin) is effective; the other is a kept older copy, named.
    const two = byName(records, 'c.jpg')!;
    assert.equal(two.effective!.name, 'c.bin');
    assert.deepEqual(two.findings.find((f) => f.code === 'kept')!.paths.map((p) => p.split('/').pop()), ['c.json']);

    // Exactly one category per record, and every scanned file lands in exactly one record.
    const total = CATEGORIES.reduce((n, c) => n + summary.counts[c], 0);
    assert.equal(total, records.length);
    assert.equal(records.reduce((n, r) => n + r.files, 0), summary.filesScanned);
    // 9 images + 2 links + 11 local sidecar candidates = 22 files; notes.txt and the dir link are ignored.
    assert.equal(summary.filesScanned, 22);
    assert.equal(summary.filesIgnored, 2);
    assert.equal(summary.complete, true);
    assert.equal(summary.imageSymlinks, 2);
    assert.equal(summary.brokenSymlinks, 1);
  } finally {
    removeTree(root);
  }
});

test('records come in deterministic tree order', async () => {
  const root = libraryTree();
  try {
    const a = (await collect(root)).records.map((r) => r.images[0]?.rel ?? r.sidecars[0].rel);
    const b = (await collect(root)).records.map((r) => r.images[0]?.rel ?? r.sidecars[0].rel);
    assert.deepEqual(a, b);
    assert.ok(a.indexOf('photos/a.jpg') < a.indexOf('photos/burst/20250920_143022.jpg'), 'files of a folder before its subfolders');
  } finally {
    removeTree(root);
  }
});

test('preferred sidecar corrupt and another valid: read the valid one and report a fallback', async () => {
  const root = makeTree({ 'x.jpg': FAKE_JPEG, 'x.bin': Buffer.from('garbage'), 'x.json': { json: sidecarData('x.jpg') } });
  try {
    const { records } = await collect(root);
    assert.equal(records.length, 1);
    assert.equal(records[0].category, 'ok', 'the image has a sidecar that reads (was ambiguous); the corrupt file is a finding');
    assert.equal(records[0].effective!.name, 'x.json');
    assert.ok(records[0].findings.some((f) => f.code === 'fallback'));
    assert.ok(records[0].findings.some((f) => f.code === 'corrupt'));
  } finally {
    removeTree(root);
  }
});

test('a name that is not valid UTF-8 is unreadable and makes the scan incomplete', async () => {
  const root = makeTree({ 'ok.jpg': FAKE_JPEG, 'ok.json': { json: sidecarData('ok.jpg') }, 'orphan.json': { json: sidecarData('x.jpg') } });
  try {
    const bad = Buffer.concat([Buffer.from(root + '/'), Buffer.from([0x62, 0xff, 0x2e, 0x6a, 0x70, 0x67])]); // "b\xff.jpg"
    writeFileSync(bad, FAKE_JPEG);
    const { records, summary } = await collect(root);
    assert.equal(summary.complete, false);
    assert.equal(summary.counts.unreadable, 1);
    assert.ok(summary.problems.some((p) => p.code === 'UNADDRESSABLE'));
    assert.equal(records.reduce((n, r) => n + r.files, 0), summary.filesScanned);
  } finally {
    removeTree(root);
  }
});

test('a directory that cannot be listed makes the scan incomplete (non-UTF-8 directory name)', async () => {
  const root = makeTree({ 'a.jpg': FAKE_JPEG });
  try {
    mkdirSync(Buffer.concat([Buffer.from(root + '/'), Buffer.from([0x64, 0xfe])]));
    const { summary } = await collect(root);
    assert.equal(summary.complete, false);
  } finally {
    removeTree(root);
  }
});

test('missing root is NOT_FOUND; a file root is NOT_A_DIRECTORY', async () => {
  await assert.rejects(collect('/nonexistent/isc-root'), { code: 'NOT_FOUND' });
  const root = makeTree({ 'f.txt': 'x' });
  try {
    await assert.rejects(collect(join(root, 'f.txt')), { code: 'NOT_A_DIRECTORY' });
  } finally {
    removeTree(root);
  }
});

test('both runtimes give identical records (parity)', async () => {
  const root = libraryTree();
  try {
    // Small batches so the thread pool really gets several batches.
    const strip = (recs: ScanRecord[]) =>
      JSON.stringify(recs, (k, v) => (k === 'elapsedMs' ? 0 : v));
    const inline = await collect(root, 'inline');
    const session = scan(root, { engine: 'threads', workers: 2, batchSize: 2, inspect: { summarize: true } });
    const threaded: ScanRecord[] = [];
    for await (const r of session) threaded.push(r);
    assert.equal(session.summary.engine.kind, 'threads');
    assert.equal(strip(threaded), strip(inline.records));
    assert.deepEqual({ ...session.summary, engine: null }, { ...inline.summary, engine: null });
  } finally {
    removeTree(root);
  }
});
