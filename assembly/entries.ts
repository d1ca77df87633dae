/**
 * A batch's index entries (AssemblyScript → WebAssembly; src/tasks/entry-writer.ts loads it).
 *
 * The bytes src/tasks/index-entry.ts fileEntry makes for a row of a packed batch (entry-format.ts
 * beginFileEntry / sealFileEntry around inspect-wire.ts packRowAt), for every row of the batch in one
 * call: a first run's reading threads made them at ~10 µs a file in V8's baseline tier, where all
 * per-file JavaScript stays under the raised interrupt budget (src/tuning.ts INTERRUPT_BUDGET).
 *
 * A row gets one of three verdicts (kinds[i]):
 *   KIND_NONE      no entry: not read through a kept stat, or a result that may not be stored (its
 *                  status, a racy ctime, a size that changed between the stat and the read);
 *   KIND_WRITTEN   its entry ends at ends[i] in the output;
 *   KIND_DEFER     the JavaScript path decides it: a field without a column (F_EXTRA), notes, a path
 *                  not plainly under the root, a string that cannot be held, a result or key too
 *                  long. This module only writes what it is sure of.
 *
 * Memory (no allocator: --runtime stub): the CRC tables in the data segment, then what the caller
 * lays out from `heapBase()` (a parameter block of i32 words, the batch's columns, the output).
 */

// The parameter block's words (src/tasks/entry-writer.ts writes them in this order).
const P_N = 0;
const P_CODES = 1; // u16 per row
const P_NUMS = 2; // f64 × 3 per row: size, elapsedMs, brief.detectionCount
const P_STRS = 3; // i32 × 2 per row: brief strings
const P_READ = 4; // u8 per row: read through a kept stat
const P_STATS = 5; // i64 × P_STRIDE per row: the stat binding's fields
const P_STRIDE = 6;
const P_PATHS = 7; // each row's path in UTF-8, then a 0 byte
const P_PREFIX = 8; // the root with its trailing separator, UTF-8
const P_PREFIX_LEN = 9;
const P_STR_AT = 10; // i32 per string id: its held bytes' offset from P_STR_BYTES, or -1 (cannot be held)
const P_STR_BYTES = 11; // held strings: u16 length, UTF-8
const P_SUMMARIES = 12; // 1 when the summary columns below are given
const P_SNUMS = 13;
const P_SSTRS = 14;
const P_SBITS = 15;
const P_OP_START = 16;
const P_CLASS_START = 17;
const P_OP_NAME = 18;
const P_OP_TIME = 19;
const P_OP_SUCCESS = 20;
const P_OP_SIZE = 21;
const P_CLASS_NAME = 22;
const P_CLASS_COUNT = 23;
const P_KEY_NO = 24;
const P_WITH_KEYS = 25;
const P_OUT = 26;
const P_ENDS = 27; // u32 per row: the end of its entry from P_OUT (the previous end when it has none)
const P_KINDS = 28; // u8 per row
const P_CUTOFF_LO = 29; // the racy cutoff, ns, as u32 halves (CUTOFF_COMPARE)
const P_CUTOFF_HI = 30;
const P_ROOM = 31; // PACKED_RESULT_ROOM
const P_PATHS_LEN = 32; // the bytes at P_PATHS: as many 0 bytes as rows, else the batch is refused
const P_OUT_WRITTEN = 33; // out: rows written
const P_OUT_DEFERRED = 34; // out: rows deferred
const P_CUTOFF_MODE = 35; // how a ctime meets the cutoff (below)
export const PARAM_WORDS: i32 = 36;

// The racy cutoff is a BigInt in JavaScript (index-entry.ts isTrusted): any ns, negative or past 2^64.
const CUTOFF_COMPARE: u32 = 0; // in [0, 2^64): a ctime (u64) before it passes
const CUTOFF_ALL: u32 = 1; // 2^64 or more: every ctime is before it
const CUTOFF_NONE: u32 = 2; // below 0: no ctime is

export const KIND_NONE: u8 = 0;
export const KIND_WRITTEN: u8 = 1;
export const KIND_DEFER: u8 = 2;

// inspect-wire.ts codes: status in the low 3 bits, flags above.
const STATUS_MASK: i32 = 7;
const ST_CORRUPT: i32 = 1;
const ST_UNREADABLE: i32 = 2;
const ST_UNCHECKED: i32 = 3;
const ST_ENCRYPTED: i32 = 4;
const F_NOTES_EMPTY: i32 = 1 << 11;
const F_BRIEF: i32 = 1 << 13;
const F_SUMMARY: i32 = 1 << 14;
const F_EXTRA: i32 = 1 << 15;
const NULL_STR: u16 = 0xffff;
const PACKED_RESULT_TAG: u8 = 0x01;

// entry-format.ts: an entry's head (u32 length, u32 CRC, u8 table, u16 key length), identity, one-result head.
const ENTRY_HEAD: usize = 11;
const IDENTITY_BYTES: usize = 40;
const ONE_RESULT_HEAD: usize = 7;
const TABLE_FILES: u8 = 0;
const MAX_KEY_BYTES: usize = 0xffff;

// stat-binding.ts: the fields of a stat (i64 each).
const F_DEV: usize = 0;
const F_INO: usize = 7;
const F_SIZE: usize = 8;
const F_MTIME_S: usize = 12;
const F_CTIME_S: usize = 14;

const SLASH: u8 = 0x2f;
const DOT: u8 = 0x2e;

// CRC-32 (zlib's: reflected, 0xEDB88320), slicing by 8: 8 tables of 256 words.
const CRC_TABLES: usize = memory.data(8 * 256 * 4, 16);
let crcReady = false;

// @ts-ignore: decorator
@inline function crcT(k: u32): u32 {
  return load<u32>(CRC_TABLES + (<usize>k << 2));
}

function initCrc(): void {
  for (let i: u32 = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    store<u32>(CRC_TABLES + (<usize>i << 2), c);
  }
  for (let i: u32 = 0; i < 256; i++) {
    let c = crcT(i);
    for (let t: u32 = 1; t < 8; t++) {
      c = crcT(c & 0xff) ^ (c >>> 8);
      store<u32>(CRC_TABLES + (<usize>(t * 256 + i) << 2), c);
    }
  }
  crcReady = true;
}

function crc32(from: usize, len: usize): u32 {
  let c: u32 = 0xffffffff;
  let p = from;
  const end = from + len;
  while (p + 8 <= end) {
    const a = load<u32>(p) ^ c;
    const b = load<u32>(p + 4);
    c =
      crcT(7 * 256 + (a & 0xff)) ^ crcT(6 * 256 + ((a >>> 8) & 0xff)) ^ crcT(5 * 256 + ((a >>> 16) & 0xff)) ^ crcT(4 * 256 + (a >>> 24)) ^
      crcT(3 * 256 + (b & 0xff)) ^ crcT(2 * 256 + ((b >>> 8) & 0xff)) ^ crcT(256 + ((b >>> 16) & 0xff)) ^ crcT(b >>> 24);
    p += 8;
  }
  while (p < end) {
    c = crcT((c ^ load<u8>(p)) & 0xff) ^ (c >>> 8);
    p++;
  }
  return c ^ 0xffffffff;
}

/** CRC-32 of `len` bytes at `from` (tests hold it equal to zlib's). */
export function crc(from: usize, len: i32): u32 {
  if (!crcReady) initCrc();
  return crc32(from, <usize>len);
}

/** Where the caller's memory starts (after the data segment), 16-aligned. */
export function heapBase(): usize {
  return (__heap_base + 15) & ~(<usize>15);
}

/** Grow the memory to hold `bytes` from heapBase(); false when it cannot. */
export function reserve(bytes: i32): bool {
  const need = heapBase() + <usize>bytes;
  const have = <usize>memory.size() << 16;
  if (need <= have) return true;
  return memory.grow(<i32>((need - have + 0xffff) >> 16)) >= 0;
}

// The parameter block of the current call, and the packed result being written.
let params: usize = 0;
let packAt: usize = 0;
let packEnd: usize = 0;

// @ts-ignore: decorator
@inline function param(k: i32): usize {
  return <usize>load<u32>(params + (<usize>k << 2));
}

/** A stat time as stored: seconds × 10^9 + ns, modulo 2^64 (identity.ts timeNsHalves). */
function timeNs(stat: usize, secondsField: usize): u64 {
  return load<u64>(stat + (secondsField << 3)) * 1_000_000_000 + <u64>load<u32>(stat + ((secondsField + 1) << 3));
}

function putU16(v: i32): bool {
  if (v > 0xffff || packAt + 2 > packEnd) return false;
  store<u16>(packAt, <u16>v);
  packAt += 2;
  return true;
}

function putF64(v: f64): bool {
  if (packAt + 8 > packEnd) return false;
  store<f64>(packAt, v);
  packAt += 8;
  return true;
}

/** A string of the batch by id (-1: null), as packRowAt's putRowStr puts it. */
function putStr(id: i32): bool {
  if (id < 0) return putU16(NULL_STR);
  const at = load<i32>(param(P_STR_AT) + (<usize>id << 2));
  if (at < 0) return false;
  const from = param(P_STR_BYTES) + <usize>at;
  const len: usize = 2 + <usize>load<u16>(from);
  if (packAt + len > packEnd) return false;
  memory.copy(packAt, from, len);
  packAt += len;
  return true;
}

/** inspect-wire.ts packRowAt for row `i` (summary row `j`) at `at`, up to `end`: where it ends, or 0 when it cannot. */
function packRow(i: usize, j: usize, code: i32, at: usize, end: usize): usize {
  packAt = at;
  packEnd = end;
  store<u8>(packAt++, PACKED_RESULT_TAG);
  const nums = param(P_NUMS) + i * 24;
  if (!putU16(code) || !putF64(load<f64>(nums)) || !putF64(load<f64>(nums + 8))) return 0;
  if (code & F_BRIEF) {
    const strs = param(P_STRS) + (i << 3);
    if (!(putF64(load<f64>(nums + 16)) && putStr(load<i32>(strs)) && putStr(load<i32>(strs + 4)))) return 0;
  }
  if (code & F_SUMMARY) {
    if (param(P_SUMMARIES) == 0) return 0;
    const sn = param(P_SNUMS) + j * 40;
    if (!(putF64(load<f64>(sn)) && putF64(load<f64>(sn + 8)) && putF64(load<f64>(sn + 16)) && putF64(load<f64>(sn + 24)) && putF64(load<f64>(sn + 32)))) return 0;
    const ss = param(P_SSTRS) + j * 12;
    if (!(putStr(load<i32>(ss)) && putStr(load<i32>(ss + 4)) && putStr(load<i32>(ss + 8)))) return 0;
    if (packAt + 1 > packEnd) return 0;
    store<u8>(packAt++, load<u8>(param(P_SBITS) + j));
    const opStart = param(P_OP_START) + (j << 2);
    const from = load<u32>(opStart);
    const to = load<u32>(opStart + 4);
    if (to < from || !putU16(<i32>(to - from))) return 0;
    for (let k = <usize>from; k < <usize>to; k++) {
      if (!(putStr(load<i32>(param(P_OP_NAME) + (k << 2))) && putF64(load<f64>(param(P_OP_TIME) + (k << 3))) && packAt + 1 <= packEnd)) return 0;
      store<i8>(packAt++, load<i8>(param(P_OP_SUCCESS) + k));
      if (!putF64(load<f64>(param(P_OP_SIZE) + (k << 3)))) return 0;
    }
    const classStart = param(P_CLASS_START) + (j << 2);
    const cFrom = load<u32>(classStart);
    const cTo = load<u32>(classStart + 4);
    if (cTo < cFrom || !putU16(<i32>(cTo - cFrom))) return 0;
    for (let k = <usize>cFrom; k < <usize>cTo; k++) {
      if (!(putStr(load<i32>(param(P_CLASS_NAME) + (k << 2))) && putF64(load<f64>(param(P_CLASS_COUNT) + (k << 3))))) return 0;
    }
  }
  return packAt;
}

/**
 * May the result in row `i` be stored (index-entry.ts isTrusted, for a row without extras: its status, a
 * ctime before the racy cutoff, the size read equal to the size the stat saw)?
 */
function trusted(code: i32, stat: usize, size: f64): bool {
  const status = code & STATUS_MASK;
  if (status == ST_UNREADABLE || status == ST_UNCHECKED || status == ST_ENCRYPTED) return false;
  if (param(P_WITH_KEYS) != 0 && status == ST_CORRUPT) return false;
  const mode = <u32>param(P_CUTOFF_MODE);
  if (mode == CUTOFF_NONE) return false;
  if (mode != CUTOFF_ALL) {
    const cutoff = (<u64>load<u32>(params + (<usize>P_CUTOFF_HI << 2)) << 32) | <u64>load<u32>(params + (<usize>P_CUTOFF_LO << 2));
    if (!(timeNs(stat, F_CTIME_S) < cutoff)) return false;
  }
  return <f64>load<u64>(stat + (F_SIZE << 3)) == size;
}

/**
 * The batch's entries, from the parameter block at `paramsAt`: each row's verdict in kinds, its
 * end in ends, the entries one after another from P_OUT (room for rows × (the most an entry's head,
 * key and identity take + P_ROOM)). Returns the bytes written, or -1 when the paths are not one a row.
 */
export function writeEntries(paramsAt: usize): i32 {
  if (!crcReady) initCrc();
  params = paramsAt;
  const n = param(P_N);
  // One path a row: a path holding a 0 byte would shift every key after it.
  let zeros: usize = 0;
  const pathsEnd = param(P_PATHS) + param(P_PATHS_LEN);
  for (let p = param(P_PATHS); p < pathsEnd; p++) if (load<u8>(p) == 0) zeros++;
  if (zeros != n || (n > 0 && load<u8>(pathsEnd - 1) != 0)) return -1;
  const codes = param(P_CODES);
  const read = param(P_READ);
  const stride = param(P_STRIDE) << 3;
  const prefix = param(P_PREFIX);
  const prefixLen = param(P_PREFIX_LEN);
  const out = param(P_OUT);
  const ends = param(P_ENDS);
  const kinds = param(P_KINDS);
  const room = param(P_ROOM);
  const keyNo = <u16>param(P_KEY_NO);
  let path = param(P_PATHS);
  let at = out;
  let j: usize = 0;
  let written: u32 = 0;
  let deferred: u32 = 0;
  for (let i: usize = 0; i < n; i++) {
    const code = <i32>load<u16>(codes + (i << 1));
    // This row's path: up to its 0 byte.
    let pathEnd = path;
    while (load<u8>(pathEnd) != 0) pathEnd++;
    let kind = KIND_NONE;
    if (load<u8>(read + i) != 0) {
      const stat = param(P_STATS) + i * stride;
      if (code & F_EXTRA) kind = KIND_DEFER;
      else if (trusted(code, stat, load<f64>(param(P_NUMS) + i * 24))) {
        kind = KIND_DEFER;
        const end = (code & F_NOTES_EMPTY) != 0 ? writeEntry(i, j, code, stat, path, pathEnd, prefix, prefixLen, keyNo, at, room) : 0;
        if (end != 0) {
          kind = KIND_WRITTEN;
          at = end;
        }
      }
    }
    if (kind == KIND_WRITTEN) written++;
    else if (kind == KIND_DEFER) deferred++;
    store<u8>(kinds + i, kind);
    store<u32>(ends + (i << 2), <u32>(at - out));
    if (code & F_SUMMARY) j++;
    path = pathEnd + 1;
  }
  store<u32>(params + (<usize>P_OUT_WRITTEN << 2), written);
  store<u32>(params + (<usize>P_OUT_DEFERRED << 2), deferred);
  return <i32>(at - out);
}

/** Row `i`'s entry at `at` (relativeTo's prefix cut for its key); where it ends, or 0 when the JavaScript path must decide. */
function writeEntry(i: usize, j: usize, code: i32, stat: usize, path: usize, pathEnd: usize, prefix: usize, prefixLen: usize, keyNo: u16, at: usize, room: usize): usize {
  // rel-path.ts relativeTo: a path under the prefix with no part starting with '.' is cut; any other takes path.relative.
  if (<usize>(pathEnd - path) < prefixLen || memory.compare(path, prefix, prefixLen) != 0) return 0;
  for (let p = path; p + 1 < pathEnd; p++) if (load<u8>(p) == SLASH && load<u8>(p + 1) == DOT) return 0;
  const key = path + prefixLen;
  const keyLen = pathEnd - key;
  if (keyLen > MAX_KEY_BYTES) return 0;
  let p = at + ENTRY_HEAD;
  memory.copy(p, key, keyLen);
  p += keyLen;
  store<u64>(p, load<u64>(stat + (F_DEV << 3)));
  store<u64>(p + 8, load<u64>(stat + (F_INO << 3)));
  store<u64>(p + 16, load<u64>(stat + (F_SIZE << 3)));
  store<u64>(p + 24, timeNs(stat, F_MTIME_S));
  store<u64>(p + 32, timeNs(stat, F_CTIME_S));
  p += IDENTITY_BYTES;
  store<u8>(p, 1);
  store<u16>(p + 1, keyNo);
  const r = p + ONE_RESULT_HEAD;
  const end = packRow(i, j, code, r, r + room);
  if (end == 0) return 0;
  store<u32>(r - 4, <u32>(end - r));
  store<u32>(at, <u32>(end - at));
  store<u8>(at + 8, TABLE_FILES);
  store<u16>(at + 9, <u16>keyLen);
  store<u32>(at + 4, crc32(at + 8, end - at - 8));
  return end;
}
