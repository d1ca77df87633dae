/**
 * A symlinked image's index entry, made by the thread that resolves it (the index stores it:
 * incremental/dir-cache.ts): `resolveLinkEntry`, and the entry's payload, the resolution (target or why it is broken) and every
 * lookup it made after the link's own name: [folder, name, the inode it named (24-byte stamp) or
 * null, the folder's identity (40 bytes) when it was looked in].
 *
 * Written in a compact binary form, made for what links look like (`../../photos/day/IMG.jpg`):
 * each lookup is usually in the folder the previous one named, and the target is the last name
 * looked up; both are then a flag instead of a path. About half the bytes of the v8 form and a
 * fraction of its cost (v8 serializes Buffers through a JS host-object path, with a serializer
 * object per call): links are about 40 % of a library's entries. The v8 form written by earlier
 * versions (it starts with 0xFF, the v8 format's version tag) is still read.
 *
 *   u8 1 | u8 flags (1 target, 2 reason, 4 target = last lookup's folder/name) | [str target] | [str reason]
 *   | u16 lookups | per lookup: u8 flags (1 folder = previous lookup's folder/name, 2 stamp)
 *   | [str folder] | str name | [24-byte stamp] | 40-byte identity            (str: u16 length | UTF-8)
 */
import { statSync } from 'node:fs';
import { identityBytes, IDENTITY_BYTES } from '../fs/identity.js';
import { isUnderProc, resolveLinkTraced, unpooled, type LookupMemo } from '../discovery/resolve-link.js';
import type { LinkEntry, ResolvedLink } from '../model/inspection.js';
import { decodeResult } from './entry-format.js';

/** A folder's identity as a link entry records it, taken before a lookup in it; `racy`: changed within the racy margin (vouches for nothing). */
export interface FolderNow {
  id: Buffer;
  racy: boolean;
}

/** `stat` of a real folder path as a link entry's identity (null: not a folder, or unreadable). */
export function folderNow(real: string, racyCutoffNs: bigint): FolderNow | null {
  try {
    const st = statSync(real, { bigint: true, throwIfNoEntry: false });
    // Kept for the run: in memory of its own, not a pool slab's (unpooled).
    if (st && st.isDirectory()) return { id: unpooled(identityBytes({ dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs })), racy: st.ctimeNs >= racyCutoffNs };
  } catch {
    // unreadable: no identity
  }
  return null;
}

/** Each folder's identity, taken once per run (before its first lookup) and kept for the run. */
export class FolderIdentities {
  private readonly now = new Map<string, FolderNow | null>();
  constructor(private readonly racyCutoffNs: bigint) {}
  of(real: string): FolderNow | null {
    let r = this.now.get(real);
    if (r === undefined) this.now.set(real, (r = folderNow(real, this.racyCutoffNs)));
    return r;
  }
}

const NO_IDENTITY = Buffer.alloc(IDENTITY_BYTES);

/** A link resolved with its trace: the answer, the entry to store (null: not storable), and the lookups after the link's own name. */
export interface TracedLink {
  link: ResolvedLink;
  entry: LinkEntry | null;
  steps: LinkStep[];
  /** The first lookup was the link itself in its own folder, and none was under /proc (what a folder's records rely on). */
  complete: boolean;
}

/**
 * Resolve the symlink `name` of the walked folder `dirRel` (under the root's real path) by the
 * scan's rule, traced (resolve-link.ts), and make its index entry: keyed by the link's path, with
 * its own folder's identity taken before the link was read, and the payload below. Each folder's
 * identity comes from `folderOf`, asked before every lookup in it (a run asks each folder once).
 * Not storable when the link's own folder changed within the racy margin, when the first lookup
 * was not the link in its folder, or when a lookup was under /proc. The main thread (dir-cache.ts) and a worker thread (the second
 * run's links: docs/INDEX.md "Folders and links") make the same entry.
 */
export function resolveLinkEntry(rootReal: string, dirRel: string, name: string, folderOf: (real: string) => FolderNow | null, memo: LookupMemo): TracedLink {
  const real = dirRel === '' ? rootReal : `${rootReal}/${dirRel}`;
  const steps: [string, string, Buffer | null, Uint8Array][] = [];
  let storable = true;
  // A lookup under /proc: made again on every run, never stored (resolve-link.ts isUnderProc).
  let magic = false;
  let idOf: Uint8Array = NO_IDENTITY;
  const link = resolveLinkTraced(
    real,
    name,
    {
      beforeLookup: (dir) => {
        if (isUnderProc(dir)) magic = true;
        const now = folderOf(dir); // before the lookup in it
        // A folder changed within the racy margin vouches for nothing: its lookups are lstat'ed.
        idOf = now && !now.racy ? now.id : NO_IDENTITY;
        if (dir === real && idOf === NO_IDENTITY) storable = false;
      },
      looked: (dir, n, stamp) => {
        if (!steps.some((st) => st[0] === dir && st[1] === n)) steps.push([dir, n, stamp, idOf]);
      },
      // The first step (the link in its own folder) is vouched for by the entry's identity, never by its stamp.
      ownStampUnused: true,
    },
    memo,
  );
  // (Not complete: a folder's records relying on it are not stored either.)
  const complete = !magic && steps[0]?.[0] === real;
  const rest = steps.slice(1);
  if (!storable || !complete) return { link, entry: null, steps: rest, complete };
  // The first step (the link in its own folder) is implied by the key and the entry's identity.
  try {
    return { link, entry: { id: steps[0][3], payload: encodeLinkPayload({ target: link.target ?? null, reason: link.reason ?? null, steps: rest }) }, steps: rest, complete };
  } catch {
    return { link, entry: null, steps: rest, complete }; // beyond the format (a name over 64 KiB): not stored
  }
}

export type LinkStep = readonly [folder: string, name: string, stamp: Uint8Array | null, folderId: Uint8Array];

export interface LinkPayload {
  target: string | null;
  reason: string | null;
  steps: LinkStep[];
}

const FORM = 1;
const STAMP_BYTES = 24;
const T_TARGET = 1;
const T_REASON = 2;
const T_TARGET_IS_LAST = 4;
const S_FOLDER_IS_PREVIOUS = 1;
const S_STAMP = 2;
const MAX_STR = 0xffff;

/** The path a lookup of `name` in `folder` names (as resolve-link.ts joins them). */
function joined(folder: string, name: string): string {
  return folder === '/' ? `/${name}` : `${folder}/${name}`;
}

export function encodeLinkPayload(p: LinkPayload): Buffer {
  // Sized first (byte lengths, no buffer per string), then written in one buffer.
  const len = (s: string) => {
    const n = Buffer.byteLength(s, 'utf8');
    if (n > MAX_STR) throw new RangeError('link payload: string too long');
    return n;
  };
  const steps = p.steps;
  if (steps.length > 0xffff) throw new RangeError('link payload: too many lookups');
  const last = steps.length > 0 ? steps[steps.length - 1] : null;
  const targetIsLast = p.target !== null && last !== null && p.target === joined(last[0], last[1]);
  let size = 2;
  let flags = 0;
  if (p.target !== null) flags |= T_TARGET;
  if (p.reason !== null) flags |= T_REASON;
  if (targetIsLast) flags |= T_TARGET_IS_LAST;
  if (p.target !== null && !targetIsLast) size += 2 + len(p.target);
  if (p.reason !== null) size += 2 + len(p.reason);
  size += 2;
  for (let i = 0; i < steps.length; i++) {
    const [folder, name, stamp, id] = steps[i];
    if (id.length !== IDENTITY_BYTES || (stamp !== null && stamp.length !== STAMP_BYTES)) throw new RangeError('link payload: bad stamp or identity');
    if (!(i > 0 && folder === joined(steps[i - 1][0], steps[i - 1][1]))) size += 2 + len(folder);
    size += 2 + len(name) + (stamp !== null ? STAMP_BYTES : 0) + 1 + IDENTITY_BYTES;
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  const putStr = (s: string) => {
    const n = out.write(s, at + 2, 'utf8');
    out.writeUInt16LE(n, at);
    at += 2 + n;
  };
  out[at++] = FORM;
  out[at++] = flags;
  if (p.target !== null && !targetIsLast) putStr(p.target);
  if (p.reason !== null) putStr(p.reason);
  out.writeUInt16LE(steps.length, at);
  at += 2;
  for (let i = 0; i < steps.length; i++) {
    const [folder, name, stamp, id] = steps[i];
    const previous = i > 0 && folder === joined(steps[i - 1][0], steps[i - 1][1]);
    out[at++] = (previous ? S_FOLDER_IS_PREVIOUS : 0) | (stamp !== null ? S_STAMP : 0);
    if (!previous) putStr(folder);
    putStr(name);
    if (stamp !== null) {
      out.set(stamp, at);
      at += STAMP_BYTES;
    }
    out.set(id, at);
    at += IDENTITY_BYTES;
  }
  return out;
}

/**
 * A stored link payload, or null when it does not decode (treated as absent: the link is resolved
 * again). The bytes are copied: the result outlives the index reader's window.
 */
export function decodeLinkPayload(raw: Uint8Array): LinkPayload | null {
  if (raw.length > 0 && raw[0] === 0xff) return fromV8(raw);
  if (raw.length < 4 || raw[0] !== FORM) return null;
  const b = Buffer.from(raw); // a copy
  let at = 2;
  const flags = b[1];
  const str = (): string | null => {
    if (at + 2 > b.length) return null;
    const n = b.readUInt16LE(at);
    if (at + 2 + n > b.length) return null;
    const s = b.toString('utf8', at + 2, at + 2 + n);
    at += 2 + n;
    return s;
  };
  let target: string | null = null;
  let reason: string | null = null;
  if ((flags & T_TARGET) !== 0 && (flags & T_TARGET_IS_LAST) === 0 && (target = str()) === null) return null;
  if ((flags & T_REASON) !== 0 && (reason = str()) === null) return null;
  if (at + 2 > b.length) return null;
  const n = b.readUInt16LE(at);
  at += 2;
  const steps: LinkStep[] = [];
  for (let i = 0; i < n; i++) {
    if (at + 1 > b.length) return null;
    const f = b[at++];
    let folder: string | null;
    if ((f & S_FOLDER_IS_PREVIOUS) !== 0) {
      if (i === 0) return null;
      folder = joined(steps[i - 1][0], steps[i - 1][1]);
    } else folder = str();
    const name = str();
    if (folder === null || name === null) return null;
    let stamp: Uint8Array | null = null;
    if ((f & S_STAMP) !== 0) {
      if (at + STAMP_BYTES > b.length) return null;
      stamp = b.subarray(at, at + STAMP_BYTES);
      at += STAMP_BYTES;
    }
    if (at + IDENTITY_BYTES > b.length) return null;
    steps.push([folder, name, stamp, b.subarray(at, at + IDENTITY_BYTES)]);
    at += IDENTITY_BYTES;
  }
  if (at !== b.length) return null;
  if ((flags & T_TARGET_IS_LAST) !== 0) {
    if ((flags & T_TARGET) === 0 || n === 0) return null;
    target = joined(steps[n - 1][0], steps[n - 1][1]);
  }
  return { target, reason, steps };
}

/** The v8 form: [target | null, reason | null, [folder, name, stamp | null, identity][]]. */
function fromV8(raw: Uint8Array): LinkPayload | null {
  const v = decodeResult<unknown>(raw);
  if (!Array.isArray(v) || v.length !== 3 || !Array.isArray(v[2])) return null;
  const [target, reason, list] = v as [unknown, unknown, unknown[]];
  if ((target !== null && typeof target !== 'string') || (reason !== null && typeof reason !== 'string')) return null;
  const steps: LinkStep[] = [];
  for (const st of list) {
    if (!Array.isArray(st) || typeof st[0] !== 'string' || typeof st[1] !== 'string') return null;
    if (!(st[3] instanceof Uint8Array) || st[3].length !== IDENTITY_BYTES) return null;
    if (st[2] !== null && !(st[2] instanceof Uint8Array)) return null;
    steps.push([st[0], st[1], st[2] as Uint8Array | null, st[3]]);
  }
  return { target: target as string | null, reason: reason as string | null, steps };
}
