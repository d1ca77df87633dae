/**
 * A file's identity (the incremental index's key of a file, and what convert and save check before
 * they replace or remove a file they read): device, inode, size, mtime and ctime in ns. Any
 * difference means the file may hold other bytes. ctime cannot be set by a writer, so a same-size
 * edit that restores mtime (touch -r, utimes) still changes the identity.
 */
import { fstatSync, lstatSync, stat as statAsync, statSync, type BigIntStats } from 'node:fs';
import { bindingStat, checkFstat, fstatBinding, fstatStatus, resetFstatForTests, setTimeNs, timeNs, F_CTIME_NS, F_CTIME_S, F_DEV, F_INO, F_MODE, F_MTIME_S, F_SIZE, S_IFDIR, S_IFMT, S_IFREG, type BindingStat } from './stat-binding.js';
import { fileURLToPath } from 'node:url';
import { LITTLE_ENDIAN_HOST } from '../byte-order.js';
import { manyAtOnce } from './many-at-once.js';

/** 5 × u64: dev, ino, size, mtime_ns, ctime_ns (the index stores these 40 bytes per file). */
export const IDENTITY_BYTES = 40;

export interface FileIdentity {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** The identity in a bigint stat. */
export function identityOf(st: BigIntStats): FileIdentity {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
}

/** Both the same file with the same bytes as far as the file system says (every field equal). */
export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/**
 * Is `path` still the file read (`readAs`; null: nothing was there and nothing is)? lstat: a link
 * put in its place is another file. What convert checks before it removes or replaces a source,
 * and save before it renames over the sidecar it merged from: a writer that does not take our
 * lock may have replaced it meanwhile.
 */
export function isStillAsRead(path: string, readAs: FileIdentity | null): boolean {
  let now: FileIdentity | null;
  try {
    const st = lstatSync(path, { bigint: true, throwIfNoEntry: false });
    now = st === undefined ? null : identityOf(st);
  } catch {
    return false;
  }
  return readAs === null ? now === null : now !== null && sameIdentity(now, readAs);
}

/**
 * stat (following a symlinked sidecar: its content is the target's) with bigint times; null when
 * the file cannot be seen or is not a regular file (the inspection reports why).
 */
export function statIdentity(path: string): FileIdentity | null {
  let st;
  try {
    st = statSync(path, { bigint: true, throwIfNoEntry: false });
  } catch {
    return null;
  }
  if (!st || !st.isFile()) return null;
  return identityOf(st);
}

// Written through a typed array (a store wraps modulo 2^64, as BigInt.asUintN(64) does): no BigInt
// arithmetic per field, which writeBigUInt64LE does. Host order is little-endian (incremental/store.ts refuses
// an index on any other host); on a big-endian one the bytes are swapped into place.
const words = new BigUint64Array(5);
const wordBytes = Buffer.from(words.buffer);

export function writeIdentity(id: FileIdentity, buf: Buffer, offset: number): void {
  words[0] = id.dev;
  words[1] = id.ino;
  words[2] = id.size;
  words[3] = id.mtimeNs;
  words[4] = id.ctimeNs;
  if (!LITTLE_ENDIAN_HOST) wordBytes.swap64();
  wordBytes.copy(buf, offset, 0, IDENTITY_BYTES);
}

export function identityBytes(id: FileIdentity): Buffer {
  const b = Buffer.allocUnsafe(IDENTITY_BYTES);
  writeIdentity(id, b, 0);
  return b;
}

/** Same identity (as `identityBytes` encodes it) as the 40 bytes at `offset`: one native compare. */
export function identityEquals(idBytes: Buffer, buf: Buffer, offset: number): boolean {
  return offset + IDENTITY_BYTES <= buf.length && buf.compare(idBytes, 0, IDENTITY_BYTES, offset, offset + IDENTITY_BYTES) === 0;
}

/** What a stat found at a path (IdentityScratch.stat). */
export const STAT_NONE = 0;
export const STAT_DIR = 1;
export const STAT_FILE = 2;
/** Something else: a FIFO, a socket, a device. */
export const STAT_OTHER = 3;
export type StatKind = typeof STAT_NONE | typeof STAT_DIR | typeof STAT_FILE | typeof STAT_OTHER;

const TWO_32 = 4294967296;

/**
 * seconds × 10^9 + ns, modulo 2^64 (a time before 1970 wraps as BigUint64Array stores it), from
 * the u32 halves of a binding array (little-endian: low half first) into `out` at `at` (low, high),
 * in doubles that stay exact: the seconds' low half split in 16-bit parts (each × 10^9 < 2^46),
 * the high half's product taken modulo 2^32 (Math.imul). Tested against the BigInt form
 * (identity-halves.test.ts).
 */
export function timeNsHalves(u: Uint32Array, secondsAt: number, out: Uint32Array, at: number): void {
  const lo = u[2 * secondsAt];
  const hi = u[2 * secondsAt + 1];
  const ns = u[2 * secondsAt + 2]; // 0 ≤ ns < 10^9: its high half is 0
  const a = lo >>> 16;
  const b = lo & 0xffff;
  // lo × 10^9 + ns = a × 10^9 × 2^16 + (b × 10^9 + ns); a × 10^9 = yHi × 2^16 + yLo.
  const y = a * 1e9;
  const yHi = Math.floor(y / 65536);
  const low = (y - yHi * 65536) * 65536 + b * 1e9 + ns; // < 2^32 + 2^46: exact
  const carry = Math.floor(low / TWO_32);
  out[at] = low - carry * TWO_32;
  out[at + 1] = (yHi + carry + (Math.imul(hi, 1e9) >>> 0)) % TWO_32;
}

/**
 * A file-system call slower than this took a round trip (`tookRoundTrip`): a local disk answers a
 * stat in a few µs (~2 here, ~5 with the JS around it), a file server in a network round trip (≥ 100 µs).
 */
const ROUND_TRIP_MS = 0.05;
let roundTripMs = ROUND_TRIP_MS;

/** Did a file-system call that took `ms` take a round trip (a file server)? */
export function tookRoundTrip(ms: number): boolean {
  return ms > roundTripMs;
}

/** Does a stat of `path` take a round trip (a file server)? Its answer is not kept: a probe. */
export function statTakesRoundTrip(path: string): boolean {
  const t = performance.now();
  try {
    statSync(path, { throwIfNoEntry: false });
  } catch {
    // timed all the same
  }
  return tookRoundTrip(performance.now() - t);
}

/** Tests: every file-system call a round trip (-1), none (Infinity), or back to ROUND_TRIP_MS (null). */
export function setRoundTripMsForTests(ms: number | null): void {
  roundTripMs = ms ?? ROUND_TRIP_MS;
}
/**
 * Answers of `statAhead` kept for their `stat`. A scan waits on at most STAT_AHEAD_PER_FOLDER for
 * the folder at its turn and STAT_LISTED_AHEAD for the folders listed ahead of it
 * (ScanIndex.statListedAhead), so none is dropped before its use (older ones, never used, go first).
 */
const STAT_AHEAD_KEPT = 8192;
export const STAT_AHEAD_PER_FOLDER = STAT_AHEAD_KEPT / 2;
export const STAT_LISTED_AHEAD = STAT_AHEAD_KEPT - STAT_AHEAD_PER_FOLDER;
const NO_IDENTITY: Buffer = Buffer.alloc(IDENTITY_BYTES);

/** The binding, once per process: 'unknown' until a path's stat agreed (or not) with fs.statSync's. */
let fastStat: { fn: BindingStat | null; trusted: 'unknown' | 'yes' | 'no' } | null = null;

/**
 * A stat's identity laid out as the index stores it, in one reused buffer: the hot loops of warm
 * runs (folder records' file checks) compare it with stored bytes without an
 * object per file. `bytes` holds the last one loaded.
 *
 * `stat(path)` is the hot loops' stat: a warm run of the bench library makes ~18,700 of them, and
 * fs.statSync's BigIntStats (26 BigInts and four Dates each) was ~2.5 µs of its ~4.5 µs a path and
 * most of the run's garbage. Its fast path reads Node's own stat binding instead (the numbers
 * statSync builds its object from; a warm validate's checks 87 → 62 ms). Like msgpackr's native
 * path: optional (`fast: false` turns it off: IMAGE_SIDECAR_FAST_STAT=off in the CLI), the
 * pure path always there, and trusted only after a path's stat gave the same kind and identity
 * both ways in this process (a Node whose binding lays its numbers out otherwise is caught there:
 * identity-fast-stat.test.ts); `fastUsed` says which one ran.
 */
export class IdentityScratch {
  private readonly words = new BigUint64Array(5);
  /** The same 40 bytes as u32 halves (loadFrom writes them: no BigInt made per stat). */
  private readonly halves = new Uint32Array(this.words.buffer);
  readonly bytes = Buffer.from(this.words.buffer);
  /** The binding's last array, and a u32 view of it (the binding fills one array again and again). */
  private boundArray: BigInt64Array | null = null;
  private boundHalves: Uint32Array | null = null;
  private readonly binding: BindingStat | null;
  /** The fast path answered at least one stat of this scratch. */
  fastUsed = false;
  /** Stats taken ahead (`statAhead`, `takesRoundTrip`), each answered once by `stat`: the path's kind and identity. */
  private readonly ahead = new Map<string, { kind: StatKind; id: Buffer; ahead: boolean }>();
  /** Answers taken ahead (`statAhead`) that a `stat` used. */
  aheadUsed = 0;

  constructor(opts: { fast?: boolean } = {}) {
    if (opts.fast === false) this.binding = null;
    else {
      fastStat ??= { fn: bindingStat(), trusted: 'unknown' };
      this.binding = fastStat.trusted === 'no' ? null : fastStat.fn;
    }
  }

  /** The size and ctime (ns) of the last identity loaded. */
  get size(): bigint {
    return this.words[2];
  }
  get ctimeNs(): bigint {
    return this.words[4];
  }

  // The last cutoff ctimeBefore was asked about, as u32 halves.
  private cutoffNs = -1n;
  private cutoffHi = 0;
  private cutoffLo = 0;

  /** The last identity's size as a number (a file's size is below 2^53), read by u32 halves: no BigInt made per file. */
  sizeNumber(): number {
    return LITTLE_ENDIAN_HOST ? this.halves[4] + this.halves[5] * TWO_32 : Number(this.words[2]);
  }

  /**
   * Is the last identity's ctime (as stored: u64 ns) before `cutoffNs`? Compared by u32 halves (the
   * racy cutoff's made once per cutoff): a first run asks it of every file it reads.
   */
  ctimeBefore(cutoffNs: bigint): boolean {
    if (!LITTLE_ENDIAN_HOST) return this.words[4] < cutoffNs;
    if (cutoffNs !== this.cutoffNs) {
      this.cutoffNs = cutoffNs;
      this.cutoffHi = Number(cutoffNs >> 32n);
      this.cutoffLo = Number(BigInt.asUintN(32, cutoffNs));
    }
    const h = this.halves;
    return h[9] < this.cutoffHi || (h[9] === this.cutoffHi && h[8] < this.cutoffLo);
  }

  /** Does the last identity `stat` loaded equal the 40 bytes at `at` of `buf`? */
  equals(buf: Uint8Array, at: number): boolean {
    return this.bytes.compare(buf, at, at + IDENTITY_BYTES) === 0;
  }

  /**
   * `equals` for the 40 bytes at word `at` of `words` (identities as 32-bit words, in the host's
   * order: the same bytes): ten comparisons in JS instead of Buffer.compare's checks and native
   * call (~0.6 µs of each of a warm run's ~18,700 checks).
   */
  equalsWords(words: Uint32Array, at: number): boolean {
    const h = this.halves;
    return (
      h[0] === words[at] && h[1] === words[at + 1] && h[2] === words[at + 2] && h[3] === words[at + 3] && h[4] === words[at + 4] &&
      h[5] === words[at + 5] && h[6] === words[at + 6] && h[7] === words[at + 7] && h[8] === words[at + 8] && h[9] === words[at + 9]
    );
  }

  /**
   * stat `path` (following links): what is there, its identity in `bytes` (unless STAT_NONE:
   * nothing there, or it could not be stat'ed).
   */
  stat(path: string): StatKind {
    const a = this.ahead.size === 0 ? undefined : this.ahead.get(path);
    if (a !== undefined) {
      this.ahead.delete(path);
      a.id.copy(this.bytes);
      if (a.ahead) this.aheadUsed++;
      return a.kind;
    }
    return this.statNow(path);
  }

  private statNow(path: string): StatKind {
    if (this.binding !== null && fastStat!.trusted === 'yes') return this.statFast(path);
    const kind = this.statPure(path);
    if (this.binding !== null && fastStat!.trusted === 'unknown' && kind !== STAT_NONE) this.check(path, kind);
    return kind;
  }

  /**
   * Does a stat of `path` take a round trip here (over ROUND_TRIP_MS: a file server, not a local
   * disk)? When it does, its answer is kept for the next `stat` of the path, as `statAhead`'s are
   * (a local one is cheaper taken again than kept: `stat` looks nothing up while none is kept).
   */
  takesRoundTrip(path: string): boolean {
    const t = performance.now();
    const kind = this.statNow(path);
    if (!tookRoundTrip(performance.now() - t)) return false;
    this.keep(path, kind, kind === STAT_NONE ? NO_IDENTITY : Buffer.from(this.bytes), false);
    return true;
  }

  private keep(path: string, kind: StatKind, id: Buffer, ahead: boolean): void {
    if (this.ahead.size >= STAT_AHEAD_KEPT) this.ahead.delete(this.ahead.keys().next().value!);
    this.ahead.set(path, { kind, id, ahead });
  }

  /**
   * stat `paths` (following links) ahead of their `stat` calls, many at once on libuv's threads:
   * on a file server each stat is a round trip, and the hot loops' one at a time left a warm run
   * waiting on ~18,700 of them in a row. Each answer is kept for one `stat` of its path (then
   * taken again as usual); at most STAT_AHEAD_KEPT are kept, the oldest dropped first. Resolves
   * when every answer is in; never rejects (a path that cannot be stat'ed is STAT_NONE, as `stat`
   * says).
   */
  statAhead(paths: readonly string[], signal?: AbortSignal): Promise<void> {
    type Answer = { kind: StatKind; id: Buffer };
    const none: Answer = { kind: STAT_NONE, id: NO_IDENTITY };
    return manyAtOnce<Answer>(
      paths,
      (path, done) => statAsync(path, { bigint: true }, (err, st) => done(err !== null ? none : { kind: st.isDirectory() ? STAT_DIR : st.isFile() ? STAT_FILE : STAT_OTHER, id: identityBytes(identityOf(st)) })),
      // A path fs.stat refuses (a NUL in it) is nothing there, as for `stat`.
      none,
      (path, a) => this.keep(path, a.kind, a.id, true),
      signal,
    );
  }

  /** Load `id` as if a stat had given it (a stat's fields: a BigIntStats will do). */
  load(st: FileIdentity): void {
    const w = this.words;
    w[0] = st.dev;
    w[1] = st.ino;
    w[2] = st.size;
    w[3] = st.mtimeNs;
    w[4] = st.ctimeNs;
  }

  private statPure(path: string): StatKind {
    let st: BigIntStats | undefined;
    try {
      st = statSync(path, { bigint: true, throwIfNoEntry: false });
    } catch {
      return STAT_NONE;
    }
    return st === undefined ? STAT_NONE : this.loadStats(st);
  }

  /** A pure stat's identity into `bytes`, and its kind. */
  private loadStats(st: BigIntStats): StatKind {
    this.load(st);
    return st.isDirectory() ? STAT_DIR : st.isFile() ? STAT_FILE : STAT_OTHER;
  }

  private statFast(path: string): StatKind {
    let v: BigInt64Array | undefined;
    try {
      // No NUL in `path` reaches here unchecked: the binding would stat the name up to it, where
      // statSync refuses the path (callers' paths come from NUL-separated lists or the walk).
      if (path.includes('\0')) return STAT_NONE;
      v = this.binding!(path, true, undefined, false);
    } catch {
      return STAT_NONE;
    }
    if (v === undefined) return STAT_NONE;
    this.fastUsed = true;
    return this.loadFrom(v);
  }

  /**
   * The binding's array into `bytes`: the identity's five fields and the kind. On a little-endian
   * host by u32 halves (timeNsHalves): reading a BigInt64Array makes a BigInt per field, ~8 ms of
   * garbage and arithmetic in the ~18,700 stats of a warm run.
   */
  private loadFrom(v: BigInt64Array): StatKind {
    if (!LITTLE_ENDIAN_HOST) return this.loadFromBigInts(v, 0);
    let u = this.boundHalves;
    if (this.boundArray !== v || u === null) {
      u = new Uint32Array(v.buffer, v.byteOffset, v.length * 2);
      this.boundArray = v;
      this.boundHalves = u;
    }
    return this.loadFields(v, u, 0);
  }

  /** The stat whose fields start at field `base` of `v` (`u`: its u32 halves, as the binding lays them out) into `bytes`: its identity, and its kind. */
  loadFields(v: BigInt64Array, u: Uint32Array, base: number): StatKind {
    if (!LITTLE_ENDIAN_HOST) return this.loadFromBigInts(v, base);
    const h = this.halves;
    const d = 2 * base;
    h[0] = u[d + 2 * F_DEV];
    h[1] = u[d + 2 * F_DEV + 1];
    h[2] = u[d + 2 * F_INO];
    h[3] = u[d + 2 * F_INO + 1];
    h[4] = u[d + 2 * F_SIZE];
    h[5] = u[d + 2 * F_SIZE + 1];
    timeNsHalves(u, base + F_MTIME_S, h, 6);
    timeNsHalves(u, base + F_CTIME_S, h, 8);
    const type = u[d + 2 * F_MODE] & S_IFMT;
    return type === S_IFDIR ? STAT_DIR : type === S_IFREG ? STAT_FILE : STAT_OTHER;
  }

  /** loadFields by BigInts (a big-endian host; the reference timeNsHalves is tested against). */
  private loadFromBigInts(v: BigInt64Array, base: number): StatKind {
    const w = this.words;
    w[0] = v[base + F_DEV];
    w[1] = v[base + F_INO];
    w[2] = v[base + F_SIZE];
    w[3] = timeNs(v, base + F_MTIME_S);
    w[4] = timeNs(v, base + F_CTIME_S);
    const type = Number(v[base + F_MODE]) & S_IFMT;
    return type === S_IFDIR ? STAT_DIR : type === S_IFREG ? STAT_FILE : STAT_OTHER;
  }

  /**
   * fstat the open descriptor `fd`: what it is, its identity in `bytes`. Throws as fs.fstatSync
   * throws. Node's fstat binding when this scratch may use a binding (`fast`) and it gave the
   * identity fs.fstatSync gave on a first descriptor (stat-binding.ts: one trust for every user
   * of the descriptor stat).
   */
  fstat(fd: number): StatKind {
    // A batch of one read: the reads' descriptor stat (BatchStats.sizeOf), one path and one trust.
    const one = (this.oneRead ??= new BatchStats({ fast: this.binding !== null }));
    one.slot = 0;
    one.sizeOf(fd);
    if (one.fastUsed) this.fastUsed = true;
    return one.loadInto(0, this);
  }
  private oneRead: BatchStats | null = null;

  /** The fast path trusted from now on when it gives `path` the kind and identity statSync just gave; never again in this process when not. */
  private check(path: string, kind: StatKind): void {
    const pure = Buffer.from(this.bytes);
    let same = false;
    try {
      same = this.statFast(path) === kind && this.bytes.equals(pure);
    } catch {
      same = false;
    }
    this.fastUsed = false;
    pure.copy(this.bytes);
    fastStat!.trusted = same ? 'yes' : 'no';
  }
}

/** Fields per read a `BatchStats` keeps: the length of Node's bigint stat array (a stat's 18 fields, then room for an lstat's). */
const BATCH_STRIDE = 36;
/** The fields an identity and its kind are made of: Node's stat array up to and with F_CTIME_NS. */
const IDENTITY_FIELDS = F_CTIME_NS + 1;

/**
 * The stats of one batch's reads, by item (tasks/inspect.ts reads every file of a batch, then makes
 * the batch's index entries): each read's fstat kept as the binding gave it, by one copy of its array,
 * and made an identity (`loadInto`) only for the entry made of it. An identity taken at each read
 * (IdentityScratch.fstat), then copied out by item and back for its entry, was ~1/3 of a first run's
 * extra CPU on the reading threads beside the entries themselves.
 * The one descriptor stat of reads and index identities (IdentityScratch.fstat is a batch of one):
 * the binding once it gave what fs.fstatSync gives (stat-binding.ts checkFstat, one trust with the
 * reads' sizes), fs.fstatSync (bigint) before and with `fast: false`.
 */
export class BatchStats {
  private fields = new BigInt64Array(64 * BATCH_STRIDE);
  private halves = new Uint32Array(this.fields.buffer);
  private readonly fast: boolean;
  /** The item the next read (`sizeOf`) is of. */
  slot = 0;
  /** The binding answered at least one read. */
  fastUsed = false;

  constructor(opts: { fast?: boolean } = {}) {
    this.fast = opts.fast !== false;
  }

  /** Room for a batch of `n` reads. */
  begin(n: number): void {
    if (this.fields.length < n * BATCH_STRIDE) {
      this.fields = new BigInt64Array(n * BATCH_STRIDE);
      this.halves = new Uint32Array(this.fields.buffer);
    }
  }

  /** A read's stat of its descriptor (read-file.ts readFileSizedSync) kept for item `slot`: the size of a regular file, -1 for anything else. Throws as fs.fstatSync throws. */
  readonly sizeOf = (fd: number): number => {
    const state = this.fast ? fstatBinding() : null;
    const base = this.slot * BATCH_STRIDE;
    if (state !== null && state.trusted === 'yes') {
      const v = state.fn!(fd, true, undefined, false);
      this.fastUsed = true;
      const f = this.fields;
      if (v.length === BATCH_STRIDE) f.set(v, base);
      else for (let k = 0; k < IDENTITY_FIELDS; k++) f[base + k] = v[k];
      if (!LITTLE_ENDIAN_HOST) return (Number(v[F_MODE]) & S_IFMT) === S_IFREG ? Number(v[F_SIZE]) : -1;
      const u = this.halves;
      return (u[2 * (base + F_MODE)] & S_IFMT) === S_IFREG ? u[2 * (base + F_SIZE)] + u[2 * (base + F_SIZE) + 1] * TWO_32 : -1;
    }
    const st = fstatSync(fd, { bigint: true });
    this.keep(st, base);
    if (state !== null && state.trusted === 'unknown' && state.fn !== null) checkFstat(state, fd);
    return st.isFile() ? Number(st.size) : -1;
  };

  /** A file read elsewhere (fs/read-ahead.ts) kept for item `slot`: the stat of the descriptor it was read through. */
  keepRead(st: BigIntStats): void {
    this.keep(st, this.slot * BATCH_STRIDE);
  }

  /** fs.fstatSync's fields laid out as the binding's (times as seconds and ns: floored, as the binding's are). */
  private keep(st: BigIntStats, base: number): void {
    const f = this.fields;
    f[base + F_DEV] = st.dev;
    f[base + F_MODE] = st.mode;
    f[base + F_INO] = st.ino;
    f[base + F_SIZE] = st.size;
    setTimeNs(f, base + F_MTIME_S, st.mtimeNs);
    setTimeNs(f, base + F_CTIME_S, st.ctimeNs);
  }

  /** Item `i`'s read (its `sizeOf`) into `id`: the identity of exactly the bytes read, and what was read. */
  loadInto(i: number, id: IdentityScratch): StatKind {
    return id.loadFields(this.fields, this.halves, i * BATCH_STRIDE);
  }

  /** The kept stats of items 0 to n − 1 as bytes (the binding's layout, `stride` i64 fields an item): what the WebAssembly entry writer reads. */
  rows(n: number): { bytes: Uint8Array; stride: number } {
    return { bytes: new Uint8Array(this.fields.buffer, 0, n * BATCH_STRIDE * 8), stride: BATCH_STRIDE };
  }
}

/**
 * Whether the per-file stat calls can take the fast path in this process (`doctor`): the warm
 * checks' stat and the reads' fstat; when nothing has decided it yet, this module's own file is
 * stat'ed both ways.
 */
export function fastStatStatus(): { available: boolean; reason?: string } {
  fastStat ??= { fn: bindingStat(), trusted: 'unknown' };
  if (fastStat.fn === null) return { available: false, reason: "no process.binding('fs').stat here, or --pending-deprecation" };
  const self = fileURLToPath(import.meta.url);
  if (fastStat.trusted === 'unknown') new IdentityScratch().stat(self);
  if (fastStat.trusted !== 'yes') return { available: false, reason: "Node's stat binding disagreed with fs.statSync" };
  return fstatStatus(self).available ? { available: true } : { available: false, reason: "Node's fstat binding disagreed with fs.fstatSync, or is missing" };
}

/** Tests: forget whether the bindings were trusted (so that a test can make them be checked again, or refuse them); `fn` replaces the stat binding. */
export function resetFastStatForTests(state: 'unknown' | 'no' | 'yes' = 'unknown', fn?: BindingStat | null): void {
  fastStat = { fn: fn === undefined ? bindingStat() : fn, trusted: state };
  resetFstatForTests(state);
}

/**
 * A file's identity as text (dev, ino, size, mtime and ctime in ns; links followed), or null when
 * it cannot be stat'ed: any change to the file, or another file put in its place, changes it.
 */
export function fileStamp(path: string): string | null {
  try {
    const st = statSync(path, { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return null;
  }
}
