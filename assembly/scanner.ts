/**
 * The JSON sidecar scanner (AssemblyScript → WebAssembly; src/accel/scanner.ts loads it).
 *
 * It checks a JSON text completely — strict UTF-8, the RFC 8259 grammar, nothing after the value,
 * the depth limit — and writes a tape of tokens (offsets into the input) instead of building
 * anything; a number outside a float run whose double it can compute exactly carries that
 * double instead of its offsets (F_VALUE, numberValue). An array of floats only (embeddings: most of a sidecar's bytes; landmark
 * pairs) becomes one tape entry: its length and whether any element is negative. Anything it cannot vouch for exactly
 * as the reference decoder would (a BOM, a syntax error, too deep, a number token that could
 * overflow or underflow a double, a tape that would not fit) ends the scan with a negative code:
 * the caller then decodes the file with the JavaScript reference path.
 *
 * Memory (no allocator: --runtime stub, plain loads and stores):
 *   [heap base] the key table (kept for the thread: slots, per-id records, key bytes)
 *               input (len bytes + 64 zero bytes, so 16-byte SIMD loads may read past the end)
 *               tape  (i32 words)
 *               stack (one byte per open container: 1 object, 0 array)
 */

// Tape entry kinds (low 8 bits of the first word; flags above).
// A container's start entry carries, above its kind, the distance to its end entry (written when
// it closes): a walk of the tape can step over a whole value.
const OBJ_START: i32 = 1;
const OBJ_END: i32 = 2;
const ARR_START: i32 = 3;
const ARR_END: i32 = 4;
const KEY: i32 = 5; // KEY|flags, start, end     (start after the opening quote, end at the closing one)
const STR: i32 = 6; // STR|flags, start, end
const NUM: i32 = 7; // NUM|flags, start, end
const TRUE: i32 = 8;
const FALSE: i32 = 9;
const NULL: i32 = 10;
const FLOATS: i32 = 11; // FLOATS|F_NEGATIVE, count
const KEY_ID: i32 = 12; // KEY_ID|(id << 8): a key seen before in this thread (see the key table)
const KEY_NEW: i32 = 13; // KEY_NEW|(id << 8), start, end: an ASCII key entering the table as id

const F_ESCAPED: i32 = 1 << 8; // string: holds a backslash escape
const F_NON_ASCII: i32 = 1 << 9; // string: holds a byte >= 0x80 (valid UTF-8)
const F_FLOAT: i32 = 1 << 8; // number: has a fraction or an exponent
const F_VALUE: i32 = 1 << 9; // number: NUM|flags, low word, high word of its double (see numberValue)
const F_NEGATIVE: i32 = 1 << 8; // floats: some element is below zero

// Why a scan deferred (negative results).
export const DEFER_SYNTAX: i32 = -1;
export const DEFER_UTF8: i32 = -2;
export const DEFER_DEPTH: i32 = -3;
export const DEFER_NUMBER: i32 = -4;
export const DEFER_TAPE: i32 = -5;
export const DEFER_START: i32 = -6;
// -7 is the JavaScript side's (no memory for the input).
export const DEFER_DUPLICATE: i32 = -8;

/** Number tokens longer than this are left to the reference (no double can overflow or underflow below it). */
const MAX_NUMBER_CHARS: i32 = 40;
/** Deepest nesting the scanner follows (a deeper, still legal file is deferred). */
const MAX_STACK: i32 = 1024;
const PAD: i32 = 64;

// The key table: the keys of a thread's sidecars repeat ("bbox", "confidence"...), so each ASCII
// key without escapes gets an id the first time and JavaScript makes its string once. Each open
// object's ids are kept on a stack and a new key is compared with its object's (a duplicate
// defers: the reference refuses it); keys not interned, and objects of many keys, JavaScript checks.
const KEY_SLOTS: i32 = 8192; // open addressing, linear probing; slot = id + 1, 0 = empty
const MAX_KEYS: i32 = 4096;
const MAX_KEY_LEN: i32 = 64;
const SLOTS_BYTES: usize = <usize>KEY_SLOTS << 2;
const RECORD_BYTES: usize = 16; // hash, arena offset, length, slot
const ARENA_BYTES: usize = <usize>(MAX_KEYS * MAX_KEY_LEN);
let keysBase: usize = 0;
let slotsBase: usize = 0;
let recordsBase: usize = 0;
let arenaBase: usize = 0;
let keyCount: i32 = 0;
let arenaUsed: usize = 0;
let keyCountAtStart: i32 = 0;
let arenaAtStart: usize = 0;

let inBase: usize = 0;
let inEnd: usize = 0;
let tapeBase: usize = 0;
let tapeCap: i32 = 0;
let tapePos: i32 = 0;
let stackBase: usize = 0;
/** Per open container (by depth), the tape entry of its start (its end offset is written there when it closes). */
let startsBase: usize = 0;
/** Per open object (by depth), where its keys begin in the key stack (the duplicate check). */
let keyStartsBase: usize = 0;
/** The interned keys of the open objects, each object's after the one it is in. */
let keyStackBase: usize = 0;
const KEY_STACK_ENTRIES: i32 = 65536;
/** Keys an object may hold for the scan to check them for duplicates; past it (or a key not interned) JavaScript checks. */
const CHECKED_KEYS_MAX: i32 = 64;
let depthLimit: i32 = 0;
let failure: i32 = 0;

/**
 * Lay out memory for an input of `len` bytes (growing it when needed); returns where the caller
 * copies the input. The tape gets 1 word per input byte + 1024: a tape overflow defers the file.
 */
export function prepare(len: i32, maxDepth: i32): usize {
  keysBase = (__heap_base + 15) & ~(<usize>15);
  slotsBase = keysBase;
  recordsBase = slotsBase + SLOTS_BYTES;
  arenaBase = recordsBase + <usize>MAX_KEYS * RECORD_BYTES;
  inBase = (arenaBase + ARENA_BYTES + 15) & ~(<usize>15);
  inEnd = inBase + <usize>len;
  tapeBase = (inEnd + <usize>PAD + 15) & ~(<usize>15);
  tapeCap = len + 1024;
  stackBase = tapeBase + (<usize>tapeCap << 2);
  startsBase = (stackBase + <usize>MAX_STACK + 16 + 15) & ~(<usize>15);
  keyStartsBase = startsBase + (<usize>(MAX_STACK + 2) << 2);
  keyStackBase = keyStartsBase + (<usize>(MAX_STACK + 2) << 2);
  const top = keyStackBase + (<usize>KEY_STACK_ENTRIES << 2) + 16;
  const have = <usize>memory.size() << 16;
  if (top > have) {
    const pages = <i32>((top - have + 0xffff) >> 16);
    if (memory.grow(pages) < 0) return 0;
  }
  depthLimit = maxDepth < MAX_STACK ? maxDepth : MAX_STACK;
  if (!primed) {
    primedOk = primeKeys();
    keyCountAtStart = keyCount;
    arenaAtStart = arenaUsed;
  }
  return inBase;
}

export function tapePointer(): usize {
  return tapeBase;
}

/** Where the last deferred scan stopped (byte offset), for diagnostics. */
let failAt: i32 = 0;
export function failOffset(): i32 {
  return failAt;
}

@inline function emit3(a: i32, b: i32, c: i32): bool {
  if (tapePos + 3 > tapeCap) {
    failure = DEFER_TAPE;
    return false;
  }
  const q = tapeBase + (<usize>tapePos << 2);
  store<i32>(q, a);
  store<i32>(q, b, 4);
  store<i32>(q, c, 8);
  tapePos += 3;
  return true;
}

@inline function emit2(a: i32, b: i32): bool {
  if (tapePos + 2 > tapeCap) {
    failure = DEFER_TAPE;
    return false;
  }
  const q = tapeBase + (<usize>tapePos << 2);
  store<i32>(q, a);
  store<i32>(q, b, 4);
  tapePos += 2;
  return true;
}

@inline function emit1(a: i32): bool {
  if (tapePos + 1 > tapeCap) {
    failure = DEFER_TAPE;
    return false;
  }
  store<i32>(tapeBase + (<usize>tapePos << 2), a);
  tapePos += 1;
  return true;
}

@inline function isWs(c: u32): bool {
  return c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09;
}

/** Skip JSON whitespace (SIMD for runs, as in pretty-printed files: one element per line). */
@inline function skipWs(p: usize): usize {
  if (!isWs(<u32>load<u8>(p))) return p;
  const sp = i8x16.splat(0x20);
  const nl = i8x16.splat(0x0a);
  const cr = i8x16.splat(0x0d);
  const tb = i8x16.splat(0x09);
  while (true) {
    const v = v128.load(p);
    const ws = v128.or(v128.or(i8x16.eq(v, sp), i8x16.eq(v, nl)), v128.or(i8x16.eq(v, cr), i8x16.eq(v, tb)));
    const m = ~i8x16.bitmask(ws) & 0xffff;
    if (m != 0) return p + <usize>ctz<i32>(m);
    p += 16;
  }
  return p;
}

/** Skip ASCII digits (SIMD: 17-digit fractions are most of a sidecar's bytes). */
@inline function skipDigits(p: usize): usize {
  const zero = i8x16.splat(0x30);
  const nine = i8x16.splat(9);
  while (true) {
    const v = i8x16.sub(v128.load(p), zero);
    const m = i8x16.bitmask(i8x16.gt_u(v, nine));
    if (m != 0) return p + <usize>ctz<i32>(m);
    p += 16;
  }
  return p;
}

@inline function isDigit(c: u32): bool {
  return c - 0x30 < 10;
}

// Number scanning results (globals: no allocation, no multi-value returns).
let numFloat: bool = false;
let numNegative: bool = false; // a negative non-zero value

/** Scan a number token at p; returns its end, or 0 when it is not one or is risky (failure set). */
function scanNumber(p: usize): usize {
  const start = p;
  let negative = false;
  let nonZero = false;
  let isFloat = false;
  let c = <u32>load<u8>(p);
  if (c == 0x2d) {
    negative = true;
    c = <u32>load<u8>(++p);
  }
  if (c == 0x30) {
    c = <u32>load<u8>(++p);
  } else if (c - 0x31 < 9) {
    nonZero = true;
    p = skipDigits(p + 1);
    c = <u32>load<u8>(p);
  } else {
    failure = DEFER_SYNTAX;
    return 0;
  }
  if (c == 0x2e) {
    isFloat = true;
    p++;
    c = <u32>load<u8>(p);
    if (!isDigit(c)) {
      failure = DEFER_SYNTAX;
      return 0;
    }
    if (!nonZero) {
      while (c == 0x30) c = <u32>load<u8>(++p);
      if (c - 0x31 < 9) nonZero = true;
    }
    p = skipDigits(p);
    c = <u32>load<u8>(p);
  }
  if ((c | 0x20) == 0x65) {
    isFloat = true;
    c = <u32>load<u8>(++p);
    if (c == 0x2b || c == 0x2d) c = <u32>load<u8>(++p);
    if (!isDigit(c)) {
      failure = DEFER_SYNTAX;
      return 0;
    }
    const e0 = p;
    p = skipDigits(p);
    // 3+ exponent digits may overflow (a finding) or underflow: the reference decides.
    if (p - e0 >= 3) {
      failure = DEFER_NUMBER;
      return 0;
    }
  }
  if (<i32>(p - start) > MAX_NUMBER_CHARS) {
    failure = DEFER_NUMBER;
    return 0;
  }
  numFloat = isFloat;
  numNegative = negative && nonZero;
  return p;
}

// ---------------------------------------------------------------------------------------------
// Number values: a scalar number's double, correctly rounded, so that JavaScript need not parse
// its text (17-digit fractions need the slow path of JS's string-to-double). Computed only where
// it is exact by construction; any other token keeps its offsets and JavaScript parses it.
// ---------------------------------------------------------------------------------------------

/** 5^k for k ≤ 22 (each below 2^52) and 10^k as doubles (each exact). */
const POW5: StaticArray<u64> = [1, 5, 25, 125, 625, 3125, 15625, 78125, 390625, 1953125, 9765625, 48828125, 244140625, 1220703125, 6103515625, 30517578125, 152587890625, 762939453125, 3814697265625, 19073486328125, 95367431640625, 476837158203125, 2384185791015625];
const POW10: StaticArray<f64> = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];
const TWO_POW_53: u64 = <u64>1 << 53;

/** The value of the last numberValue that returned true. */
let numValue: f64 = 0;

/** 2^e as a double, for e in the normal range. */
@inline function pow2(e: i32): f64 {
  return reinterpret<f64>(<u64>(1023 + e) << 52);
}

/**
 * The double nearest to m / 10^f (ties to even), for 1 ≤ m < 2^64 and 1 ≤ f ≤ 22, by exact integer
 * arithmetic: m / 10^f = (m / 5^f) · 2^-f, and m / 5^f is divided out in u64 long division
 * (5^f < 2^52; as many quotient bits per step as the remainder's headroom allows) until the
 * quotient has 55 bits or more; its low bits and the remainder decide the rounding. The final scaling by a power of two is exact (the result is far from the
 * subnormal and overflow ranges).
 */
function divPow10(m: u64, f: i32): f64 {
  const d = unchecked(POW5[f]);
  // r < d: r << dShift stays below 2^63 (17-digit fractions: d < 2^40, two steps of 23 bits).
  const dShift = <i32>clz<u64>(d) - 1;
  let q = m / d;
  let r = m - q * d;
  let k: i32 = 0; // q = floor(m · 2^k / d), r the remainder
  while (q < (<u64>1 << 54)) {
    let s = <i32>clz<u64>(q) - 1; // q << s stays below 2^63
    if (s > dShift) s = dShift;
    const rs = r << <u64>s;
    const qs = rs / d;
    q = (q << <u64>s) | qs;
    r = rs - qs * d;
    k += s;
  }
  const drop = 64 - <i32>clz<u64>(q) - 53;
  let sig = q >> <u64>drop;
  const rest = q & ((<u64>1 << <u64>drop) - 1);
  const half = <u64>1 << <u64>(drop - 1);
  if (rest > half || (rest == half && (r != 0 || (sig & 1) != 0))) sig++;
  return <f64>sig * pow2(drop - k - f);
}

/**
 * The double of the number token [p, end) (grammar already checked by scanNumber) into numValue,
 * exactly as JavaScript's Number(token) gives it (an int "-0" gives 0, as Python reads it; a float
 * "-0.0" gives -0); false when it leaves the token to JavaScript: more than 19 significant digits,
 * an int of 2^53 or more (the reference keeps its exact value in a note), or a decimal exponent
 * outside what one exact step covers (below -22, or above 0 with 2^53 or more in the digits, or
 * above 22).
 */
function numberValue(p: usize, end: usize, isFloat: bool): bool {
  let negative = false;
  if (load<u8>(p) == 0x2d) {
    negative = true;
    p++;
  }
  let m: u64 = 0;
  let digits: i32 = 0; // significant digits in m (leading zeros not counted)
  let scale: i32 = 0; // decimal exponent of m's last digit
  let afterDot = false;
  let c: u32 = 0;
  while (p < end) {
    c = <u32>load<u8>(p);
    if (c == 0x2e) {
      afterDot = true;
      p++;
      continue;
    }
    const v = c - 0x30;
    if (v >= 10) break; // 'e' or 'E'
    if (m != 0 || v != 0) {
      if (++digits > 19) return false;
      m = m * 10 + <u64>v;
    }
    if (afterDot) scale--;
    p++;
  }
  if (p < end) {
    // The exponent: at most 2 digits (scanNumber defers longer ones).
    p++;
    let expNegative = false;
    c = <u32>load<u8>(p);
    if (c == 0x2b || c == 0x2d) {
      expNegative = c == 0x2d;
      p++;
    }
    let e: i32 = 0;
    while (p < end) e = e * 10 + <i32>(load<u8>(p++) - 0x30);
    scale += expNegative ? -e : e;
  }
  let v: f64;
  if (m == 0) v = 0;
  else if (!isFloat) {
    if (m >= TWO_POW_53) return false;
    v = <f64>m;
  } else if (scale == 0) {
    if (m >= TWO_POW_53) return false;
    v = <f64>m;
  } else if (scale > 0) {
    // One rounding of two exact doubles (Clinger's fast path).
    if (m >= TWO_POW_53 || scale > 22) return false;
    v = <f64>m * unchecked(POW10[scale]);
  } else {
    if (scale < -22) return false;
    v = m < TWO_POW_53 ? <f64>m / unchecked(POW10[-scale]) : divPow10(m, -scale);
  }
  // The int "-0" is 0; a float keeps its sign (-0.0 is -0).
  numValue = negative && (isFloat || m != 0) ? -v : v;
  return true;
}

let strFlags: i32 = 0;

/** Scan a string whose opening quote is at p - 1; returns the position of the closing quote, or 0. */
function scanString(p: usize): usize {
  let flags = 0;
  const quote = i8x16.splat(0x22);
  const bslash = i8x16.splat(0x5c);
  const low = i8x16.splat(0x20);
  while (true) {
    const v = v128.load(p);
    // lt_s: control characters (< 0x20) and every byte >= 0x80 (negative as i8).
    const m = i8x16.bitmask(v128.or(v128.or(i8x16.eq(v, quote), i8x16.eq(v, bslash)), i8x16.lt_s(v, low)));
    if (m == 0) {
      p += 16;
      continue;
    }
    p += <usize>ctz<i32>(m);
    if (p >= inEnd) {
      failure = DEFER_SYNTAX;
      return 0;
    }
    const c = <u32>load<u8>(p);
    if (c == 0x22) {
      strFlags = flags;
      return p;
    }
    if (c == 0x5c) {
      flags |= F_ESCAPED;
      const e = <u32>load<u8>(p + 1);
      if (e == 0x75) {
        if (!isHex(<u32>load<u8>(p + 2)) || !isHex(<u32>load<u8>(p + 3)) || !isHex(<u32>load<u8>(p + 4)) || !isHex(<u32>load<u8>(p + 5))) {
          failure = DEFER_SYNTAX;
          return 0;
        }
        p += 6;
      } else if (e == 0x22 || e == 0x5c || e == 0x2f || e == 0x62 || e == 0x66 || e == 0x6e || e == 0x72 || e == 0x74) {
        p += 2;
      } else {
        failure = DEFER_SYNTAX;
        return 0;
      }
      continue;
    }
    if (c < 0x20) {
      failure = DEFER_SYNTAX;
      return 0;
    }
    flags |= F_NON_ASCII;
    const n = utf8Sequence(p, c);
    if (n == 0) {
      failure = DEFER_UTF8;
      return 0;
    }
    p += n;
  }
  return 0;
}

@inline function isHex(c: u32): bool {
  return c - 0x30 < 10 || (c | 0x20) - 0x61 < 6;
}

@inline function isCont(c: u32): bool {
  return (c & 0xc0) == 0x80;
}

/** Length of the strict UTF-8 sequence at p (lead byte c >= 0x80), 0 when invalid. */
function utf8Sequence(p: usize, c: u32): usize {
  const c1 = <u32>load<u8>(p + 1);
  if (c >= 0xc2 && c <= 0xdf) return isCont(c1) && p + 1 < inEnd ? 2 : 0;
  const c2 = <u32>load<u8>(p + 2);
  if (c >= 0xe0 && c <= 0xef) {
    if (c == 0xe0 ? c1 < 0xa0 || c1 > 0xbf : c == 0xed ? c1 < 0x80 || c1 > 0x9f : !isCont(c1)) return 0;
    return isCont(c2) && p + 2 < inEnd ? 3 : 0;
  }
  const c3 = <u32>load<u8>(p + 3);
  if (c >= 0xf0 && c <= 0xf4) {
    if (c == 0xf0 ? c1 < 0x90 || c1 > 0xbf : c == 0xf4 ? c1 < 0x80 || c1 > 0x8f : !isCont(c1)) return 0;
    return isCont(c2) && isCont(c3) && p + 3 < inEnd ? 4 : 0;
  }
  return 0;
}

/** Forget the keys added since the last scan started (that scan, or its skeleton, deferred). */
export function rollbackKeys(): void {
  for (let id = keyCount - 1; id >= keyCountAtStart; id--) {
    const rec = recordsBase + <usize>id * RECORD_BYTES;
    store<i32>(slotsBase + (<usize>load<u32>(rec, 12) << 2), 0);
  }
  keyCount = keyCountAtStart;
  arenaUsed = arenaAtStart;
}

let newKey: bool = false;

/** The bytes of a key shorter than 8 in a word (the load reads past it: input and arena are followed by memory of ours). */
@inline function shortWord(p: usize, len: i32): u64 {
  return load<u64>(p) & ((<u64>1 << (<u64>len << 3)) - 1);
}

/** A key's hash from its first and last 8 bytes and its length (a whole-key compare settles equality). */
@inline function keyHash(start: usize, len: i32): u32 {
  let a: u64 = 0;
  let b: u64 = 0;
  if (len >= 8) {
    a = load<u64>(start);
    b = load<u64>(start + <usize>len - 8);
  } else if (len > 0) a = shortWord(start, len);
  let h = (a * 0x9e3779b97f4a7c15) ^ (b * 0xc2b2ae3d27d4eb4f) ^ <u64>len;
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93;
  h ^= h >> 32;
  return <u32>h;
}

/** The len bytes at x and y are equal (up to 16: two word compares). */
@inline function keyEquals(x: usize, y: usize, len: i32): bool {
  if (len < 8) return len == 0 || shortWord(x, len) == shortWord(y, len);
  if (len <= 16) return load<u64>(x) == load<u64>(y) && load<u64>(x + <usize>len - 8) == load<u64>(y + <usize>len - 8);
  return memory.compare(x, y, <usize>len) == 0;
}

/**
 * The id of the key at [start, end) (ASCII, no escape), adding it when new (newKey set); -1 when
 * it cannot be interned (too long, table full).
 */
function internKey(start: usize, end: usize): i32 {
  const len = <i32>(end - start);
  if (len > MAX_KEY_LEN) return -1;
  const h = keyHash(start, len);
  let slot = <i32>(h & <u32>(KEY_SLOTS - 1));
  while (true) {
    const v = load<i32>(slotsBase + (<usize>slot << 2));
    if (v == 0) break;
    const rec = recordsBase + <usize>(v - 1) * RECORD_BYTES;
    if (load<u32>(rec) == h && load<i32>(rec, 8) == len && keyEquals(arenaBase + <usize>load<u32>(rec, 4), start, len)) {
      newKey = false;
      return v - 1;
    }
    slot = (slot + 1) & (KEY_SLOTS - 1);
  }
  if (keyCount >= MAX_KEYS) return -1;
  const id = keyCount++;
  const rec = recordsBase + <usize>id * RECORD_BYTES;
  store<u32>(rec, h);
  store<u32>(rec, <u32>arenaUsed, 4);
  store<i32>(rec, len, 8);
  store<u32>(rec, <u32>slot, 12);
  memory.copy(arenaBase + arenaUsed, start, <usize>len);
  arenaUsed += <usize>len;
  store<i32>(slotsBase + (<usize>slot << 2), id + 1);
  newKey = true;
  return id;
}

/** Bits of the 16-byte masks of one 64-byte block, as one u64 (bit k: byte k). */
@inline function bits64(a: i32, b: i32, c: i32, d: i32): u64 {
  return <u64><u32>(a | (b << 16)) | (<u64><u32>(c | (d << 16)) << 32);
}

@inline function digitBits(v: v128): i32 {
  return i8x16.bitmask(i8x16.lt_u(i8x16.sub(v, i8x16.splat(0x30)), i8x16.splat(10)));
}

@inline function byteBits(v: v128, c: i8): i32 {
  return i8x16.bitmask(i8x16.eq(v, i8x16.splat(c)));
}

/** Whitespace: ' ', or a byte below 16 whose entry in this table is set (tab, LF, CR); swizzle gives 0 for indices >= 16. */
@inline function wsBits(v: v128): i32 {
  const controls = v128(0, 0, 0, 0, 0, 0, 0, 0, 0, -1, -1, 0, 0, -1, 0, 0);
  return i8x16.bitmask(v128.or(i8x16.swizzle(controls, v), i8x16.eq(v, i8x16.splat(0x20))));
}

// What floatBlocks found (globals: no multi-value returns).
let blockCount: i32 = 0;
let blockNegative: bool = false;
let useFloatBlocks: bool = true;

/** The float-run fast path on (1) or off (0): the scalar loop alone gives the same tapes (test/accel.test.ts). */
export function setFloatBlocks(on: i32): void {
  useFloatBlocks = on != 0;
}

/**
 * The fast path of a float run, 64 bytes at a time (p: the first byte of an element). Checks at
 * once every element of the block up to its last comma, when the block holds only the common form
 * — `-?(0|[1-9][0-9]*)\.[0-9]+` (under 32 characters: the scalar path's limits hold), each element
 * followed at once by its comma, whitespace after the comma — with bit masks: a digit before and
 * after each '.', one '.' per element (its digit run ends at the comma), '-' only first, a lone
 * leading '0'. Anything else (an exponent, a space before a comma, the array's end, any error)
 * is left where it starts to the scalar loop, which decides exactly as without this path. Adds
 * the elements to blockCount (and blockNegative: a '-' element with a non-zero digit); returns the
 * next element's first byte (p itself when the block does not qualify).
 */
function floatBlocks(p: usize): usize {
  while (true) {
    const v0 = v128.load(p);
    const v1 = v128.load(p, 16);
    const v2 = v128.load(p, 32);
    const v3 = v128.load(p, 48);
    let C = bits64(byteBits(v0, 0x2c), byteBits(v1, 0x2c), byteBits(v2, 0x2c), byteBits(v3, 0x2c));
    if (C == 0) return p;
    const last = 63 - <i32>clz<u64>(C);
    const region: u64 = last == 63 ? <u64>-1 : (<u64>1 << <u64>(last + 1)) - 1;
    let D = bits64(digitBits(v0), digitBits(v1), digitBits(v2), digitBits(v3)) & region;
    let M = bits64(byteBits(v0, 0x2d), byteBits(v1, 0x2d), byteBits(v2, 0x2d), byteBits(v3, 0x2d)) & region;
    let P = bits64(byteBits(v0, 0x2e), byteBits(v1, 0x2e), byteBits(v2, 0x2e), byteBits(v3, 0x2e)) & region;
    const W = bits64(wsBits(v0), wsBits(v1), wsBits(v2), wsBits(v3)) & region;
    const tok = D | M | P;
    // Only element bytes, commas and whitespace up to the last comma; an element starts at p.
    if ((tok | C | W) != region || (tok & 1) == 0) return p;
    const starts = tok & ~(tok << 1);
    const ends = tok & ~(tok >> 1);
    // Each element followed at once by a comma, each comma right after an element.
    if (ends << 1 != C) return p;
    // '-' only first, a digit before each '.'.
    if ((M & ~starts) != 0 || (P & ~(D << 1)) != 0) return p;
    // One '.' per element, digits after it: the digit run after each '.' ends at a comma, and every
    // comma ends one (a second '.' ends the first one's run; a '.' or '-' without a digit after it
    // leaves its element's comma out: '-' before '.' or '-' is caught above).
    if (((D + ((P << 1) & D)) & ~D) != C) return p;
    // A leading '0' stands alone before the '.'.
    const Z = bits64(byteBits(v0, 0x30), byteBits(v1, 0x30), byteBits(v2, 0x30), byteBits(v3, 0x30)) & region;
    if ((((((starts & D) | (M << 1)) & Z) << 1) & ~P) != 0) return p;
    // Every element under 32 bytes.
    let run = tok & (tok >> 1);
    run &= run >> 2;
    run &= run >> 4;
    run &= run >> 8;
    run &= run >> 16;
    if (run != 0) return p;
    // A negative element: a '-' element (its bytes: the carry of tok + M clears them) with a non-zero digit.
    if (M != 0 && (tok & ~(tok + M) & D & ~Z) != 0) blockNegative = true;
    blockCount += <i32>popcnt<u64>(C);
    p = skipWs(p + <usize>(last + 1));
  }
  return p;
}

/**
 * At '[': a non-empty array of float tokens only becomes one FLOATS entry; returns the position
 * after ']', or 0 (tape untouched) when the array is anything else (the general loop takes it).
 */
function tryFloatRun(open: usize): usize {
  let count: i32 = 0;
  let negative = false;
  let p = skipWs(open + 1);
  blockCount = 0;
  blockNegative = false;
  while (true) {
    if (useFloatBlocks) p = floatBlocks(p);
    const c = <u32>load<u8>(p);
    if (c != 0x2d && !isDigit(c)) break;
    const q = scanNumber(p);
    if (q == 0) {
      // Not a failure of the file yet: the general loop re-reads this token and decides.
      failure = 0;
      break;
    }
    if (!numFloat) break;
    negative = negative || numNegative;
    count++;
    p = skipWs(q);
    const d = <u32>load<u8>(p);
    if (d == 0x2c) {
      p = skipWs(p + 1);
      continue;
    }
    if (d == 0x5d) {
      count += blockCount;
      negative = negative || blockNegative;
      const at = tapePos;
      if (!emit2(FLOATS | (negative ? F_NEGATIVE : 0), count)) {
        failure = 0;
        break;
      }
      placeFloatBlock(at, <i32>(open - scanBase));
      return p + 1;
    }
    break;
  }
  return 0;
}

/** The key stack's top (interned keys of the open objects). */
let keyTopScan: i32 = 0;
/** Some object's keys were not all checked for duplicates (a key not interned, or an object of many keys): JavaScript checks them. */
let keysUnchecked = false;

/** Whether the last scan checked every object's keys for duplicates (none found: it would have deferred). */
export function keysChecked(): i32 {
  return keysUnchecked ? 0 : 1;
}

/**
 * Key `id` of the object open at `depth`: false when the object already has it (the reference
 * refuses a duplicate key as corrupt). An object with more than CHECKED_KEYS_MAX keys, or no room
 * left, is not checked further here (keysUnchecked: JavaScript checks it).
 */
@inline function keyOnce(depth: i32, id: i32): bool {
  const from = load<i32>(keyStartsBase + (<usize>depth << 2));
  if (keyTopScan - from >= CHECKED_KEYS_MAX || keyTopScan >= KEY_STACK_ENTRIES) {
    keysUnchecked = true;
    return true;
  }
  for (let k = from; k < keyTopScan; k++) if (load<i32>(keyStackBase + (<usize>k << 2)) == id) return false;
  store<i32>(keyStackBase + (<usize>keyTopScan << 2), id);
  keyTopScan++;
  return true;
}

/** Open a container at `depth` (an object, or an array) with its start entry; closeContainer writes its distance there. */
@inline function openContainer(depth: i32, isObject: bool): bool {
  store<u8>(stackBase + <usize>depth, isObject ? 1 : 0);
  store<i32>(startsBase + (<usize>depth << 2), tapePos);
  if (isObject) store<i32>(keyStartsBase + (<usize>depth << 2), keyTopScan);
  return emit1(isObject ? OBJ_START : ARR_START);
}

/** Close the container open at `depth` with its end entry; its start entry gets the distance to it. */
@inline function closeContainer(depth: i32, end: i32): bool {
  const start = load<i32>(startsBase + (<usize>depth << 2));
  const distance = tapePos - start;
  if (distance >= 1 << 23) {
    failure = DEFER_TAPE;
    return false;
  }
  if (!emit1(end)) return false;
  const q = tapeBase + (<usize>start << 2);
  store<i32>(q, load<i32>(q) | (distance << 8));
  if (end == OBJ_END) keyTopScan = load<i32>(keyStartsBase + (<usize>depth << 2));
  return true;
}

/** Where the text of the current scan starts (offsets on the tape and failOffset count from here). */
let scanBase: usize = 0;

/** A scan's start (JSON text or a bin body): an empty tape, the key checks reset, the input padded; its base (the input from byte `skip` on). */
@inline function beginScan(skip: i32): usize {
  tapePos = 0;
  floatBlockCount = 0;
  failure = 0;
  keyTopScan = 0;
  keysUnchecked = false;
  keyCountAtStart = keyCount;
  arenaAtStart = arenaUsed;
  memory.fill(inEnd, 0, <usize>PAD);
  const base = inBase + <usize>skip;
  scanBase = base;
  return base;
}

/**
 * The key whose bytes are [start, end) (`flags`: F_ESCAPED / F_NON_ASCII, 0 for plain ASCII) of
 * the object open at `depth` onto the tape: KEY_ID or KEY_NEW when interned (a duplicate in its
 * object: DEFER_DUPLICATE), else KEY with its offsets (JavaScript checks it). 0, or why it failed.
 */
@inline function emitKey(depth: i32, start: usize, end: usize, flags: i32, base: usize): i32 {
  const id = flags == 0 ? internKey(start, end) : -1;
  if (id < 0) {
    keysUnchecked = true;
    return emit3(KEY | flags, <i32>(start - base), <i32>(end - base)) ? 0 : failure;
  }
  if (!keyOnce(depth, id)) return DEFER_DUPLICATE;
  if (newKey) return emit3(KEY_NEW | (id << 8), <i32>(start - base), <i32>(end - base)) ? 0 : failure;
  return emit1(KEY_ID | (id << 8)) ? 0 : failure;
}

/** scan() flag: no number values (F_VALUE), offsets only — for callers that read no scalar numbers (todo's probe, the server's read). */
const SCAN_NO_VALUES: i32 = 1;

/**
 * Scan the input laid out by prepare(), from its byte `skip` on (a BOM, a legacy file's length
 * prefix: the file is scanned where it was read); returns the number of tape words, or a DEFER_*
 * code. `flags`: SCAN_NO_VALUES.
 */
export function scan(skip: i32, flags: i32): i32 {
  const values = (flags & SCAN_NO_VALUES) == 0;
  const base = beginScan(skip);
  const end = inEnd;
  let p = skipWs(base);
  if (p >= end || load<u8>(p) != 0x7b) return fail(p, DEFER_START);
  let depth: i32 = 0;
  // State: 0 = a value is expected at p, 1 = a key (or '}' right after '{'), 2 = after a value.
  let state = 0;
  while (true) {
    if (state == 0) {
      const c = <u32>load<u8>(p);
      if (c == 0x7b || c == 0x5b) {
        if (depth + 1 > depthLimit) return fail(p, DEFER_DEPTH);
        if (c == 0x5b) {
          const q = tryFloatRun(p);
          if (q != 0) {
            p = q;
            state = 2;
            continue;
          }
        }
        depth++;
        if (!openContainer(depth, c == 0x7b)) return fail(p, failure);
        p = skipWs(p + 1);
        const d = <u32>load<u8>(p);
        if (c == 0x7b) {
          state = 1;
          if (d == 0x7d) {
            if (!closeContainer(depth, OBJ_END)) return fail(p, failure);
            depth--;
            p++;
            state = 2;
          }
        } else if (d == 0x5d) {
          if (!closeContainer(depth, ARR_END)) return fail(p, failure);
          depth--;
          p++;
          state = 2;
        }
        continue;
      }
      if (c == 0x22) {
        const q = scanString(p + 1);
        if (q == 0) return fail(p, failure);
        if (!emit3(STR | strFlags, <i32>(p + 1 - base), <i32>(q - base))) return fail(p, failure);
        p = q + 1;
      } else if (c == 0x2d || isDigit(c)) {
        const q = scanNumber(p);
        if (q == 0) return fail(p, failure);
        const kind = NUM | (numFloat ? F_FLOAT : 0);
        if (values && numberValue(p, q, numFloat)) {
          const bits = reinterpret<u64>(numValue);
          if (!emit3(kind | F_VALUE, <i32>bits, <i32>(bits >>> 32))) return fail(p, failure);
        } else if (!emit3(kind, <i32>(p - base), <i32>(q - base))) return fail(p, failure);
        p = q;
      } else if (c == 0x74) {
        if (load<u32>(p) != 0x65757274) return fail(p, DEFER_SYNTAX); // "true"
        if (!emit1(TRUE)) return fail(p, failure);
        p += 4;
      } else if (c == 0x66) {
        if (load<u32>(p + 1) != 0x65736c61) return fail(p, DEFER_SYNTAX); // "alse"
        if (!emit1(FALSE)) return fail(p, failure);
        p += 5;
      } else if (c == 0x6e) {
        if (load<u32>(p) != 0x6c6c756e) return fail(p, DEFER_SYNTAX); // "null"
        if (!emit1(NULL)) return fail(p, failure);
        p += 4;
      } else return fail(p, DEFER_SYNTAX);
      state = 2;
      continue;
    }
    if (state == 1) {
      p = skipWs(p);
      if (load<u8>(p) != 0x22) return fail(p, DEFER_SYNTAX);
      const q = scanString(p + 1);
      if (q == 0) return fail(p, failure);
      const keyFailure = emitKey(depth, p + 1, q, strFlags, base);
      if (keyFailure != 0) return fail(p, keyFailure);
      p = skipWs(q + 1);
      if (load<u8>(p) != 0x3a) return fail(p, DEFER_SYNTAX);
      p = skipWs(p + 1);
      state = 0;
      continue;
    }
    // state 2: after a value
    p = skipWs(p);
    if (depth == 0) return p == end ? tapePos : fail(p, DEFER_SYNTAX);
    const c = <u32>load<u8>(p);
    const inObject = load<u8>(stackBase + <usize>depth) == 1;
    if (c == 0x2c) {
      p++;
      if (inObject) state = 1;
      else {
        p = skipWs(p);
        state = 0;
      }
      continue;
    }
    if (c == (inObject ? 0x7d : 0x5d)) {
      if (!closeContainer(depth, inObject ? OBJ_END : ARR_END)) return fail(p, failure);
      depth--;
      p++;
      continue;
    }
    return fail(p, DEFER_SYNTAX);
  }
  return DEFER_SYNTAX;
}

function fail(p: usize, code: i32): i32 {
  failAt = <i32>(p - scanBase);
  rollbackKeys();
  return code == 0 ? DEFER_SYNTAX : code;
}

// ---------------------------------------------------------------------------------------------
// The bin body scanner (src/accel/decode.ts binScan): a plain .bin file's CBOR body onto the same
// tape the JSON scan writes, so that the certifier, the stats summarizer and the shape walk below
// decide a bin file as they decide the same data in JSON. It reads only what our decoder
// (src/formats/cbor.ts) reads the same way — definite-length maps with text keys, arrays, text,
// ints below 2^53, finite float16/32/64, true/false/null, tag 86 blocks of finite float64 — and
// defers everything else (bignums, other tags, byte strings, indefinite lengths, undefined,
// non-finite floats, invalid UTF-8, a duplicate key, trailing bytes): the reference decides those.
// A non-empty array of floats only (a tag 86 block, or float items) is one FLOATS entry, as a JSON
// array of float tokens is; an int is a NUM, a float a NUM with F_FLOAT, each with its double.
// ---------------------------------------------------------------------------------------------

/** Per open container (by depth): its items (array) or entries (map) still to come. */
const remainingBase: usize = memory.data((MAX_STACK + 2) << 2);

/** The argument of the CBOR head read last (readHead), and where the item's content starts. */
let headValue: u64 = 0;
let headEnd: usize = 0;

/** Read the head at p (additional information ai): false when it is truncated, reserved or indefinite. */
@inline function readHead(p: usize, ai: u32, end: usize): bool {
  if (ai < 24) {
    headValue = <u64>ai;
    headEnd = p + 1;
    return true;
  }
  if (ai == 24) {
    if (p + 2 > end) return false;
    headValue = <u64>load<u8>(p + 1);
    headEnd = p + 2;
    return true;
  }
  if (ai == 25) {
    if (p + 3 > end) return false;
    headValue = <u64>bswap<u16>(load<u16>(p + 1));
    headEnd = p + 3;
    return true;
  }
  if (ai == 26) {
    if (p + 5 > end) return false;
    headValue = <u64>bswap<u32>(load<u32>(p + 1));
    headEnd = p + 5;
    return true;
  }
  if (ai == 27) {
    if (p + 9 > end) return false;
    headValue = bswap<u64>(load<u64>(p + 1));
    headEnd = p + 9;
    return true;
  }
  return false; // 28..30 reserved, 31 indefinite: the reference refuses both
}

/** readHead for an item whose argument counts bytes or entries: false too when it claims more than the bytes left (each takes one at least). */
@inline function readBoundedHead(p: usize, ai: u32, end: usize): bool {
  return readHead(p, ai, end) && headValue <= <u64>(end - headEnd);
}

/** Where the text readText read last ends (it starts at headEnd). */
let textEnd: usize = 0;

/** The definite text item at p (head ai): strict UTF-8, its bytes [headEnd, textEnd); its flags (0 or F_NON_ASCII), or a DEFER code (< 0). */
function readText(p: usize, ai: u32, end: usize): i32 {
  if (!readBoundedHead(p, ai, end)) return DEFER_SYNTAX;
  textEnd = headEnd + <usize>headValue;
  const flags = cborTextFlags(headEnd, textEnd);
  return flags < 0 ? DEFER_UTF8 : flags;
}

/** The double of the float item at p (head 0xf9, 0xfa or 0xfb), into numValue; false when it is truncated or not finite. */
function cborFloat(p: usize, b: u32, end: usize): bool {
  let v: f64 = 0;
  if (b == 0xfb) {
    if (p + 9 > end) return false;
    v = reinterpret<f64>(bswap<u64>(load<u64>(p + 1)));
  } else if (b == 0xfa) {
    if (p + 5 > end) return false;
    v = <f64>reinterpret<f32>(bswap<u32>(load<u32>(p + 1)));
  } else {
    if (p + 3 > end) return false;
    const h = <u32>bswap<u16>(load<u16>(p + 1));
    const e = (h >> 10) & 0x1f;
    const m = <f64>(h & 0x3ff);
    if (e == 0x1f) return false;
    v = e == 0 ? m * 5.9604644775390625e-8 : (1 + m / 1024) * pow2(<i32>e - 15);
    if ((h & 0x8000) != 0) v = -v;
  }
  if (!isFinite<f64>(v)) return false;
  numValue = v;
  return true;
}

/** Byte size of the float item whose head byte is b (0xf9, 0xfa, 0xfb). */
@inline function floatItemSize(b: u32): usize {
  return b == 0xfb ? 9 : b == 0xfa ? 5 : 3;
}

/**
 * At an array head (content at q, n > 0 items): when every item is a finite float, one FLOATS
 * entry and the position after the array; else 0 (tape untouched: the general loop takes it).
 */
function cborFloatRun(q: usize, n: u64, end: usize): usize {
  let p = q;
  let negative = false;
  for (let k: u64 = 0; k < n; k++) {
    if (p >= end) return 0;
    const b = <u32>load<u8>(p);
    if (b < 0xf9 || b > 0xfb || !cborFloat(p, b, end)) return 0;
    // The sign, as the JSON scan sees a '-': -0.0 counts.
    negative = negative || (reinterpret<u64>(numValue) >> 63) != 0;
    p += floatItemSize(b);
  }
  if (!emit2(FLOATS | (negative ? F_NEGATIVE : 0), <i32>n)) return 0;
  return p;
}

/**
 * Where the scan's float blocks are: per block, the tape position of its FLOATS entry and where
 * it is in the scanned bytes (from the scan's base, as tape offsets count): a tag 86 block's
 * payload (its complement when some value is 2^127 or more in magnitude, which float32 may not
 * hold), or a JSON float array's '['. In tape order. A tape
 * carries no offset for a FLOATS entry; export's embeddings copy the doubles from here
 * (src/accel/embeddings-tape.ts). Blocks past the first FLOAT_BLOCKS_MAX are counted, not placed.
 */
const FLOAT_BLOCKS_MAX: i32 = 1024;
/** The bits of 2^127: a double below it in magnitude is finite as a float32 (the largest is about 2^128). */
const FLOAT32_SAFE_BITS: u64 = 0x47e0000000000000;
const floatBlocksBase: usize = memory.data(FLOAT_BLOCKS_MAX << 3);
let floatBlockCount: i32 = 0;

export function floatBlocksPointer(): usize {
  return floatBlocksBase;
}

/** Tag 86 blocks of the last CBOR scan placed at floatBlocksPointer (at most FLOAT_BLOCKS_MAX). */
export function floatBlocksPlaced(): i32 {
  return floatBlockCount < FLOAT_BLOCKS_MAX ? floatBlockCount : FLOAT_BLOCKS_MAX;
}

/** A tag 86 block's payload (len bytes of float64-LE at q, len > 0, a multiple of 8): FLOATS; false when some value is not finite. */
function cborFloatBlock(q: usize, len: usize): bool {
  // Two values per 16 bytes (SIMD): an exponent of all ones is NaN or an infinity, which the
  // reference refuses; the sign bits are or-ed together. An odd last value is looked at alone.
  const expMask = i64x2.splat(0x7ff0000000000000);
  const absMask = i64x2.splat(0x7fffffffffffffff);
  const floatMax = i64x2.splat(FLOAT32_SAFE_BITS);
  let nonFinite = i64x2.splat(0);
  let signs = i64x2.splat(0);
  let large = i64x2.splat(0);
  const pairs = len & ~(<usize>15);
  for (let k: usize = 0; k < pairs; k += 16) {
    const v = v128.load(q + k);
    nonFinite = v128.or(nonFinite, i64x2.eq(v128.and(v, expMask), expMask));
    signs = v128.or(signs, v);
    large = v128.or(large, i64x2.ge_s(v128.and(v, absMask), floatMax));
  }
  if (v128.any_true(nonFinite)) return false;
  let negative = i64x2.bitmask(signs) != 0;
  let beyond = v128.any_true(large);
  if (pairs < len) {
    const bits = load<u64>(q + pairs);
    if (((bits >> 52) & 0x7ff) == 0x7ff) return false;
    if ((bits >> 63) != 0) negative = true;
    if ((bits & 0x7fffffffffffffff) >= FLOAT32_SAFE_BITS) beyond = true;
  }
  const at = tapePos;
  if (!emit2(FLOATS | (negative ? F_NEGATIVE : 0), <i32>(len >> 3))) return false;
  const offset = <i32>(q - scanBase);
  placeFloatBlock(at, beyond ? ~offset : offset);
  return true;
}

/** Record a float block's spot (its FLOATS entry at tape position `at`), while there is room. */
function placeFloatBlock(at: i32, offset: i32): void {
  if (floatBlockCount < FLOAT_BLOCKS_MAX) {
    const spot = floatBlocksBase + (<usize>floatBlockCount << 3);
    store<i32>(spot, at);
    store<i32>(spot + 4, offset);
  }
  floatBlockCount++;
}

/** Text bytes [q, e): strict UTF-8; F_NON_ASCII when some byte is >= 0x80, -1 when invalid. */
function cborTextFlags(q: usize, e: usize): i32 {
  let flags: i32 = 0;
  let p = q;
  while (p < e) {
    const c = <u32>load<u8>(p);
    if (c < 0x80) {
      p++;
      continue;
    }
    const k = utf8Sequence(p, c);
    if (k == 0 || p + k > e) return -1;
    flags = F_NON_ASCII;
    p += k;
  }
  return flags;
}

/**
 * Scan the CBOR item from byte `skip` of the prepared input to the input's end (a bin file's body,
 * after its 16-byte header); returns the number of tape words, or a DEFER_* code. The root must be
 * a map. Depth as the reference counts it: a container (or tag 86 block) whose item is at depth d
 * (the root map at 0) defers when d >= the limit, where the reference calls the file too deep.
 */
export function scanCbor(skip: i32): i32 {
  const base = beginScan(skip);
  const end = inEnd;
  let p = base;
  if (p >= end || (<u32>load<u8>(p) >> 5) != 5) return fail(p, DEFER_START);
  let depth: i32 = 0;
  // A key (true) or a value (false) comes next.
  let keyNext = false;
  while (true) {
    if (p >= end) return fail(p, DEFER_SYNTAX);
    const b = <u32>load<u8>(p);
    const major = b >> 5;
    const ai = b & 31;
    if (keyNext) {
      const flags = major == 3 ? readText(p, ai, end) : DEFER_SYNTAX;
      if (flags < 0) return fail(p, flags);
      const keyFailure = emitKey(depth, headEnd, textEnd, flags, base);
      if (keyFailure != 0) return fail(p, keyFailure);
      p = textEnd;
      keyNext = false;
      continue;
    }
    if (major == 5 || major == 4) {
      if (!readBoundedHead(p, ai, end)) return fail(p, DEFER_SYNTAX);
      if (depth + 1 > depthLimit) return fail(p, DEFER_DEPTH);
      const n = headValue;
      const q = headEnd;
      let run: usize = 0;
      if (major == 4 && n > 0) run = cborFloatRun(q, n, end);
      if (run != 0) {
        p = run;
      } else {
        if (failure != 0) return fail(p, failure);
        depth++;
        store<i32>(remainingBase + (<usize>depth << 2), <i32>n);
        if (!openContainer(depth, major == 5)) return fail(p, failure);
        p = q;
        if (n != 0) {
          keyNext = major == 5;
          continue;
        }
        if (!closeContainer(depth, major == 5 ? OBJ_END : ARR_END)) return fail(p, failure);
        depth--;
      }
    } else if (major == 3) {
      const flags = readText(p, ai, end);
      if (flags < 0) return fail(p, flags);
      if (!emit3(STR | flags, <i32>(headEnd - base), <i32>(textEnd - base))) return fail(p, failure);
      p = textEnd;
    } else if (major == 0 || major == 1) {
      if (!readHead(p, ai, end)) return fail(p, DEFER_SYNTAX);
      // 2^53 and beyond: the reference keeps the exact int (the number model); JavaScript decides.
      if (headValue >= <u64>0x20000000000000) return fail(p, DEFER_NUMBER);
      const v: f64 = major == 0 ? <f64>headValue : -1 - <f64>headValue;
      const bits = reinterpret<u64>(v);
      if (!emit3(NUM | F_VALUE, <i32>bits, <i32>(bits >>> 32))) return fail(p, failure);
      p = headEnd;
    } else if (major == 7) {
      if (b >= 0xf9 && b <= 0xfb) {
        if (!cborFloat(p, b, end)) return fail(p, DEFER_NUMBER);
        const bits = reinterpret<u64>(numValue);
        if (!emit3(NUM | F_FLOAT | F_VALUE, <i32>bits, <i32>(bits >>> 32))) return fail(p, failure);
        p += floatItemSize(b);
      } else if (b == 0xf4) {
        if (!emit1(FALSE)) return fail(p, failure);
        p++;
      } else if (b == 0xf5) {
        if (!emit1(TRUE)) return fail(p, failure);
        p++;
      } else if (b == 0xf6) {
        if (!emit1(NULL)) return fail(p, failure);
        p++;
      } else return fail(p, DEFER_SYNTAX);
    } else if (major == 6) {
      // Tag 86 (one byte of argument, as every writer of it puts it), a definite byte string of float64-LE values.
      if (b != 0xd8 || p + 3 > end || load<u8>(p + 1) != 86) return fail(p, DEFER_SYNTAX);
      if (depth + 1 > depthLimit) return fail(p, DEFER_DEPTH);
      const s = p + 2;
      const sb = <u32>load<u8>(s);
      if (sb >> 5 != 2 || !readBoundedHead(s, sb & 31, end)) return fail(p, DEFER_SYNTAX);
      const len = <usize>headValue;
      if (len == 0 || (len & 7) != 0) return fail(p, DEFER_SYNTAX);
      if (!cborFloatBlock(headEnd, len)) return fail(p, failure != 0 ? failure : DEFER_NUMBER);
      p = headEnd + len;
    } else return fail(p, DEFER_SYNTAX); // a byte string outside tag 86
    // A value is done: it may complete its container, and that one its own.
    while (true) {
      if (depth == 0) return p == end ? tapePos : fail(p, DEFER_SYNTAX);
      const at = remainingBase + (<usize>depth << 2);
      const left = load<i32>(at) - 1;
      store<i32>(at, left);
      const inObject = load<u8>(stackBase + <usize>depth) == 1;
      if (left > 0) {
        keyNext = inObject;
        break;
      }
      if (!closeContainer(depth, inObject ? OBJ_END : ARR_END)) return fail(p, failure);
      depth--;
    }
  }
  return DEFER_SYNTAX;
}

// ---------------------------------------------------------------------------------------------
// The validate certifier (src/accel/certify.ts): after a scan, a walk of the tape that decides,
// for the common form of a sidecar, what validate's inspection decides from the decoded data —
// no built-in rule finds a problem, and the brief (analysis/summary.ts briefOfSidecar) — without
// building anything. It answers 1 (certified: the results below) or 0 (unsure: JavaScript builds
// the skeleton from the same tape and decides as before). It follows operations, backends and
// data wrappers as analysis/operations.ts walks them, and is unsure of anything outside the
// common form: a root key other than sidecar_info and the known operation keys spelt as the
// pipeline writes them (no wrapper, flat form, alias or user key at the root), more result nodes
// or child objects than it keeps, a child key that starts with a digit, a key not in the key
// table (escaped, long), a number whose value a rule compares and numberValue leaves to
// JavaScript, a timestamp not in Python's isoformat() form, and every value a rule would flag
// (errors and warnings alike). The scan has checked every object's keys for duplicates (the
// reference calls a duplicate corrupt); a file with keys it could not check is left to JavaScript.
// ---------------------------------------------------------------------------------------------

// The keys the certifier looks for, interned first (ids 0..N-1, in this order) when the key
// table is laid out: a comma-separated list, ASCII. Their ids are the K_* constants below.
// One literal (no concatenation at run time: the stub runtime's allocator would write where the key table is).
const PRIMED_KEYS = 'sidecar_info,operation_type,created_at,last_updated,last_operation,image_path,symlink_path,symlink_info,target_path,is_symlink,broken,face_detection,object_detection,ball_detection,quality_assessment,game_detection,yolov8,unified,pose_detection,success,faces,objects,quality,poses,games,metadata,error,processing_time,detection_time,face_count,objects_found,faces_found,bbox,coordinates,confidence,landmarks,encoding,face_encoding,class_name,class_id,coordinates_pixels,coordinates_percent,crop_area_percent,x,y,width,height,overall_score,sharpness,focus,exposure,composition,action,color,noise,contrast,grade,recommendations,detector,tool_name,model_name,data,image,detection_time_seconds';
const K_SIDECAR_INFO: i32 = 0;
const K_OPERATION_TYPE: i32 = 1;
const K_CREATED_AT: i32 = 2;
const K_LAST_UPDATED: i32 = 3;
const K_LAST_OPERATION: i32 = 4;
const K_IMAGE_PATH: i32 = 5;
const K_SYMLINK_PATH: i32 = 6;
const K_SYMLINK_INFO: i32 = 7;
const K_TARGET_PATH: i32 = 8;
const K_IS_SYMLINK: i32 = 9;
const K_BROKEN: i32 = 10;
const K_FIRST_OPERATION: i32 = 11; // face_detection .. pose_detection: 11..18
const K_YOLOV8: i32 = 16;
const K_LAST_OPERATION_KEY: i32 = 18;
const K_SUCCESS: i32 = 19;
const K_FACES: i32 = 20;
const K_OBJECTS: i32 = 21;
const K_QUALITY: i32 = 22;
const K_POSES: i32 = 23;
const K_GAMES: i32 = 24;
const K_METADATA: i32 = 25;
const K_ERROR: i32 = 26;
const K_PROCESSING_TIME: i32 = 27;
const K_DETECTION_TIME: i32 = 28;
const K_FACE_COUNT: i32 = 29;
const K_OBJECTS_FOUND: i32 = 30;
const K_FACES_FOUND: i32 = 31;
const K_BBOX: i32 = 32;
const K_COORDINATES: i32 = 33;
const K_CONFIDENCE: i32 = 34;
const K_LANDMARKS: i32 = 35;
const K_ENCODING: i32 = 36;
const K_FACE_ENCODING: i32 = 37;
const K_CLASS_NAME: i32 = 38;
const K_CLASS_ID: i32 = 39;
const K_COORDINATES_PIXELS: i32 = 40;
const K_COORDINATES_PERCENT: i32 = 41;
const K_CROP_AREA_PERCENT: i32 = 42;
const K_X: i32 = 43;
const K_Y: i32 = 44;
const K_WIDTH: i32 = 45;
const K_HEIGHT: i32 = 46;
const K_OVERALL_SCORE: i32 = 47;
const K_FIRST_SCORE: i32 = K_OVERALL_SCORE; // overall_score .. contrast: 47..55
const K_LAST_SCORE: i32 = 55;
const K_GRADE: i32 = 56;
const K_RECOMMENDATIONS: i32 = 57;
const K_DETECTOR: i32 = 58;
const K_TOOL_NAME: i32 = 59;
const K_MODEL_NAME: i32 = 60;
const K_DATA: i32 = 61;
const K_IMAGE: i32 = 62;
const K_DETECTION_TIME_SECONDS: i32 = 63;
const PRIMED_COUNT: i32 = 64;

let primed = false;

/** Intern PRIMED_KEYS (once per thread, when the key table is first laid out); false if the table disagrees. */
function primeKeys(): bool {
  primed = true;
  const n = PRIMED_KEYS.length;
  // Each key's bytes are written at the arena's end, then interned from there (internKey copies them in place).
  let id: i32 = 0;
  let i: i32 = 0;
  while (i < n) {
    let j = i;
    while (j < n && PRIMED_KEYS.charCodeAt(j) != 0x2c) j++;
    const at = arenaBase + arenaUsed + <usize>MAX_KEY_LEN;
    for (let k = i; k < j; k++) store<u8>(at + <usize>(k - i), <u8>PRIMED_KEYS.charCodeAt(k));
    if (internKey(at, at + <usize>(j - i)) != id) return false;
    id++;
    i = j + 1;
  }
  return id == PRIMED_COUNT;
}

/** Keys interned when the table was laid out (PRIMED_COUNT, or 0 when priming failed: the certifier is then off). */
export function primedKeys(): i32 {
  return primedOk ? PRIMED_COUNT : 0;
}
let primedOk = false;

/** Where the bytes of key `id` are (in the module's memory), and their length: JavaScript reads the primed keys' strings. */
export function keyPointer(id: i32): usize {
  return arenaBase + <usize>load<u32>(recordsBase + <usize>id * RECORD_BYTES, 4);
}
export function keyLength(id: i32): i32 {
  return load<i32>(recordsBase + <usize>id * RECORD_BYTES, 8);
}

@inline function tw(i: i32): i32 {
  return load<i32>(tapeBase + (<usize>i << 2));
}
@inline function tk(i: i32): i32 {
  return load<i32>(tapeBase + (<usize>i << 2)) & 0xff;
}

/** The double numberAt read last. */
let numOut: f64 = 0;

/**
 * The double of the NUM entry at i into numOut: from the tape (F_VALUE), or computed now from its
 * text (a scan without values: only the few numbers a rule compares are needed), exactly as the
 * reference gives it (numberValue); false when it is not a number or numberValue leaves it to
 * JavaScript.
 */
function numberAt(i: i32): bool {
  const w = tw(i);
  if ((w & 0xff) != NUM) return false;
  if ((w & F_VALUE) != 0) {
    // The low and high words are consecutive, little-endian: one load is the double's bits.
    numOut = load<f64>(tapeBase + (<usize>(i + 1) << 2));
    return true;
  }
  if (!numberValue(scanBase + <usize>tw(i + 1), scanBase + <usize>tw(i + 2), (w & F_FLOAT) != 0)) return false;
  numOut = numValue;
  return true;
}

/** The key at tape entry i: its id (the entry's length in `keyWords`), or -1 (not interned: unsure). */
let keyWords: i32 = 0;
@inline function keyIdAt(i: i32): i32 {
  const w = tw(i);
  const k = w & 0xff;
  if (k == KEY_ID) {
    keyWords = 1;
    return w >>> 8;
  }
  if (k == KEY_NEW) {
    keyWords = 3;
    return w >>> 8;
  }
  return -1;
}

/** The tape entry after the value at i (a container's start entry holds the distance to its end). */
@inline function skipValue(i: i32): i32 {
  const w = tw(i);
  const k = w & 0xff;
  if (k == NUM || k == STR) return i + 3;
  if (k == FLOATS) return i + 2;
  if (k == OBJ_START || k == ARR_START) return i + (w >>> 8) + 1;
  return i + 1;
}

// Members of the object being looked at closely: per key id of interest, its value's tape entry.
// One table per nesting level of close looks (root, operation, face, box...).
const LOOK_LEVELS: i32 = 8;
const lookTables: usize = memory.data(LOOK_LEVELS * PRIMED_COUNT * 4);
let lookLevel: i32 = 0;
/** Objects a node holds under keys other than metadata and sidecar_info (backends, data wrappers): at most this many are followed. */
const CHILDREN_MAX: i32 = 8;
const childTables: usize = memory.data(LOOK_LEVELS * CHILDREN_MAX * 8);
/** Child objects of the last object looked at (the walkers' order: the file's), in its level's child table; -1: too many. */
let lookChildren: i32 = 0;

/**
 * Look at the object at tape entry i: its primed keys' values (tape entries) in the table of this
 * level (-1: absent), and its child objects (key entry, value entry) in the level's child table;
 * values are stepped over (the scan checked every object's keys for duplicates). Returns the entry
 * after the object, or -1 (unsure: not an object, a key not interned).
 */
function lookAt(i: i32, table: usize): i32 {
  if (tk(i) != OBJ_START) return -1;
  memory.fill(table, 0xff, <usize>PRIMED_COUNT << 2);
  const children = childrenOf(table);
  let nChildren: i32 = 0;
  i++;
  while (tk(i) != OBJ_END) {
    const keyAt = i;
    const id = keyIdAt(i);
    if (id < 0) return -1;
    i += keyWords;
    if (id < PRIMED_COUNT) store<i32>(table + (<usize>id << 2), i);
    if (tk(i) == OBJ_START && id != K_METADATA && id != K_SIDECAR_INFO) {
      // Object.keys puts array-index keys first: a key starting with a digit is not followed here.
      if (nChildren < 0 || nChildren >= CHILDREN_MAX || keyFirstByte(keyAt, id) - 0x30 < 10) nChildren = -1;
      else {
        store<i32>(children + (<usize>nChildren << 3), keyAt);
        store<i32>(children + (<usize>nChildren << 3), i, 4);
        nChildren++;
      }
    }
    i = skipValue(i);
  }
  lookChildren = nChildren;
  return i + 1;
}

/** The first byte of the key at tape entry `at` (id `id`), 0 for an empty key. */
@inline function keyFirstByte(at: i32, id: i32): u32 {
  if (tk(at) == KEY_NEW) return tw(at + 1) == tw(at + 2) ? 0 : <u32>load<u8>(scanBase + <usize>tw(at + 1));
  return keyLength(id) == 0 ? 0 : <u32>load<u8>(keyPointer(id));
}

/** The child table of the look table `table`. */
@inline function childrenOf(table: usize): usize {
  return childTables + ((table - lookTables) / (<usize>PRIMED_COUNT * 4)) * <usize>(CHILDREN_MAX * 8);
}

@inline function member(table: usize, id: i32): i32 {
  return load<i32>(table + (<usize>id << 2));
}

/** A new look table (one nesting level deeper); null past LOOK_LEVELS. */
@inline function enterLook(): usize {
  if (lookLevel >= LOOK_LEVELS) return 0;
  return lookTables + <usize>(lookLevel++ * PRIMED_COUNT * 4);
}

// What the certifier found (read by JavaScript through certResults()):
//   [0] detection count, [1] operations, [2] tape entry of sidecar_info.operation_type (-1 none),
//   [3] words used, then per operation: its key id, its result nodes n, and per node (in the
//   walkers' order) the tape entry of the key it sits under (-1: the operation's value, or a data
//   wrapper of it) and of its metadata's or its own tool string (-1 none): summary.ts toolOf.
const RESULT_WORDS: i32 = 256;
const results: usize = memory.data(RESULT_WORDS << 2);
let resultTop: i32 = 4;
@inline function putResult(v: i32): bool {
  if (resultTop >= RESULT_WORDS) return false;
  store<i32>(results + (<usize>resultTop << 2), v);
  resultTop++;
  return true;
}
export function certResults(): usize {
  return results;
}
/** Embedding length of the first face that has one (-1 none yet): the rules compare the others with it. */
let encodingLength: i32 = -1;

/** A string entry whose text is empty. */
@inline function isEmptyString(i: i32): bool {
  return tk(i) == STR && tw(i + 1) == tw(i + 2);
}
/** A string entry that is not empty (nonEmptyString). */
@inline function isNonEmptyString(i: i32): bool {
  return tk(i) == STR && tw(i + 1) != tw(i + 2);
}

/** The bytes of a string entry (ASCII, no escape: else -1 from the callers). */
@inline function strByte(i: i32, k: i32): u32 {
  return <u32>load<u8>(scanBase + <usize>tw(i + 1) + <usize>k);
}

const DAYS_IN_MONTH: StaticArray<i32> = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

@inline function twoDigits(i: i32, k: i32): i32 {
  const a = strByte(i, k) - 0x30;
  const b = strByte(i, k + 1) - 0x30;
  return a < 10 && b < 10 ? <i32>(a * 10 + b) : -1;
}

/**
 * A timestamp string (entry i) in the form Python's isoformat() writes without an offset, with real
 * field values: 1. In that form with impossible values: 0 (a rule error). Another form: -1 (the
 * reference's pattern decides: unsure). analysis/rules.ts isoFixedForm.
 */
function isoFixed(i: i32): i32 {
  if (tk(i) != STR || (tw(i) & (F_ESCAPED | F_NON_ASCII)) != 0) return -1;
  const n = tw(i + 2) - tw(i + 1);
  if (n < 19) return -1;
  const y0 = twoDigits(i, 0);
  const y1 = twoDigits(i, 2);
  const month = twoDigits(i, 5);
  const day = twoDigits(i, 8);
  const hour = twoDigits(i, 11);
  const minute = twoDigits(i, 14);
  const second = twoDigits(i, 17);
  const t = strByte(i, 10);
  if ((y0 | y1 | month | day | hour | minute | second) < 0 || strByte(i, 4) != 0x2d || strByte(i, 7) != 0x2d) return -1;
  if ((t != 0x54 && t != 0x20) || strByte(i, 13) != 0x3a || strByte(i, 16) != 0x3a) return -1;
  if (n > 19) {
    const c = strByte(i, 19);
    if ((c != 0x2e && c != 0x2c) || n == 20) return -1;
    for (let k = 20; k < n; k++) if (strByte(i, k) - 0x30 >= 10) return -1;
  }
  const year = y0 * 100 + y1;
  if (month < 1 || month > 12 || day < 1 || day > unchecked(DAYS_IN_MONTH[month - 1])) return 0;
  if (month == 2 && day == 29 && !(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))) return 0;
  if (hour > 23 || minute > 59 || second > 60) return 0;
  return 1;
}

/** checkString: absent, a string, or (nullable) null. */
@inline function stringOk(v: i32, nullable: bool): bool {
  return v < 0 || tk(v) == STR || (nullable && tk(v) == NULL);
}
/** checkBoolean: absent or a boolean. */
@inline function booleanOk(v: i32): bool {
  return v < 0 || tk(v) == TRUE || tk(v) == FALSE;
}
/** checkTimestamp: absent, or a valid timestamp in the fixed form. */
@inline function timestampOk(v: i32): bool {
  return v < 0 || isoFixed(v) == 1;
}

/** sidecar_info (entry i): no rule problem. Returns the entry after it, or -1. */
function certifyInfo(i: i32): i32 {
  const t = enterLook();
  if (t == 0) return -1;
  const next = lookAt(i, t);
  let ok = next >= 0;
  if (ok) {
    const type = member(t, K_OPERATION_TYPE);
    ok = stringOk(type, false) && timestampOk(member(t, K_CREATED_AT)) && timestampOk(member(t, K_LAST_UPDATED)) && stringOk(member(t, K_LAST_OPERATION), false);
    ok = ok && stringOk(member(t, K_IMAGE_PATH), true) && stringOk(member(t, K_SYMLINK_PATH), true);
    store<i32>(results, type, 8);
    const link = member(t, K_SYMLINK_INFO);
    if (ok && link >= 0 && tk(link) != NULL) {
      const l = enterLook();
      ok = l != 0 && lookAt(link, l) >= 0;
      ok = ok && stringOk(member(l, K_SYMLINK_PATH), true) && stringOk(member(l, K_TARGET_PATH), true) && booleanOk(member(l, K_IS_SYMLINK)) && booleanOk(member(l, K_BROKEN));
      if (l != 0) lookLevel--;
    }
  }
  lookLevel--;
  return ok ? next : -1;
}

/** A number with its double on the tape, within [lo, hi]. */
@inline function numberIn(v: i32, lo: f64, hi: f64): bool {
  return numberAt(v) && numOut >= lo && numOut <= hi;
}

/** confidence: absent, or a number in [0, 1]. */
@inline function confidenceOk(v: i32): bool {
  return v < 0 || numberIn(v, 0, 1);
}

/** `{x, y, width, height}` of numbers (unit: each in [0, 1]). */
function boxObjectOk(v: i32, unit: bool): bool {
  const t = enterLook();
  if (t == 0) return false;
  let ok = lookAt(v, t) >= 0;
  for (let id = K_X; ok && id <= K_HEIGHT; id++) {
    const m = member(t, id);
    ok = m >= 0 && tk(m) == NUM && (!unit || numberIn(m, 0, 1));
  }
  lookLevel--;
  return ok;
}

/** An array of numbers (a float run, or a general array of NUM entries): its length, or -1. Negative elements allowed unless `nonNegative`. */
function numbersLength(v: i32, nonNegative: bool): i32 {
  if (tk(v) == FLOATS) return nonNegative && (tw(v) & F_NEGATIVE) != 0 ? -1 : tw(v + 1);
  if (tk(v) != ARR_START) return -1;
  let n = 0;
  let i = v + 1;
  while (tk(i) != ARR_END) {
    if (tk(i) != NUM) return -1;
    if (nonNegative && !numberIn(i, 0, Infinity)) return -1;
    i += 3;
    n++;
  }
  return n;
}

/** bbox: a unit box object, or an array of 4 non-negative numbers. */
@inline function bboxOk(v: i32): bool {
  return tk(v) == OBJ_START ? boxObjectOk(v, true) : numbersLength(v, true) == 4;
}

/** coordinates and the older pixel/percent boxes: a box object or an array of numbers, any range. */
@inline function coordinatesOk(v: i32): bool {
  return tk(v) == OBJ_START ? boxObjectOk(v, false) : numbersLength(v, false) >= 0;
}

/** landmarks: null, or an array of [x, y] pairs of numbers. */
function landmarksOk(v: i32): bool {
  if (tk(v) == NULL) return true;
  if (tk(v) != ARR_START) return false;
  let i = v + 1;
  while (tk(i) != ARR_END) {
    if (numbersLength(i, false) != 2) return false;
    i = skipValue(i);
    if (i < 0) return false;
  }
  return true;
}

/** encoding / face_encoding: null, or numbers of the file's one embedding length (128 or 512). */
function encodingOk(v: i32): bool {
  if (tk(v) == NULL) return true;
  const n = numbersLength(v, false);
  if (n < 0) return false;
  if (encodingLength < 0) {
    encodingLength = n;
    return n == 128 || n == 512;
  }
  return n == encodingLength;
}

/** One face (entry i): no rule problem. */
function faceOk(i: i32): bool {
  const t = enterLook();
  if (t == 0) return false;
  let ok = lookAt(i, t) >= 0;
  if (ok) {
    const bbox = member(t, K_BBOX);
    const coords = member(t, K_COORDINATES);
    ok = bbox >= 0 ? bboxOk(bbox) : coords >= 0 && coordinatesOk(coords);
    ok = ok && confidenceOk(member(t, K_CONFIDENCE));
    const lm = member(t, K_LANDMARKS);
    ok = ok && (lm < 0 || landmarksOk(lm));
    const enc = member(t, K_ENCODING);
    ok = ok && (enc < 0 || encodingOk(enc));
    const fenc = member(t, K_FACE_ENCODING);
    ok = ok && (fenc < 0 || encodingOk(fenc));
  }
  lookLevel--;
  return ok;
}

/** One detected object (entry i): no rule problem (`requireClass`: yolov8's). */
function objectOk(i: i32, requireClass: bool): bool {
  const t = enterLook();
  if (t == 0) return false;
  let ok = lookAt(i, t) >= 0;
  if (ok) {
    const name = member(t, K_CLASS_NAME);
    ok = name >= 0 ? tk(name) == STR : !requireClass;
    const id = member(t, K_CLASS_ID);
    if (ok) {
      if (id >= 0) {
        ok = numberAt(id);
        if (ok) {
          const x = numOut;
          ok = x >= 0 && x == Math.floor(x) && x < Infinity;
        }
      } else ok = !requireClass;
    }
    ok = ok && confidenceOk(member(t, K_CONFIDENCE));
    const bbox = member(t, K_BBOX);
    ok = ok && (bbox < 0 || bboxOk(bbox));
    for (let k = K_COORDINATES_PIXELS; ok && k <= K_CROP_AREA_PERCENT; k++) {
      const c = member(t, k);
      ok = c < 0 || coordinatesOk(c);
    }
  }
  lookLevel--;
  return ok;
}

/** quality (entry i): no rule problem. */
function qualityOk(i: i32): bool {
  const t = enterLook();
  if (t == 0) return false;
  let ok = lookAt(i, t) >= 0;
  for (let k = K_FIRST_SCORE; ok && k <= K_LAST_SCORE; k++) {
    const s = member(t, k);
    ok = s < 0 || tk(s) == NUM;
  }
  if (ok) {
    const g = member(t, K_GRADE);
    // One of A..F, as written (no escape).
    ok = g < 0 || (tk(g) == STR && (tw(g) & F_ESCAPED) == 0 && tw(g + 2) - tw(g + 1) == 1 && strByte(g, 0) - 0x41 < 6);
  }
  if (ok) {
    const r = member(t, K_RECOMMENDATIONS);
    if (r >= 0 && tk(r) != NULL) {
      ok = tk(r) == ARR_START;
      let j = r + 1;
      while (ok && tk(j) != ARR_END) {
        ok = tk(j) == STR;
        j += 3;
      }
    }
  }
  lookLevel--;
  return ok;
}

/** A declared count (absent or null: fine; else an integer-valued number equal to `actual`). */
@inline function countOk(v: i32, actual: i32): bool {
  return v < 0 || tk(v) == NULL || (numberAt(v) && numOut == <f64>actual);
}

/** Elements of the array at entry v, each an object passing `check`; -1 when not an array or one fails. */
function objectsIn(v: i32, requireClass: bool, faces: bool): i32 {
  if (tk(v) != ARR_START) return -1;
  let n = 0;
  let i = v + 1;
  while (tk(i) != ARR_END) {
    if (tk(i) != OBJ_START) return -1;
    if (!(faces ? faceOk(i) : objectOk(i, requireClass))) return -1;
    i = skipValue(i);
    if (i < 0) return -1;
    n++;
  }
  return n;
}

/** How deep backends nest below an operation (operations.ts MAX_NESTING). */
const MAX_NESTING: i32 = 3;

/**
 * One result node (entry i: an object with a result marker, operations.ts hasResultMarker), as
 * the rules and the brief visit it: no rule problem (rules.ts checkResultNode), its faces and
 * objects counted, its tool recorded. `t`: its look table (lookAt done). False: unsure.
 */
function visitNode(t: usize, op: i32, backendAt: i32): bool {
  const faces = member(t, K_FACES);
  const objects = member(t, K_OBJECTS);
  const quality = member(t, K_QUALITY);
  let ok = true;
  const success = member(t, K_SUCCESS);
  if (success >= 0) {
    if (tk(success) == FALSE) {
      const err = member(t, K_ERROR);
      ok = err >= 0 && tk(err) != NULL && !isEmptyString(err);
    } else ok = tk(success) == TRUE;
  }
  const meta = member(t, K_METADATA);
  let facesN: i32 = -1;
  let objectsN: i32 = -1;
  if (ok && faces >= 0) {
    facesN = objectsIn(faces, false, true);
    ok = facesN >= 0 && countOk(member(t, K_FACES_FOUND), facesN) && countOk(member(t, K_FACE_COUNT), facesN);
  }
  if (ok && objects >= 0) {
    objectsN = objectsIn(objects, op == K_YOLOV8, false);
    ok = objectsN >= 0 && countOk(member(t, K_OBJECTS_FOUND), objectsN);
  }
  if (ok && quality >= 0) ok = qualityOk(quality);
  let tool: i32 = -1;
  if (ok && meta >= 0 && tk(meta) == OBJ_START) {
    const m = enterLook();
    ok = m != 0 && lookAt(meta, m) >= 0;
    if (ok) {
      if (facesN >= 0) ok = countOk(member(m, K_FACES_FOUND), facesN);
      if (objectsN >= 0) ok = ok && countOk(member(m, K_OBJECTS_FOUND), objectsN);
      tool = firstNonEmpty(member(m, K_DETECTOR), member(m, K_TOOL_NAME), member(m, K_MODEL_NAME));
    }
    if (m != 0) lookLevel--;
  }
  if (!ok) return false;
  if (tool < 0) tool = firstNonEmpty(member(t, K_DETECTOR), member(t, K_TOOL_NAME), member(t, K_MODEL_NAME));
  store<i32>(results, load<i32>(results) + (facesN > 0 ? facesN : 0) + (objectsN > 0 ? objectsN : 0));
  return putResult(backendAt) && putResult(tool);
}

/** The first of three entries that is a non-empty string (summary.ts nonEmptyString), or -1. */
@inline function firstNonEmpty(a: i32, b: i32, c: i32): i32 {
  return a >= 0 && isNonEmptyString(a) ? a : b >= 0 && isNonEmptyString(b) ? b : c >= 0 && isNonEmptyString(c) ? c : -1;
}

/** Result nodes recorded for the operation being walked, its key id, and which walk visits them (stats' summary, or validate's rules and brief). */
let nodesOfOperation: i32 = 0;
let walkOp: i32 = 0;
let walkForStats = false;
const NODES_MAX: i32 = 8;

/**
 * operations.ts walkResultNodes from the object at entry i (a node at `depth`, under the key at
 * tape entry `backendAt`, -1 for none): visited when it is a result, then its child objects
 * followed in order unless it is a leaf (faces, objects, quality, poses) or deep enough. Returns
 * the entry after it, or -1: unsure (or a rule problem).
 */
function walkNode(i: i32, backendAt: i32, depth: i32): i32 {
  const t = enterLook();
  if (t == 0) return -1;
  const next = lookAt(i, t);
  let ok = next >= 0;
  if (ok) {
    let marker = false;
    for (let k = K_SUCCESS; !marker && k <= K_OBJECTS_FOUND; k++) if (member(t, k) >= 0) marker = true;
    const children = lookChildren;
    const leaf = member(t, K_FACES) >= 0 || member(t, K_OBJECTS) >= 0 || member(t, K_QUALITY) >= 0 || member(t, K_POSES) >= 0;
    if (marker) ok = ++nodesOfOperation <= NODES_MAX && (walkForStats ? summarizeNode(t, backendAt) : visitNode(t, walkOp, backendAt));
    if (ok && depth < MAX_NESTING && !leaf) {
      if (children < 0) ok = false;
      const list = childrenOf(t);
      for (let c = 0; ok && c < children; c++) {
        const keyAt = load<i32>(list + (<usize>c << 3));
        const value = load<i32>(list + (<usize>c << 3), 4);
        // A `data` wrapper keeps the key it is found under.
        const childBackend = keyIdAt(keyAt) == K_DATA ? backendAt : keyAt;
        ok = walkNode(value, childBackend, depth + 1) >= 0;
      }
    }
  }
  lookLevel--;
  return ok ? next : -1;
}

/**
 * One operation's value (entry i, key id `op`): an object (else a rule error), its result nodes
 * walked. Returns the entry after it, or -1.
 */
function certifyOperation(i: i32, op: i32): i32 {
  if (tk(i) != OBJ_START) return -1;
  if (!putResult(op)) return -1;
  const countAt = resultTop;
  if (!putResult(0)) return -1;
  nodesOfOperation = 0;
  walkOp = op;
  walkForStats = false;
  const next = walkNode(i, -1, 0);
  store<i32>(results + (<usize>countAt << 2), nodesOfOperation);
  return next;
}

/**
 * Certify the last scan's tape (n words) for validate's inspection: 1 with the results in
 * certResults(), or 0 (unsure). The certifier is off (always 0) when the keys were not primed.
 */
export function certifyValidate(n: i32): i32 {
  // Every object's keys checked for duplicates by the scan (else JavaScript checks them).
  if (!primedOk || keysUnchecked || n < 2 || tk(0) != OBJ_START) return 0;
  lookLevel = 0;
  encodingLength = -1;
  resultTop = 4;
  store<i32>(results, 0);
  store<i32>(results, 0, 4);
  store<i32>(results, -1, 8);
  let ops: i32 = 0;
  let i = 1;
  while (tk(i) != OBJ_END) {
    const id = keyIdAt(i);
    if (id < 0) return 0;
    i += keyWords;
    if (id == K_SIDECAR_INFO) i = certifyInfo(i);
    else if (id >= K_FIRST_OPERATION && id <= K_LAST_OPERATION_KEY) {
      ops++;
      i = certifyOperation(i, id);
    } else return 0; // the user's own key, another spelling, a wrapper, the flat form: unsure
    if (i < 0) return 0;
  }
  // No known operation: the reference's flat form, or a "no known operation" warning.
  if (ops == 0 || i + 1 != n) return 0;
  store<i32>(results, ops, 4);
  store<i32>(results, resultTop, 12);
  return 1;
}

// ---------------------------------------------------------------------------------------------
// The stats summarizer (src/accel/certify.ts summaryOnTape): the same walk, for stats'
// inspection (the summary, no rules): analysis/summary.ts summarizeSidecar of the common form, and
// each operation's size in the bin encoding (formats/cbor.ts binEncodedSize, by the skeleton's
// sizing rules), decided on the tape. Unsure (0) of a root key other than sidecar_info and the
// known operations, of the walkers' limits, of a key not interned, of a number whose value the
// summary reads (a time, a score, an int's size) that numberValue leaves to JavaScript, and of an
// escaped string the sizes need. What JavaScript needs of strings (the operation type, tools,
// the grade, object classes) and of `sidecar_info.image` it reads from their tape entries.
// ---------------------------------------------------------------------------------------------

//   [0] faces, [1] objects, [2] embeddings, [3] embedding length (-1 none), [4] the grade's tape
//   entry (-1 none), [5] sidecar_info: bit 0 an object, bit 1 its symlink_info an object, bit 2
//   is_symlink true, bit 3 broken true, [6] the operation type's tape entry (-1), [7] the image
//   record's tape entry (-1), [8] operations, [9] object classes, [10] words used, then per
//   operation: its key id, success (-1 none, 0, 1), its size (-1 none), its result nodes n and n
//   pairs (the key it sits under, its tool string) as for validate, then the tape entries of the
//   objects' class names. Doubles (statsNumbers): [0] the quality score (NaN: none), then per
//   operation its processing time (NaN: none).
const STATS_WORDS: i32 = 1024;
const statsResults: usize = memory.data(STATS_WORDS << 2);
const statsNumbers: usize = memory.data(32 << 3);
let statsTop: i32 = 11;
export function statsResultsPointer(): usize {
  return statsResults;
}
export function statsNumbersPointer(): usize {
  return statsNumbers;
}
@inline function putStats(v: i32): bool {
  if (statsTop >= STATS_WORDS) return false;
  store<i32>(statsResults + (<usize>statsTop << 2), v);
  statsTop++;
  return true;
}
@inline function statsAt(k: i32): i32 {
  return load<i32>(statsResults + (<usize>k << 2));
}
@inline function setStats(k: i32, v: i32): void {
  store<i32>(statsResults + (<usize>k << 2), v);
}

/** headSize of formats/cbor.ts: the bytes of a CBOR head for a count or an unsigned value n. */
@inline function cborHead(n: f64): f64 {
  return n < 24 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : n < 4294967296 ? 5 : 9;
}
/** floatRunSize: a tag-86 block from 4 floats on, else an array of float64 items. */
@inline function floatRun(n: i32): f64 {
  return n >= 4 ? 2 + cborHead(<f64>n * 8) + <f64>n * 8 : cborHead(<f64>n) + 9 * <f64>n;
}
/** The size of a key (interned: ASCII, no escape). */
@inline function keySize(at: i32, id: i32): f64 {
  const len = tk(at) == KEY_NEW ? tw(at + 2) - tw(at + 1) : keyLength(id);
  return cborHead(<f64>len) + <f64>len;
}

/** The value at tape entry i in the bin encoding, in bytes (the skeleton's sizing); -1: unsure. */
function binSize(i: i32): f64 {
  const w = tw(i);
  const k = w & 0xff;
  if (k == TRUE || k == FALSE || k == NULL) return 1;
  if (k == FLOATS) return floatRun(tw(i + 1));
  if (k == STR) {
    if ((w & F_ESCAPED) != 0) return -1;
    const len = <f64>(tw(i + 2) - tw(i + 1));
    return cborHead(len) + len;
  }
  if (k == NUM) {
    if ((w & F_FLOAT) != 0) return 9;
    if (!numberAt(i)) return -1;
    // An int below 2^53 (numberValue gives no other): a CBOR int; "-0" is the int 0.
    return cborHead(numOut >= 0 ? numOut : -1 - numOut);
  }
  if (k == ARR_START) {
    let n: i32 = 0;
    let floats = true;
    let sum: f64 = 0;
    let j = i + 1;
    while (tk(j) != ARR_END) {
      const e = tw(j);
      if ((e & 0xff) != NUM || (e & F_FLOAT) == 0) floats = false;
      const size = binSize(j);
      if (size < 0) return -1;
      sum += size;
      n++;
      j = skipValue(j);
    }
    return floats ? floatRun(n) : cborHead(<f64>n) + sum;
  }
  if (k == OBJ_START) {
    let n: i32 = 0;
    let sum: f64 = 0;
    let j = i + 1;
    while (tk(j) != OBJ_END) {
      const at = j;
      const id = keyIdAt(j);
      if (id < 0) return -1;
      j += keyWords;
      const size = binSize(j);
      if (size < 0) return -1;
      sum += keySize(at, id) + size;
      n++;
      j = skipValue(j);
    }
    return cborHead(<f64>n) + sum;
  }
  return -1;
}

/** An array's length (an ARR or a float run), or -1 when the entry is no array. */
function arrayLength(i: i32): i32 {
  const k = tk(i);
  if (k == FLOATS) return tw(i + 1);
  if (k != ARR_START) return -1;
  let n: i32 = 0;
  let j = i + 1;
  while (tk(j) != ARR_END) {
    n++;
    j = skipValue(j);
  }
  return n;
}

/** summary.ts finiteNumber of the entry at v into numOut: false when it is absent or no number; unsure (statsUnsure) when its value is left to JavaScript. */
let statsUnsure = false;
function finiteAt(v: i32): bool {
  if (v < 0 || tk(v) != NUM) return false;
  if (numberAt(v)) return true;
  statsUnsure = true;
  return false;
}

// Per operation while it is walked: its processing time, success, result nodes (summary.ts OperationState).
let opTime: f64 = NaN;
let opSuccess: i32 = -1;

/** A result node's part of the summary (summary.ts visitNode, the full one). `t`: its look table. */
function summarizeNode(t: usize, backendAt: i32): bool {
  const meta = member(t, K_METADATA);
  const m = meta >= 0 && tk(meta) == OBJ_START ? enterLook() : 0;
  if (meta >= 0 && tk(meta) == OBJ_START) {
    if (m == 0 || lookAt(meta, m) < 0) return false;
  }
  let ok = true;
  // processingTimeOf: metadata.processing_time, processing_time, detection_time, then metadata's detection_time(_seconds).
  if (isNaN(opTime)) {
    if (m != 0 && finiteAt(member(m, K_PROCESSING_TIME))) opTime = numOut;
    else if (finiteAt(member(t, K_PROCESSING_TIME))) opTime = numOut;
    else if (finiteAt(member(t, K_DETECTION_TIME))) opTime = numOut;
    else if (m != 0 && finiteAt(member(m, K_DETECTION_TIME))) opTime = numOut;
    else if (m != 0 && finiteAt(member(m, K_DETECTION_TIME_SECONDS))) opTime = numOut;
  }
  // mergeSuccess: false as soon as any node failed.
  const success = member(t, K_SUCCESS);
  if (success >= 0 && (tk(success) == TRUE || tk(success) == FALSE)) {
    const v = tk(success) == TRUE ? 1 : 0;
    opSuccess = opSuccess < 0 ? v : opSuccess & v;
  }
  let tool = -1;
  if (m != 0) tool = firstNonEmpty(member(m, K_DETECTOR), member(m, K_TOOL_NAME), member(m, K_MODEL_NAME));
  if (tool < 0) tool = firstNonEmpty(member(t, K_DETECTOR), member(t, K_TOOL_NAME), member(t, K_MODEL_NAME));
  if (m != 0) lookLevel--;
  ok = putStats(backendAt) && putStats(tool);
  // countFaces
  const faces = member(t, K_FACES);
  if (ok && faces >= 0 && tk(faces) == ARR_START) {
    let j = faces + 1;
    while (ok && tk(j) != ARR_END) {
      if (tk(j) == OBJ_START) {
        setStats(0, statsAt(0) + 1);
        const f = enterLook();
        ok = f != 0 && lookAt(j, f) >= 0;
        if (ok) {
          const e = member(f, K_ENCODING);
          const fe = member(f, K_FACE_ENCODING);
          let n = e >= 0 ? arrayLength(e) : -1;
          if (n < 0 && fe >= 0) n = arrayLength(fe);
          if (n > 0) {
            setStats(2, statsAt(2) + 1);
            if (statsAt(3) < 0) setStats(3, n);
          }
        }
        if (f != 0) lookLevel--;
      }
      j = skipValue(j);
    }
  }
  // countObjects
  const objects = member(t, K_OBJECTS);
  if (ok && objects >= 0 && tk(objects) == ARR_START) {
    let j = objects + 1;
    while (ok && tk(j) != ARR_END) {
      if (tk(j) == OBJ_START) {
        setStats(1, statsAt(1) + 1);
        const o = enterLook();
        ok = o != 0 && lookAt(j, o) >= 0;
        if (ok) {
          const cls = member(o, K_CLASS_NAME);
          if (cls >= 0 && tk(cls) == STR) {
            ok = classCount < CLASSES_MAX;
            if (ok) {
              store<i32>(classTable + (<usize>classCount << 2), cls);
              classCount++;
            }
          }
        }
        if (o != 0) lookLevel--;
      }
      j = skipValue(j);
    }
  }
  // readQuality
  const quality = member(t, K_QUALITY);
  if (ok && quality >= 0 && tk(quality) == OBJ_START) {
    const q = enterLook();
    ok = q != 0 && lookAt(quality, q) >= 0;
    if (ok) {
      const g = member(q, K_GRADE);
      if (statsAt(4) < 0 && g >= 0 && isNonEmptyString(g)) setStats(4, g);
      if (isNaN(load<f64>(statsNumbers)) && finiteAt(member(q, K_OVERALL_SCORE))) store<f64>(statsNumbers, numOut);
    }
    if (q != 0) lookLevel--;
  }
  return ok && !statsUnsure;
}

/** Object classes' tape entries (the summary counts them by name in JavaScript). */
const CLASSES_MAX: i32 = 512;
const classTable: usize = memory.data(CLASSES_MAX << 2);
let classCount: i32 = 0;

/**
 * Summarize the last scan's tape (n words) for stats' inspection (`sizes`: each operation's size
 * in the bin encoding): 1 with the results in statsResultsPointer() / statsNumbersPointer(), or 0
 * (unsure).
 */
export function summarizeStats(n: i32, sizes: i32): i32 {
  if (!primedOk || keysUnchecked || n < 2 || tk(0) != OBJ_START) return 0;
  lookLevel = 0;
  statsTop = 11;
  classCount = 0;
  statsUnsure = false;
  for (let k = 0; k < 11; k++) setStats(k, 0);
  setStats(3, -1);
  setStats(4, -1);
  setStats(6, -1);
  setStats(7, -1);
  store<f64>(statsNumbers, NaN);
  let ops: i32 = 0;
  let infoObject = false;
  let i = 1;
  while (tk(i) != OBJ_END) {
    const id = keyIdAt(i);
    if (id < 0) return 0;
    i += keyWords;
    if (id == K_SIDECAR_INFO) {
      if (tk(i) == OBJ_START) {
        infoObject = true;
        const t = enterLook();
        if (t == 0 || lookAt(i, t) < 0) return 0;
        let flags = 1;
        const type = member(t, K_OPERATION_TYPE);
        if (type >= 0 && tk(type) == STR) setStats(6, type);
        const image = member(t, K_IMAGE);
        if (image >= 0) setStats(7, image);
        const link = member(t, K_SYMLINK_INFO);
        if (link >= 0 && tk(link) == OBJ_START) {
          const l = enterLook();
          if (l == 0 || lookAt(link, l) < 0) return 0;
          flags |= 2;
          const s = member(l, K_IS_SYMLINK);
          const b = member(l, K_BROKEN);
          if (s >= 0 && tk(s) == TRUE) flags |= 4;
          if (b >= 0 && tk(b) == TRUE) flags |= 8;
          lookLevel--;
        }
        lookLevel--;
        setStats(5, flags);
      }
      i = skipValue(i);
    } else if (id >= K_FIRST_OPERATION && id <= K_LAST_OPERATION_KEY) {
      if (ops >= 16) return 0;
      ops++;
      if (!putStats(id)) return 0;
      const successAt = statsTop;
      const sizeAt = statsTop + 1;
      const countAt = statsTop + 2;
      if (!putStats(-1) || !putStats(-1) || !putStats(0)) return 0;
      opTime = NaN;
      opSuccess = -1;
      nodesOfOperation = 0;
      walkOp = id;
      walkForStats = true;
      // forEachResultNode: only an object is walked; any value is sized.
      if (tk(i) == OBJ_START && walkNode(i, -1, 0) < 0) return 0;
      setStats(successAt, opSuccess);
      setStats(countAt, nodesOfOperation);
      store<f64>(statsNumbers + (<usize>ops << 3), opTime);
      if (sizes != 0) {
        const size = binSize(i);
        if (size < 0 || size > 2147483647) return 0;
        setStats(sizeAt, <i32>size);
      }
      i = skipValue(i);
    } else return 0;
  }
  // Neither sidecar_info nor an operation: not sidecar-shaped (the reference's 'other').
  if ((ops == 0 && !infoObject) || i + 1 != n) return 0;
  setStats(8, ops);
  setStats(9, classCount);
  for (let c = 0; c < classCount; c++) if (!putStats(load<i32>(classTable + (<usize>c << 2)))) return 0;
  setStats(10, statsTop);
  return 1;
}

// ---------------------------------------------------------------------------------------------
// The shape on the tape (format-stats: format and shape only; src/accel/certify.ts shapeOnTape):
// what analysis/operations.ts looksLikeReport and looksLikeSidecar read of the root — a `games`
// array there or under `data`, `sidecar_info` an object, a known operation key — without building
// the probe skeleton. Root keys outside the primed ones are handed to JavaScript (any spelling of
// an operation counts). Unsure (-1) of a file whose keys the scan could not all check.
// ---------------------------------------------------------------------------------------------

//   [0] flags: bit 0 sidecar_info an object, bit 1 a `games` array at the root, bit 2 a `games`
//   array under an object `data`, bit 3 a known operation key as the pipeline spells it;
//   [1] root keys outside the primed ones, [2..] their tape entries.
const SHAPE_KEYS_MAX: i32 = 64;
const shapeResults: usize = memory.data((SHAPE_KEYS_MAX + 2) << 2);
export function shapeResultsPointer(): usize {
  return shapeResults;
}

export function shapeOf(n: i32): i32 {
  if (!primedOk || keysUnchecked || n < 2 || tk(0) != OBJ_START) return -1;
  let flags = 0;
  let others = 0;
  let i = 1;
  while (tk(i) != OBJ_END) {
    const at = i;
    const id = keyIdAt(i);
    if (id < 0) return -1;
    i += keyWords;
    if (id == K_SIDECAR_INFO) {
      if (tk(i) == OBJ_START) flags |= 1;
    } else if (id == K_GAMES) {
      if (tk(i) == ARR_START || tk(i) == FLOATS) flags |= 2;
    } else if (id == K_DATA) {
      if (tk(i) == OBJ_START) {
        let j = i + 1;
        while (tk(j) != OBJ_END) {
          const kid = keyIdAt(j);
          if (kid < 0) return -1;
          j += keyWords;
          if (kid == K_GAMES && (tk(j) == ARR_START || tk(j) == FLOATS)) flags |= 4;
          j = skipValue(j);
        }
      }
    } else if (id >= K_FIRST_OPERATION && id <= K_LAST_OPERATION_KEY) flags |= 8;
    if (id >= PRIMED_COUNT) {
      if (others >= SHAPE_KEYS_MAX) return -1;
      store<i32>(shapeResults + (<usize>(2 + others) << 2), at);
      others++;
    }
    i = skipValue(i);
  }
  if (i + 1 != n) return -1;
  store<i32>(shapeResults, flags);
  store<i32>(shapeResults, others, 4);
  return 1;
}
