/**
 * attack27: the thread's entry arena (entry.ts EntryArena) with entries packed in place: positions
 * right at a chunk's end, fallbacks after a partial packed write, keys at and past 65535 bytes, a
 * result needing its own chunk, rewindEntries, then a spool (addMade, finish) read back (CRCs).
 * Written by attack27 (helper) against b50093d, which held; kept as the arena's limits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { fileEntry, rewindEntries, storedResult } from '../src/incremental/entry.js';
import { IdentityScratch } from '../src/fs/identity.js';
import { entryIdentity, entryResults, fileEntryBound, IndexReader, IndexWriter, madeIdentity, madeResult, TABLE_FILES } from '../src/incremental/store.js';
import { PACKED_RESULT_ROOM, PACKED_RESULT_TAG, packResult } from '../src/tasks/inspect-wire.js';
import { relativeTo } from '../src/fs/rel-path.js';
import { testDir } from './helpers/tree.js';
import type { FileInspection } from '../src/model/inspection.js';

const CHUNK = 256 * 1024;
const opts = { racyCutoffMs: 0, root: '/lib', keyNo: 2 };
const id = new IdentityScratch();
let ino = 1;

type Kind = 'packed' | 'lone' | 'notes' | 'v8' | 'big';
function result(path: string, kind: Kind, pad = 0): FileInspection {
  const r: Record<string, unknown> = { path, size: 0, status: 'ok', format: 'json', notes: [], shape: 'sidecar', elapsedMs: 0.25 };
  const summary = {
    operations: ['face_detection'],
    operationType: 'face_detection',
    faces: 1,
    objects: 2,
    detectionCount: 3,
    embeddings: 1,
    embeddingLength: null,
    qualityGrade: 'é'.repeat(pad % 7),
    qualityScore: null,
    processingTimes: { face_detection: 0.5 },
    success: { face_detection: true },
    dataSizes: {},
    toolName: 'x'.repeat(pad),
    hasSidecarInfo: true,
    symlink: null,
    objectClasses: { person: 1, ['c'.repeat(pad % 90)]: 2 },
    image: null,
  };
  r.summary = summary;
  if (kind === 'lone') (summary.objectClasses as Record<string, number>)['z'.repeat(pad % 100) + '\udc00'] = 1; // refused after most is packed
  if (kind === 'notes') r.notes = [{ code: 'BOM', message: 'n'.repeat(pad) }];
  if (kind === 'v8') r.notes = [{ code: 'BOM', message: 'v', n: -0 }];
  if (kind === 'big') r.notes = [{ code: 'BOM', message: 'b'.repeat(300_000 + pad) }];
  return r as unknown as FileInspection;
}

interface Made {
  e: Uint8Array;
  copy: Buffer;
  key: string;
  id: Buffer;
  kind: Kind;
}

function make(path: string, kind: Kind, pad = 0): Made | null {
  id.load({ dev: 7n, ino: BigInt(ino++), size: 0n, mtimeNs: 1n, ctimeNs: 1n });
  const r = result(path, kind, pad);
  const e = fileEntry(r, id, opts, 10n, false);
  if (e === null) return null;
  return { e, copy: Buffer.from(e), key: relativeTo('/lib')(path), id: Buffer.from(id.bytes), kind };
}

function check(m: Made, what: string): void {
  assert.deepEqual(Buffer.from(m.e), m.copy, `${what}: entry changed`);
  const b = Buffer.from(m.e.buffer, m.e.byteOffset, m.e.length);
  assert.equal(b.readUInt32LE(0), b.length, what);
  assert.equal(crc32(b.subarray(8)) >>> 0, b.readUInt32LE(4), `${what}: CRC`);
  assert.equal(b.toString('utf8', 11, 11 + b.readUInt16LE(9)), m.key, `${what}: key`);
  assert.deepEqual(madeIdentity(m.e, TABLE_FILES), m.id, what);
  const raw = madeResult(m.e);
  assert.equal(raw[0] === PACKED_RESULT_TAG, m.kind === 'packed', `${what}: encoding ${raw[0]}`);
  assert.ok(storedResult(raw) !== null, `${what}: decodes`);
}

test('attack27 arena: entries around a chunk end, fallbacks after partial packing, long keys, a big entry, rewind; spool reads back', (t) => {
  const dir = testDir(t, 'attack27-arena-');
  rewindEntries();
  const all: Made[] = [];
  const kinds: Kind[] = ['packed', 'lone', 'notes', 'packed', 'v8', 'packed', 'lone'];
  let chunkEdges = 0;
  // Walk the arena over several chunks with entries of every size mod 97, so every chunk ends at a different room.
  for (let i = 0; i < 6000; i++) {
    const kind = kinds[i % kinds.length];
    const m = make(`/lib/w/${'p'.repeat(i % 97)}${i}.json`, kind, (i * 31) % 400);
    assert.ok(m !== null);
    const prev = all.at(-1);
    if (prev && prev.e.buffer !== m.e.buffer) {
      chunkEdges++;
      const left = prev.e.buffer.byteLength - (prev.e.byteOffset + prev.e.length);
      // A new chunk only when the room at the old one's end was too small for the bound.
      const need = fileEntryBound(m.key, '') + PACKED_RESULT_ROOM;
      assert.ok(left < need || kind !== 'packed', `entry ${i}: new chunk with ${left} bytes left (need ${need})`);
      assert.equal(m.e.byteOffset, 0);
    } else if (prev) assert.equal(m.e.byteOffset, prev.e.byteOffset + prev.e.length, `entry ${i} follows the one before`);
    all.push(m);
  }
  assert.ok(chunkEdges > 3, `${chunkEdges} chunks`);
  // Keys at the limit: 65535 UTF-8 bytes stored, 65536 refused (null, nothing written), each encoding.
  for (const kind of ['packed', 'notes', 'v8', 'lone'] as Kind[]) {
    const at = make(`/lib/${'中'.repeat(21845)}`, kind);
    assert.ok(at !== null, `${kind}: key of 65535 bytes`);
    all.push(at);
    assert.equal(make(`/lib/${'中'.repeat(21845)}a`, kind), null, `${kind}: key of 65536 bytes`);
    assert.equal(make(`/lib/${'k'.repeat(65536)}`, kind), null, `${kind}: ascii key of 65536 bytes`);
    assert.equal(make(`/lib/${'k'.repeat(100_000)}`, kind), null, `${kind}: ascii key of 100000 bytes`);
    const ascii = make(`/lib/${'k'.repeat(65535)}`, kind);
    assert.ok(ascii !== null);
    all.push(ascii);
    all.push(make(`/lib/after-${kind}.json`, kind)!);
  }
  // A result needing a chunk of its own, between small ones.
  all.push(make('/lib/small-1.json', 'packed')!);
  const big = make('/lib/big.json', 'big')!;
  assert.ok(big.e.length > CHUNK);
  all.push(big);
  all.push(make('/lib/small-2.json', 'packed')!);
  all.push(make('/lib/small-3.json', 'lone')!);
  for (const [i, m] of all.entries()) check(m, `entry ${i} (${m.kind})`);

  // The spool: every entry as the main thread copies it (addMade), read back with its CRC checked.
  const path = join(dir, 'index');
  const w = IndexWriter.create(path, { tables: 'list' });
  const last = new Map<string, Made>();
  for (const m of all) {
    w.addMade(TABLE_FILES, [m.e]);
    last.set(m.key, m);
  }
  w.finish({ format: 'image-sidecar-index', root: '/lib', keys: [], written: 'now' });
  const reader = IndexReader.open(path)!;
  assert.ok(reader !== null);
  try {
    for (const [key, m] of last) {
      const v = reader.find(TABLE_FILES, key);
      assert.ok(v !== null, `found ${key.slice(0, 40)}`);
      assert.deepEqual(entryIdentity(v), m.id);
      assert.deepEqual(entryResults(v).get(2), madeResult(m.copy));
    }
  } finally {
    reader.close();
  }

  // Rewind with the big entry's chunk current: it is dropped (its view stays), the next entries
  // start a fresh chunk and never touch it.
  const bigCopy = Buffer.from(big.e);
  rewindEntries();
  const after: Made[] = [];
  for (let i = 0; i < 300; i++) after.push(make(`/lib/r/${i}.json`, kinds[i % kinds.length], i)!);
  assert.deepEqual(Buffer.from(big.e), bigCopy);
  for (const [i, m] of after.entries()) {
    assert.notEqual(m.e.buffer, big.e.buffer);
    check(m, `after rewind ${i}`);
  }
  // Rewind on a normal chunk: written over from its start (the documented reuse), each entry whole.
  rewindEntries();
  const again: Made[] = [];
  for (let i = 0; i < 300; i++) again.push(make(`/lib/s/${i}.json`, kinds[(i + 3) % kinds.length], i + 5)!);
  assert.equal(again[0].e.buffer, after[0].e.buffer);
  assert.equal(again[0].e.byteOffset, 0);
  for (const [i, m] of again.entries()) check(m, `again ${i}`);
});


/** A packed-only result of exactly `bytes` packed bytes (many classes; toolName tunes the length); the last class name may carry `tail`. */
function exactResult(path: string, bytes: number, tail = ''): FileInspection {
  const classes: Record<string, number> = {};
  const build = (tool: number, t = '') => {
    const r = result(path, 'packed', 0) as unknown as { summary: Record<string, unknown> };
    const s = r.summary;
    s.toolName = 't'.repeat(tool);
    s.objectClasses = { ...classes };
    (s.objectClasses as Record<string, number>)[t ? `zz${t}` : 'zz'] = 9; // a short last name: its worst case fits in what follows
    return r as unknown as FileInspection;
  };
  for (let i = 0; packResult(build(0))!.length < bytes - 400; i++) classes[`class-${i}`] = i;
  const base = packResult({ ...build(0), path: '' } as FileInspection)!.length;
  return build(bytes - base, tail);
}

test('attack27 arena: a packed result of exactly the room, ending exactly at the chunk end; one byte less room starts a new chunk; a refusal there is written as JSON elsewhere', () => {
  for (const shift of [0, -1, 1, 5]) {
    for (const tail of ['', '\ud800']) {
      rewindEntries();
      // Start a fresh 256 KiB chunk.
      let first = make('/lib/f/first.json', 'packed')!;
      if (first.e.byteOffset !== 0) {
        rewindEntries();
        first = make('/lib/f/first2.json', 'packed')!;
      }
      const chunk = first.e.buffer;
      assert.equal(chunk.byteLength, CHUNK);
      const keyChars = 500;
      const key = `/lib/${'写'.repeat(keyChars)}`;
      const rel = relativeTo('/lib')(key);
      const target = CHUNK - (fileEntryBound(rel, '') + PACKED_RESULT_ROOM) + shift;
      const kept: Made[] = [first];
      let pos = first.e.byteOffset + first.e.length;
      // Fillers (packed) of a computed length until the target.
      let k = 0;
      while (pos < target) {
        const left = target - pos;
        const fkey = `/lib/f/${k++}.json`;
        const frel = relativeTo('/lib')(fkey);
        const overhead = 11 + Buffer.byteLength(frel) + 40 + 7;
        const want = left > 6000 ? 3000 : left;
        const fr = exactResult(fkey, want - overhead);
        id.load({ dev: 7n, ino: BigInt(ino++), size: 0n, mtimeNs: 1n, ctimeNs: 1n });
        const e = fileEntry(fr, id, opts, 10n, false)!;
        assert.equal(e.buffer, chunk, `filler ${k}`);
        assert.equal(e.length, want, `filler ${k} length`);
        kept.push({ e, copy: Buffer.from(e), key: frel, id: Buffer.from(id.bytes), kind: 'packed' });
        pos = e.byteOffset + e.length;
      }
      assert.equal(pos, target);
      const r = exactResult(key, PACKED_RESULT_ROOM, tail);
      if (!tail) assert.equal(packResult({ ...r, path: '' } as FileInspection)!.length, PACKED_RESULT_ROOM);
      id.load({ dev: 7n, ino: BigInt(ino++), size: 0n, mtimeNs: 1n, ctimeNs: 1n });
      const e = fileEntry(r, id, opts, 10n, false)!;
      const m: Made = { e, copy: Buffer.from(e), key: rel, id: Buffer.from(id.bytes), kind: tail ? 'lone' : 'packed' };
      if (!tail && shift <= 0) {
        assert.equal(e.buffer, chunk, `shift ${shift}: in the same chunk`);
        assert.equal(e.byteOffset, target);
        if (shift === 0) assert.equal(e.byteOffset + e.length, CHUNK, 'ends at the chunk end');
      } else if (!tail) {
        assert.notEqual(e.buffer, chunk, `shift ${shift}: a new chunk`);
        assert.equal(e.byteOffset, 0);
      } else assert.equal(madeResult(e)[0], 0x7b, 'refused: JSON');
      for (const [i, x] of kept.entries()) check(x, `shift ${shift} tail ${tail.length} filler ${i}`);
      check(m, `shift ${shift} tail ${tail.length} target`);
      // The next entry after it.
      const next = make('/lib/f/next.json', 'lone')!;
      for (const x of [...kept, m]) check(x, `shift ${shift}: after next`);
      check(next, 'next');
    }
  }
});
