/**
 * A file entry of the index (src/tasks/index-entry.ts, entry-format.ts): its bytes and the thread's arena
 * that holds them. Both parts were written as attacks against the code of their day, which held;
 * they stay as the format's and the arena's limits.
 *
 * The arena (tasks/index-entry.ts EntryArena) with entries packed in place: positions right at a
 * chunk's end, fallbacks after a partial packed write, keys at and past 65535 bytes, a result
 * needing its own chunk, rewindEntries, then a spool (addMade, finish) read back (CRCs).
 *
 * The framing as the reading thread writes it (tasks/entry-format.ts beginFileEntry /
 * sealFileEntry: an ASCII key copied by hand, a multi-byte one through Buffer's UTF-8 write, the
 * numbers through a DataView) against a framing built here from Buffer.from(key) alone: keys whose
 * first non-ASCII unit is at every position, lone surrogates, astral characters, NUL, keys whose
 * UTF-8 length is 65,535 (kept) or 65,536 (refused) in one- and multi-byte characters; any result
 * number; odd offsets in a buffer that is a view at an offset, sized exactly fileEntryBound. Then
 * tasks/index-entry.ts fileEntry: the packed form made of the result as it is (its real path) is
 * the bytes of the path-emptied result, the key follows the root from one call to the next
 * (relativeTo's last base), and the result is left as it was. When the framing stopped using
 * Buffer's write methods (the key copied when ASCII, lengths through a DataView), it gave the same
 * bytes as the one before it over ~350k random and adversarial framings and ~250k fileEntry calls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { serialize } from 'node:v8';
import { fileEntry, PATH_MARK, rewindEntries, storedResult } from '../src/tasks/index-entry.js';
import { IdentityScratch } from '../src/fs/identity.js';
import { entryIdentity, entryResult, fileSlotKey, IndexReader, IndexWriter, madeIdentity, madeResult, TABLE_FILES } from '../src/incremental/store.js';
import { beginFileEntry, fileEntryBound, sealFileEntry, writeFileEntry } from '../src/tasks/entry-format.js';
import { PACKED_RESULT_ROOM, PACKED_RESULT_TAG } from '../src/tasks/inspect-wire.js';
import { packResult, rowOf } from './helpers/packed-row.js';
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
  const e = fileEntry(r, id, opts, 10n, false, rowOf(r));
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
  assert.equal(raw[0], PACKED_RESULT_TAG, `${what}: encoding ${raw[0]}`);
  assert.equal((raw.readUInt16LE(1) & 0x8000) === 0, m.kind === 'packed', `${what}: an escape`);
  assert.ok(storedResult(raw) !== null, `${what}: decodes`);
}

test('entry arena: entries around a chunk end, fallbacks after partial packing, long keys, a big entry, rewind; spool reads back', (t) => {
  const dir = testDir(t, 'index-entry-arena-');
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
      const v = reader.find(TABLE_FILES, fileSlotKey(key, 2));
      assert.ok(v !== null, `found ${key.slice(0, 40)}`);
      assert.deepEqual(entryIdentity(v), m.id);
      assert.deepEqual(entryResult(v), [2, madeResult(m.copy)]);
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


/** exactResult's class counts, by size and path length. */
const classesFor = new Map<string, number>();
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
  // How many classes reach the size depends only on it and the path's length: found once (the
  // arena test asks for thousands of 3,000-byte fillers), then added at once.
  const memo = `${bytes}:${Buffer.byteLength(path)}`;
  const n = classesFor.get(memo);
  if (n !== undefined) for (let i = 0; i < n; i++) classes[`class-${i}`] = i;
  else {
    let i = 0;
    for (; packResult(build(0))!.length < bytes - 400; i++) classes[`class-${i}`] = i;
    classesFor.set(memo, i);
  }
  const base = packResult({ ...build(0), path: '' } as FileInspection)!.length;
  return build(bytes - base, tail);
}

test('entry arena: a packed result of exactly the room, ending exactly at the chunk end; one byte less room starts a new chunk; a refusal there is written with its summary in the escape elsewhere', () => {
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
        const e = fileEntry(fr, id, opts, 10n, false, rowOf(fr))!;
        assert.equal(e.buffer, chunk, `filler ${k}`);
        assert.equal(e.length, want, `filler ${k} length`);
        kept.push({ e, copy: Buffer.from(e), key: frel, id: Buffer.from(id.bytes), kind: 'packed' });
        pos = e.byteOffset + e.length;
      }
      assert.equal(pos, target);
      const r = exactResult(key, PACKED_RESULT_ROOM, tail);
      if (!tail) assert.equal(packResult({ ...r, path: '' } as FileInspection)!.length, PACKED_RESULT_ROOM);
      id.load({ dev: 7n, ino: BigInt(ino++), size: 0n, mtimeNs: 1n, ctimeNs: 1n });
      const e = fileEntry(r, id, opts, 10n, false, rowOf(r))!;
      const m: Made = { e, copy: Buffer.from(e), key: rel, id: Buffer.from(id.bytes), kind: tail ? 'lone' : 'packed' };
      if (!tail && shift <= 0) {
        assert.equal(e.buffer, chunk, `shift ${shift}: in the same chunk`);
        assert.equal(e.byteOffset, target);
        if (shift === 0) assert.equal(e.byteOffset + e.length, CHUNK, 'ends at the chunk end');
      } else if (!tail) {
        assert.notEqual(e.buffer, chunk, `shift ${shift}: a new chunk`);
        assert.equal(e.byteOffset, 0);
      } else {
        const raw = madeResult(e);
        assert.ok((raw.readUInt16LE(1) & (0x8000 | (1 << 14))) === 0x8000, 'refused by the columns: the summary in the escape');
        assert.deepStrictEqual(storedResult(raw), { ...r, path: '' });
      }
      for (const [i, x] of kept.entries()) check(x, `shift ${shift} tail ${tail.length} filler ${i}`);
      check(m, `shift ${shift} tail ${tail.length} target`);
      // The next entry after it.
      const next = make('/lib/f/next.json', 'lone')!;
      for (const x of [...kept, m]) check(x, `shift ${shift}: after next`);
      check(next, 'next');
    }
  }
});

// ---------------------------------------------------------------------------------------------
// The framing: the format's bytes for any key, result number and offset.
// ---------------------------------------------------------------------------------------------

/** The entry of one result, built from the format's description (store.ts header), or null past 65,535 key bytes. */
function reference(key: string, id: Uint8Array, keyNo: number, result: string | Uint8Array): Buffer | null {
  const k = Buffer.from(key, 'utf8');
  if (k.length > 0xffff) return null;
  const r = typeof result === 'string' ? Buffer.from(result, 'utf8') : Buffer.from(result);
  const head = Buffer.alloc(11);
  head[8] = 0;
  head.writeUInt16LE(k.length, 9);
  const res = Buffer.alloc(7);
  res[0] = 1;
  res.writeUInt16LE(keyNo, 1);
  res.writeUInt32LE(r.length, 3);
  const e = Buffer.concat([head, k, Buffer.from(id.subarray(0, 40)), res, r]);
  e.writeUInt32LE(e.length, 0);
  e.writeUInt32LE(crc32(e.subarray(8)) >>> 0, 4);
  return e;
}

let seed = 28;
const rnd = (n: number) => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return ((seed ^ (seed >>> 16)) >>> 0) % n;
};

function keys(): string[] {
  const out = ['', 'a', '\0', '\0a\0', '\x7f', '\x80', 'é', '😀', '\ud800', '\udfff', '\udc00\ud800', 'a\ud83d', '\ude00a', 'photos/IMG_1.json'];
  const base = 'photos/d1';
  for (const ch of ['\x80', 'é', '\u07ff', '\u0800', '€', '\uffff', '😀', '\ud800', '\udbff', '\udc00', '\ud83d\ude00']) {
    for (let i = 0; i <= base.length; i++) out.push(base.slice(0, i) + ch + base.slice(i));
  }
  // UTF-8 lengths at and past the format's 65,535.
  for (const n of [65534, 65535, 65536]) out.push('a'.repeat(n), 'a'.repeat(n - 2) + 'é', 'é' + 'a'.repeat(n - 2), 'a'.repeat(n - 4) + '😀', 'a'.repeat(n - 3) + '\ud800');
  out.push('é'.repeat(32767) + 'a', 'é'.repeat(32768), '€'.repeat(21845), '€'.repeat(21845) + 'a', '😀'.repeat(16383) + 'abc', '😀'.repeat(16384), '\ud800'.repeat(21845), '\ud800'.repeat(21846));
  return out;
}

test('entry framing: writeFileEntry and beginFileEntry + sealFileEntry write the format\'s bytes for any key, result number and offset', () => {
  const payloads: (string | Uint8Array)[] = ['', new Uint8Array(0), '{"path":"","s":"é \ud800"}', Uint8Array.from([0xff, 0x0f, 0, 1, 2])];
  let n = 0;
  for (const key of keys()) {
    for (const payload of payloads) {
      const idLen = [40, 40, 41, 64][rnd(4)];
      const id = Uint8Array.from({ length: idLen }, () => rnd(256));
      const keyNo = [0, 1, 7, 255, 256, 0xfffe, 0xffff, rnd(0x10000)][rnd(8)];
      const want = reference(key, id, keyNo, payload);
      const bound = fileEntryBound(key, payload);
      for (const at of [0, 1, 3]) {
        // A Buffer at an offset of its ArrayBuffer, ending exactly where the bound says.
        const ab = new ArrayBuffer(5 + at + bound);
        const out = Buffer.from(ab, 5, at + bound).fill(0xee);
        const len = writeFileEntry(out, at, key, id, keyNo, typeof payload === 'string' ? Buffer.from(payload) : payload);
        if (want === null) assert.equal(len, -1, `key of ${key.length} units refused`);
        else assert.deepEqual(out.subarray(at, at + len), want, `writeFileEntry: key ${JSON.stringify(key.slice(0, 24))} (${key.length}) at ${at}`);
        // The two halves with a view of all of `out`, the result written between them.
        const out2 = Buffer.from(new ArrayBuffer(3 + at + bound), 3, at + bound).fill(0x11);
        const view = new DataView(out2.buffer, out2.byteOffset, out2.length);
        const r = beginFileEntry(out2, view, at, key, id, keyNo);
        if (want === null) assert.equal(r, -1);
        else {
          const p = typeof payload === 'string' ? Buffer.from(payload) : payload;
          out2.set(p, r);
          const len2 = sealFileEntry(out2, view, at, r + p.length);
          assert.deepEqual(out2.subarray(at, at + len2), want, `begin/seal: key ${JSON.stringify(key.slice(0, 24))} (${key.length}) at ${at}`);
        }
        n++;
      }
    }
  }
  assert.ok(n > 1000, `${n} framings`);
});

test('entry framing: fileEntry packs the result as it is into the bytes of its path-emptied form, keyed by the root of each call, the result untouched', () => {
  const id = new IdentityScratch();
  const roots = ['/lib', '/lib/', '/', '/lib/sub', '/x/é'];
  const parts = ['a.json', '.hidden', '..', '.', 'é', '😀', 'sub', 'lib'];
  for (let i = 0; i < 600; i++) {
    const root = roots[(i >> 3) % roots.length]; // the root changes every few calls
    let rel = parts[rnd(parts.length)];
    for (let j = rnd(3); j > 0; j--) rel += '/' + parts[rnd(parts.length)];
    const path = [`${root.endsWith('/') ? root : root + '/'}${rel}`, `/other/${rel}`, `${root}x/${rel}`][rnd(3)];
    const kind = i % 4; // 0, 1: packed (-0 kept); 2: an error naming the path (JSON, PATH_MARK); 3: problems (JSON)
    const r: Record<string, unknown> = { path, size: rnd(100), status: 'ok', format: 'json', notes: [], shape: 'sidecar', elapsedMs: i % 5 === 0 && kind < 2 ? -0 : 0.5 };
    if (i % 3 === 0) r.brief = { detectionCount: i, toolName: i % 2 ? null : path, operationType: 'op' };
    if (kind === 2) {
      r.status = 'corrupt';
      r.error = { code: 'CORRUPT', message: `bad ${path}: ${path}` };
    }
    if (kind === 3) r.problems = [{ pointer: '', message: `in ${path}`, severity: 'warning' }];
    const before = structuredClone(r);
    id.load({ dev: 1n, ino: BigInt(i + 1), size: BigInt(r.size as number), mtimeNs: 2n, ctimeNs: 3n });
    const e = fileEntry(r as unknown as FileInspection, id, { racyCutoffMs: 0, root, keyNo: i % 8 }, 10n, false, rowOf(r as unknown as FileInspection));
    assert.ok(e !== null);
    assert.deepStrictEqual(r, before, 'the result left as it was');
    assert.deepEqual(Object.keys(r), Object.keys(before));
    const stored: Record<string, unknown> = { ...before, path: '' };
    if (kind === 2) stored.error = { code: 'CORRUPT', message: `bad ${PATH_MARK}: ${PATH_MARK}` };
    // With an escape: the row of the fields in columns, marked F_EXTRA, then the others (v8).
    const { error, problems: _p, ...columns } = stored;
    const row = Buffer.from(packResult(columns as unknown as FileInspection)!);
    if (kind >= 2) row.writeUInt16LE(row.readUInt16LE(1) | 0x8000, 1);
    // (v8's bytes follow a value's representation, not only the value: a structured clone's array is
    // written as a sparse one, a message cut from a two-byte string as two-byte; so the escape's
    // values are made from the result's own.)
    const marked = () => ({ ...(r.error as { message: string }), message: (r.error as { message: string }).message.split(path).join(PATH_MARK) });
    const payload = kind < 2 ? row : Buffer.concat([row, serialize(kind === 2 ? { error: marked() } : { problems: r.problems })]);
    assert.deepStrictEqual(error, kind === 2 ? marked() : undefined);
    assert.ok(payload !== null);
    const want = reference(relativeTo(root)(path), id.bytes, i % 8, payload)!;
    assert.deepEqual(Buffer.from(e), want, `entry ${i}: root ${root}, path ${path}`);
  }
});

test("entry framing: an empty root on a thread's first entry is a root like any other (relativeTo has no last base before its first call)", () => {
  // A fresh process: relativeTo's last base is module state, so the first call must be this one.
  const entryUrl = new URL('../src/tasks/index-entry.js', import.meta.url).href;
  const identityUrl = new URL('../src/fs/identity.js', import.meta.url).href;
  const relUrl = new URL('../src/fs/rel-path.js', import.meta.url).href;
  const wireUrl = new URL('../src/tasks/inspect-wire.js', import.meta.url).href;
  const script = `
    const { fileEntry } = await import(${JSON.stringify(entryUrl)});
    const { IdentityScratch } = await import(${JSON.stringify(identityUrl)});
    const { relativeTo } = await import(${JSON.stringify(relUrl)});
    const { packInspections, rowStrings } = await import(${JSON.stringify(wireUrl)});
    const id = new IdentityScratch();
    id.load({ dev: 1n, ino: 2n, size: 0n, mtimeNs: 2n, ctimeNs: 3n });
    const path = '/lib/a.json';
    const r = { path, size: 0, status: 'ok', format: 'json', notes: [], shape: 'sidecar', elapsedMs: 0 };
    const { packed } = packInspections([r], [{ path, name: 'a.json' }]);
    const e = fileEntry(r, id, { racyCutoffMs: 0, root: '', keyNo: 0 }, 10n, false, { wire: packed, strings: rowStrings(packed), i: 0, j: 0 });
    const kl = e[9] | (e[10] << 8);
    process.stdout.write(JSON.stringify({ key: Buffer.from(e.subarray(11, 11 + kl)).toString('utf8'), want: relativeTo('')(path) }));
  `;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  const { key, want } = JSON.parse(out.stdout) as { key: string; want: string };
  assert.equal(key, want);
  assert.notEqual(key, '/lib/a.json'); // 2d5ce53's first call kept the path as it was
});
