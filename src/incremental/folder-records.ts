/**
 * Folder records: one entry per walked folder and option set holding the folder's finished scan
 * records, so a warm run over an unchanged folder neither pairs, nor resolves links, nor builds
 * per-file object graphs: it checks what the records depend on and decodes them in one pass.
 *
 * A stored record is served only while everything it was made from is as it was:
 * - the folder itself (the entry's identity: dev, ino, size, mtime and ctime in ns, taken before
 *   the folder was read): same listing, so the same pairing and the same groups;
 * - each sidecar it inspected (file identity, `stat` as for a file entry);
 * - each folder a link target was paired in (its identity: same listing, same group);
 * - each lookup its links' resolutions made (a name in a folder still naming the same inode: free
 *   while that folder's identity is the stored one, one lstat otherwise; dir-cache.ts).
 * A record whose dependencies moved (or that could not be stored: an unreadable file, a racy one)
 * is made again the ordinary way, from its stored group (no pairing), with the per-file index.
 *
 * Payload layout: u32 meta length | v8 meta | identities (40 bytes each: the files, then the folders)
 *                 | the stored records as one v8 stream (one serializer wrote them in group order, each
 *                   when it was finished, before any caller saw it; one deserializer reads them).
 */
import { DefaultDeserializer, DefaultSerializer, deserialize, serialize } from 'node:v8';
import type { PairGroup } from '../discovery/pair.js';
import { IDENTITY_BYTES } from './identity.js';

/** Dependency references in a record's list: kind in the low 2 bits, index above. */
export const DEP_FILE = 0;
export const DEP_DIR = 1;
export const DEP_STEP = 2;
export const DEP_LINK = 3;

export interface FolderMeta {
  /** The scanned root as given (records hold absolute paths under it). */
  root: string;
  /** Walk summary counts of the folder (pairing): ignored files, temp files. */
  ignored: number;
  temp: number;
  groups: PairGroup[];
  /** Per group: 1 when its record is stored (0: made again every run). */
  lens: number[];
  /** Per group: its seq position in the folder. */
  pos: number[];
  /** Per group: dependency references (`index << 2 | kind`). */
  deps: number[][];
  /** Sidecars inspected (absolute paths), their identities first in the identity block. */
  files: string[];
  /** Folders (real paths): link targets' folders (identity must be equal) and folders of lookups. */
  dirs: string[];
  /** Lookups: [dir index, name, inode stamp (latin1) | null]. */
  steps: [number, string, string | null][];
  /** Link entries the records rely on (kept when the index is rewritten). */
  links: string[];
}

export interface FolderBlob {
  meta: FolderMeta;
  ids: Buffer;
  /** The records' v8 stream (copied out of the index's read window). */
  recs: Buffer;
}

/** Decode a folder payload (copied: the caller's view may be a read window); null when malformed. */
export function decodeFolder(payload: Uint8Array): FolderBlob | null {
  try {
    const buf = Buffer.from(payload); // a copy
    const metaLen = buf.readUInt32LE(0);
    const meta = deserialize(buf.subarray(4, 4 + metaLen)) as FolderMeta;
    if (!meta || typeof meta.root !== 'string' || !Array.isArray(meta.groups) || !Array.isArray(meta.lens) || !Array.isArray(meta.deps) || !Array.isArray(meta.files) || !Array.isArray(meta.dirs) || !Array.isArray(meta.steps) || !Array.isArray(meta.links) || !Array.isArray(meta.pos)) return null;
    const n = meta.groups.length;
    if (meta.lens.length !== n || meta.deps.length !== n || meta.pos.length !== n) return null;
    const idsAt = 4 + metaLen;
    const idsEnd = idsAt + (meta.files.length + meta.dirs.length) * IDENTITY_BYTES;
    if (idsEnd > buf.length) return null;
    return { meta, ids: buf.subarray(idsAt, idsEnd), recs: buf.subarray(idsEnd) };
  } catch {
    return null;
  }
}

/**
 * The stored records of the wanted groups (in group order; others are read and dropped: values
 * are back to back). Null when the bytes do not decode.
 */
export function decodeRecords<T>(blob: FolderBlob, want: (gi: number) => boolean): (T | undefined)[] | null {
  try {
    const d = new DefaultDeserializer(blob.recs);
    d.readHeader();
    const out: (T | undefined)[] = new Array(blob.meta.lens.length);
    for (let gi = 0; gi < blob.meta.lens.length; gi++) {
      if (blob.meta.lens[gi] === 0) continue;
      const v = d.readValue() as T;
      if (want(gi)) out[gi] = v;
    }
    return out;
  } catch {
    return null;
  }
}


/** Collects one folder's records and dependencies while its records are finished. */
export class FolderRecordsBuilder {
  readonly meta: FolderMeta;
  private readonly fileIds: Uint8Array[] = [];
  private readonly dirIds: Uint8Array[] = [];
  private readonly fileAt = new Map<string, number>();
  private readonly dirAt = new Map<string, number>();
  private readonly stepAt = new Map<string, number>();
  private readonly linkAt = new Map<string, number>();
  /** The records, in group order, as they are finished (v8 back-references span the stream). */
  private readonly ser = new DefaultSerializer();
  /** Records not finished yet. */
  left: number;
  /** False once something in the folder cannot be stored at all. */
  ok = true;
  /** Made from a stored entry (its offset, its record lengths); `rebuilt`: the groups made again. */
  replaces: { off: number; lens: number[] } | null = null;
  readonly rebuilt: number[] = [];

  constructor(
    readonly real: string,
    readonly id: Uint8Array,
    root: string,
    ignored: number,
    temp: number,
    groups: PairGroup[],
    pos: number[],
  ) {
    const n = groups.length;
    this.meta = { root, ignored, temp, groups, lens: new Array(n).fill(0), pos, deps: Array.from({ length: n }, () => []), files: [], dirs: [], steps: [], links: [] };
    this.ser.writeHeader();
    this.left = n;
  }

  file(gi: number, path: string, id: Uint8Array): void {
    let i = this.fileAt.get(path);
    if (i === undefined) {
      i = this.meta.files.push(path) - 1;
      this.fileIds.push(id);
      this.fileAt.set(path, i);
    }
    this.meta.deps[gi].push((i << 2) | DEP_FILE);
  }

  private dirIndex(real: string, id: Uint8Array): number {
    let i = this.dirAt.get(real);
    if (i === undefined) {
      i = this.meta.dirs.push(real) - 1;
      this.dirIds.push(id);
      this.dirAt.set(real, i);
    }
    return i;
  }

  dir(gi: number, real: string, id: Uint8Array): void {
    this.meta.deps[gi].push((this.dirIndex(real, id) << 2) | DEP_DIR);
  }

  step(gi: number, dir: string, dirId: Uint8Array, name: string, stamp: Uint8Array | null): void {
    const d = this.dirIndex(dir, dirId);
    const s = stamp === null ? null : Buffer.from(stamp.buffer, stamp.byteOffset, stamp.byteLength).toString('latin1');
    const k = `${d}\0${name}\0${s ?? ''}`;
    let i = this.stepAt.get(k);
    if (i === undefined) {
      i = this.meta.steps.push([d, name, s]) - 1;
      this.stepAt.set(k, i);
    }
    this.meta.deps[gi].push((i << 2) | DEP_STEP);
  }

  link(gi: number, key: string): void {
    let i = this.linkAt.get(key);
    if (i === undefined) {
      i = this.meta.links.push(key) - 1;
      this.linkAt.set(key, i);
    }
    this.meta.deps[gi].push((i << 2) | DEP_LINK);
  }

  /** A finished record, in group order (null: it cannot be stored; it is made again next time). */
  done(gi: number, rec: unknown): void {
    if (rec !== null) this.ser.writeValue(rec);
    this.meta.lens[gi] = rec !== null ? 1 : 0;
    this.left--;
  }

  get storesAny(): boolean {
    return this.meta.lens.some((l) => l !== 0);
  }

  /** Every group made again could not be stored, as before: the stored entry still says it all. */
  sameAsStored(): boolean {
    const r = this.replaces;
    return r !== null && this.rebuilt.every((gi) => this.meta.lens[gi] === 0 && r.lens[gi] === 0);
  }

  payload(): Buffer[] {
    const m = serialize(this.meta);
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32LE(m.length, 0);
    const parts: Buffer[] = [head, m];
    for (const id of [...this.fileIds, ...this.dirIds]) parts.push(Buffer.from(id.buffer, id.byteOffset, IDENTITY_BYTES));
    parts.push(this.ser.releaseBuffer());
    return parts;
  }
}
