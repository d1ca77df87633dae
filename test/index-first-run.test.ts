/**
 * The first run (the index holds nothing yet): entries are made by the thread that read each file
 * (identity by fstat of the descriptor read, tasks/index-entry.ts); links are resolved by the
 * engine as without the index and stored by the next run, whose engine resolves them traced and
 * makes their entries (tasks/link-entry.ts). These tests try to make those entries
 * wrong: a file that changes between the main thread's lookup and the read, links through a folder
 * changed within the racy margin, both engines, a batch that crosses threads packed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { lookupEntry } from '../src/discovery/resolve-link.js';
import { join } from 'node:path';
import { scan, stats, validate, type IndexOptions } from '../src/index.js';
import { InlineRuntime } from '../src/engine/inline.js';
import type { Runtime } from '../src/engine/runtime.js';
import { packInspections, unpackInspections } from '../src/tasks/inspect-wire.js';
import { inspectFiles } from '../src/tasks/inspect.js';
import { IndexReader, IndexWriter, entryIdentity, entryKey, entryResult, filePayload, fileSlotKey, madeIdentity, madeResult, TABLE_DIRS, TABLE_FILES, TABLE_LINKS, TABLE_RECORDS } from '../src/incremental/store.js';
import { decodeResult, fileEntryBound, writeFileEntry } from '../src/tasks/entry-format.js';
import { fileEntry, PATH_MARK, storedResult } from '../src/tasks/index-entry.js';
import { PACKED_RESULT_TAG } from '../src/tasks/inspect-wire.js';
import { rowOf } from './helpers/packed-row.js';
import { IdentityScratch, identityBytes, statIdentity } from '../src/fs/identity.js';
import { relativeTo } from '../src/fs/rel-path.js';
import { serialize } from 'node:v8';
import { FAKE_JPEG, makeTree, sidecarData, testDir } from './helpers/tree.js';
import type { FileInspection, InspectOptions } from '../src/model/inspection.js';
import type { IndexRunStats } from '../src/model/index-options.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function text(v: unknown): string {
  return JSON.stringify(v, (k, x: unknown) => (k === 'elapsedMs' ? 0 : typeof x === 'bigint' ? `${x}n` : x)).replace(/"processing_time":[-0-9.e+]+/g, '"processing_time":0');
}

function library(dir: string): string {
  const files: Record<string, unknown> = {};
  for (const d of ['photos/d1', 'photos/d2']) {
    for (let i = 1; i <= 3; i++) {
      files[`${d}/IMG_${i}.jpg`] = FAKE_JPEG;
      files[`${d}/IMG_${i}.json`] = { json: sidecarData(`IMG_${i}.jpg`, i, 4) };
    }
  }
  Object.assign(files, {
    current: { symlink: 'photos/d1' },
    'games/g1/A.jpg': { symlink: '../../photos/d1/IMG_1.jpg' },
    'games/g1/B.jpg': { symlink: '../../current/IMG_2.jpg' },
    'games/g1/C.jpg': { symlink: 'B.jpg' },
    'games/g1/D.jpg': { symlink: '../../photos/d2/nothing.jpg' },
    'games/g2/E.jpg': { symlink: '../../photos/d2/IMG_3.jpg' },
  });
  return makeTree(files as Parameters<typeof makeTree>[0], join(dir, 'lib'));
}

async function records(root: string, inspect: InspectOptions, index: IndexOptions | false, runtime?: Runtime): Promise<string> {
  const session = scan(root, { index, inspect, engine: 'inline', runtime });
  const out: unknown[] = [];
  for await (const r of session) out.push(r);
  return text([out, session.summary]);
}

test('a sidecar rewritten between the lookup and the read: its entry names the bytes read, and keeps no other option set\'s result of the old bytes', async (t) => {
  const dir = testDir(t, 'isc-first-');
  const root = library(dir);
  const target = join(root, 'photos/d1/IMG_2.json');
  const index: IndexOptions = { path: join(dir, 'index'), racyMarginMs: 0 };
  const summary: InspectOptions = { summarize: true };
  const rules: InspectOptions = { validate: true, brief: true };
  // 1. A summary result of the old bytes, stored under their identity.
  await records(root, summary, index);
  // 2. The rules run: the main thread finds the entry (same identity, no result for this option
  // set), then the file changes before the engine reads it.
  const inline = new InlineRuntime();
  let changed = false;
  const racing: Runtime = {
    kind: 'inline',
    workers: 1,
    run: async (task, items, options, opts) => {
      if (!changed && task === 'inspect' && items.some((it) => (it as { path: string }).path === target)) {
        changed = true;
        writeFileSync(target, JSON.stringify(sidecarData('IMG_2.jpg', 7, 4)));
      }
      return inline.run(task, items, options, opts);
    },
    close: async () => undefined,
  };
  await records(root, rules, index, racing);
  assert.ok(changed, 'the file was changed mid-run');
  // 3. The summary again: the old bytes' summary must not be served for the new bytes.
  assert.equal(await records(root, summary, index), await records(root, summary, false));
  assert.match(await records(root, summary, index), /"faces":7/);
  // And the entry holds the rules' result of the new bytes only (the old summary was not carried over).
  const reader = IndexReader.open(index.path!)!;
  try {
    // Each option set's result of the file is an entry of its own: none holds the old bytes' summary.
    const kept = [...reader.entries()].filter((v) => v.table === TABLE_FILES && entryKey(v) === 'photos/d1/IMG_2.json').map((v) => storedResult(entryResult(v)[1])!);
    assert.ok(kept.length >= 2, 'the rules\' entry and the summary\'s');
    assert.ok(kept.every((r) => r.summary === undefined || r.summary.faces === 7), 'no summary of the old bytes in any entry');
  } finally {
    reader.close();
  }
});

/** The entries of one table of the index file at `path`. */
function entriesIn(path: string, table: number): number {
  const reader = IndexReader.open(path)!;
  try {
    return reader.count(table);
  } finally {
    reader.close();
  }
}

for (const engine of ['inline', 'threads'] as const) {
  test(`first run (${engine}): links are resolved as without the index and none is stored; the second run resolves and stores them, the third serves them; every run gives --no-index output`, async (t) => {
    const dir = testDir(t, 'isc-first-links-');
    const root = library(dir);
    const runs: IndexRunStats[] = [];
    // No racy margin: every folder and file just made may be stored.
    const index: IndexOptions = { path: join(dir, 'index'), racyMarginMs: 0, onStats: (s) => runs.push(s) };
    const none = text(await validate(root, { engine, workers: 2 }));
    const noneStats = text(await stats(root, { engine, workers: 2, list: true }));
    const linkEntries = () => entriesIn(index.path!, TABLE_LINKS);
    assert.equal(text(await validate(root, { engine, workers: 2, index })), none, 'first run');
    assert.equal(runs[0].hits, 0);
    assert.equal(runs[0].linksResolved, 5, 'every link resolved once, by the engine');
    assert.equal(linkEntries(), 0, 'a first run stores no link');
    assert.equal(text(await validate(root, { engine, workers: 2, index })), none, 'second run');
    assert.equal(runs[1].misses, 0, 'every sidecar served');
    assert.equal(runs[1].linksResolved, 5, 'every link resolved');
    // A, B and E end in a file's name; C (a link to a link) and D (broken) are resolved whole on every run.
    assert.equal(linkEntries(), 3, 'and stored');
    assert.equal(text(await validate(root, { engine, workers: 2, index })), none, 'third run');
    assert.deepEqual([runs[2].linksResolved, runs[2].linksReused], [2, 3], 'A, B and E served; C and D resolved whole');
    // Another command's first results join the stored links, and are served them.
    assert.equal(text(await stats(root, { engine, workers: 2, list: true, index })), noneStats);
    assert.deepEqual([runs[3].linksResolved, runs[3].linksReused], [2, 3]);
    assert.equal(linkEntries(), 3);
  });
}

test("a command's first run on an index another command's first run filled resolves links as a first run does (none stored); its second run stores them; every run gives --no-index output", async (t) => {
  const dir = testDir(t, 'isc-first-other-links-');
  const root = library(dir);
  const runs: IndexRunStats[] = [];
  const index: IndexOptions = { path: join(dir, 'index'), racyMarginMs: 0, onStats: (s) => runs.push(s) };
  const none = text(await validate(root, { engine: 'threads', workers: 2 }));
  const noneStats = text(await stats(root, { engine: 'threads', workers: 2, list: true }));
  const linkEntries = () => entriesIn(index.path!, TABLE_LINKS);
  assert.equal(text(await stats(root, { engine: 'threads', workers: 2, list: true, index })), noneStats, 'stats, first run');
  assert.equal(linkEntries(), 0);
  assert.equal(text(await validate(root, { engine: 'threads', workers: 2, index })), none, "validate's first run");
  assert.equal(runs[1].linksResolved, 5, 'every link resolved once, by the engine');
  assert.equal(linkEntries(), 0, 'as a first run: no link stored');
  assert.equal(text(await validate(root, { engine: 'threads', workers: 2, index })), none, "validate's second run");
  assert.equal(runs[2].misses, 0);
  assert.equal(linkEntries(), 3, 'the second run stores them');
  assert.equal(text(await stats(root, { engine: 'threads', workers: 2, list: true, index })), noneStats, "stats' second run");
  assert.deepEqual([runs[3].linksResolved, runs[3].linksReused], [2, 3], 'stored links served');
});

for (const engine of ['inline', 'threads'] as const) {
  test(`first run (${engine}): no folder listing is stored; the second run stores every folder's listing (no records), the third their records, the fourth is served from them; every run gives --no-index output`, async (t) => {
    const dir = testDir(t, 'isc-first-dirs-');
    const root = library(dir);
    const runs: IndexRunStats[] = [];
    const index: IndexOptions = { path: join(dir, 'index'), racyMarginMs: 0, onStats: (s) => runs.push(s) };
    const none = text(await validate(root, { engine, workers: 2 }));
    const dirEntries = () => entriesIn(index.path!, TABLE_DIRS);
    assert.equal(text(await validate(root, { engine, workers: 2, index })), none, 'first run');
    assert.equal(dirEntries(), 0, 'a first run stores no folder');
    assert.equal(runs[0].dirsReused, 0);
    assert.equal(text(await validate(root, { engine, workers: 2, index })), none, 'second run');
    assert.equal(runs[1].misses, 0, 'every sidecar served');
    assert.ok(runs[1].dirsRead > 0 && runs[1].dirsReused === 0, `the second run lists every folder (${runs[1].dirsRead} read)`);
    const stored = dirEntries();
    assert.ok(stored >= runs[1].dirsRead, `every folder listed is stored (${stored})`);
    assert.equal(entriesIn(index.path!, TABLE_RECORDS), 0, 'the second run stores no folder records');
    assert.equal(text(await validate(root, { engine, workers: 2, index })), none, 'third run');
    assert.equal(runs[2].dirsRead, 0, 'no folder listed again');
    assert.ok(entriesIn(index.path!, TABLE_RECORDS) > 0, 'the third run stores folder records over the stored listings');
    assert.equal(text(await validate(root, { engine, workers: 2, index })), none, 'fourth run');
    assert.ok(runs[3].foldersServed > 0, 'folders served from the records the third run stored');
  });
}

test("a command's first run on an index other runs filled (listings and records stored) stores no folder records: it inspects every file; its next run stores them, the one after is served", async (t) => {
  const dir = testDir(t, 'isc-first-other-records-');
  const root = library(dir);
  const runs: IndexRunStats[] = [];
  const index: IndexOptions = { path: join(dir, 'index'), racyMarginMs: 0, onStats: (s) => runs.push(s) };
  const noneStats = text(await stats(root, { engine: 'inline', list: true }));
  for (let i = 0; i < 3; i++) await validate(root, { engine: 'inline', index });
  const validateRecords = entriesIn(index.path!, TABLE_RECORDS);
  assert.ok(validateRecords > 0, "validate's third run stored its folder records");
  assert.equal(text(await stats(root, { engine: 'inline', list: true, index })), noneStats, "stats' first run");
  assert.ok(runs[3].misses > 0, 'every sidecar inspected');
  assert.equal(entriesIn(index.path!, TABLE_RECORDS), validateRecords, "stats' first run stores no records");
  assert.equal(text(await stats(root, { engine: 'inline', list: true, index })), noneStats, "stats' second run");
  assert.equal(runs[4].misses, 0);
  assert.equal(runs[4].foldersServed, 0, 'nothing to serve folders from yet');
  assert.ok(entriesIn(index.path!, TABLE_RECORDS) > validateRecords, 'the second run stores them');
  assert.equal(text(await stats(root, { engine: 'inline', list: true, index })), noneStats, "stats' third run");
  assert.ok(runs[5].foldersServed > 0, 'served from the records the second run stored');
});

test('second run: a link in a folder changed within the racy margin is not stored; it is resolved again, and stored, next time', async (t) => {
  const dir = testDir(t, 'isc-first-racy-');
  const root = library(dir);
  const runs: IndexRunStats[] = [];
  const index: IndexOptions = { path: join(dir, 'index'), racyMarginMs: 2000, onStats: (s) => runs.push(s) };
  const none = text(await validate(root, { engine: 'threads', workers: 2 }));
  assert.equal(text(await validate(root, { engine: 'threads', workers: 2, index })), none);
  await sleep(2100);
  // games/g2 changes now, right before the second run: racy; the rest is older than the margin.
  writeFileSync(join(root, 'games/g2/x.tmp'), '');
  rmSync(join(root, 'games/g2/x.tmp'));
  assert.equal(text(await validate(root, { engine: 'threads', workers: 2, index })), none);
  assert.equal(runs[1].linksResolved, 5, 'the second run resolves every link');
  assert.equal(entriesIn(index.path!, TABLE_LINKS), 2, 'A and B stored; not E, in the racy folder (C and D are never stored)');
  await sleep(2100); // the folder is no longer racy for the next run: its link is stored then
  assert.equal(text(await validate(root, { engine: 'threads', workers: 2, index })), none);
  assert.deepEqual([runs[2].linksReused, runs[2].linksResolved], [2, 3], 'A and B served; E resolved again, with C and D');
  assert.equal(entriesIn(index.path!, TABLE_LINKS), 3, 'E stored by then');
  assert.equal(text(await validate(root, { engine: 'threads', workers: 2, index })), none);
  assert.equal(runs[3].linksResolved, 0, 'every link served (C and D by their folders\' records)');
});

test('wire: index entries cross packed, byte for byte, and a batch without them carries none', () => {
  const dir = testDir({ after: () => undefined }, 'isc-first-wire-');
  const root = library(dir);
  const items = [1, 2, 3].map((i) => ({ path: join(root, `photos/d1/IMG_${i}.json`), name: `IMG_${i}.json` }));
  const opts: InspectOptions = { validate: true, brief: true, indexEntries: { racyCutoffMs: Number.MAX_SAFE_INTEGER, root, keyNo: 0 } };
  const results = inspectFiles(items, opts);
  assert.ok(results.every((r) => r.indexEntry !== undefined), 'every result may be stored');
  delete results[1].indexEntry; // one without
  const { packed } = packInspections(results, items);
  const back = unpackInspections(packed, items);
  for (let i = 0; i < 3; i++) {
    const a = results[i].indexEntry;
    const b = back[i].indexEntry;
    if (a === undefined) assert.equal(b, undefined);
    else {
      assert.deepEqual(Buffer.from(b!), Buffer.from(a));
    }
  }
  const plain = inspectFiles(items, { validate: true, brief: true });
  assert.ok(plain.every((r) => r.indexEntry === undefined));
  assert.equal(packInspections(plain, items).packed.entries, null);
  // A racy cutoff in the past: nothing may be stored.
  assert.ok(inspectFiles(items, { ...opts, indexEntries: { racyCutoffMs: 0, root, keyNo: 0 } }).every((r) => r.indexEntry === undefined));
});

test('store: addFile writes the very bytes add(files, filePayload) writes (keys in any script, a result past the window); each option set\'s entry of a file stands on its own', (t) => {
  const dir = testDir(t, 'isc-first-store-');
  const big = Buffer.alloc((1 << 20) + 10, 7);
  const entries: [string, Buffer, number, Buffer][] = [
    ['photos/d1/IMG_1.json', Buffer.alloc(40, 1), 0, Buffer.from('abc')],
    ['Bücher/ü – 写真.json', Buffer.alloc(40, 2), 1, Buffer.from('one')],
    ['Bücher/ü – 写真.json', Buffer.alloc(40, 2), 0, Buffer.from('zero')],
    ['Bücher/ü – 写真.json', Buffer.alloc(40, 2), 3, Buffer.alloc(0)],
    ['lone \ud800 surrogate.json', Buffer.alloc(40, 3), 0, Buffer.from([1, 2, 3])],
    ['big.json', Buffer.alloc(40, 4), 0, big],
    ['photos/d1/IMG_1.json', Buffer.alloc(40, 5), 2, Buffer.from('two')], // another option set's: beside the first
    ['photos/d1/IMG_1.json', Buffer.alloc(40, 5), 0, Buffer.from('again')], // the same option set again: the later one is live
    ['x'.repeat(20_000), Buffer.alloc(40, 6), 0, Buffer.from('long key')],
  ];
  const header = { format: 'image-sidecar-index' as const, root: '/r', keys: [], written: 'now' };
  const a = IndexWriter.create(join(dir, 'a'));
  const b = IndexWriter.create(join(dir, 'b'));
  for (const [key, id, no, raw] of entries) {
    a.add(TABLE_FILES, key, id, filePayload(no, raw));
    b.addFile(key, id, no, raw);
  }
  a.finish(header);
  b.finish(header);
  assert.deepEqual(readFileSync(join(dir, 'b')), readFileSync(join(dir, 'a')));
  const reader = IndexReader.open(join(dir, 'b'))!;
  try {
    assert.equal(reader.count(TABLE_FILES), 8);
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].map((no) => reader.fileCount(no)), [0, 0, 0, 0, 0, 0, 0, 0], 'no option set in the header: none counted');
    const result = (key: string, no: number) => entryResult(reader.find(TABLE_FILES, fileSlotKey(key, no))!);
    assert.deepEqual(result('photos/d1/IMG_1.json', 0).map(String), ['0', 'again']);
    assert.deepEqual(result('photos/d1/IMG_1.json', 2).map(String), ['2', 'two']);
    assert.equal(reader.find(TABLE_FILES, fileSlotKey('photos/d1/IMG_1.json', 1)), null);
    assert.equal(reader.find(TABLE_FILES, 'photos/d1/IMG_1.json'), null, 'a file entry stands under its path and option set');
    assert.deepEqual(['one', 'zero', ''], [1, 0, 3].map((no) => result('Bücher/ü – 写真.json', no)[1].toString()));
  } finally {
    reader.close();
  }
});

/** A file entry as the reading thread writes it (tasks/index-entry.ts: into its arena), on its own. */
function written(key: string, id: Buffer, no: number, result: string | Uint8Array): Buffer | null {
  const out = Buffer.alloc(fileEntryBound(key, result) + 8, 0xee);
  const len = writeFileEntry(out, 8, key, id, no, typeof result === 'string' ? Buffer.from(result) : result);
  return len < 0 ? null : out.subarray(8, 8 + len);
}

test('store: an entry made in the reading thread (writeFileEntry) is the very bytes addFile writes, and addMade copies it as it is', (t) => {
  const dir = testDir(t, 'isc-first-made-');
  const big = 'x'.repeat((1 << 20) + 10); // an entry bigger than the writer's buffer
  const tricky = JSON.parse('{"__proto__": 1, "b": -0}') as Record<string, unknown>;
  tricky.n = 12345678901234567890n;
  tricky.u = undefined;
  // [key, identity, result number, the result as stored: v8 bytes or JSON text]
  const files: [string, Buffer, number, string | Uint8Array][] = [
    ['photos/d1/IMG_1.json', Buffer.alloc(40, 1), 0, JSON.stringify({ path: '', size: 3, status: 'ok', notes: [] })],
    ['Bücher/ü – 写真.json', Buffer.alloc(40, 2), 3, serialize(tricky)],
    ['lone \ud800 surrogate.json', Buffer.alloc(40, 3), 7, JSON.stringify({ s: 'lone \ud800 and ü 写真' })], // (stored as U+FFFD: no lookup of this string finds it)
    ['写真/ü.json', Buffer.alloc(40, 6), 2, JSON.stringify({ s: 'lone \udc00 and ü 写真' })],
    ['big.json', Buffer.alloc(40, 4), 1, JSON.stringify({ big })],
    ['photos/d1/IMG_1.json', Buffer.alloc(40, 5), 0, serialize({ again: true })], // the same key again: the later one is live
  ];
  const links: [string, Buffer, Buffer][] = [
    ['/r/games/g1/A.jpg', Buffer.alloc(40, 8), Buffer.from([1, 0, 0, 0])],
    ['/r/games/g1/ü.jpg', Buffer.alloc(40, 9), Buffer.alloc(3000, 5)],
  ];
  const header = { format: 'image-sidecar-index' as const, root: '/r', keys: [], written: 'now' };
  const a = IndexWriter.create(join(dir, 'a'));
  const b = IndexWriter.create(join(dir, 'b'), { tables: 'list' });
  for (const [key, id, no, result] of files) {
    const bytes = typeof result === 'string' ? Buffer.from(result, 'utf8') : Buffer.from(result);
    // A made entry is indexed under the key its bytes hold: a lone surrogate is U+FFFD there.
    a.addFile(Buffer.from(key, 'utf8').toString('utf8'), id, no, bytes);
    const made = written(key, id, no, result)!;
    assert.deepEqual(madeIdentity(made, TABLE_FILES), id);
    assert.deepEqual(madeResult(made), bytes, 'the result as stored');
    assert.equal(b.addMade(TABLE_FILES, [made]), 1);
  }
  for (const [key, id, payload] of links) {
    a.add(TABLE_LINKS, key, id, [payload]);
    b.add(TABLE_LINKS, key, id, [payload]);
  }
  // Beyond the format: never made (add and addFile skip such a key too).
  assert.equal(written('k'.repeat(0x10000), Buffer.alloc(40), 0, '{}'), null);
  assert.equal(written('é'.repeat(0x8000), Buffer.alloc(40), 0, '{}'), null);
  // Not an entry of that table, or not an entry at all: refused, nothing written.
  const file = written('x.json', Buffer.alloc(40), 0, '{}')!;
  assert.throws(() => b.addMade(TABLE_LINKS, [file]));
  assert.throws(() => b.addMade(TABLE_FILES, [file.subarray(0, file.length - 1)]));
  assert.throws(() => b.addMade(TABLE_FILES, [file, file.subarray(0, file.length - 1)]), 'one bad entry: none written');
  assert.throws(() => madeResult(file.subarray(0, file.length - 1)));
  a.finish(header);
  b.finish(header);
  assert.deepEqual(readFileSync(join(dir, 'b')), readFileSync(join(dir, 'a')));
  const reader = IndexReader.open(join(dir, 'b'))!;
  try {
    assert.equal(reader.count(TABLE_FILES), 5);
    const result = (key: string, no: number) => decodeResult<Record<string, unknown>>(entryResult(reader.find(TABLE_FILES, fileSlotKey(key, no))!)[1])!;
    assert.deepEqual(result('photos/d1/IMG_1.json', 0), { again: true });
    const back = result('Bücher/ü – 写真.json', 3);
    assert.ok(Object.hasOwn(back, '__proto__') && Object.is(back.b, -0) && back.n === 12345678901234567890n && 'u' in back, 'a v8 result as it was');
    assert.equal(result('写真/ü.json', 2).s, 'lone \udc00 and ü 写真', 'a JSON result as it was');
    assert.equal(result('big.json', 1).big, big);
  } finally {
    reader.close();
  }
});

test('store: addMade appends many made entries as appending each alone does (back to back in one buffer, from several, one bigger than the writer\'s buffer), and refuses a batch with a bad one whole', (t) => {
  const dir = testDir(t, 'isc-first-many-');
  // Entries as a thread's batch carries them: back to back in one buffer (views of it), then
  // a second buffer, with a key again (the later one is live) and a non-ASCII key.
  const batch = (keys: string[], first: number, fill: (k: number) => string) => {
    const made = keys.map((key, k) => written(key, Buffer.alloc(40, first + k), k % 3, fill(k))!);
    const raw = Buffer.concat(made);
    let at = 0;
    return made.map((m) => new Uint8Array(raw.buffer, raw.byteOffset + (at += m.length) - m.length, m.length));
  };
  const one = batch(Array.from({ length: 300 }, (_, k) => `photos/d${k % 7}/IMG_${k}.json`), 1, (k) => JSON.stringify({ k }));
  const two = batch(['写真/ü.json', 'photos/d1/IMG_1.json', 'big.json'], 50, (k) => (k === 2 ? JSON.stringify({ big: 'x'.repeat((1 << 20) + 10) }) : JSON.stringify({ again: k })));
  const all = [...one, ...two];
  const header = { format: 'image-sidecar-index' as const, root: '/r', keys: [], written: 'now' };
  const each = IndexWriter.create(join(dir, 'each'), { tables: 'list' });
  for (const e of all) each.addMade(TABLE_FILES, [e]);
  each.finish(header);
  for (const tables of ['list', 'table'] as const) {
    const w = IndexWriter.create(join(dir, tables), { tables });
    assert.equal(w.addMade(TABLE_FILES, one), one.length);
    const size = w.size;
    assert.throws(() => w.addMade(TABLE_FILES, [two[0], two[1].subarray(0, two[1].length - 1)]));
    assert.equal(w.size, size, 'nothing of a refused batch written');
    assert.equal(w.addMade(TABLE_FILES, two), two.length);
    w.finish(header);
    if (tables === 'list') assert.deepEqual(readFileSync(join(dir, tables)), readFileSync(join(dir, 'each')), 'the same file');
    const reader = IndexReader.open(join(dir, tables))!;
    try {
      assert.equal(reader.count(TABLE_FILES), 302);
      // Each made with the key number k % 3 of its place in its batch.
      const result = (key: string, no: number) => decodeResult<Record<string, unknown>>(entryResult(reader.find(TABLE_FILES, fileSlotKey(key, no))!)[1])!;
      assert.deepEqual(result('photos/d1/IMG_1.json', 1), { again: 1 }, 'the later entry of a key is live');
      assert.deepEqual(result('photos/d5/IMG_299.json', 2), { k: 299 });
      assert.deepEqual(result('写真/ü.json', 0), { again: 0 });
      assert.equal((result('big.json', 2).big as string).length, (1 << 20) + 10);
    } finally {
      reader.close();
    }
  }
});

test('entry: a result is stored as its packed row, with an escape (v8) for what the columns do not carry; each decodes to the very value', () => {
  const base = { path: '', size: 1, status: 'ok', format: 'json', notes: [], shape: 'sidecar', elapsedMs: 0.1 + 0.2 };
  const root = '/lib';
  const entryOf = (r: Record<string, unknown>) => {
    const id = new IdentityScratch();
    id.load({ dev: 1n, ino: 2n, size: 1n, mtimeNs: 3n, ctimeNs: 4n });
    const result = { ...(r as unknown as FileInspection), path: '/lib/a/b.json' };
    return fileEntry(result, id, { racyCutoffMs: 0, root, keyNo: 0 }, 10n, false, rowOf(result))!;
  };
  const storedAs = (r: Record<string, unknown>, escape: Record<string, unknown> | null) => {
    const raw = madeResult(entryOf(r));
    assert.equal(raw[0], PACKED_RESULT_TAG, `${JSON.stringify(Object.keys(r).slice(-1))} stored packed`);
    assert.equal((raw.readUInt16LE(1) & 0x8000) !== 0, escape !== null, `${JSON.stringify(Object.keys(r).slice(-1))}: an escape`);
    if (escape !== null) assert.deepEqual(raw.subarray(raw.length - serialize(escape).length), serialize(escape), 'the escape: the fields the columns do not carry, v8');
    assert.deepStrictEqual(storedResult(raw), r);
    return raw;
  };
  // The row alone (the columns keep every number's bits: -0 and NaN too).
  for (const r of [base, { ...base, elapsedMs: -0 }, { ...base, elapsedMs: NaN }, { ...base, accel: 'wasm', brief: { detectionCount: 3, toolName: null, operationType: 'face_detection' }, problems: [] }]) {
    storedAs(r, null);
  }
  // The row and an escape: a field the columns do not carry, JSON-safe or not.
  const problems = [{ pointer: '/a', message: 'm', severity: 'error' }];
  storedAs({ ...base, problems }, { problems });
  storedAs({ ...base, error: { code: 'CORRUPT', message: 'bad' }, status: 'corrupt' }, { error: { code: 'CORRUPT', message: 'bad' } });
  const odd: [Record<string, unknown>, Record<string, unknown>][] = [
    [{ ...base, accel: undefined }, { accel: undefined }],
    [{ ...base, notes: [1, , 3] }, { notes: [1, , 3] }], // eslint-disable-line no-sparse-arrays
    [{ ...base, seen: new Map([[1, 2]]) }, { seen: new Map([[1, 2]]) }],
    [{ ...base, problems: [{ n: 1n }] }, { problems: [{ n: 1n }] }],
    [{ ...base, when: new Date(0) }, { when: new Date(0) }],
    [{ ...base, problems: [{ n: -0 }] }, { problems: [{ n: -0 }] }],
  ];
  for (const [r, escape] of odd) storedAs(r, escape);
});

test('entry: entries packed in place stay intact while later ones fill the arena and spill into new chunks; a result the columns refuse is written over its attempt with an escape', () => {
  const base = { path: '/lib/a/b.json', size: 1, status: 'ok', format: 'json', notes: [], shape: 'sidecar', elapsedMs: 0.5 };
  const opts = { racyCutoffMs: 0, root: '/lib', keyNo: 3 };
  const id = new IdentityScratch();
  const made: { entry: Uint8Array; copy: Buffer; result: FileInspection; id: Buffer }[] = [];
  // ~4,000 entries of 60-600 bytes: many 256 KB chunks, each ending with less room than a packed result may need.
  for (let i = 0; i < 4000; i++) {
    id.load({ dev: 1n, ino: BigInt(i + 1), size: 1n, mtimeNs: BigInt(i), ctimeNs: 4n });
    // Refused by the columns after the key and identity are written: notes (at once), or a lone
    // surrogate in its last string (after most of it is packed).
    const result = {
      ...base,
      path: `/lib/d${i % 13}/${'n'.repeat(i % 200)}${i}.json`,
      notes: i % 7 === 3 ? [{ code: 'BOM', message: `note ${i}` }] : [],
      brief: { detectionCount: i, toolName: i % 2 ? null : 'tool', operationType: 'x'.repeat(i % 50) + (i % 11 === 5 ? 'lone \ud800' : '') },
    } as unknown as FileInspection;
    const entry = fileEntry(result, id, opts, 10n, false, rowOf(result))!;
    assert.ok(entry !== null);
    made.push({ entry, copy: Buffer.from(entry), result, id: Buffer.from(id.bytes) });
  }
  const buffers = new Set(made.map((m) => m.entry.buffer));
  assert.ok(buffers.size > 3, `${buffers.size} chunks`);
  for (const [i, m] of made.entries()) {
    assert.deepEqual(Buffer.from(m.entry), m.copy, `entry ${i} unchanged by later ones`);
    assert.deepEqual(madeIdentity(m.entry, TABLE_FILES), m.id);
    const raw = madeResult(m.entry);
    assert.equal(raw[0], PACKED_RESULT_TAG, `entry ${i} encoding`);
    assert.equal((raw.readUInt16LE(1) & 0x8000) === 0, i % 7 !== 3 && i % 11 !== 5, `entry ${i}: an escape`);
    assert.deepStrictEqual(storedResult(raw), { ...m.result, path: '' });
    // The very bytes writeFileEntry makes of the stored result (CRC included).
    const key = relativeTo('/lib')(m.result.path);
    assert.deepEqual(Buffer.from(m.entry), written(key, m.id, 3, raw), `entry ${i} as writeFileEntry writes it`);
  }
});

test('entry: a worker-made file entry is keyed as the scan looks it up, holds the stat of the bytes read, and names the file by PATH_MARK in messages', (t) => {
  const dir = testDir(t, 'isc-first-entry-');
  const root = library(dir);
  const broken = join(root, 'photos/d2/bad.json');
  writeFileSync(broken, '{"oops": ');
  const items = [
    { path: join(root, 'photos/d1/IMG_1.json'), name: 'IMG_1.json' },
    { path: broken, name: 'bad.json' },
  ];
  const opts: InspectOptions = { validate: true, brief: true, indexEntries: { racyCutoffMs: Number.MAX_SAFE_INTEGER, root, keyNo: 5 } };
  const results = inspectFiles(items, opts);
  for (let i = 0; i < items.length; i++) {
    const made = results[i].indexEntry!;
    assert.ok(made !== undefined, `${items[i].name} may be stored`);
    const key = relativeTo(root)(items[i].path);
    const w = IndexWriter.create(join(dir, `w${i}`));
    w.addMade(TABLE_FILES, [made]);
    w.finish({ format: 'image-sidecar-index', root, keys: [], written: 'now' });
    const r = IndexReader.open(join(dir, `w${i}`))!;
    try {
      const v = r.find(TABLE_FILES, fileSlotKey(key, 5))!;
      assert.ok(v, 'found under the key the scan looks up');
      assert.deepEqual(entryIdentity(v), identityBytes(statIdentity(items[i].path)!), 'the identity of the file read');
      const stored = storedResult(entryResult(v)[1])!;
      assert.equal(stored.path, '');
      const { indexEntry: _e, ...fresh } = results[i];
      // As a worker thread delivers the result (inspect-wire.ts): the stored form is the wire's row and escape.
      const { packed } = packInspections([fresh], [items[i]]);
      const delivered = unpackInspections(packed, [items[i]])[0];
      assert.deepEqual(Object.keys(stored), Object.keys(delivered), 'key order as a worker thread delivers it');
      assert.deepStrictEqual({ ...stored, path: delivered.path, error: stored.error && { ...stored.error, message: stored.error.message.split(PATH_MARK).join(delivered.path) } }, { ...delivered, error: delivered.error });
      if (i === 1) {
        assert.equal(stored.status, 'corrupt');
        assert.ok(!stored.error!.message.includes(broken) && stored.error!.message.includes(PATH_MARK), stored.error!.message);
      }
    } finally {
      r.close();
    }
  }
  // A file whose size changed between the stat and the read is not stored (the result's size is the bytes read).
  const r0 = { ...results[0], size: results[0].size + 1 };
  delete r0.indexEntry;
  const st = new IdentityScratch();
  st.load(statSync(items[0].path, { bigint: true }));
  assert.equal(fileEntry(r0, st, opts.indexEntries!, BigInt(Number.MAX_SAFE_INTEGER) * 1_000_000n, false, rowOf(r0)), null);
  const r1 = { ...r0, size: results[0].size };
  assert.ok(fileEntry(r1, st, opts.indexEntries!, BigInt(Number.MAX_SAFE_INTEGER) * 1_000_000n, false, rowOf(r1)) !== null);
  // ctime at or after the cutoff (racy): not stored.
  assert.equal(fileEntry(r1, st, opts.indexEntries!, st.ctimeNs, false, rowOf(r1)), null);
});

test('identity: the 40 bytes written are five little-endian u64 fields, each taken modulo 2^64 (as writeBigUInt64LE of BigInt.asUintN(64, x))', () => {
  const fields = [0n, 1n, 2n ** 63n, 2n ** 64n - 1n, -1n, 2n ** 64n + 5n, 1_700_000_000_123_456_789n];
  for (let i = 0; i + 5 <= fields.length; i++) {
    const [dev, ino, size, mtimeNs, ctimeNs] = fields.slice(i, i + 5);
    const want = Buffer.alloc(40);
    [dev, ino, size, mtimeNs, ctimeNs].forEach((v, k) => want.writeBigUInt64LE(BigInt.asUintN(64, v), 8 * k));
    assert.deepEqual(identityBytes({ dev, ino, size, mtimeNs, ctimeNs }), want);
  }
});

test('lookups: an entry stamp is dev, ino and birth time (ctime without one) as little-endian u64s', (t) => {
  const dir = testDir(t, 'isc-first-stamp-');
  const root = library(dir);
  for (const rel of ['photos/d1/IMG_1.json', 'photos/d1', 'games/g1/A.jpg']) {
    const p = join(root, rel);
    const st = lstatSync(p, { bigint: true });
    const want = Buffer.alloc(24);
    want.writeBigUInt64LE(BigInt.asUintN(64, st.dev), 0);
    want.writeBigUInt64LE(BigInt.asUintN(64, st.ino), 8);
    want.writeBigUInt64LE(BigInt.asUintN(64, st.birthtimeNs > 0n ? st.birthtimeNs : st.ctimeNs), 16);
    const r = lookupEntry(p);
    assert.ok('stamp' in r);
    assert.deepEqual(r.stamp, want, rel);
  }
});

// A first run's batch crosses from a worker thread as one block of entries (tasks/index-entry.ts
// EntryBlock), stored whole when the result it rides on is recorded. Its attackers: a batch whose
// first results have no entry, a block whose framing lies (a length, a table, an end past the
// bytes), and the file a block writes against the one its entries written one by one make.
test('wire: a first run\'s entries cross as one block on the first result that has one, the same bytes, and no result keeps a view', () => {
  const dir = testDir({ after: () => undefined }, 'isc-first-block-');
  const root = library(dir);
  const items = [1, 2, 3].map((i) => ({ path: join(root, `photos/d2/IMG_${i}.json`), name: `IMG_${i}.json` }));
  const opts: InspectOptions = { validate: true, brief: true, indexEntries: { racyCutoffMs: Number.MAX_SAFE_INTEGER, root, keyNo: 0, first: true } };
  const results = inspectFiles(items, opts);
  const made = results.map((r) => Buffer.from(r.indexEntry!));
  delete results[0].indexEntry; // the first result has none: the block rides on the second
  const p = packInspections(results, items);
  p.packed.entries!.first = true;
  const back = unpackInspections(p.packed, items);
  assert.ok(back.every((r) => r.indexEntry === undefined), 'no entry per result');
  assert.equal(back[0].indexEntries, undefined);
  assert.equal(back[2].indexEntries, undefined);
  const block = back[1].indexEntries!;
  assert.deepEqual([...block.ends], [0, made[1].length, made[1].length + made[2].length]);
  assert.deepEqual(Buffer.from(block.raw), Buffer.concat([made[1], made[2]]));
});

test('IndexWriter.addMadeBlock writes the file addMade writes of the same entries, and refuses a block whose framing lies before writing any of it', (t) => {
  const dir = testDir(t, 'isc-first-addblock-');
  const root = library(dir);
  const items = [1, 2, 3].map((i) => ({ path: join(root, `photos/d1/IMG_${i}.json`), name: `IMG_${i}.json` }));
  const made = inspectFiles(items, { summarize: true, indexEntries: { racyCutoffMs: Number.MAX_SAFE_INTEGER, root, keyNo: 0 } }).map((r) => Buffer.from(r.indexEntry!));
  const header = { format: 'image-sidecar-index' as const, root, keys: [], written: new Date(0).toISOString() };
  const ends = new Uint32Array([made[0].length, made[0].length, made[0].length + made[1].length, made[0].length + made[1].length + made[2].length]);
  const raw = Buffer.concat(made);
  const one = IndexWriter.create(join(dir, 'one'), { tables: 'list' });
  assert.equal(one.addMade(TABLE_FILES, made), 3);
  one.finish(header);
  const block = IndexWriter.create(join(dir, 'block'), { tables: 'list' });
  assert.equal(block.addMadeBlock(TABLE_FILES, raw, ends), 3);
  block.finish(header);
  assert.deepEqual(readFileSync(join(dir, 'block')), readFileSync(join(dir, 'one')));
  const reader = IndexReader.open(join(dir, 'block'))!;
  try {
    for (let i = 1; i <= 3; i++) assert.ok(reader.find(TABLE_FILES, fileSlotKey(`photos/d1/IMG_${i}.json`, 0)), `IMG_${i} found`);
  } finally {
    reader.close();
  }
  // Lies: a length that is not the entry's, another table's entry, an end past the bytes, ends going back.
  const badLength = Buffer.from(raw);
  badLength.writeUInt32LE(made[0].length + 1, 0);
  const otherTable = Buffer.from(raw);
  otherTable[made[0].length + 8] = TABLE_DIRS;
  const cases: [string, Uint8Array, Uint32Array][] = [
    ['a length', badLength, ends],
    ['a table', otherTable, ends],
    ['an end past the bytes', raw, new Uint32Array([...ends.slice(0, 3), raw.length + 1])],
    ['ends going back', raw, new Uint32Array([made[0].length, 0, ends[2], ends[3]])],
  ];
  for (const [what, bytes, e] of cases) {
    const w = IndexWriter.create(join(dir, `bad ${what}`), { tables: 'list' });
    const before = w.size;
    assert.throws(() => w.addMadeBlock(TABLE_FILES, bytes, e), /not an index entry/, what);
    assert.equal(w.size, before, `${what}: nothing written`);
    w.abort();
  }
});

test('first run (threads): every sidecar is recorded from its batch\'s block, and the second run is served whole', async (t) => {
  const dir = testDir(t, 'isc-first-blocks-');
  const root = library(dir);
  const runs: IndexRunStats[] = [];
  const index: IndexOptions = { path: join(dir, 'index'), racyMarginMs: 0, onStats: (s) => runs.push(s) };
  // Batches of two sidecars on two threads: several blocks.
  const threaded = async (ix: IndexOptions | false) => {
    const session = scan(root, { index: ix, inspect: { validate: true, brief: true }, engine: 'threads', workers: 2, batchSize: 2 });
    const out: unknown[] = [];
    for await (const r of session) out.push(r);
    return text([out, session.summary]);
  };
  const none = await threaded(false);
  const blocks: number[] = [];
  const addMadeBlock = IndexWriter.prototype.addMadeBlock;
  IndexWriter.prototype.addMadeBlock = function (this: IndexWriter, table: number, raw: Uint8Array, ends: Uint32Array) {
    const n = addMadeBlock.call(this, table, raw, ends);
    blocks.push(n);
    return n;
  };
  try {
    assert.equal(await threaded(index), none, 'first run');
  } finally {
    IndexWriter.prototype.addMadeBlock = addMadeBlock;
  }
  assert.equal(runs[0].recorded, 6, 'every sidecar recorded');
  assert.equal(blocks.reduce((a, b) => a + b, 0), 6, `every entry came in a block (${blocks.join(', ')})`);
  assert.ok(blocks.length >= 3, 'one block per batch of two');
  // (A hit keeps the key order of the result as its thread made it, a fresh result the wire's: the
  // same values; the commands' outputs order their keys themselves.)
  assert.deepStrictEqual(JSON.parse(await threaded(index)), JSON.parse(none), 'second run');
  assert.equal(runs[1].misses, 0, 'every sidecar served');
});

// A margin longer than the clock's time once made a negative cutoff (the
// WebAssembly entry writer took it modulo 2^64 and stored the files just written), and Infinity
// (IMAGE_SIDECAR_INDEX_RACY_MS of some 400 digits) threw a RangeError making the cutoff a BigInt.
for (const racyMarginMs of [1e15, Infinity]) {
  test(`a racy margin longer than the clock's time (${racyMarginMs} ms) stores no file, on threads as in-process, and gives --no-index output`, async (t) => {
    const dir = testDir(t, 'isc-first-margin-');
    const root = library(dir);
    for (const engine of ['threads', 'inline'] as const) {
      const runs: IndexRunStats[] = [];
      const index: IndexOptions = { path: join(dir, `index-${engine}`), racyMarginMs, onStats: (s) => runs.push(s) };
      const none = text(await validate(root, { engine, workers: 2 }));
      assert.equal(text(await validate(root, { engine, workers: 2, index })), none, engine);
      assert.equal(runs[0].recorded, 0, `${engine}: nothing recorded`);
    }
  });
}
