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
 * is made again the ordinary way (the folder paired again from its stored listing), with the
 * per-file index.
 *
 * Payload layout: u32 meta length | v8 meta | identities (40 bytes each: the files, then the folders)
 *                 | the stored records as one v8 stream (one serializer wrote them in group order, each
 *                   when it was finished, before any caller saw it; one deserializer reads them).
 */
import { DefaultDeserializer, DefaultSerializer, deserialize, serialize } from 'node:v8';
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
  /** Groups of the folder's pairing (records), in order. */
  n: number;
  /** Per group: 1 when its record is stored (0: made again every run). */
  lens: number[];
  /** Per group: its seq position in the folder. */
  pos: number[];
  /** Dependency references (`index << 2 | kind`), group after group: group gi's are deps[depAt[gi] .. depAt[gi + 1]). */
  deps: Int32Array;
  depAt: Int32Array;
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
    if (!meta || typeof meta.root !== 'string' || typeof meta.n !== 'number' || !Array.isArray(meta.lens) || !(meta.deps instanceof Int32Array) || !(meta.depAt instanceof Int32Array) || !Array.isArray(meta.files) || !Array.isArray(meta.dirs) || !Array.isArray(meta.steps) || !Array.isArray(meta.links) || !Array.isArray(meta.pos)) return null;
    const n = meta.n;
    if (meta.lens.length !== n || meta.depAt.length !== n + 1 || meta.pos.length !== n || meta.depAt[n] !== meta.deps.length) return null;
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
  readonly meta: Omit<FolderMeta, 'deps' | 'depAt'>;
  private readonly deps: number[][];
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
    /** The folder as walked (absolute, under the root as given) and its rel: what records repeat. */
    readonly folderAbs: string,
    readonly rel: string,
    readonly id: Uint8Array,
    root: string,
    ignored: number,
    temp: number,
    n: number,
    pos: number[],
  ) {
    this.meta = { root, ignored, temp, n, lens: new Array(n).fill(0), pos, files: [], dirs: [], steps: [], links: [] };
    this.deps = Array.from({ length: n }, () => []);
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
    this.deps[gi].push((i << 2) | DEP_FILE);
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
    this.deps[gi].push((this.dirIndex(real, id) << 2) | DEP_DIR);
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
    this.deps[gi].push((i << 2) | DEP_STEP);
  }

  link(gi: number, key: string): void {
    let i = this.linkAt.get(key);
    if (i === undefined) {
      i = this.meta.links.push(key) - 1;
      this.linkAt.set(key, i);
    }
    this.deps[gi].push((i << 2) | DEP_LINK);
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
    const depAt = new Int32Array(this.meta.n + 1);
    for (let gi = 0; gi < this.meta.n; gi++) depAt[gi + 1] = depAt[gi] + this.deps[gi].length;
    const deps = new Int32Array(depAt[this.meta.n]);
    for (let gi = 0; gi < this.meta.n; gi++) deps.set(this.deps[gi], depAt[gi]);
    const m = serialize({ ...this.meta, deps, depAt } satisfies FolderMeta);
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32LE(m.length, 0);
    const parts: Buffer[] = [head, m];
    for (const id of [...this.fileIds, ...this.dirIds]) parts.push(Buffer.from(id.buffer, id.byteOffset, IDENTITY_BYTES));
    parts.push(this.ser.releaseBuffer());
    return parts;
  }
}

/** The parts of a scan record that repeat its folder (paths under the folder, as given). */
interface CompactRecord {
  dir: string | undefined;
  images: { name: string; path: string | undefined; rel: string | undefined }[];
  sidecars: { name: string; path: string | undefined; rel: string | undefined; inspection: { path: string | undefined } }[];
}

/**
 * Write a record with the strings its folder implies left out (a folder's path and rel prefix plus
 * a name; the folder's rel; an inspection's path, its sidecar's): the fields are set to undefined
 * while the record is written, in place (keys keep their order), and put back before it is
 * returned; `restoreRecord` puts them back after a read. A third of a record's bytes.
 */
export function writeCompact(b: FolderRecordsBuilder, gi: number, rec: CompactRecord | null): void {
  if (rec === null) return b.done(gi, null);
  const relPrefix = b.rel === '' ? '' : `${b.rel}/`;
  const pathPrefix = b.folderAbs.endsWith('/') ? b.folderAbs : `${b.folderAbs}/`;
  // What was left out, to put back: [object, key, value] triples, flat.
  const undo: unknown[] = [];
  const drop = (o: Record<string, unknown>, key: string) => {
    undo.push(o, key, o[key]);
    o[key] = undefined;
  };
  if (rec.dir === b.rel) drop(rec as unknown as Record<string, unknown>, 'dir');
  for (const img of rec.images) {
    if (img.path === pathPrefix + img.name) drop(img as unknown as Record<string, unknown>, 'path');
    if (img.rel === relPrefix + img.name) drop(img as unknown as Record<string, unknown>, 'rel');
  }
  for (const sc of rec.sidecars) {
    const ins = sc.inspection;
    if (ins && ins.path === sc.path) drop(ins as unknown as Record<string, unknown>, 'path');
    if (sc.path === pathPrefix + sc.name) drop(sc as unknown as Record<string, unknown>, 'path');
    if (sc.rel === relPrefix + sc.name) drop(sc as unknown as Record<string, unknown>, 'rel');
  }
  try {
    b.done(gi, rec);
  } finally {
    for (let i = undo.length - 3; i >= 0; i -= 3) (undo[i] as Record<string, unknown>)[undo[i + 1] as string] = undo[i + 2];
  }
}

/** Put back what `writeCompact` left out. */
export function restoreRecord(rec: CompactRecord, folderAbs: string, rel: string): void {
  const pathPrefix = folderAbs.endsWith('/') ? folderAbs : `${folderAbs}/`;
  const relPrefix = rel === '' ? '' : `${rel}/`;
  if (rec.dir === undefined) rec.dir = rel;
  for (const img of rec.images) {
    if (img.path === undefined) img.path = pathPrefix + img.name;
    if (img.rel === undefined) img.rel = relPrefix + img.name;
  }
  for (const sc of rec.sidecars) {
    if (sc.path === undefined) sc.path = pathPrefix + sc.name;
    if (sc.rel === undefined) sc.rel = relPrefix + sc.name;
    if (sc.inspection && sc.inspection.path === undefined) sc.inspection.path = sc.path;
  }
}
