/**
 * A sidecar's index entry as the thread that read the file makes it: the identity of the file it
 * read (fstat of the descriptor it read through: exactly the bytes inspected) and the result as
 * stored (v8). A worker makes it beside its result, so the main thread only copies bytes into the
 * spool (scan-index.ts record): the rule of what may be stored lives here, once, for every thread.
 *
 * A result may be stored only when it can be trusted later: not unreadable (transient), not
 * decrypted content (an encrypted sidecar's summary never lands in a plaintext file; with keys, no
 * corrupt verdict: it may be a failed decryption), the size read is the size seen, and the file's
 * ctime is older than the run's start by a margin ("racy" files: a same-size rewrite within the file
 * system's timestamp granularity after our read could keep every stat field). ctime alone decides:
 * any change after the read moves it to "now"; mtime may be set to anything.
 */
import type { BigIntStats } from 'node:fs';
import { serialize } from 'node:v8';
import type { FileInspection } from '../tasks/inspect.js';
import { IDENTITY_BYTES, writeIdentity, type FileIdentity } from './identity.js';

/** Stands for the file's path in a stored message (U+0000 never occurs in a path). */
export const PATH_MARK = '\u0000path\u0000';

/** What the inspecting thread needs to make entries (InspectOptions.indexEntries). */
export interface EntryOptions {
  /** Files whose ctime is at or after this (ms since the epoch, an integer) are not stored. */
  racyCutoffMs: number;
}

/**
 * A result's entry as it leaves the thread that made it: the identity (40 bytes, identity.ts)
 * and the v8 bytes of the stored result (files) or of the link payload (links, dir-cache.ts).
 */
export interface IndexEntryOut {
  id: Uint8Array;
  raw: Uint8Array;
}

/** The racy cutoff in ns (what ctime is compared with). */
export function racyCutoffNs(racyCutoffMs: number): bigint {
  return BigInt(racyCutoffMs) * 1_000_000n;
}

/** The identity of a regular file from its (bigint) stat; null for anything else. */
export function identityOf(st: BigIntStats): FileIdentity | null {
  if (!st.isFile()) return null;
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
}

/** May this result, read from the file with identity `id`, be stored (see above)? */
export function isTrusted(result: FileInspection, id: FileIdentity, cutoffNs: bigint, withKeys: boolean): boolean {
  if (id.ctimeNs >= cutoffNs) return false;
  if (result.status === 'unreadable' || result.status === 'unchecked' || result.status === 'encrypted') return false;
  // With keys, a corrupt verdict may be a failed decryption (a passphrase is not in the key): retry it.
  if (withKeys && result.status === 'corrupt') return false;
  if (result.encryptedKeyId !== undefined || result.data !== undefined || result.dataJson !== undefined) return false;
  return BigInt(result.size) === id.size; // else it changed between the stat and the read
}

/**
 * The result as stored: the path of this run (any spelling of the root) kept as an empty key, so a
 * hit that puts it back keeps the key order of a fresh result; a message naming the file names it by
 * PATH_MARK (the entry serves any spelling of the root).
 */
export function storedResultBytes(result: FileInspection): Buffer {
  const path = result.path;
  if (result.error && result.error.message.includes(path)) {
    const stored: FileInspection = { ...result, path: '' };
    stored.error = { ...result.error, message: result.error.message.split(path).join(PATH_MARK) };
    return serialize(stored);
  }
  // The usual result: serialized as it is with its path emptied for the call (no copy of the object).
  result.path = '';
  try {
    return serialize(result);
  } finally {
    result.path = path;
  }
}

/** The entry of a result read from a file with identity `id`, or null when it may not be stored. */
export function fileEntry(result: FileInspection, id: FileIdentity | null, cutoffNs: bigint, withKeys: boolean): IndexEntryOut | null {
  if (id === null || !isTrusted(result, id, cutoffNs, withKeys)) return null;
  const idBytes = new Uint8Array(IDENTITY_BYTES);
  writeIdentity(id, Buffer.from(idBytes.buffer), 0);
  return { id: idBytes, raw: storedResultBytes(result) };
}

/**
 * Take a result's entry off it (the scan does, before anyone else sees the result): it never
 * reaches a caller or an output.
 */
export function takeEntry(result: FileInspection): IndexEntryOut | null {
  const e = result.indexEntry;
  if (e === undefined) return null;
  delete result.indexEntry;
  return e;
}
