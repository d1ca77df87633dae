/**
 * The index file: one binary file, loaded once per run, written once at its end.
 *
 *   "ISCIDX\0" u8 version | u32 header length | header JSON | u32 entry count | entries | u32 CRC-32
 *   entry: u16 path length | path (UTF-8, relative to the root) | 40-byte identity (identity.ts)
 *          | u8 result count | per result: u16 key number (header.keys) | u32 length | v8-serialized result
 *
 * Results are v8 serializations (the structured clone a worker thread sends its results with), so a
 * stored result comes back exactly as a worker would have delivered it: bigints, -0, key order,
 * `__proto__` keys. Loading builds only a map from path to entry offset; a result is decoded on a hit.
 * Anything unexpected (magic, version, CRC, lengths) makes the whole file untrusted.
 */
import { readFileSync } from 'node:fs';
import { deserialize } from 'node:v8';
import { crc32 } from 'node:zlib';
import { IDENTITY_BYTES, identityEquals } from './identity.js';

export const INDEX_MAGIC = Buffer.from('ISCIDX\0', 'latin1');
export const INDEX_FORMAT_VERSION = 1;
/** Option keys kept (most recently used first): older keys' results are dropped on write. */
export const MAX_KEYS = 8;
const MAX_REL_BYTES = 0xffff;

export interface KeyUse {
  key: string;
  /** ms since the epoch this key was last used by a run. */
  used: number;
  /** The build that made its results (`buildId`): another build's keys can never hit again. */
  build?: string;
}

export interface IndexHeader {
  format: 'image-sidecar-index';
  /** realpath of the library root the paths are relative to. */
  root: string;
  keys: KeyUse[];
  written: string;
  /** The run that wrote this file: what `index status` reports. */
  lastRun?: { at: string; hits: number; misses: number; recorded: number; sidecars: number };
  /** Hits over every run that wrote this file (merged runs add up). */
  totalHits?: number;
}

/** A parsed index file: header, the buffer, and where each path's entry starts. */
export interface IndexImage {
  header: IndexHeader;
  buf: Buffer;
  /** rel path → offset of the entry's identity in `buf`. */
  offsets: Map<string, number>;
  /** Identity of the file as loaded (a writer checks whether someone replaced it since). */
  fileStamp: string | null;
}

export class IndexFormatError extends Error {}

export function emptyImage(root: string): IndexImage {
  return { header: { format: 'image-sidecar-index', root, keys: [], written: '' }, buf: Buffer.alloc(0), offsets: new Map(), fileStamp: null };
}

/** Parse an index file's bytes; throws IndexFormatError on anything unexpected. */
export function parseIndex(buf: Buffer): Omit<IndexImage, 'fileStamp'> {
  const fail = (why: string): never => {
    throw new IndexFormatError(why);
  };
  if (buf.length < INDEX_MAGIC.length + 1 + 4 + 4 + 4) fail('too short');
  if (!buf.subarray(0, INDEX_MAGIC.length).equals(INDEX_MAGIC)) fail('not an image-sidecar index');
  const version = buf[INDEX_MAGIC.length];
  if (version !== INDEX_FORMAT_VERSION) fail(`index format version ${version} (this tool reads ${INDEX_FORMAT_VERSION})`);
  const end = buf.length - 4;
  if (crc32(buf.subarray(0, end)) !== buf.readUInt32LE(end)) fail('checksum mismatch');
  let p = INDEX_MAGIC.length + 1;
  const headerLen = buf.readUInt32LE(p);
  p += 4;
  if (p + headerLen + 4 > end) fail('header length out of range');
  let header: IndexHeader;
  try {
    header = JSON.parse(buf.toString('utf8', p, p + headerLen)) as IndexHeader;
  } catch {
    return fail('header is not JSON');
  }
  if (!header || header.format !== 'image-sidecar-index' || typeof header.root !== 'string' || !Array.isArray(header.keys)) fail('header fields missing');
  p += headerLen;
  const count = buf.readUInt32LE(p);
  p += 4;
  const offsets = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    if (p + 2 > end) fail('entry out of range');
    const relLen = buf.readUInt16LE(p);
    p += 2;
    if (p + relLen + IDENTITY_BYTES + 1 > end) fail('entry out of range');
    const rel = buf.toString('utf8', p, p + relLen);
    p += relLen;
    offsets.set(rel, p);
    p += IDENTITY_BYTES;
    const n = buf[p++];
    for (let r = 0; r < n; r++) {
      if (p + 6 > end) fail('result out of range');
      const k = buf.readUInt16LE(p);
      const len = buf.readUInt32LE(p + 2);
      p += 6 + len;
      if (p > end || k >= header.keys.length) fail('result out of range');
    }
  }
  if (p !== end) fail('trailing bytes');
  return { header, buf, offsets };
}

/** The raw results of an entry: key number → v8 bytes (views into the buffer). */
export function entryResults(img: IndexImage, off: number): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  const buf = img.buf;
  let p = off + IDENTITY_BYTES;
  const n = buf[p++];
  for (let r = 0; r < n; r++) {
    const k = buf.readUInt16LE(p);
    const len = buf.readUInt32LE(p + 2);
    out.set(k, buf.subarray(p + 6, p + 6 + len));
    p += 6 + len;
  }
  return out;
}

/** The stored result for `rel` under key number `keyNo`, when the identity still matches; raw bytes. */
export function lookupRaw(img: IndexImage, rel: string, id: Buffer, keyNo: number): Buffer | null {
  const off = img.offsets.get(rel);
  if (off === undefined || !identityEquals(id, img.buf, off)) return null;
  const buf = img.buf;
  let p = off + IDENTITY_BYTES;
  const n = buf[p++];
  for (let r = 0; r < n; r++) {
    const k = buf.readUInt16LE(p);
    const len = buf.readUInt32LE(p + 2);
    if (k === keyNo) return buf.subarray(p + 6, p + 6 + len);
    p += 6 + len;
  }
  return null;
}

export function decodeResult<T>(raw: Uint8Array): T | null {
  try {
    return deserialize(raw) as T;
  } catch {
    return null; // written by another Node version: a miss
  }
}

/** One entry to write: identity bytes and results by key string. */
export interface EntryToWrite {
  id: Buffer;
  results: Map<string, Buffer>;
}

/** Encode a full index file. Entries whose path is too long for the format are left out. */
export function encodeIndex(header: IndexHeader, entries: Map<string, EntryToWrite>): Buffer {
  const keyNo = new Map(header.keys.map((k, i) => [k.key, i]));
  const rels: [Buffer, EntryToWrite][] = [];
  let size = INDEX_MAGIC.length + 1 + 4 + 4 + 4;
  for (const [rel, e] of entries) {
    const relBytes = Buffer.from(rel, 'utf8');
    if (relBytes.length > MAX_REL_BYTES) continue;
    let results = 0;
    for (const [k, r] of e.results) {
      if (!keyNo.has(k)) continue;
      results++;
      size += 6 + r.length;
    }
    if (results === 0) continue;
    size += 2 + relBytes.length + IDENTITY_BYTES + 1;
    rels.push([relBytes, e]);
  }
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  size += headerBytes.length;
  const buf = Buffer.allocUnsafe(size);
  let p = INDEX_MAGIC.copy(buf, 0);
  buf[p++] = INDEX_FORMAT_VERSION;
  p = buf.writeUInt32LE(headerBytes.length, p);
  p += headerBytes.copy(buf, p);
  p = buf.writeUInt32LE(rels.length, p);
  for (const [relBytes, e] of rels) {
    p = buf.writeUInt16LE(relBytes.length, p);
    p += relBytes.copy(buf, p);
    p += e.id.copy(buf, p, 0, IDENTITY_BYTES);
    const nAt = p++;
    let n = 0;
    for (const [k, r] of e.results) {
      const no = keyNo.get(k);
      if (no === undefined || n === 255) continue;
      p = buf.writeUInt16LE(no, p);
      p = buf.writeUInt32LE(r.length, p);
      p += r.copy(buf, p);
      n++;
    }
    buf[nAt] = n;
  }
  p = buf.writeUInt32LE(crc32(buf.subarray(0, p)), p);
  return p === buf.length ? buf : buf.subarray(0, p);
}

/** Read and parse an index file: null when absent; throws IndexFormatError / fs errors otherwise. */
export function readIndexFile(path: string): Omit<IndexImage, 'fileStamp'> | null {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  return parseIndex(buf);
}
