/**
 * Our CBOR codec: the subset of RFC 8949 that carries JSON values, plus RFC 8746 tag 86
 * (float64 little-endian typed array) for number arrays such as embeddings.
 *
 * Encoder: writes into one shared, growing scratch buffer (no per-value allocations), numbers
 * as CBOR ints when they are safe integers and as float64 otherwise, arrays of >= 4 numbers
 * holding a non-integer (or -0) as one tag-86 block. Recursive with a depth counter; the
 * caller (codec.ts) turns a stack overflow under absurd limits into TOO_DEEP.
 *
 * Decoder: module-level cursor state for speed, every length checked against the bytes that
 * remain before anything is allocated or looped over, explicit depth counter, short strings
 * cached (repeated keys such as "x", "y", "confidence" are not decoded again), tag-86 payloads
 * copied straight out of the buffer. Anything outside the subset is CORRUPT with the byte
 * offset of the offending item.
 */
import { isIndexKey, noteKeyOrder, orderedKeys } from './key-order.js';
import { errors, SidecarError } from '../errors.js';
import type { JsonObject, JsonValue } from '../types.js';
import { exactInt, isFloatValue, MAX_INT_DIGITS, noteFloat, noteInt, notesOf, validNote, type NumberNote, type NumberNotes } from './numbers.js';
import { findInvalidUtf8, findPointer, hasLoneSurrogate, nativeIsWellFormed, utf8Length } from './value.js';
import { LITTLE_ENDIAN_HOST } from '../byte-order.js';

/** RFC 8746: float64, little endian, typed array. */
export const TAG_FLOAT64_LE = 86;
/** RFC 8949 bignums: unsigned (2) and negative (3) integers beyond 64 bits. */
export const TAG_POSITIVE_BIGNUM = 2;
export const TAG_NEGATIVE_BIGNUM = 3;
/** Arrays of floats at least this long become tag-86 blocks. */
export const FLOAT_BLOCK_MIN_LENGTH = 4;
/** Bignum payloads longer than this cannot hold an int of MAX_INT_DIGITS digits: CORRUPT. */
const MAX_BIGNUM_BYTES = Math.ceil((MAX_INT_DIGITS * Math.log2(10)) / 8) + 1;
const TWO_POW_64 = 1n << 64n;

const TWO_POW_32 = 0x100000000;

/** Size of a CBOR head (initial byte + argument) for a non-negative argument. */
export function headSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < TWO_POW_32 ? 5 : 9;
}

/** Numbers written as CBOR ints: safe integers except -0 (which needs a float to keep its sign). */
function isCborInt(v: number): boolean {
  return Number.isSafeInteger(v) && (v !== 0 || 1 / v > 0);
}

/** True when the number at a[i] is a float (numbers.ts). */
function isFloatAt(x: number, notes: NumberNotes | undefined, i: number): boolean {
  if (!Number.isInteger(x) && x - x === 0) return true; // a finite fraction
  // Whole values, and ±Infinity (an int beyond the double range when it has an int note).
  return isFloatValue(x, notes === undefined ? undefined : validNote(notes, i, x));
}

/**
 * Arrays a decoder built from a float block (tag 86 here, a float-only run on the JSON tape in
 * accel/skeleton.ts): every element is a float, so binEncodedSize need not look at each one (an
 * embedding is 512 of them; checking them was most of what sizing a sidecar cost). The CBOR
 * decoder marks only inside `withFloatBlockMarks` — the inspect task, which sizes the data before
 * anyone could change it — so data handed to callers (readSidecar, keepData) carries no mark.
 */
const decodedFloatBlocks = new WeakSet<readonly unknown[]>();
/** What the decoder makes of a float block: 0 a plain array, 1 a marked one, 2 a marked stand-in, 3 a vector (withFloatBlocks 'vectors'). */
let floatBlockMode: 0 | 1 | 2 | 3 = 0;
/** In mode 'vectors', blocks of at least this many floats (embeddings: 128, 512) become FloatBlockRefs; shorter ones (boxes, points) stay arrays. */
export const VECTOR_BLOCK_MIN_LENGTH = 16;

/** Record that every element of `a` is a float (a decoder's knowledge; see decodedFloatBlocks). */
export function markFloatBlock(a: readonly number[]): void {
  decodedFloatBlocks.add(a);
}

/**
 * Was `a` built by a decoder from a float block (so every element is a finite float)? Only data
 * decoded inside `withFloatBlockMarks`, and the skeleton's stand-ins, can answer yes.
 */
export function isDecodedFloatBlock(a: readonly unknown[]): boolean {
  return decodedFloatBlocks.has(a);
}

/**
 * Run `fn` with the CBOR decoder marking the float blocks it builds: for a decode whose data is
 * analysed (sized, checked by the rules) before anything could change it and never handed out.
 */
export function withFloatBlockMarks<T>(fn: () => T): T {
  return withFloatBlocks('mark', fn);
}

/**
 * Run `fn` with the CBOR decoder making float blocks into marked arrays (`mark`); into FloatBlockRefs
 * (`vectors`, blocks of VECTOR_BLOCK_MIN_LENGTH floats or more: the data is then no longer plain
 * JSON, so only for a reader made for it — export's embeddings, whose float32 rows come from the
 * block's bytes without an array of doubles in between); or into shared
 * stand-ins (`stand-ins`): of the same length, all 0.5, or -0.5 first when some element is below
 * zero — what the summary and the rules may observe of a float array, as the JSON skeleton's
 * stand-ins (accel/skeleton.ts) keep it; the values are still checked (finite). No array of
 * doubles is built: for validate and stats of bin files, that was most of what decoding allocated.
 * Stand-ins only for data analysed and dropped in the inspect task, which decodes again without
 * them when a rule finds any problem (a message may quote a value).
 */
export function withFloatBlocks<T>(mode: 'mark' | 'stand-ins' | 'vectors', fn: () => T): T {
  const prior = floatBlockMode;
  floatBlockMode = mode === 'mark' ? 1 : mode === 'stand-ins' ? 2 : 3;
  try {
    return fn();
  } finally {
    floatBlockMode = prior;
  }
}

/**
 * Encoded sizes the decoder saw (stats' sizes without a second walk): in either mode of
 * `withFloatBlocks`, each map and array among the root's values (where operations are, in every
 * form but a wrapped whole sidecar: analysis/operations.ts) gets its byte span recorded when every
 * item in it was written as our encoder writes it — then the span is exactly what binEncodedSize
 * computes: shortest heads, floats as float64, runs of >= 4 floats as tag-86 blocks, no bignums,
 * no aligned padding. Anything else (a float16, a padded block of the .rkyv layout, a plain array
 * of floats) leaves that container unrecorded, and binEncodedSize walks it. The record holds the
 * last such decode of this thread only (a few entries; one file's data kept alive at most).
 */
const sizedValues: object[] = [];
const sizedBytes: number[] = [];
/** Items decoded so far that our encoder would have written otherwise (see sizedValues). */
let offEncoder = 0;

/**
 * The exact size of `value`'s bin encoding (binEncodedSize): from the decoder's record when it
 * decoded this container (see sizedValues), else by walking it.
 */
export function encodedSize(value: JsonValue): number {
  if (typeof value === 'object' && value !== null) {
    for (let i = 0; i < sizedValues.length; i++) if (sizedValues[i] === value) return sizedBytes[i];
  }
  return binEncodedSize(value);
}


/**
 * For a decoder of another format that sizes what it builds by this file's rules (the JSON
 * skeleton, accel/skeleton.ts): forget the sizes recorded so far, then record the root's values
 * as they are built (`recordEncodedSize`: the exact binEncodedSize of `value`).
 */
export function clearEncodedSizes(): void {
  sizedValues.length = 0;
  sizedBytes.length = 0;
}

/** Record `bytes` as the exact encoded size of `value` (see sizedValues). */
export function recordEncodedSize(value: object, bytes: number): void {
  sizedValues.push(value);
  sizedBytes.push(bytes);
}

/** Size of a run of `n` floats as the encoder writes it: a tag-86 block from FLOAT_BLOCK_MIN_LENGTH on, else an array of float64 items. */
export function floatRunSize(n: number): number {
  return n >= FLOAT_BLOCK_MIN_LENGTH ? 2 + headSize(n * 8) + n * 8 : headSize(n) + 9 * n;
}

/** Stand-ins per length and sign; longer runs get a fresh one. Shared: read-only by contract. */
const floatStandIns = [new Map<number, readonly number[]>(), new Map<number, readonly number[]>()];
const CACHED_STAND_IN_MAX = 4096;
function floatStandIn(n: number, negative: 0 | 1): number[] {
  let run = n <= CACHED_STAND_IN_MAX ? floatStandIns[negative].get(n) : undefined;
  if (run === undefined) {
    const a: number[] = [];
    for (let k = 0; k < n; k++) a.push(k === 0 && negative ? -0.5 : 0.5);
    decodedFloatBlocks.add(a);
    run = a;
    if (n <= CACHED_STAND_IN_MAX) floatStandIns[negative].set(n, run);
  }
  return run as number[];
}

/** An array written as one tag-86 block: >= 4 elements, every one a float. */
function isFloatBlock(a: readonly unknown[]): boolean {
  const n = a.length;
  if (n < FLOAT_BLOCK_MIN_LENGTH) return false;
  if (decodedFloatBlocks.has(a)) return true;
  const notes = notesOf(a);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    if (typeof x !== 'number' || !isFloatAt(x, notes, i)) return false;
  }
  return true;
}

/** Size of a number item as the encoder writes it. */
export function numberSize(v: number, note: NumberNote | undefined): number {
  if (note === undefined && isCborInt(v)) return headSize(v >= 0 ? v : -1 - v);
  if (isFloatValue(v, note)) return 9;
  const b = exactInt(v, note);
  const m = b < 0n ? -1n - b : b;
  if (m < TWO_POW_64) return m < 2n ** 32n ? headSize(Number(m)) : 9;
  const len = bignumBytes(m).length;
  return 1 + headSize(len) + len;
}

/** Big-endian magnitude bytes of a non-negative bigint (no leading zero byte). */
function bignumBytes(m: bigint): Buffer {
  let hex = m.toString(16);
  if (hex.length % 2 === 1) hex = '0' + hex;
  return Buffer.from(hex, 'hex');
}

// ---------------------------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------------------------

/** Why a value cannot be encoded; caught in encodeCborInto and turned into UNREPRESENTABLE. */
type Problem = 'lone-surrogate' | 'non-finite' | 'not-json' | 'block-too-long';
class EncodeProblem {
  constructor(readonly problem: Problem) {}
}

const INITIAL_SCRATCH = 64 * 1024;
/** Scratch buffers above this size are dropped after use instead of being kept around. */
const KEEP_SCRATCH_MAX = 4 * 1024 * 1024;

let out: Buffer;
let outView: DataView;
let outF64: Float64Array;
let cap = 0;
let pos = 0;
let encMaxDepth = 0;
let encAlign = false;

function allocScratch(size: number): void {
  // Own ArrayBuffer so that scratch offset 0 is 8-byte aligned (Float64Array fast path).
  const ab = new ArrayBuffer(size);
  out = Buffer.from(ab);
  outView = new DataView(ab);
  outF64 = new Float64Array(ab, 0, size >>> 3);
  cap = size;
}
allocScratch(INITIAL_SCRATCH);

function grow(need: number): void {
  let size = cap * 2;
  while (size < need) size *= 2;
  const old = out;
  allocScratch(size);
  old.copy(out, 0, 0, pos);
}

function ensure(n: number): void {
  if (pos + n > cap) grow(pos + n);
}

/** Write a head; the caller has ensured 9 bytes of room. */
function writeHead(major: number, n: number): void {
  const m = major << 5;
  if (n < 24) {
    out[pos++] = m | n;
  } else if (n < 0x100) {
    out[pos++] = m | 24;
    out[pos++] = n;
  } else if (n < 0x10000) {
    out[pos++] = m | 25;
    out[pos++] = n >>> 8;
    out[pos++] = n & 0xff;
  } else if (n < TWO_POW_32) {
    out[pos++] = m | 26;
    outView.setUint32(pos, n);
    pos += 4;
  } else {
    out[pos++] = m | 27;
    outView.setUint32(pos, Math.floor(n / TWO_POW_32));
    outView.setUint32(pos + 4, n >>> 0);
    pos += 8;
  }
}

/** A number with its type (numbers.ts): ints as CBOR ints or bignums, floats as float64. */
function writeNumber(v: number, note: NumberNote | undefined): void {
  ensure(9);
  if (note === undefined && isCborInt(v)) {
    if (v >= 0) writeHead(0, v);
    else writeHead(1, -1 - v);
    return;
  }
  if (isFloatValue(v, note)) {
    if (v - v !== 0) throw new EncodeProblem('non-finite'); // NaN, +-Infinity
    out[pos++] = 0xfb;
    outView.setFloat64(pos, v);
    pos += 8;
    return;
  }
  writeBigInt(exactInt(v, note));
}

/** An int beyond 2^53: uint64 / negint when it fits in 64 bits, else a tag 2 / 3 bignum. */
function writeBigInt(b: bigint): void {
  const negative = b < 0n;
  const m = negative ? -1n - b : b;
  if (m < TWO_POW_64) {
    ensure(9);
    if (m < 2n ** 32n) {
      writeHead(negative ? 1 : 0, Number(m));
      return;
    }
    out[pos++] = ((negative ? 1 : 0) << 5) | 27;
    outView.setBigUint64(pos, m);
    pos += 8;
    return;
  }
  const bytes = bignumBytes(m);
  ensure(1 + 9 + bytes.length);
  out[pos++] = 0xc0 | (negative ? TAG_NEGATIVE_BIGNUM : TAG_POSITIVE_BIGNUM);
  writeHead(2, bytes.length);
  out.set(bytes, pos);
  pos += bytes.length;
}

function writeString(s: string): void {
  const n = s.length;
  if (n < 64) {
    // Optimistic ASCII path: one pass, the head is known from the length.
    ensure(2 + n);
    const start = pos;
    if (n < 24) {
      out[pos++] = 0x60 | n;
    } else {
      out[pos++] = 0x78;
      out[pos++] = n;
    }
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        pos = start;
        writeStringUtf8(s, utf8Length(s));
        return;
      }
      out[pos++] = c;
    }
    return;
  }
  // Long strings: native scans beat a JS loop.
  let len: number;
  if (nativeIsWellFormed !== undefined) len = nativeIsWellFormed.call(s) ? Buffer.byteLength(s, 'utf8') : -1;
  else len = utf8Length(s);
  writeStringUtf8(s, len);
}

/** `len` = UTF-8 byte length of s, or -1 when it holds a lone surrogate. */
function writeStringUtf8(s: string, len: number): void {
  if (len < 0) throw new EncodeProblem('lone-surrogate');
  ensure(9 + len);
  writeHead(3, len);
  out.write(s, pos, len, 'utf8');
  pos += len;
}

/**
 * Write an array of floats as one tag-86 block in a single pass. Returns false (having written
 * nothing) when the array turns out not to qualify: an element that is not a float (an int keeps
 * its type as a plain CBOR item). The caller has checked length >= 4.
 */
function tryWriteFloatBlock(a: readonly unknown[], notes: NumberNotes | undefined): boolean {
  const n = a.length;
  const bytes = n * 8;
  if (encAlign && bytes >= TWO_POW_32) throw new EncodeProblem('block-too-long');
  ensure(2 + 1 + 7 + 5 + bytes + 1 + 9);
  const start = pos;
  out[pos++] = 0xd8; // tag with a 1-byte argument
  out[pos++] = TAG_FLOAT64_LE;
  if (encAlign) {
    // Indefinite byte string: empty chunks as padding so the payload starts on a multiple of 8.
    out[pos++] = 0x5f;
    const pad = (8 - ((pos + 5) & 7)) & 7;
    for (let i = 0; i < pad; i++) out[pos++] = 0x40;
    out[pos++] = 0x5a;
    outView.setUint32(pos, bytes);
    pos += 4;
  } else {
    writeHead(2, bytes);
  }
  if (LITTLE_ENDIAN_HOST && (pos & 7) === 0) {
    const f64 = outF64;
    for (let i = 0, j = pos >>> 3; i < n; i++, j++) {
      const x = a[i];
      if (typeof x !== 'number' || ((Number.isInteger(x) || x - x !== 0) && !isFloatAt(x, notes, i))) {
        pos = start;
        return false;
      }
      if (x - x !== 0) throw new EncodeProblem('non-finite');
      f64[j] = x;
    }
  } else {
    const view = outView;
    for (let i = 0, o = pos; i < n; i++, o += 8) {
      const x = a[i];
      if (typeof x !== 'number' || ((Number.isInteger(x) || x - x !== 0) && !isFloatAt(x, notes, i))) {
        pos = start;
        return false;
      }
      if (x - x !== 0) throw new EncodeProblem('non-finite');
      view.setFloat64(o, x, true);
    }
  }
  pos += bytes;
  if (encAlign) out[pos++] = 0xff;
  return true;
}

function writeValue(v: unknown, depth: number): void {
  switch (typeof v) {
    case 'string':
      writeString(v);
      return;
    case 'number':
      writeNumber(v, undefined);
      return;
    case 'boolean':
      ensure(1);
      out[pos++] = v ? 0xf5 : 0xf4;
      return;
    case 'object': {
      if (v === null) {
        ensure(1);
        out[pos++] = 0xf6;
        return;
      }
      if (depth >= encMaxDepth) throw errors.tooDeep(encMaxDepth);
      ensure(9);
      const notes = notesOf(v);
      if (Array.isArray(v)) {
        const n = v.length;
        if (n >= FLOAT_BLOCK_MIN_LENGTH && typeof v[0] === 'number' && tryWriteFloatBlock(v, notes)) return;
        writeHead(4, n);
        for (let i = 0; i < n; i++) {
          const x = v[i];
          if (typeof x === 'number') writeNumber(x, notes === undefined ? undefined : validNote(notes, i, x));
          else writeValue(x, depth + 1);
        }
        return;
      }
      const keys = orderedKeys(v);
      const n = keys.length;
      writeHead(5, n);
      for (let i = 0; i < n; i++) {
        const k = keys[i];
        writeString(k);
        const x = (v as Record<string, unknown>)[k];
        if (typeof x === 'number') writeNumber(x, notes === undefined ? undefined : validNote(notes, k, x));
        else writeValue(x, depth + 1);
      }
      return;
    }
    default:
      throw new EncodeProblem('not-json');
  }
}

export interface CborEncodeOptions {
  maxDepth: number;
  /** Lay tag-86 payloads out on absolute offsets that are multiples of 8 (the .rkyv layout). */
  alignFloats: boolean;
  /** Bytes left free at the start of the result for a container header. */
  reserve: number;
  /** Only for messages. */
  path?: string;
  /** Only for messages ("bin", "rkyv"). */
  formatName?: string;
}

/**
 * Encode `value` after `reserve` free bytes. Returns a view of the shared scratch buffer,
 * valid until the next call: copy it before doing anything else.
 */
export function encodeCborInto(value: JsonValue, opts: CborEncodeOptions): Uint8Array {
  encMaxDepth = opts.maxDepth;
  encAlign = opts.alignFloats;
  pos = 0;
  ensure(opts.reserve);
  out.fill(0, 0, opts.reserve);
  pos = opts.reserve;
  try {
    writeValue(value, 0);
  } catch (e) {
    if (cap > KEEP_SCRATCH_MAX) allocScratch(INITIAL_SCRATCH);
    if (e instanceof EncodeProblem) throw describeProblem(value, e.problem, opts);
    if (e instanceof SidecarError && e.code === 'TOO_DEEP') throw errors.tooDeep(opts.maxDepth, opts.path);
    throw e;
  }
  const result = out.subarray(0, pos);
  // The view keeps a big buffer alive for the caller; start small again next time.
  if (cap > KEEP_SCRATCH_MAX) allocScratch(INITIAL_SCRATCH);
  return result;
}

function describeProblem(root: JsonValue, problem: Problem, opts: CborEncodeOptions): SidecarError {
  const format = opts.formatName ?? 'bin';
  const at = (p: string | undefined) => (p === undefined ? '' : ` at ${p === '' ? '/' : p}`);
  switch (problem) {
    case 'lone-surrogate': {
      const isBad = (x: unknown) => typeof x === 'string' && hasLoneSurrogate(x);
      const p = findPointer(root, isBad, isBad);
      return errors.unrepresentable(format, `string with an unpaired UTF-16 surrogate${at(p)} (CBOR text must be valid UTF-8)`, opts.path);
    }
    case 'non-finite': {
      const p = findPointer(root, (x) => typeof x === 'number' && !Number.isFinite(x));
      return errors.unrepresentable(format, `non-finite number (NaN or Infinity)${at(p)} is not a JSON value`, opts.path);
    }
    case 'block-too-long':
      return errors.unrepresentable(format, 'a number array of 2^29 or more elements', opts.path);
    default: {
      let badType = 'undefined';
      const p = findPointer(root, (x) => {
        const t = typeof x;
        const bad = !(x === null || t === 'string' || t === 'number' || t === 'boolean' || t === 'object');
        if (bad) badType = t;
        return bad;
      });
      return errors.unrepresentable(format, `value of type ${badType}${at(p)} is not a JSON value`, opts.path);
    }
  }
}

/**
 * Exact size in bytes of `value`'s CBOR encoding as the `.bin` encoder writes it (the body
 * only: a whole `.bin` file is 16 + binEncodedSize(data)). Iterative, allocates no encoding.
 * Strings with an unpaired surrogate (which the encoder refuses) count as their U+FFFD form.
 */
export function binEncodedSize(value: JsonValue): number {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    switch (typeof v) {
      case 'string':
        total += stringSize(v);
        break;
      case 'number':
        total += numberSize(v, undefined);
        break;
      case 'boolean':
        total += 1;
        break;
      case 'object': {
        if (v === null) {
          total += 1;
        } else if (Array.isArray(v)) {
          const n = v.length;
          if (isFloatBlock(v)) {
            total += floatRunSize(n);
          } else {
            total += headSize(n);
            const notes = notesOf(v);
            for (let i = 0; i < n; i++) {
              const x = v[i];
              if (typeof x === 'number') total += numberSize(x, notes === undefined ? undefined : validNote(notes, i, x));
              else stack.push(x);
            }
          }
        } else {
          const keys = Object.keys(v);
          total += headSize(keys.length);
          const notes = notesOf(v);
          for (let i = 0; i < keys.length; i++) {
            total += stringSize(keys[i]);
            const x = (v as Record<string, unknown>)[keys[i]];
            if (typeof x === 'number') total += numberSize(x, notes === undefined ? undefined : validNote(notes, keys[i], x));
            else stack.push(x);
          }
        }
        break;
      }
      default:
        throw errors.unrepresentable('bin', `value of type ${typeof v} is not a JSON value`);
    }
  }
  return total;
}

/** Size of a string item (its UTF-8 bytes and head). */
export function stringSize(s: string): number {
  let len = utf8Length(s);
  if (len < 0) len = Buffer.byteLength(s, 'utf8');
  return headSize(len) + len;
}

// ---------------------------------------------------------------------------------------------
// Decoder
// ---------------------------------------------------------------------------------------------

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const EMPTY = Buffer.alloc(0);
let src: Buffer = EMPTY;
const EMPTY_VIEW = new DataView(new ArrayBuffer(0));
let srcView: DataView = EMPTY_VIEW;
let p = 0;
let stop = 0;
let decMaxDepth = 0;
let decPath: string | undefined;
/**
 * The note (numbers.ts) of the number readItem just returned, if it needs one: a whole float,
 * or an int beyond 2^53. The container that receives the number takes it and clears it.
 */
let pendingNote: NumberNote | undefined;

/** Strings (keys and values) of 1 to this many bytes go through the string cache. */
const CACHED_STRING_MAX_LEN = 24;

/** Scratch for tag-86 payloads that are not 8-byte aligned in memory (kept up to 64 Ki floats). */
const ALIGN_SCRATCH_KEEP_MAX = 64 * 1024;
let alignScratch = new Float64Array(512);
let alignScratchBytes = new Uint8Array(alignScratch.buffer);

function corrupt(detail: string): SidecarError {
  return errors.corrupt(detail, decPath);
}

function truncated(at: number, what = 'CBOR item'): SidecarError {
  return corrupt(`truncated ${what} at byte ${at}: the body ends at byte ${stop}`);
}

function unsupported(what: string, at: number): SidecarError {
  return corrupt(`unsupported CBOR item (${what}) at byte ${at}`);
}

function describeInitialByte(b: number): string {
  switch (b >>> 5) {
    case 0:
      return 'an unsigned integer';
    case 1:
      return 'a negative integer';
    case 2:
      return 'a byte string';
    case 3:
      return 'a text string';
    case 4:
      return 'an array';
    case 5:
      return 'a map';
    case 6:
      return 'a tag';
    default:
      return b === 0xff ? 'a break code' : 'a simple value or float';
  }
}

/** Argument of a head whose additional information is >= 24. */
function readArgument(ai: number, at: number): number {
  switch (ai) {
    case 24: {
      if (p + 1 > stop) throw truncated(at);
      const v = src[p++];
      if (v < 24) offEncoder++; // not the shortest head (sizedValues)
      return v;
    }
    case 25: {
      if (p + 2 > stop) throw truncated(at);
      const v = (src[p] << 8) | src[p + 1];
      p += 2;
      if (v < 0x100) offEncoder++;
      return v;
    }
    case 26: {
      if (p + 4 > stop) throw truncated(at);
      const v = srcView.getUint32(p);
      p += 4;
      if (v < 0x10000) offEncoder++;
      return v;
    }
    case 27: {
      if (p + 8 > stop) throw truncated(at);
      const v = srcView.getUint32(p) * TWO_POW_32 + srcView.getUint32(p + 4);
      p += 8;
      if (v < TWO_POW_32) offEncoder++;
      return v;
    }
    case 31:
      throw corrupt(`unexpected indefinite-length marker in the CBOR item at byte ${at}`);
    default:
      throw corrupt(`reserved additional information ${ai} in the CBOR item at byte ${at}`);
  }
}

/**
 * An integer (major 0 / 1, `negative` for 1) with an argument of 24..27: exact, as a plain
 * number when it is a safe integer, else as the nearest double with its exact value pending.
 */
function readInt(ai: number, at: number, negative: boolean): number {
  if (ai !== 27) {
    const v = readArgument(ai, at);
    return negative ? -1 - v : v;
  }
  if (p + 8 > stop) throw truncated(at);
  const hi = srcView.getUint32(p);
  if (hi === 0) offEncoder++; // below 2^32: a shorter head (sizedValues)
  if (hi < 0x200000) {
    // Below 2^53: exact as a double.
    const v = hi * TWO_POW_32 + srcView.getUint32(p + 4);
    p += 8;
    return negative ? -1 - v : v;
  }
  const m = srcView.getBigUint64(p);
  p += 8;
  return bigIntValue(negative ? -1n - m : m);
}

/** A plain number for an exact int; beyond 2^53 the nearest double, with the exact value pending. */
function bigIntValue(b: bigint): number {
  const v = Number(b);
  if (!Number.isSafeInteger(v)) pendingNote = b;
  return v;
}

/** Content of tag 2 / 3: a definite byte string holding the magnitude, big endian. */
function readBignum(tag: number, tagAt: number): number {
  offEncoder++; // sized by walking (sizedValues): rare, and its canonical form has rules of its own
  if (p >= stop) throw truncated(tagAt, `tag ${tag}`);
  const at = p;
  const b = src[p++];
  if (b >>> 5 !== 2 || (b & 31) === 31) {
    throw corrupt(`tag ${tag} (bignum) at byte ${tagAt} must enclose a definite-length byte string, found ${describeInitialByte(b)} at byte ${at}`);
  }
  const len = (b & 31) < 24 ? b & 31 : readLength(b & 31, at, 'byte string');
  if (len > stop - p) throw corrupt(`byte string at byte ${at} claims ${len} bytes but only ${stop - p} remain`);
  if (len > MAX_BIGNUM_BYTES) {
    throw corrupt(`bignum at byte ${tagAt} has ${len} bytes, more than an int of ${MAX_INT_DIGITS} digits needs`);
  }
  const m = len === 0 ? 0n : BigInt('0x' + src.toString('hex', p, p + len));
  p += len;
  const exact = tag === TAG_NEGATIVE_BIGNUM ? -1n - m : m;
  const digits = (exact < 0n ? -exact : exact).toString().length;
  if (digits > MAX_INT_DIGITS) {
    throw corrupt(`bignum at byte ${tagAt} has ${digits} digits, more than the limit of ${MAX_INT_DIGITS}`);
  }
  return bigIntValue(exact);
}

/** A float just read: whole values are floats only by their note. */
function floatValue(x: number, at: number): number {
  if (x - x !== 0) throw nonFinite(at);
  if (Number.isInteger(x) && !Object.is(x, -0)) pendingNote = x;
  return x;
}

/** Length of a string / array / map; indefinite lengths are outside our subset. */
function readLength(ai: number, at: number, what: string): number {
  if (ai === 31) throw unsupported(`indefinite-length ${what}`, at);
  // Beyond 2^53 a double is not the length the file claims: say the exact one (no file is that long).
  if (ai === 27 && p + 8 <= stop && srcView.getUint32(p) >= 0x200000) {
    const n = srcView.getBigUint64(p);
    const left = stop - p - 8;
    if (what === 'map') throw corrupt(`map at byte ${at} claims ${n} entries but only ${left} bytes remain`);
    if (what === 'array') throw corrupt(`array at byte ${at} claims ${n} items but only ${left} bytes remain`);
    throw corrupt(`${what} at byte ${at} claims ${n} bytes but only ${left} remain`);
  }
  return readArgument(ai, at);
}

/** n <= 8 ASCII bytes at `start` as a string: one fromCharCode call, no loop, no native call. */
function shortAscii(b: Buffer, start: number, n: number): string {
  switch (n) {
    case 0:
      return '';
    case 1:
      return String.fromCharCode(b[start]);
    case 2:
      return String.fromCharCode(b[start], b[start + 1]);
    case 3:
      return String.fromCharCode(b[start], b[start + 1], b[start + 2]);
    case 4:
      return String.fromCharCode(b[start], b[start + 1], b[start + 2], b[start + 3]);
    case 5:
      return String.fromCharCode(b[start], b[start + 1], b[start + 2], b[start + 3], b[start + 4]);
    case 6:
      return String.fromCharCode(b[start], b[start + 1], b[start + 2], b[start + 3], b[start + 4], b[start + 5]);
    case 7:
      return String.fromCharCode(b[start], b[start + 1], b[start + 2], b[start + 3], b[start + 4], b[start + 5], b[start + 6]);
    default:
      return String.fromCharCode(b[start], b[start + 1], b[start + 2], b[start + 3], b[start + 4], b[start + 5], b[start + 6], b[start + 7]);
  }
}

/** ASCII bytes [start, start + n) as a string (the caller has checked they are ASCII). */
function asciiString(start: number, n: number): string {
  if (n <= 8) return shortAscii(src, start, n);
  if (n <= 16) return shortAscii(src, start, 8) + shortAscii(src, start + 8, n - 8);
  return src.toString('latin1', start, start + n);
}

/** Text of n bytes at p (n already checked against the remaining bytes). */
function readText(n: number, at: number): string {
  const s0 = src;
  const end = p + n;
  let i = p;
  while (i < end && s0[i] < 0x80) i++;
  if (i === end) {
    const s = asciiString(p, n);
    p = end;
    return s;
  }
  let s: string;
  try {
    s = utf8Decoder.decode(s0.subarray(p, end));
  } catch {
    const bad = findInvalidUtf8(s0, p, end);
    throw corrupt(`invalid UTF-8 at byte ${bad < 0 ? p : bad} in the text string at byte ${at}`);
  }
  p = end;
  return s;
}

/**
 * Short strings (map keys, and values such as "person") through a cache: a hit costs a few
 * 4-byte compares and returns the same string object as last time, so repeated keys are not
 * re-decoded (the technique of cbor-x / msgpackr). Slot by length and first/last bytes.
 */
interface CachedString {
  n: number;
  /** The bytes as big-endian u32 chunks, then the remaining 0..3 bytes one by one. */
  chunks: number[];
  s: string;
}
const STRING_CACHE_SIZE = 4096; // power of two
const stringCache: (CachedString | null)[] = new Array(STRING_CACHE_SIZE).fill(null);

function readCachedText(n: number, at: number): string {
  const s0 = src;
  const start = p;
  const end = start + n;
  const slot = ((n << 7) ^ (s0[start] << 3) ^ s0[end - 1] ^ (n > 2 ? s0[start + 1] << 5 : 0)) & (STRING_CACHE_SIZE - 1);
  const e = stringCache[slot];
  if (e !== null && e.n === n) {
    const c = e.chunks;
    const v = srcView;
    const end4 = end - 3;
    let q = start;
    let j = 0;
    while (q < end4 && v.getUint32(q) === c[j]) {
      q += 4;
      j++;
    }
    if (q >= end4) {
      while (q < end && s0[q] === c[j]) {
        q++;
        j++;
      }
      if (q === end) {
        p = end;
        return e.s;
      }
    }
  }
  for (let i = start; i < end; i++) if (s0[i] >= 0x80) return readText(n, at);
  const s = asciiString(start, n);
  const chunks: number[] = [];
  let q = start;
  for (; q + 4 <= end; q += 4) chunks.push(srcView.getUint32(q));
  for (; q < end; q++) chunks.push(s0[q]);
  stringCache[slot] = { n, chunks, s };
  p = end;
  return s;
}

function setNote(c: object, key: string | number, note: NumberNote): void {
  if (typeof note === 'number') noteFloat(c, key, note);
  else noteInt(c, key, note);
}

function nonFinite(at: number): SidecarError {
  return corrupt(`non-finite float (NaN or Infinity) at byte ${at} is not a JSON value`);
}

function halfToNumber(h: number): number {
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * (mant + 1024) * 2 ** (exp - 25);
}

/** `n` float64-LE values starting at `offset` of `bytes` as a plain array (or a stand-in, see withFloatBlocks). */
function floatsToArray(bytes: Uint8Array, offset: number, n: number, at: number): number[] {
  if (floatBlockMode === 2) return floatsStandIn(bytes, offset, n, at);
  if (floatBlockMode === 3 && n >= VECTOR_BLOCK_MIN_LENGTH && LITTLE_ENDIAN_HOST) return floatsVector(bytes, offset, n, at);
  const arr: number[] = new Array(n);
  if (!LITTLE_ENDIAN_HOST) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < n; i++) {
      const x = view.getFloat64(offset + 8 * i, true);
      if (x - x !== 0) throw nonFinite(at);
      arr[i] = x;
      if (Number.isInteger(x) && !Object.is(x, -0)) noteFloat(arr, i, x);
    }
    return arr;
  }
  const f = floatsView(bytes, offset, n);
  for (let i = 0; i < n; i++) {
    const x = f[i];
    if (x - x !== 0) throw nonFinite(at);
    arr[i] = x;
    if (Number.isInteger(x) && !Object.is(x, -0)) noteFloat(arr, i, x);
  }
  if (floatBlockMode !== 0) decodedFloatBlocks.add(arr);
  return arr;
}

/** The `n` float64-LE values at `offset` of `bytes` as doubles (little-endian host): a view when aligned, else a copy. */
function floatsView(bytes: Uint8Array, offset: number, n: number): Float64Array {
  const byteLength = n * 8;
  if (((bytes.byteOffset + offset) & 7) === 0) return new Float64Array(bytes.buffer, bytes.byteOffset + offset, n);
  if (n > ALIGN_SCRATCH_KEEP_MAX) {
    // A one-off big block: copy into a temporary instead of keeping a big scratch alive.
    const f = new Float64Array(n);
    new Uint8Array(f.buffer).set(bytes.subarray(offset, offset + byteLength));
    return f;
  }
  if (alignScratch.length < n) {
    alignScratch = new Float64Array(n);
    alignScratchBytes = new Uint8Array(alignScratch.buffer);
  }
  alignScratchBytes.set(bytes.subarray(offset, offset + byteLength));
  return alignScratch;
}

/**
 * A stand-in for the `n` float64-LE values at `offset`, checked as floatsToArray checks them
 * (finite), from the bytes alone: no view, no copy. Each value's last byte holds its sign and the
 * top of its exponent; all exponent bits set is Infinity or NaN. A sign bit counts as negative
 * (-0 too: a rule that then sees -0.5 sends the file to the full decode, inspect.ts).
 */
function floatsStandIn(bytes: Uint8Array, offset: number, n: number, at: number): number[] {
  let sign = 0;
  for (let i = offset + 7, end = offset + 8 * n; i < end; i += 8) {
    const hi = bytes[i];
    if ((hi & 0x7f) === 0x7f && (bytes[i - 1] & 0xf0) === 0xf0) throw nonFinite(at);
    sign |= hi;
  }
  return floatStandIn(n, (sign & 0x80) !== 0 ? 1 : 0);
}

/**
 * A float block as mode 'vectors' gives it: where its float64-LE values are in the decoded bytes,
 * nothing converted (every value checked finite, as floatsToArray checks them). Valid while those
 * bytes are: the reader takes the values in the decode's own task (export's embeddings).
 */
export class FloatBlockRef {
  constructor(
    readonly bytes: Uint8Array,
    readonly offset: number,
    readonly length: number,
  ) {}
}

function floatsVector(bytes: Uint8Array, offset: number, n: number, at: number): number[] {
  for (let i = offset + 7, end = offset + 8 * n; i < end; i += 8) {
    if ((bytes[i] & 0x7f) === 0x7f && (bytes[i - 1] & 0xf0) === 0xf0) throw nonFinite(at);
  }
  return new FloatBlockRef(bytes, offset, n) as unknown as number[];
}

/** Content of tag 86: a definite or indefinite (chunked) byte string of float64-LE values. */
function readFloatBlock(tagAt: number): number[] {
  if (p >= stop) throw truncated(tagAt, 'tag 86');
  const at = p;
  const b = src[p++];
  if (b >>> 5 !== 2) {
    throw corrupt(`tag 86 at byte ${tagAt} must enclose a byte string, found ${describeInitialByte(b)} at byte ${at}`);
  }
  const ai = b & 31;
  if (ai !== 31) {
    const len = ai < 24 ? ai : readLength(ai, at, 'byte string');
    if (len > stop - p) throw corrupt(`byte string at byte ${at} claims ${len} bytes but only ${stop - p} remain`);
    if (len % 8 !== 0) throw corrupt(`tag 86 payload at byte ${at} is ${len} bytes, not a multiple of 8`);
    if (len < 8 * FLOAT_BLOCK_MIN_LENGTH) offEncoder++; // a short run is a plain array to our encoder
    const arr = floatsToArray(src, p, len / 8, at);
    p += len;
    return arr;
  }
  // Indefinite length: definite chunks until a break. The .rkyv layout pads with empty chunks.
  offEncoder++;
  const chunksStart = p;
  let first = -1;
  let total = 0;
  let nonEmpty = 0;
  for (;;) {
    if (p >= stop) throw truncated(at, 'indefinite-length byte string');
    const cat = p;
    const cb = src[p++];
    if (cb === 0xff) break;
    if (cb >>> 5 !== 2 || (cb & 31) === 31) {
      throw corrupt(`chunk at byte ${cat} of the byte string at byte ${at} is ${describeInitialByte(cb)}, expected a definite byte string`);
    }
    const cl = (cb & 31) < 24 ? cb & 31 : readLength(cb & 31, cat, 'byte string chunk');
    if (cl > stop - p) throw corrupt(`byte string chunk at byte ${cat} claims ${cl} bytes but only ${stop - p} remain`);
    if (cl > 0) {
      if (nonEmpty++ === 0) first = p;
      total += cl;
    }
    p += cl;
  }
  if (total % 8 !== 0) throw corrupt(`tag 86 payload at byte ${at} is ${total} bytes, not a multiple of 8`);
  if (nonEmpty <= 1) return first < 0 ? [] : floatsToArray(src, first, total / 8, at);
  // Several data chunks: join them (total <= the body size, already walked once).
  const joined = new Uint8Array(total);
  let q = chunksStart;
  let w = 0;
  for (;;) {
    const cb = src[q++];
    if (cb === 0xff) break;
    const ai2 = cb & 31;
    let cl: number;
    if (ai2 < 24) cl = ai2;
    else {
      const save = p;
      p = q;
      cl = readArgument(ai2, q - 1);
      q = p;
      p = save;
    }
    joined.set(src.subarray(q, q + cl), w);
    w += cl;
    q += cl;
  }
  return floatsToArray(joined, 0, total / 8, at);
}

function readSimple(ai: number, at: number): JsonValue {
  switch (ai) {
    case 20:
      return false;
    case 21:
      return true;
    case 22:
      return null;
    case 23:
      throw unsupported('undefined', at);
    case 25: {
      if (p + 2 > stop) throw truncated(at);
      const x = halfToNumber((src[p] << 8) | src[p + 1]);
      p += 2;
      offEncoder++; // our encoder writes float64 (sizedValues)
      return floatValue(x, at);
    }
    case 26: {
      if (p + 4 > stop) throw truncated(at);
      const x = srcView.getFloat32(p);
      p += 4;
      offEncoder++;
      return floatValue(x, at);
    }
    case 27: {
      if (p + 8 > stop) throw truncated(at);
      const x = srcView.getFloat64(p);
      p += 8;
      return floatValue(x, at);
    }
    case 31:
      throw corrupt(`unexpected break code (0xff) at byte ${at}`);
    case 28:
    case 29:
    case 30:
      throw corrupt(`reserved additional information ${ai} in the CBOR item at byte ${at}`);
    default:
      throw unsupported(`simple value ${ai === 24 && p < stop ? src[p] : ai}`, at);
  }
}

function readMap(ai: number, at: number, depth: number): JsonObject {
  const off0 = offEncoder;
  const n = ai < 24 ? ai : readLength(ai, at, 'map');
  if (depth >= decMaxDepth) throw errors.tooDeep(decMaxDepth, decPath);
  if (n * 2 > stop - p) throw corrupt(`map at byte ${at} claims ${n} entries but only ${stop - p} bytes remain`);
  const obj: JsonObject = {};
  // The keys in the order read, from the first index-like key on (key-order.ts): before it,
  // enumeration order is insertion order.
  let order: string[] | null = null;
  for (let i = 0; i < n; i++) {
    if (p >= stop) throw truncated(at, 'map');
    const kat = p;
    const kb = src[p++];
    if (kb >>> 5 !== 3) throw corrupt(`map key at byte ${kat} is ${describeInitialByte(kb)}, expected a text string`);
    const kai = kb & 31;
    const kn = kai < 24 ? kai : readLength(kai, kat, 'text string');
    if (kn > stop - p) throw corrupt(`text string at byte ${kat} claims ${kn} bytes but only ${stop - p} remain`);
    const key = kn <= CACHED_STRING_MAX_LEN && kn > 0 ? readCachedText(kn, kat) : readText(kn, kat);
    const value = readItem(depth + 1);
    const note = pendingNote;
    if (note !== undefined) pendingNote = undefined;
    if (order === null && isIndexKey(key)) order = Object.keys(obj);
    // Fast path: no own or inherited property of that name. Otherwise check for a duplicate
    // and keep "__proto__" an own data property instead of calling the prototype setter.
    if (obj[key] === undefined) {
      obj[key] = value;
    } else {
      if (Object.prototype.hasOwnProperty.call(obj, key)) {
        throw corrupt(`duplicate map key ${JSON.stringify(key)} at byte ${kat}`);
      }
      if (key === '__proto__') {
        Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
      } else {
        obj[key] = value;
      }
    }
    if (note !== undefined) setNote(obj, key, note);
    if (order !== null) order.push(key);
  }
  if (order !== null) noteKeyOrder(obj, order);
  if (depth === 1 && floatBlockMode !== 0 && offEncoder === off0) recordEncodedSize(obj, p - at);
  return obj;
}

/** One data item at p. `depth` = containers enclosing it. */
function readItem(depth: number): JsonValue {
  if (p >= stop) throw truncated(p);
  const at = p;
  const ib = src[p++];
  const ai = ib & 31;
  switch (ib >>> 5) {
    case 0:
      return ai < 24 ? ai : readInt(ai, at, false);
    case 1:
      return ai < 24 ? -1 - ai : readInt(ai, at, true);
    case 2:
      throw unsupported('byte string outside tag 86', at);
    case 3: {
      const n = ai < 24 ? ai : readLength(ai, at, 'text string');
      if (n > stop - p) throw corrupt(`text string at byte ${at} claims ${n} bytes but only ${stop - p} remain`);
      return n <= 16 && n > 0 ? readCachedText(n, at) : readText(n, at);
    }
    case 4: {
      const off0 = offEncoder;
      const n = ai < 24 ? ai : readLength(ai, at, 'array');
      if (depth >= decMaxDepth) throw errors.tooDeep(decMaxDepth, decPath);
      if (n > stop - p) throw corrupt(`array at byte ${at} claims ${n} items but only ${stop - p} bytes remain`);
      const arr: JsonValue[] = [];
      let floats = 0;
      for (let i = 0; i < n; i++) {
        if (p < stop && src[p] >= 0xf9 && src[p] <= 0xfb) floats++; // a float item (float16/32/64)
        arr.push(readItem(depth + 1));
        if (pendingNote !== undefined) {
          setNote(arr, i, pendingNote);
          pendingNote = undefined;
        }
      }
      // A run of >= 4 floats is one tag-86 block to our encoder, not a plain array.
      if (floats === n && n >= FLOAT_BLOCK_MIN_LENGTH) offEncoder++;
      if (depth === 1 && floatBlockMode !== 0 && offEncoder === off0) recordEncodedSize(arr, p - at);
      return arr;
    }
    case 5:
      return readMap(ai, at, depth);
    case 6: {
      if (ai === 31) throw corrupt(`unexpected indefinite-length marker in the CBOR item at byte ${at}`);
      const tag = ai < 24 ? ai : readArgument(ai, at);
      if (tag === TAG_POSITIVE_BIGNUM || tag === TAG_NEGATIVE_BIGNUM) return readBignum(tag, at);
      if (tag !== TAG_FLOAT64_LE) throw unsupported(`tag ${tag}`, at);
      if (depth >= decMaxDepth) throw errors.tooDeep(decMaxDepth, decPath);
      return readFloatBlock(at);
    }
    default:
      return readSimple(ai, at);
  }
}

export interface CborDecodeOptions {
  maxDepth: number;
  path?: string;
}

export interface CborDecodeResult {
  value: JsonValue;
  notes: string[];
}

/**
 * Decode exactly one CBOR data item occupying bytes[start, end). Byte offsets in messages are
 * offsets into `bytes` (pass the whole file so they are file offsets).
 */
export function decodeCborItem(bytes: Uint8Array, start: number, end: number, opts: CborDecodeOptions): CborDecodeResult {
  // Always a Buffer (a view, no copy): monomorphic element access and latin1Slice.
  src = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  srcView = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  p = start;
  stop = end;
  decMaxDepth = opts.maxDepth;
  decPath = opts.path;
  pendingNote = undefined;
  clearEncodedSizes();
  try {
    const value = readItem(0);
    pendingNote = undefined;
    if (p !== stop) throw corrupt(`${stop - p} trailing bytes after the CBOR item, from byte ${p}`);
    return { value, notes: [] };
  } finally {
    // Do not keep the caller's (possibly large) buffer alive.
    src = EMPTY;
    srcView = EMPTY_VIEW;
  }
}
