/**
 * A batch's index entries are made after all of its reads (tasks/inspect.ts inspectBatch): each
 * read's identity is kept by item and loaded again for its entry. These tests try to give an entry
 * another file's identity — an item whose read failed after its descriptor's stat (too large, a
 * folder) sits between files read, batches outgrow the first room for identities — and compare
 * every entry with the one made for the same file alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspectFile, inspectFiles, packedBatch } from '../src/tasks/inspect.js';
import { unpackInspections } from '../src/tasks/inspect-wire.js';
import { madeIdentity, madeResult, TABLE_FILES } from '../src/incremental/store.js';
import { storedResult } from '../src/tasks/index-entry.js';
import { identityBytes, statIdentity } from '../src/fs/identity.js';
import { sidecarData, testDir } from './helpers/tree.js';
import type { FileInspection, InspectItem, InspectOptions } from '../src/model/inspection.js';

/** The entry's stored result with its clock zeroed, and its identity. */
function entryOf(r: FileInspection): { result: string; identity: string } | null {
  if (r.indexEntry === undefined) return null;
  const stored = storedResult(madeResult(r.indexEntry));
  assert.ok(stored !== null, `${r.path}: its entry holds a result`);
  return { result: JSON.stringify({ ...stored, elapsedMs: 0 }), identity: Buffer.from(madeIdentity(r.indexEntry, TABLE_FILES)).toString('hex') };
}

test('a batch: every file read gets an entry with its own identity, nothing read gets none, whatever sits between them', (t) => {
  const root = testDir(t, 'isc-batch-entries-');
  mkdirSync(join(root, 'photos'));
  const items: InspectItem[] = [];
  const unread = new Set<string>();
  const add = (name: string, kind: 'ok' | 'corrupt' | 'big' | 'folder' | 'missing') => {
    const path = join(root, 'photos', name);
    if (kind === 'ok') writeFileSync(path, JSON.stringify(sidecarData(name.replace(/\.json$/, '.jpg'), items.length % 5, 4)));
    else if (kind === 'corrupt') writeFileSync(path, '{"image_path": "x.jpg", ');
    else if (kind === 'big') writeFileSync(path, JSON.stringify({ image_path: 'big.jpg', pad: 'x'.repeat(6000) }));
    else if (kind === 'folder') mkdirSync(path);
    if (kind === 'big' || kind === 'folder' || kind === 'missing') unread.add(path);
    items.push({ path, name });
  };
  // 150 items: past the 64 identities kept at first; a file whose descriptor was stat'ed but not
  // read (too large, a folder) and a missing one right after and before files read.
  for (let i = 0; i < 150; i++) {
    const kinds = ['ok', 'big', 'ok', 'folder', 'ok', 'missing', 'corrupt', 'ok'] as const;
    add(`IMG_${String(i).padStart(3, '0')}.json`, kinds[i % kinds.length]);
  }
  const opts: InspectOptions = { validate: true, brief: true, maxFileSize: 4096, indexEntries: { racyCutoffMs: Number.MAX_SAFE_INTEGER, root, keyNo: 0 } };
  const results = inspectFiles(items, opts);
  // Read before any entry is checked: the thread's entries stay valid until its next batch.
  const made = results.map(entryOf);
  let stored = 0;
  for (let i = 0; i < items.length; i++) {
    const path = items[i].path;
    assert.equal(results[i].path, path);
    if (unread.has(path)) {
      assert.equal(made[i], null, `${path}: never read, no entry`);
      continue;
    }
    assert.ok(made[i] !== null, `${path}: read, an entry`);
    stored++;
    assert.equal(made[i]!.identity, identityBytes(statIdentity(path)!).toString('hex'), `${path}: its own identity`);
  }
  assert.ok(stored >= 70, `${stored} entries`);
  // The same entries as one file at a time (each its own batch of one).
  for (let i = 0; i < items.length; i++) assert.deepEqual(entryOf(inspectFile(items[i], opts)), made[i], items[i].path);
  // A racy cutoff in the past: nothing may be stored, in a batch as alone.
  const none = { ...opts, indexEntries: { racyCutoffMs: 0, root, keyNo: 0 } };
  assert.ok(inspectFiles(items, none).every((r) => r.indexEntry === undefined));
  assert.equal(inspectFile(items[0], none).indexEntry, undefined);
});

test('a batch packed for its entries is the batch a worker thread sends: its entries added, its results as the columns rebuild them; taken once, by that batch only', (t) => {
  const root = testDir(t, 'isc-batch-packed-');
  mkdirSync(join(root, 'photos'));
  const items: InspectItem[] = [];
  for (let i = 0; i < 90; i++) {
    const path = join(root, 'photos', `IMG_${i}.json`);
    writeFileSync(path, i % 9 === 4 ? '{"image_path": "x.jpg", ' : JSON.stringify(sidecarData(`IMG_${i}.jpg`, i % 5, 6)));
    items.push({ path, name: `IMG_${i}.json` });
  }
  for (const shape of [{ validate: true, brief: true }, { summarize: true }] as InspectOptions[]) {
    const opts: InspectOptions = { ...shape, indexEntries: { racyCutoffMs: Number.MAX_SAFE_INTEGER, root, keyNo: 3 } };
    const results = inspectFiles(items, opts);
    assert.equal(packedBatch(inspectFiles(items.slice(0, 3), opts)) !== null, true, 'the last batch packed');
    assert.equal(packedBatch(results), null, 'only the last batch packed is taken');
    const again = inspectFiles(items, opts);
    const sent = packedBatch(again);
    assert.ok(sent !== null);
    assert.equal(packedBatch(again), null, 'taken once');
    const back = unpackInspections(structuredClone(sent.packed, { transfer: sent.transfer }), items);
    for (let i = 0; i < items.length; i++) {
      const mine = again[i].indexEntry;
      assert.ok(mine !== undefined || again[i].status === 'corrupt', `${items[i].path}: an entry`);
      assert.deepEqual(back[i].indexEntry && Buffer.from(back[i].indexEntry!), mine && Buffer.from(mine), `${items[i].path}: the entry sent is the one made`);
      assert.deepEqual(entryOf(back[i]), entryOf(again[i]));
      const { indexEntry: _a, ...plain } = back[i];
      const { indexEntry: _b, ...orig } = again[i];
      assert.deepStrictEqual(plain, orig);
    }
  }
});
