/**
 * The digest definitions of the integrity commands, in one place. They are a stable spec: the
 * tests recompute them independently (Python hashlib) and manifests on disk depend on them.
 *
 *   bytes mode, per file:   sha256( rel ‖ 0x00 ‖ content ‖ 0x00 )
 *   canonical, per image:   sha256( imageRel ‖ 0x00 ‖ canonicalJson(data) ‖ 0x00 )
 *   tree:                   sha256( d_1 ‖ d_2 ‖ … )  raw 32-byte digests, rel in UTF-8 byte order
 *
 * `rel` is the UTF-8 POSIX path relative to the root. This module has no file-system access so
 * worker threads can use it without pulling in the scanner.
 */
import { createHash, type Hash } from 'node:crypto';
import { canonicalJsonChunks } from './codec.js';
import type { JsonObject } from '../types.js';

export const TREE_VERSION = 'isc-tree-v1';
export const CANON_VERSION = 'isc-canon-v1';
export type TreeVersion = typeof TREE_VERSION | typeof CANON_VERSION;

export const DIGEST_BYTES = 32;
const SEPARATOR = Buffer.from([0]);

/** sha256 hex of the RFC 8785 canonical JSON of `data`: equal for equal data in any format. */
export function canonicalDigest(data: JsonObject): string {
  const h = createHash('sha256');
  canonicalJsonChunks(data, (piece) => h.update(piece, 'utf8'));
  return h.digest('hex');
}

/** Start a keyed digest: the hash already holds `rel ‖ 0x00`; feed the content, then finish with `endKeyed`. */
export function beginKeyed(rel: string): Hash {
  return createHash('sha256').update(rel, 'utf8').update(SEPARATOR);
}

/** Finish a keyed digest started by `beginKeyed` (appends the closing 0x00); hex. */
export function endKeyed(h: Hash): string {
  return h.update(SEPARATOR).digest('hex');
}

/** sha256(rel ‖ 0x00 ‖ content ‖ 0x00) as hex; `content` may be a UTF-8 string. */
export function keyedDigest(rel: string, content: Uint8Array | string): string {
  const h = beginKeyed(rel);
  if (typeof content === 'string') h.update(content, 'utf8');
  else h.update(content);
  return endKeyed(h);
}

/**
 * Order of two strings by their UTF-8 bytes (what Buffer.compare would say), without encoding
 * them: UTF-8 byte order equals code-point order, which differs from JS (UTF-16 unit) order
 * only when a surrogate pair meets a BMP character at or above U+E000.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (U+D800–DFFF) stand for code points above U+FFFF: lift them above the BMP.
    const xs = x >= 0xd800 && x <= 0xdfff ? x + 0x10000 : x;
    const ys = y >= 0xd800 && y <= 0xdfff ? y + 0x10000 : y;
    return xs - ys;
  }
  return a.length - b.length;
}

/** An entry of a tree: the key it is sorted by and its 64-hex-digit digest. */
export interface KeyedHex {
  key: string;
  hex: string;
}

/** Sort entries in place by the UTF-8 byte order of their keys. */
export function sortByKey<T extends { key: string }>(entries: T[]): T[] {
  return entries.sort((a, b) => compareUtf8(a.key, b.key));
}

/** The tree digest fed one entry at a time, in UTF-8 key order (a manifest as it is read). */
export class TreeDigester {
  private readonly h = createHash('sha256');
  // Fill a reusable chunk instead of allocating a Buffer per entry.
  private readonly chunk = Buffer.allocUnsafe(DIGEST_BYTES * 1024);
  private used = 0;

  add(hex: string): void {
    if (this.used === this.chunk.length) {
      this.h.update(this.chunk);
      this.used = 0;
    }
    this.used += this.chunk.write(hex, this.used, DIGEST_BYTES, 'hex');
  }

  digest(): string {
    if (this.used > 0) this.h.update(this.chunk.subarray(0, this.used));
    this.used = 0;
    return this.h.digest('hex');
  }
}

/** Tree digest over entries already sorted by `sortByKey`: sha256 of the raw digests in order. */
export function treeDigest(sorted: readonly KeyedHex[]): string {
  const d = new TreeDigester();
  for (const e of sorted) d.add(e.hex);
  return d.digest();
}

export function tagOf(version: TreeVersion, hex: string): string {
  return `${version}:${hex}`;
}
