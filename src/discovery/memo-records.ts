/**
 * What a tree memo's patch needs of each record (scan.ts ScanSession.memo), kept as columns of
 * bytes in the memo's lazy part: read by a patch without parsing them (a JSON part of 34,000
 * records cost the 1 %-changed run ~12 ms to parse, and its garbage more), each value where it is.
 *
 * Layout (little-endian): u32 n; i32 step and position of each record (2n); u32 tally of each
 * (6n: category number and five counts, scan.ts tallyOf); f64 bytes of each (n); u32 end of each
 * record's file checks, then the check numbers (u32 each); u32 end of each partition key, then
 * the keys (UTF-8); u32 end of each record's group names (groupNamesOf), then the names (UTF-8).
 */
import type { ScanRecord } from './scan.js';
import type { WalkEntry } from './walk.js';
import { byName } from './walk.js';

/** The records' columns as a run makes them (encodeMemoRecords). */
export interface MemoRecordColumns {
  keys: string[];
  /** Step and position of each record, flat. */
  seqs: number[];
  deps: number[][];
  tallies: number[][];
  bytes: number[];
  /** Each record's group names (groupNamesOf; '' when it cannot be made again from them). */
  groups: string[];
}

const TALLY = 6;

/**
 * Kind letters of a group's names: a file (or anything but a symlink), a symlink (a symlinked
 * sidecar); in upper case, the name is the record's name root followed by the rest (IMG_1 + .jpg:
 * `F.jpg`), else the name whole (a name that is not its NFC form).
 */
const FILE_LETTER = 'f';
const LINK_LETTER = 's';
const KIND_OF: Record<string, 'file' | 'symlink'> = { f: 'file', s: 'symlink', F: 'file', S: 'symlink' };

/**
 * The names of a record's group as its folder lists them (name order), each after a kind letter,
 * joined by '/' (no name holds one), each written after `root` (the record's name root: its
 * partition key's, shard.ts keyParts) when it begins with it: what a patch pairs again to make the
 * record without listing its folder (scan.ts ScanOptions.givenGroups). '' for a record that cannot
 * be made so: no image (a lone sidecar: the unknown-image rule looks at the folder's other names),
 * a symlinked image (its resolution and its target's group), a link target's sidecar.
 */
export function groupNamesOf(rec: ScanRecord, root: string): string {
  if (rec.images.length === 0) return '';
  const entries: { name: string; letter: string }[] = [];
  for (const img of rec.images) {
    if (img.isSymlink) return '';
    entries.push({ name: img.name, letter: FILE_LETTER });
  }
  for (const sc of rec.sidecars) {
    if (sc.side !== 'local') return '';
    entries.push({ name: sc.name, letter: sc.isLink === true ? LINK_LETTER : FILE_LETTER });
  }
  entries.sort(byName);
  return entries.map((e) => (root !== '' && e.name.startsWith(root) ? e.letter.toUpperCase() + e.name.slice(root.length) : e.letter + e.name)).join('/');
}

/**
 * A group's names (groupNamesOf, with the same `root`) as a folder's entries, or null: '' or text
 * no run writes (a name that is empty, `.`, `..`, holds a NUL or a '/', or is out of name order or
 * twice; a letter not a kind).
 */
export function groupEntriesOf(text: string, root: string): WalkEntry[] | null {
  if (text === '') return null;
  const out: WalkEntry[] = [];
  for (const part of text.split('/')) {
    const letter = part[0];
    const kind = KIND_OF[letter];
    const name = letter === 'F' || letter === 'S' ? root + part.slice(1) : part.slice(1);
    if (kind === undefined || name === '' || name === '.' || name === '..' || name.includes('\0') || name.includes('/')) return null;
    if (out.length > 0 && !(out[out.length - 1].name < name)) return null;
    out.push({ name, kind });
  }
  return out;
}

/** The columns as bytes; throws a RangeError on values the layout cannot hold (a run never makes them). */
export function encodeMemoRecords(c: MemoRecordColumns): Buffer {
  const n = c.keys.length;
  if (c.seqs.length !== 2 * n || c.deps.length !== n || c.tallies.length !== n || c.bytes.length !== n || c.groups.length !== n) throw new RangeError('memo records: columns of different lengths');
  const keys = c.keys.map((k) => Buffer.from(k, 'utf8'));
  const groups = c.groups.map((g) => Buffer.from(g, 'utf8'));
  const depCount = c.deps.reduce((a, d) => a + d.length, 0);
  const keyBytes = keys.reduce((a, k) => a + k.length, 0);
  const groupBytes = groups.reduce((a, g) => a + g.length, 0);
  const out = Buffer.alloc(4 + 8 * n + 4 * TALLY * n + 8 * n + 4 * n + 4 * depCount + 4 * n + keyBytes + 4 * n + groupBytes);
  let at = out.writeUInt32LE(n, 0);
  for (const s of c.seqs) at = out.writeInt32LE(s, at);
  for (const t of c.tallies) {
    if (t.length !== TALLY) throw new RangeError('memo records: a tally of another length');
    for (const v of t) at = out.writeUInt32LE(v, at);
  }
  for (const b of c.bytes) at = out.writeDoubleLE(b, at);
  let end = 0;
  for (const d of c.deps) at = out.writeUInt32LE((end += d.length), at);
  for (const d of c.deps) for (const v of d) at = out.writeUInt32LE(v, at);
  end = 0;
  for (const k of keys) at = out.writeUInt32LE((end += k.length), at);
  for (const k of keys) at += k.copy(out, at);
  end = 0;
  for (const g of groups) at = out.writeUInt32LE((end += g.length), at);
  for (const g of groups) at += g.copy(out, at);
  return out;
}

/**
 * The columns read where they are (a patch asks for a few records' keys and all records' file
 * checks). The constructor checks the layout (lengths, ends that only grow, file check numbers
 * below `fileChecks`) and throws a TypeError on bytes no run writes (load() makes that a miss).
 */
export class MemoRecordsView {
  readonly n: number;
  private readonly seqAt: number;
  private readonly tallyAt: number;
  private readonly bytesAt: number;
  private readonly depEndsAt: number;
  private readonly depsAt: number;
  private readonly keyEndsAt: number;
  private readonly keysAt: number;
  private readonly groupEndsAt: number;
  private readonly groupsAt: number;
  private readonly depEnds: Uint32Array;
  private readonly depList: Uint32Array;
  private readonly keyEnds: Uint32Array;
  private readonly groupEnds: Uint32Array;

  constructor(
    private readonly buf: Buffer,
    fileChecks: number,
  ) {
    if (buf.length < 4) throw new TypeError('not memo records');
    const n = buf.readUInt32LE(0);
    this.n = n;
    this.seqAt = 4;
    this.tallyAt = this.seqAt + 8 * n;
    this.bytesAt = this.tallyAt + 4 * TALLY * n;
    this.depEndsAt = this.bytesAt + 8 * n;
    this.depsAt = this.depEndsAt + 4 * n;
    if (this.depsAt > buf.length) throw new TypeError('not memo records');
    const depCount = n === 0 ? 0 : buf.readUInt32LE(this.depEndsAt + 4 * (n - 1));
    this.keyEndsAt = this.depsAt + 4 * depCount;
    this.keysAt = this.keyEndsAt + 4 * n;
    if (this.keysAt > buf.length) throw new TypeError('not memo records');
    this.groupEndsAt = this.keysAt + (n === 0 ? 0 : buf.readUInt32LE(this.keyEndsAt + 4 * (n - 1)));
    this.groupsAt = this.groupEndsAt + 4 * n;
    if (this.groupsAt > buf.length || this.groupsAt + (n === 0 ? 0 : buf.readUInt32LE(this.groupEndsAt + 4 * (n - 1))) !== buf.length) throw new TypeError('not memo records');
    // The ends and the file checks as typed arrays (copies: host order, little-endian as the layout;
    // the index refuses other hosts, store.ts): checked and read without a Buffer call per number
    // (a call each, cold, was ~6 ms of a patch's 34,000 records).
    const u32 = (from: number, to: number) => new Uint32Array(Uint8Array.prototype.slice.call(buf, from, to).buffer);
    this.depEnds = u32(this.depEndsAt, this.depsAt);
    this.depList = u32(this.depsAt, this.keyEndsAt);
    this.keyEnds = u32(this.keyEndsAt, this.keysAt);
    this.groupEnds = u32(this.groupEndsAt, this.groupsAt);
    // Ends that only grow, and file checks the memo holds.
    for (const ends of [this.depEnds, this.keyEnds, this.groupEnds]) for (let i = 1; i < n; i++) if (ends[i] < ends[i - 1]) throw new TypeError('not memo records');
    const deps = this.depList;
    for (let d = 0; d < deps.length; d++) if (deps[d] >= fileChecks) throw new TypeError('a memo record reading a file check the memo does not hold');
  }

  step(i: number): number {
    return this.buf.readInt32LE(this.seqAt + 8 * i);
  }

  position(i: number): number {
    return this.buf.readInt32LE(this.seqAt + 8 * i + 4);
  }

  tally(i: number): number[] {
    const out: number[] = [];
    for (let k = 0; k < TALLY; k++) out.push(this.buf.readUInt32LE(this.tallyAt + 4 * (TALLY * i + k)));
    return out;
  }

  bytes(i: number): number {
    return this.buf.readDoubleLE(this.bytesAt + 8 * i);
  }

  /** The numbers of the file checks record `i` read. */
  deps(i: number): number[] {
    const [from, to] = this.range(this.depEnds, i);
    return Array.from(this.depList.subarray(from, to));
  }

  /**
   * Per record, 1 when it read any of these file checks (numbers below the memo's file checks):
   * one pass over the deps column (a call and a Set lookup per dependency, record by record, took
   * ~10 ms for a patch's 34,000 records while cold).
   */
  readingAny(checks: Iterable<number>, fileChecks: number): Uint8Array {
    const mark = new Uint8Array(fileChecks);
    for (const c of checks) if (Number.isInteger(c) && c >= 0 && c < fileChecks) mark[c] = 1;
    const n = this.n;
    const ends = this.depEnds;
    const deps = this.depList;
    const out = new Uint8Array(n);
    for (let i = 0, d = 0; i < n; i++) {
      const end = ends[i];
      for (; d < end; d++) if (mark[deps[d]] === 1) out[i] = 1;
    }
    return out;
  }

  key(i: number): string {
    const [from, to] = this.range(this.keyEnds, i);
    return this.buf.toString('utf8', this.keysAt + from, this.keysAt + to);
  }

  /** Record `i`'s group names (groupNamesOf). */
  group(i: number): string {
    const [from, to] = this.range(this.groupEnds, i);
    return this.buf.toString('utf8', this.groupsAt + from, this.groupsAt + to);
  }

  /** The columns as plain values (a memo written again of them, or a test's). */
  columns(): MemoRecordColumns {
    const c: MemoRecordColumns = { keys: [], seqs: [], deps: [], tallies: [], bytes: [], groups: [] };
    for (let i = 0; i < this.n; i++) {
      c.keys.push(this.key(i));
      c.seqs.push(this.step(i), this.position(i));
      c.deps.push(this.deps(i));
      c.tallies.push(this.tally(i));
      c.bytes.push(this.bytes(i));
      c.groups.push(this.group(i));
    }
    return c;
  }

  /** Where record `i`'s part of a list with these ends begins and ends (within the list: else a TypeError). */
  private range(ends: Uint32Array, i: number): [number, number] {
    if (!Number.isInteger(i) || i < 0 || i >= this.n) throw new RangeError('no such memo record');
    const from = i === 0 ? 0 : ends[i - 1];
    const to = ends[i];
    if (from > to || to > ends[this.n - 1]) throw new TypeError('not memo records');
    return [from, to];
  }
}
