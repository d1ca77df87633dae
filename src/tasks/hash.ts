import { createHash } from 'node:crypto';
import { errors, isSidecarError, type ErrorCode } from '../errors.js';
import { canonicalJsonChunks, decodeSidecar } from '../formats/codec.js';
import { readFileLimitedSync } from '../fs/read-file.js';
import { READ_NOFOLLOW_FLAGS, streamRegularFileSync } from '../fs/regular-file.js';
import { beginKeyed, endKeyed } from '../formats/digest.js';
import { passBigFileTurn, waitForBigFileTurn } from './big-file-turn.js';
import type { Keyring } from '../types.js';

export interface HashTaskOptions {
  /** 'bytes': keyed digest of the raw content; 'canonical': decode, then digest the canonical JSON. */
  mode: 'bytes' | 'canonical';
  maxFileSize?: number;
  maxDepth?: number;
  /** canonical mode: keys for encrypted sidecars. */
  keyring?: Keyring;
  /** canonical mode: the read's descriptor stat through Node's binding (Options.fastStat); default false. */
  fastStat?: boolean;
}

export interface HashItem {
  path: string;
  /** bytes mode: the key of the file digest (POSIX path relative to the root). */
  rel?: string;
  /** canonical mode: the keys (image rel paths) to compute keyed digests for. */
  keys?: string[];
  /** Size known before sending (bounds a batch by bytes). */
  size?: number;
}

export interface HashResult {
  size: number;
  /** bytes mode: sha256(rel ‖ 0 ‖ content ‖ 0), hex. */
  digest?: string;
  /** canonical mode: sha256(canonicalJson(data)), hex. */
  canonical?: string;
  /** canonical mode: sha256(key ‖ 0 ‖ canonicalJson(data) ‖ 0) for each key, hex. */
  keyed?: string[];
  /** Set when the file could not be read or decoded; the caller decides (hashing fails loudly). */
  error?: { code: ErrorCode; message: string; path: string };
}

/** Stream one regular file through a keyed sha256, never following a symlink swapped in (fs/regular-file.ts). Throws SidecarError. */
function hashFileBytes(path: string, rel: string): { size: number; digest: string } {
  const h = beginKeyed(rel);
  const { size } = streamRegularFileSync(path, READ_NOFOLLOW_FLAGS, (bytes) => h.update(bytes));
  return { size, digest: endKeyed(h) };
}

/** A read's `into` (fs/read-file.ts), told the size first: a big file waits for the process's turn (tasks/big-file-turn.ts). */
function turnFirst(size: number): null {
  waitForBigFileTurn(size);
  return null;
}

function hashCanonical(item: HashItem, opts: HashTaskOptions): HashResult {
  try {
    return canonicalDigests(item, readFileLimitedSync(item.path, opts.maxFileSize, turnFirst, opts.fastStat === true), opts);
  } finally {
    passBigFileTurn();
  }
}

function canonicalDigests(item: HashItem, bytes: Buffer, opts: HashTaskOptions): HashResult {
  const { data } = decodeSidecar(bytes, { path: item.path, maxDepth: opts.maxDepth, maxFileSize: opts.maxFileSize, keyring: opts.keyring });
  const keys = item.keys ?? [];
  // The canonical text goes to every digest piece by piece: a 60 MB sidecar's text is never
  // held whole (bounded memory).
  const plain = createHash('sha256');
  const keyed = keys.map((k) => beginKeyed(k));
  canonicalJsonChunks(data, (piece) => {
    const utf8 = keyed.length === 0 ? piece : Buffer.from(piece, 'utf8');
    plain.update(utf8);
    for (const h of keyed) h.update(utf8);
  });
  return {
    size: bytes.length,
    canonical: plain.digest('hex'),
    keyed: keyed.map((h) => endKeyed(h)),
  };
}

/** Hash one file; never throws for a bad file (the error is in the result). */
export function hashFile(item: HashItem, opts: HashTaskOptions): HashResult {
  try {
    if (opts.mode === 'canonical') return hashCanonical(item, opts);
    return hashFileBytes(item.path, item.rel ?? '');
  } catch (e) {
    const err = isSidecarError(e) ? e : errors.fromFs(e, item.path);
    return { size: 0, error: { code: err.code, message: err.message, path: item.path } };
  }
}

export function hashFiles(items: readonly HashItem[], options: HashTaskOptions): HashResult[] {
  const opts = options ?? { mode: 'bytes' };
  return items.map((item) => hashFile(item, opts));
}
