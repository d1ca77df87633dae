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
 * Payload layout: u32 meta length | v8 meta | depAt, then deps (i32 LE each: `FolderMeta.depAt`, `deps`)
 *                 | identities (40 bytes each: the files, then the folders)
 *                 | u32 JSON length | the JSON records as one JSON array | the other records as one v8
 *                   stream (header once, then their values). Records are written in group order, each
 *                   when it was finished, before any caller saw it; one JSON.parse and one deserializer
 *                   read them. `meta.lens` holds each record's byte length: > 0 JSON text, < 0 v8 value.
 *
 * JSON, where a record allows it (every value a string, finite number other than -0, boolean,
 * null, plain object or dense array: what a scan record of JSON-like results is), because a warm
 * run decodes every served record and JSON.parse reads them in half the time v8 deserializes them
 * (the bench library's 34,000 records: 66 against 142 ms). A record holding anything else (a bigint,
 * -0, undefined, a typed array) is a v8 value, which keeps it exactly.
 *
 * Each record's bytes stand on their own: a stored record holds no object twice (its `effective`,
 * one of its sidecars, is written as that sidecar's index; a record with any other shared object is
 * not stored), so a v8 value has no back-reference into the stream (v8 numbers objects from the
 * stream's start) and JSON loses no identity. A folder rewritten after some of its records changed
 * copies the others' bytes as they are (`FolderRecordsBuilder.keep`) instead of decoding and
 * encoding them again.
 */
import { randomBytes } from 'node:crypto';
import { DefaultDeserializer, DefaultSerializer, deserialize, serialize } from 'node:v8';
import { IDENTITY_BYTES } from '../fs/identity.js';
import { packRecord, unpackRecord } from './record-pack.js';
import { encodingOf } from '../tasks/entry-format.js';
import { LITTLE_ENDIAN_HOST } from '../byte-order.js';

/** Dependency references in a record's list: kind in the low 2 bits, index above. */
export const DEP_FILE = 0;
export const DEP_DIR = 1;
export const DEP_STEP = 2;
export const DEP_LINK = 3;

/**
 * The layout of the records (`FolderMeta.fmt`): 3 = JSON or v8 records of their own, byte lengths
 * in `lens`; 4 = the same, with the dependency arrays as raw i32 after the meta instead of v8 typed
 * arrays inside it (v8 reads a typed array through a JS host-object hook: 44 of a warm run's 630 ms);
 * 5 = a folder's records as a base entry (every group) and at most one patch entry (`groups`);
 * 6 = the same, each record packed (record-pack.ts: its objects' key names as one code).
 */
export const FOLDER_RECORDS_FORMAT = 6;

/**
 * A folder rewritten after some of its records changed writes only those records, in a patch
 * entry over the base entry (which it names by its `gen`), while the records of the patch are at
 * most this share of the folder's groups; beyond, a new base holds them all (and the patch, of an
 * older base, is ignored). With one entry per folder, 1 % of the bench library's sidecars changed
 * (nearly every folder has one) wrote 11 MB of records again, half of all of them.
 */
export const MAX_PATCH_SHARE = 0.25;

/**
 * How many new folders' records one run stores: this share of the records the index stands for
 * (its file and link entries, about one record each), at least RECORDS_PER_RUN_FLOOR; a folder is
 * stored whole once some of the budget is left. Storing a record costs more than making it (the
 * bench library's validate: ~0.7 s of CPU for its 34,000 records, against ~0.9 s for a whole warm
 * run that makes them from per-file entries), so a run that stored every folder's records was
 * 0.8–0.95× of --no-index. A third per run left the third run at 0.63–0.65× (bench, loaded
 * machine); a quarter takes ~100 ms of CPU off it (validate: 1,397 → 1,291 ms, medians of 6
 * alternating runs), at the price of one more storing run before every folder is served.
 */
export const RECORDS_PER_RUN_SHARE = 1 / 4;
export const RECORDS_PER_RUN_FLOOR = 4096;

/** The index key of a folder's base entry (`patch`: its patch entry; NUL: no path holds one, so no folder's key is another's patch). */
export function folderKey(prefix: string, real: string, patch = false): string {
  return patch ? `${prefix}\n${real}\0+` : `${prefix}\n${real}`;
}

/** The v8 stream header this process writes (a stored record's bytes are copied only under the same). */
const STREAM_HEADER: Buffer = (() => {
  const s = new DefaultSerializer();
  s.writeHeader();
  return s.releaseBuffer();
})();

export interface FolderMeta {
  /** FOLDER_RECORDS_FORMAT (an entry without it is of an earlier layout: never served). */
  fmt: number;
  /** The scanned root as given (records hold absolute paths under it). */
  root: string;
  /** Walk summary counts of the folder (pairing): ignored files, temp files. */
  ignored: number;
  temp: number;
  /** Groups of the folder's pairing (records), in order. */
  n: number;
  /** A base entry's generation (random); a patch's: the generation of the base it goes over. */
  gen: string;
  /** A patch entry's groups (ascending folder group numbers: one record each); absent in a base entry (every group). */
  groups?: number[];
  /** Per record of the entry: its length in bytes, > 0 JSON, < 0 a v8 value (0: not stored, made again every run). */
  lens: number[];
  /** Per group of the folder: its seq position in the folder (in a base entry; empty in a patch). */
  pos: number[];
  /**
   * Dependency references (`index << 2 | kind`), group after group: group gi's are deps[depAt[gi] ..
   * depAt[gi + 1]). Stored as raw i32 after the v8 meta, not in it (set by `decodeFolder`).
   */
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

/** The record bytes of one chunk (copied out of the index's read window). */
export interface RecordPart {
  /** u32 JSON length, the JSON array, the v8 stream. */
  recs: Buffer;
  /** Where the JSON array ends (the v8 stream starts) in `recs`. */
  jsonEnd: number;
  /** The v8 stream was written under this process's v8 header: its values' bytes can be copied into a new stream. */
  copyable: boolean;
}

/** One entry, decoded (a base or a patch): its meta, identities and records. */
export interface FolderChunk {
  meta: FolderMeta;
  ids: Buffer;
  part: RecordPart;
  /** Per record of the entry: where its bytes start in `part.recs`. */
  starts: number[];
}

/** What a folder's records share (from the base), and `lens` over all its groups (the patch's where it has one). */
export interface FolderInfo {
  root: string;
  ignored: number;
  temp: number;
  n: number;
  gen: string;
  pos: number[];
  lens: number[];
}

/** A folder's stored records: its base entry and the patch over it (null: none, or over another base). */
export interface FolderBlob {
  meta: FolderInfo;
  base: FolderChunk;
  patch: FolderChunk | null;
  /** Per group: its record's number in the patch, or -1 (the base's). */
  over: Int32Array;
}

/** The entry holding group `gi`'s record and the record's number there. */
export function chunkOf(blob: FolderBlob, gi: number): [FolderChunk, number] {
  const j = blob.over[gi];
  return j >= 0 ? [blob.patch!, j] : [blob.base, gi];
}

/** The folder's group number of record `j` of entry `c`. */
export function groupOf(c: FolderChunk, j: number): number {
  return c.meta.groups === undefined ? j : c.meta.groups[j];
}

/** Each record that stands for its group (the patch's over the base's): `fn(entry, record number, group)`. */
export function eachRecord(blob: FolderBlob, fn: (c: FolderChunk, j: number, gi: number) => void): void {
  for (let gi = 0; gi < blob.meta.n; gi++) if (blob.over[gi] < 0) fn(blob.base, gi, gi);
  const p = blob.patch;
  if (p) for (let j = 0; j < p.meta.lens.length; j++) fn(p, j, p.meta.groups![j]);
}

/** Decode one entry's payload, a base or a patch (copied: the caller's view may be a read window); null when malformed. */
export function decodeFolder(payload: Uint8Array): FolderChunk | null {
  try {
    const buf = Buffer.from(payload); // a copy
    const metaLen = buf.readUInt32LE(0);
    const meta = deserialize(buf.subarray(4, 4 + metaLen)) as FolderMeta;
    if (!meta || meta.fmt !== FOLDER_RECORDS_FORMAT || typeof meta.root !== 'string' || !Number.isSafeInteger(meta.n) || meta.n < 0 || !Array.isArray(meta.lens) || !Array.isArray(meta.files) || !Array.isArray(meta.dirs) || !Array.isArray(meta.steps) || !Array.isArray(meta.links) || !Array.isArray(meta.pos)) return null;
    const count = meta.lens.length;
    if (typeof meta.gen !== 'string') return null;
    if (meta.groups === undefined) {
      if (count !== meta.n || meta.pos.length !== meta.n) return null;
    } else {
      // A patch: its groups ascending, each a group of the folder.
      const gs = meta.groups;
      if (!Array.isArray(gs) || gs.length !== count || meta.pos.length !== 0) return null;
      for (let j = 0; j < count; j++) if (!Number.isSafeInteger(gs[j]) || gs[j] < 0 || gs[j] >= meta.n || (j > 0 && gs[j] <= gs[j - 1])) return null;
    }
    // The dependency arrays: depAt (count + 1 values), then deps (depAt[count] values), ascending from 0.
    let p = 4 + metaLen;
    if (p + (count + 1) * 4 > buf.length) return null;
    meta.depAt = int32s(buf, p, count + 1);
    p += (count + 1) * 4;
    const nDeps = meta.depAt[count];
    if (meta.depAt[0] !== 0 || nDeps < 0 || p + nDeps * 4 > buf.length) return null;
    for (let gi = 0; gi < count; gi++) if (meta.depAt[gi + 1] < meta.depAt[gi]) return null;
    meta.deps = int32s(buf, p, nDeps);
    p += nDeps * 4;
    // Each reference within its table (a lookup's folder within the folders).
    const sizes = [meta.files.length, meta.dirs.length, meta.steps.length, meta.links.length];
    for (let d = 0; d < nDeps; d++) if (meta.deps[d] < 0 || meta.deps[d] >>> 2 >= sizes[meta.deps[d] & 3]) return null;
    for (const st of meta.steps) if (!Array.isArray(st) || !(st[0] >= 0 && st[0] < meta.dirs.length)) return null;
    const idsAt = p;
    const idsEnd = idsAt + (meta.files.length + meta.dirs.length) * IDENTITY_BYTES;
    if (idsEnd > buf.length) return null;
    const recs = buf.subarray(idsEnd);
    const jsonEnd = 4 + recs.readUInt32LE(0);
    if (jsonEnd > recs.length || recs[4] !== 0x5b || recs[jsonEnd - 1] !== 0x5d) return null; // [ ]
    // JSON texts one after the other with a comma between them, v8 values after the stream's header.
    const starts: number[] = new Array(count);
    let j = 5;
    let v = 0;
    for (let gi = 0; gi < count; gi++) {
      const l = meta.lens[gi];
      if (!Number.isSafeInteger(l)) return null;
      if (l > 0) {
        if (j > 5 && recs[j++] !== 0x2c) return null; // ,
        // Each JSON record is an object or a packed record (an array): its bytes are one value, so
        // copying them copies that record.
        const open = recs[j];
        const close = recs[j + l - 1];
        if (j + l > jsonEnd || !((open === 0x7b && close === 0x7d) || (open === 0x5b && close === 0x5d))) return null; // { } or [ ]
        starts[gi] = j;
        j += l;
      } else {
        starts[gi] = v;
        v -= l;
      }
    }
    if (j + 1 !== jsonEnd) return null;
    const headerLen = recs.length - jsonEnd - v;
    if (headerLen < 1) return null;
    for (let gi = 0; gi < count; gi++) if (meta.lens[gi] <= 0) starts[gi] += jsonEnd + headerLen;
    const copyable = headerLen === STREAM_HEADER.length && recs.subarray(jsonEnd, jsonEnd + headerLen).equals(STREAM_HEADER);
    return { meta, ids: buf.subarray(idsAt, idsEnd), part: { recs, jsonEnd, copyable }, starts };
  } catch {
    return null;
  }
}

/**
 * A folder's stored records: its base entry and the patch over it. Null when `base` is not a base;
 * a patch of another base (a later base was written: the patch is older) or of another folder shape
 * is left out. Nothing is copied: each record is read where it is.
 */
export function folderOf(base: FolderChunk, patch: FolderChunk | null): FolderBlob | null {
  if (base.meta.groups !== undefined) return null;
  const { n, root, ignored, temp, pos, gen } = base.meta;
  const over = new Int32Array(n).fill(-1);
  let lens = base.meta.lens;
  let p: FolderChunk | null = null;
  if (patch && patch.meta.groups !== undefined && patch.meta.gen === gen && patch.meta.n === n && patch.meta.root === root) {
    p = patch;
    lens = lens.slice();
    const gs = patch.meta.groups;
    for (let j = 0; j < gs.length; j++) {
      over[gs[j]] = j;
      lens[gs[j]] = patch.meta.lens[j];
    }
  }
  return { meta: { root, ignored, temp, n, gen, pos, lens }, base, patch: p, over };
}

/** `count` i32 (little-endian) at `at` in `buf`, copied into an array of their own (any alignment). */
function int32s(buf: Buffer, at: number, count: number): Int32Array {
  const out = new Int32Array(count);
  if (LITTLE_ENDIAN_HOST) new Uint8Array(out.buffer).set(buf.subarray(at, at + count * 4));
  else for (let i = 0; i < count; i++) out[i] = buf.readInt32LE(at + i * 4);
  return out;
}

/** i32 values as little-endian bytes. */
function int32Bytes(a: Int32Array): Buffer {
  if (LITTLE_ENDIAN_HOST) return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const b = Buffer.allocUnsafe(a.length * 4);
  for (let i = 0; i < a.length; i++) b.writeInt32LE(a[i], i * 4);
  return b;
}

/**
 * The stored records of the wanted groups (in group order; others are read and dropped: values
 * are back to back). Null when the bytes do not decode.
 */
export function decodeRecords<T>(blob: FolderBlob, want: (gi: number) => boolean): (T | undefined)[] | null {
  try {
    const out: (T | undefined)[] = new Array(blob.meta.n);
    for (const c of blob.patch ? [blob.base, blob.patch] : [blob.base]) {
      const { lens } = c.meta;
      const json = JSON.parse(c.part.recs.toString('utf8', 4, c.part.jsonEnd)) as T[];
      if (!Array.isArray(json)) return null;
      let d: DefaultDeserializer | null = null;
      let next = 0;
      for (let j = 0; j < lens.length; j++) {
        const l = lens[j];
        if (l === 0) continue;
        let v: T;
        if (l > 0) {
          if (next >= json.length) return null;
          v = unpackRecord<T>(json[next++]);
        } else {
          if (d === null) {
            d = new DefaultDeserializer(c.part.recs.subarray(c.part.jsonEnd));
            d.readHeader();
          }
          v = unpackRecord<T>(d.readValue());
        }
        // A base record the patch stands in for is read (values are back to back) and dropped.
        const gi = groupOf(c, j);
        if (c === blob.patch || blob.over[gi] < 0) {
          if (want(gi)) out[gi] = v;
        }
      }
      if (next !== json.length) return null;
    }
    return out;
  } catch {
    return null;
  }
}

/** One entry of a folder's records as the builder leaves it: written (`payload`) or kept as stored (`keep`: its offset). */
export interface ChunkOut {
  patch: boolean;
  payload?: Buffer[];
  keep?: number;
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
  /** Writes the v8 records made in this run (each value on its own: no back-reference, see above). */
  private readonly ser = new DefaultSerializer();
  /** Per group: its record's bytes, as finished (made, or copied from the stored entry): a JSON text or a v8 value (sign of `lens`). */
  private readonly bytes: (Uint8Array | null)[];
  /** Records not finished yet. */
  left: number;
  /** False once something in the folder cannot be stored at all. */
  ok = true;
  /**
   * Made from stored entries: the offsets of the base and of the patch over it (0: none), the base's
   * generation, the stored record lengths and the patch's groups; `rebuilt`: the groups made again.
   */
  replaces: { base: number; patch: number; gen: string; lens: number[]; patched: readonly number[] } | null = null;
  readonly rebuilt: number[] = [];
  /** Groups kept from the stored patch (their records differ from the base's). */
  private readonly fromPatch: number[] = [];

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
    this.meta = { fmt: FOLDER_RECORDS_FORMAT, root, ignored, temp, n, gen: '', lens: new Array(n).fill(0), pos, files: [], dirs: [], steps: [], links: [] };
    this.deps = Array.from({ length: n }, () => []);
    this.bytes = new Array(n).fill(null);
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
    this.stepLatin1(gi, dir, dirId, name, stamp === null ? null : Buffer.from(stamp.buffer, stamp.byteOffset, stamp.byteLength).toString('latin1'));
  }

  /** A lookup, its inode stamp as stored (latin1). */
  private stepLatin1(gi: number, dir: string, dirId: Uint8Array, name: string, s: string | null): void {
    const d = this.dirIndex(dir, dirId);
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

  /** A finished record, in group order (null, or one holding an object twice: not stored, made again next time). */
  done(gi: number, rec: unknown, as: 'json' | 'v8' | null = rec === null ? null : encodingOf(rec)): void {
    let len = 0;
    if (as === 'json') {
      const bytes = Buffer.from(JSON.stringify(rec), 'utf8');
      this.bytes[gi] = bytes;
      len = bytes.length;
    } else if (as === 'v8') {
      this.ser.writeValue(rec);
      const bytes = this.ser.releaseBuffer();
      this.bytes[gi] = bytes;
      len = -bytes.length;
    }
    this.meta.lens[gi] = len;
    this.left--;
  }

  /**
   * A stored record kept as it was, with its dependencies as they were: its bytes copied from the
   * stored entry `blob`, or (`blob`'s part not copyable: a stream of another v8 version) `rec`, the
   * record decoded from it, written again.
   */
  keep(gi: number, blob: FolderBlob, rec: CompactRecord): void {
    const [chunk, g] = chunkOf(blob, gi);
    if (chunk === blob.patch) this.fromPatch.push(gi);
    const { meta, ids } = chunk;
    const nFiles = meta.files.length;
    const idAt = (i: number) => ids.subarray(i * IDENTITY_BYTES, (i + 1) * IDENTITY_BYTES);
    for (let d = meta.depAt[g]; d < meta.depAt[g + 1]; d++) {
      const ref = meta.deps[d];
      const kind = ref & 3;
      const i = ref >>> 2;
      if (kind === DEP_FILE) this.file(gi, meta.files[i], idAt(i));
      else if (kind === DEP_DIR) this.dir(gi, meta.dirs[i], idAt(nFiles + i));
      else if (kind === DEP_LINK) this.link(gi, meta.links[i]);
      else {
        const [dd, name, stamp] = meta.steps[i];
        this.stepLatin1(gi, meta.dirs[dd], idAt(nFiles + dd), name, stamp);
      }
    }
    const len = meta.lens[g];
    if (len < 0 && !chunk.part.copyable) return writeCompact(this, gi, rec);
    this.bytes[gi] = chunk.part.recs.subarray(chunk.starts[g], chunk.starts[g] + Math.abs(len));
    this.meta.lens[gi] = len;
    this.left--;
  }

  get storesAny(): boolean {
    return this.meta.lens.some((l) => l !== 0);
  }

  /**
   * What to write: a folder made from stored entries whose records that differ from the base's (the
   * stored patch's kept, and those made again that are stored) are at most `MAX_PATCH_SHARE` of its
   * groups keeps its base and writes only those, as its patch (none: no patch; the same as the
   * stored patch: that patch kept). Any other writes a new base, with all its records.
   */
  chunks(): ChunkOut[] {
    const r = this.replaces;
    if (r !== null && r.base > 0) {
      const made = this.rebuilt.filter((gi) => this.meta.lens[gi] !== 0);
      const patched = [...this.fromPatch, ...made].sort((a, b) => a - b);
      if (patched.length <= this.meta.n * MAX_PATCH_SHARE) {
        const out: ChunkOut[] = [{ patch: false, keep: r.base }];
        // The stored patch as it is: the same groups, none of them made again.
        const same = made.length === 0 && patched.length === r.patched.length && this.fromPatch.length === r.patched.length;
        if (same && r.patch > 0) out.push({ patch: true, keep: r.patch });
        else if (patched.length > 0 || r.patch > 0) out.push({ patch: true, payload: this.payload(patched, r.gen) });
        return out;
      }
    }
    return [{ patch: false, payload: this.payload(null, randomBytes(8).toString('hex')) }];
  }

  /**
   * The payload of the entry holding the records of `groups` (a patch over the base of generation
   * `gen`), or (null) of every group (a base of generation `gen`; by default a folder's only entry).
   */
  payload(groups: readonly number[] | null = null, gen = ''): Buffer[] {
    const list = groups ?? Array.from({ length: this.meta.n }, (_, gi) => gi);
    const count = list.length;
    // The chunk's own tables: the files, folders, lookups and links its groups name, numbered anew.
    const files: string[] = [];
    const fileIds: Uint8Array[] = [];
    const dirs: string[] = [];
    const dirIds: Uint8Array[] = [];
    const steps: [number, string, string | null][] = [];
    const links: string[] = [];
    const fileNo = new Map<number, number>();
    const dirNo = new Map<number, number>();
    const stepNo = new Map<number, number>();
    const linkNo = new Map<number, number>();
    const dirOf = (i: number): number => {
      let at = dirNo.get(i);
      if (at === undefined) {
        at = dirs.push(this.meta.dirs[i]) - 1;
        dirIds.push(this.dirIds[i]);
        dirNo.set(i, at);
      }
      return at;
    };
    const depAt = new Int32Array(count + 1);
    const deps: number[] = [];
    for (let j = 0; j < count; j++) {
      const gi = list[j];
      for (const ref of this.deps[gi]) {
        const kind = ref & 3;
        const i = ref >>> 2;
        let at: number;
        if (kind === DEP_FILE) {
          at = fileNo.get(i) ?? -1;
          if (at < 0) {
            at = files.push(this.meta.files[i]) - 1;
            fileIds.push(this.fileIds[i]);
            fileNo.set(i, at);
          }
        } else if (kind === DEP_DIR) at = dirOf(i);
        else if (kind === DEP_STEP) {
          at = stepNo.get(i) ?? -1;
          if (at < 0) {
            const [d, name, stamp] = this.meta.steps[i];
            at = steps.push([dirOf(d), name, stamp]) - 1;
            stepNo.set(i, at);
          }
        } else {
          at = linkNo.get(i) ?? -1;
          if (at < 0) {
            at = links.push(this.meta.links[i]) - 1;
            linkNo.set(i, at);
          }
        }
        deps.push((at << 2) | kind);
      }
      depAt[j + 1] = deps.length;
    }
    const meta: Omit<FolderMeta, 'deps' | 'depAt'> =
      groups === null
        ? { ...this.meta, gen, files, dirs, steps, links }
        : { ...this.meta, gen, groups: [...groups], lens: groups.map((gi) => this.meta.lens[gi]), pos: [], files, dirs, steps, links };
    const m = serialize(meta);
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32LE(m.length, 0);
    const parts: Buffer[] = [head, m, int32Bytes(depAt), int32Bytes(Int32Array.from(deps))];
    for (const id of [...fileIds, ...dirIds]) parts.push(Buffer.from(id.buffer, id.byteOffset, IDENTITY_BYTES));
    // JSON records one array (comma-separated), then the v8 values after one stream header.
    const json: Uint8Array[] = [];
    const v8: Uint8Array[] = [STREAM_HEADER];
    for (const gi of list) {
      const l = this.meta.lens[gi];
      if (l > 0) json.push(this.bytes[gi]!);
      else if (l < 0) v8.push(this.bytes[gi]!);
    }
    let jsonLen = 2 + Math.max(0, json.length - 1);
    for (const p of json) jsonLen += p.length;
    const jsonHead = Buffer.allocUnsafe(5);
    jsonHead.writeUInt32LE(jsonLen, 0);
    jsonHead[4] = 0x5b; // [
    parts.push(jsonHead);
    json.forEach((p, i) => {
      if (i > 0) parts.push(COMMA);
      parts.push(Buffer.from(p.buffer, p.byteOffset, p.byteLength));
    });
    parts.push(CLOSE);
    for (const p of v8) parts.push(Buffer.from(p.buffer, p.byteOffset, p.byteLength));
    return parts;
  }
}

const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

/** Stands for a string left out (`writeCompact`): the fields it replaces are always strings. */
type LeftOut = 0;

/** The parts of a scan record that repeat its folder (paths under the folder, as given). */
export interface CompactRecord {
  dir: string | LeftOut;
  /** One of `sidecars` (or null): written as its index there. */
  effective: unknown;
  images: { name: string; path: string | LeftOut; rel: string | LeftOut }[];
  sidecars: { name: string; path: string | LeftOut; rel: string | LeftOut; inspection: { path: string | LeftOut } }[];
}

/**
 * Write a record with the strings its folder implies left out (a folder's path and rel prefix plus
 * a name; the folder's rel; an inspection's path, its sidecar's): the fields are set to 0 (they
 * are strings otherwise; undefined would drop the key from JSON) while the record is written, in place (keys keep their order), and put back before it is
 * returned; `restoreRecord` puts them back after a read. A third of a record's bytes. The
 * effective sidecar, one of `sidecars`, is written as its index there: no object is written twice.
 */
export function writeCompact(b: FolderRecordsBuilder, gi: number, rec: CompactRecord | null): void {
  if (rec === null) return b.done(gi, null);
  const relPrefix = b.rel === '' ? '' : `${b.rel}/`;
  const pathPrefix = b.folderAbs.endsWith('/') ? b.folderAbs : `${b.folderAbs}/`;
  // What was left out, to put back: [object, key, value] triples, flat.
  const undo: unknown[] = [];
  const drop = (o: Record<string, unknown>, key: string) => {
    undo.push(o, key, o[key]);
    o[key] = 0;
  };
  if (rec.dir === b.rel) drop(rec as unknown as Record<string, unknown>, 'dir');
  if (rec.effective !== null) {
    const at = rec.sidecars.indexOf(rec.effective as CompactRecord['sidecars'][number]);
    if (at >= 0) {
      undo.push(rec, 'effective', rec.effective);
      rec.effective = at;
    }
  }
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
    // Packing makes new arrays of the objects it packs: an object the record holds twice would come
    // back as two, so such a record is not stored (the rule above), packed or not. The packed form
    // holds the record's values as they are, so the record's encoding is the packed one's.
    const as = encodingOf(rec);
    b.done(gi, as === null ? null : packRecord(rec), as);
  } finally {
    for (let i = undo.length - 3; i >= 0; i -= 3) (undo[i] as Record<string, unknown>)[undo[i + 1] as string] = undo[i + 2];
  }
}

/** Put back what `writeCompact` left out. */
export function restoreRecord(rec: CompactRecord, folderAbs: string, rel: string): void {
  const pathPrefix = folderAbs.endsWith('/') ? folderAbs : `${folderAbs}/`;
  const relPrefix = rel === '' ? '' : `${rel}/`;
  if (rec.dir === 0) rec.dir = rel;
  if (typeof rec.effective === 'number') rec.effective = rec.sidecars[rec.effective];
  for (const img of rec.images) {
    if (img.path === 0) img.path = pathPrefix + img.name;
    if (img.rel === 0) img.rel = relPrefix + img.name;
  }
  for (const sc of rec.sidecars) {
    if (sc.path === 0) sc.path = pathPrefix + sc.name;
    if (sc.rel === 0) sc.rel = relPrefix + sc.name;
    if (sc.inspection && sc.inspection.path === 0) sc.inspection.path = sc.path;
  }
}
