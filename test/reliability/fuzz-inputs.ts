/**
 * Hostile inputs for the decoders, as fast-check arbitraries (so a failing case shrinks to a
 * minimal mutation list):
 *   - mutated valid files: bit flips, interesting bytes, inserts, deletes, truncation, copies,
 *     splices between files, huge integers written over length fields, JSON tokens dropped in;
 *     for bin/rkyv the body length and CRC are usually fixed up afterwards (and the legacy length
 *     prefix), so the mutation reaches the body decoder instead of stopping at the checksum;
 *   - structured garbage: random CBOR heads (hostile lengths, tags, indefinite markers, floats)
 *     inside a valid container, or random JSON token soup;
 *   - plain random bytes, sometimes behind a plausible header.
 * Plus hand-made "length bombs" and deep nesting, and random JSON-like data for round trips.
 */
import * as fs from 'node:fs';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { encodeSidecar } from '../../src/formats/codec.js';
import { Rng } from '../../src/sample/prng.js';
import { sampleSidecar } from '../../src/sample/shapes.js';
import type { JsonObject, JsonValue } from '../../src/types.js';
import { SAMPLES_DIR } from '../helpers/samples.js';

export type DecoderName = 'json' | 'bin' | 'rkyv' | 'legacy';
export const DECODER_NAMES: readonly DecoderName[] = ['json', 'bin', 'rkyv', 'legacy'];

const BIN_HEADER = 16;
const LEGACY_PREFIX = 8;
/** The earlier tool's real files, read (never written) when this checkout has them. */
const REFERENCE_SAMPLES = SAMPLES_DIR;

// ---------------------------------------------------------------------------------------------
// seed corpus
// ---------------------------------------------------------------------------------------------

function handMadeData(): JsonObject[] {
  const proto: JsonObject = {};
  Object.defineProperty(proto, '__proto__', { value: { polluted: true }, enumerable: true, writable: true, configurable: true });
  return [
    {},
    { a: [] },
    { face_detection: { success: true, faces: [], metadata: { image_width: 6000, faces_found: 0 } } },
    { floats: [0.22490839660167694, -0, 5e-324, 1.7976931348623157e308, -1e-300, 0.1], ints: [0, -1, 9007199254740991, -9007199254740991] },
    { big: 9007199254740993, neg: -9007199254740993, small: [1, 2, 3, 4] },
    { text: 'ünïcödé ✓ 🎉 \u0000 \n "quoted" \\ back', '': '', 'ключ': 'значение' },
    { nested: [[[[[[[[[[{ deep: [[[[1.5]]]] }]]]]]]]]]] },
    { embedding: Array.from({ length: 37 }, (_, i) => Math.sin(i) / 3), mixed: [1, 'a', null, true, 2.5, { x: 1 }] },
    proto,
    { sidecar_info: { operation_type: 'face_detection', created_at: '2025-10-01T12:40:11.886386', symlink_info: { is_symlink: false, broken: false } } },
  ];
}

function sampleData(seed: number): JsonObject[] {
  const rng = new Rng(seed);
  return [0, 0, 1, 2].map((faces) => sampleSidecar(rng.fork(), { faces }));
}

function referenceFiles(): { json: Buffer[]; legacy: Buffer[] } {
  const read = (n: string) => {
    try {
      return [fs.readFileSync(`${REFERENCE_SAMPLES}/${n}`)];
    } catch {
      return [];
    }
  };
  return { json: read('sportball-test_no_faces.json'), legacy: [...read('legacy-test1.bin'), ...read('legacy-test2.bin')] };
}

/** Valid files of one decoder's format: what the mutations start from. */
export function seedCorpus(decoder: DecoderName, seed: number): Uint8Array[] {
  const data = [...handMadeData(), ...sampleData(seed)];
  const ref = referenceFiles();
  const out: Uint8Array[] = [];
  for (const d of data) {
    switch (decoder) {
      case 'json':
        out.push(encodeSidecar(d, 'json'));
        out.push(Buffer.from(JSON.stringify(d)));
        break;
      default:
        out.push(encodeSidecar(d, decoder));
    }
  }
  if (decoder === 'json') out.push(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"bom": true}\r\n')]), ...ref.json);
  if (decoder === 'legacy') out.push(...ref.legacy);
  return out;
}

// ---------------------------------------------------------------------------------------------
// mutations
// ---------------------------------------------------------------------------------------------

const INTERESTING_BYTES = [0x00, 0x01, 0x17, 0x18, 0x1b, 0x1f, 0x20, 0x22, 0x2c, 0x3a, 0x5b, 0x5c, 0x5d, 0x5f, 0x7b, 0x7d, 0x7f, 0x80, 0x9b, 0x9f, 0xbb, 0xbf, 0xc0, 0xd8, 0xed, 0xef, 0xf4, 0xf5, 0xf9, 0xfa, 0xfb, 0xff];
/** Values written over length fields: the edges of every integer width and beyond any file. */
const HUGE_VALUES = [0x7f, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 2 ** 32, 2 ** 53 - 1, 2 ** 53 + 2, 2 ** 63, 2 ** 64 - 2048];
const JSON_TOKENS = ['{', '}', '[', ']', ',', ':', '"', '\\', '"a"', '"\\ud800"', '"\\udc00\\ud800"', '"\\u0000"', '"\\x"', '1e309', '-1e309', '-0', '0.1', '01', '-', '.5', 'NaN', 'Infinity', 'true', 'nul', 'null', '"__proto__"', '{"__proto__":{}}', '\u00e9', '\u2028', '\ufeff', '[[[[[[[[', ']]]]', '1'.repeat(400), '"' + 'x'.repeat(300)];

export type Mutation =
  | { k: 'flip'; at: number; bit: number }
  | { k: 'set'; at: number; v: number }
  | { k: 'insert'; at: number; bytes: Uint8Array }
  | { k: 'delete'; at: number; len: number }
  | { k: 'truncate'; at: number }
  | { k: 'dup'; at: number; len: number; to: number }
  | { k: 'splice'; other: number; at: number; len: number; to: number }
  | { k: 'int'; at: number; width: 1 | 2 | 4 | 8; v: number; little: boolean }
  | { k: 'token'; at: number; token: string };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ k: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ k: fc.constant('set' as const), at: fc.nat(), v: fc.constantFrom(...INTERESTING_BYTES) }),
  fc.record({ k: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ k: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ k: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ k: fc.constant('dup' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 128 }), to: fc.nat() }),
  fc.record({ k: fc.constant('splice' as const), other: fc.nat(), at: fc.nat(), len: fc.integer({ min: 1, max: 256 }), to: fc.nat() }),
  fc.record({ k: fc.constant('int' as const), at: fc.nat(), width: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const), v: fc.constantFrom(...HUGE_VALUES), little: fc.boolean() }),
  fc.record({ k: fc.constant('token' as const), at: fc.nat(), token: fc.constantFrom(...JSON_TOKENS) }),
);

function writeInt(b: Uint8Array, at: number, width: number, v: number, little: boolean): void {
  for (let i = 0; i < width && at + i < b.length; i++) {
    const shift = little ? i : width - 1 - i;
    b[at + i] = Math.floor(v / 2 ** (8 * shift)) & 0xff;
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
}

export function applyMutation(input: Uint8Array, m: Mutation, corpus: readonly Uint8Array[]): Uint8Array {
  const len = input.length;
  const at = m.at % (len + 1);
  switch (m.k) {
    case 'flip': {
      if (len === 0) return input;
      const b = Uint8Array.from(input);
      b[at % len] ^= 1 << m.bit;
      return b;
    }
    case 'set': {
      if (len === 0) return Uint8Array.of(m.v);
      const b = Uint8Array.from(input);
      b[at % len] = m.v;
      return b;
    }
    case 'insert':
      return concat(input.subarray(0, at), m.bytes, input.subarray(at));
    case 'delete':
      return concat(input.subarray(0, at), input.subarray(Math.min(len, at + m.len)));
    case 'truncate':
      return input.slice(0, at);
    case 'dup': {
      const piece = input.slice(at, at + m.len);
      const to = m.to % (len + 1);
      return concat(input.subarray(0, to), piece, input.subarray(to));
    }
    case 'splice': {
      const other = corpus[m.other % corpus.length];
      const from = m.at % (other.length + 1);
      const piece = other.slice(from, from + m.len);
      const to = m.to % (len + 1);
      return concat(input.subarray(0, to), piece, input.subarray(Math.min(len, to + piece.length)));
    }
    case 'int': {
      const b = Uint8Array.from(input);
      writeInt(b, at, m.width, m.v, m.little);
      return b;
    }
    case 'token':
      return concat(input.subarray(0, at), Buffer.from(m.token, 'utf8'), input.subarray(at));
  }
}

/** Make the container consistent again so the decoder behind it gets the mutated body. */
export function fixContainer(decoder: DecoderName, b: Uint8Array): Uint8Array {
  if ((decoder === 'bin' || decoder === 'rkyv') && b.length >= BIN_HEADER) {
    const out = Uint8Array.from(b);
    writeInt(out, 8, 4, out.length - BIN_HEADER, true);
    writeInt(out, 12, 4, crc32(out.subarray(BIN_HEADER)), true);
    return out;
  }
  if (decoder === 'legacy' && b.length >= LEGACY_PREFIX) {
    const out = Uint8Array.from(b);
    writeInt(out, 0, 8, out.length - LEGACY_PREFIX, true);
    return out;
  }
  return b;
}

/** A bin/rkyv file around `body`, with a correct length and CRC. */
export function binFile(body: Uint8Array, aligned: boolean): Uint8Array {
  const head = Uint8Array.of(0x89, 0x49, 0x53, 0x43, 1, aligned ? 1 : 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  return fixContainer('bin', concat(head, body));
}

/** A legacy file around `text`: u64 LE length + bytes. */
export function legacyFile(text: Uint8Array): Uint8Array {
  return fixContainer('legacy', concat(new Uint8Array(LEGACY_PREFIX), text));
}

// ---------------------------------------------------------------------------------------------
// structured garbage
// ---------------------------------------------------------------------------------------------

/** One random CBOR head (+ a little payload): major type, additional info, argument. */
const cborHeadArb = fc
  .record({
    major: fc.nat(7),
    ai: fc.oneof(fc.nat(23), fc.constantFrom(24, 25, 26, 27, 28, 31)),
    arg: fc.constantFrom(0, 1, 7, 86, 255, 0xffff, ...HUGE_VALUES),
    payload: fc.oneof(fc.constant(''), fc.string({ maxLength: 6 }), fc.constantFrom('\ud800', 'é', '\u0000')),
  })
  .map(({ major, ai, arg, payload }) => {
    const head = [(major << 5) | ai];
    const width = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : 0;
    const b = new Uint8Array(1 + width);
    b[0] = head[0];
    writeInt(b, 1, width, arg, false);
    const text = (major === 2 || major === 3) && ai < 24 ? Buffer.from(payload, 'utf8').subarray(0, ai) : new Uint8Array(0);
    return concat(b, text);
  });

/** A CBOR body: usually a map head first (what a sidecar is), then random items. */
const cborBodyArb = fc
  .tuple(fc.constantFrom(Uint8Array.of(0xa1, 0x61, 0x61), Uint8Array.of(0xa2), Uint8Array.of(0xbf), new Uint8Array(0), Uint8Array.of(0xa1, 0x61, 0x61, 0xd8, 0x56)), fc.array(cborHeadArb, { maxLength: 24 }))
  .map(([start, heads]) => concat(start, ...heads));

const jsonSoupArb = fc
  .tuple(fc.constantFrom('{', '{"a":', '{"face_detection":{"faces":[', '', '\ufeff{', ' \n{'), fc.array(fc.constantFrom(...JSON_TOKENS), { maxLength: 30 }))
  .map(([start, tokens]) => Buffer.from(start + tokens.join(''), 'utf8'));

// ---------------------------------------------------------------------------------------------
// per-decoder case arbitrary
// ---------------------------------------------------------------------------------------------

export function hostileBytes(decoder: DecoderName, corpus: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const mutated = fc
    .record({ seed: fc.nat(corpus.length - 1), mutations: fc.array(mutationArb, { minLength: 1, maxLength: 4 }), fix: fc.nat(9) })
    .map(({ seed, mutations, fix }) => {
      let b = corpus[seed];
      for (const m of mutations) b = applyMutation(b, m, corpus);
      return fix < 7 ? fixContainer(decoder, b) : b; // usually fixed up, sometimes left torn
    });
  let structured: fc.Arbitrary<Uint8Array>;
  switch (decoder) {
    case 'bin':
    case 'rkyv':
      structured = cborBodyArb.map((body) => binFile(body, decoder === 'rkyv'));
      break;
    case 'legacy':
      structured = jsonSoupArb.map((t) => legacyFile(t));
      break;
    default:
      structured = jsonSoupArb;
  }
  const random = fc.tuple(fc.constantFrom('none', 'header'), fc.uint8Array({ maxLength: 300 })).map(([prefix, bytes]) => {
    if (prefix === 'none') return bytes;
    if (decoder === 'bin' || decoder === 'rkyv') return binFile(bytes, decoder === 'rkyv');
    if (decoder === 'legacy') return legacyFile(bytes);
    return concat(Buffer.from('{'), bytes);
  });
  return fc.oneof({ arbitrary: mutated, weight: 6 }, { arbitrary: structured, weight: 3 }, { arbitrary: random, weight: 1 });
}

// ---------------------------------------------------------------------------------------------
// hand-made hostile inputs
// ---------------------------------------------------------------------------------------------

function u64le(v: number): Uint8Array {
  const b = new Uint8Array(8);
  writeInt(b, 0, 8, v, true);
  return b;
}

/** Inputs whose length fields claim far more than the file holds. */
export function lengthBombs(decoder: DecoderName): { name: string; bytes: Uint8Array; valid?: boolean }[] {
  const ff8 = new Uint8Array(8).fill(0xff);
  const ff4 = new Uint8Array(4).fill(0xff);
  const key = Uint8Array.of(0xa1, 0x61, 0x61); // {"a": ...
  switch (decoder) {
    case 'bin':
    case 'rkyv': {
      const aligned = decoder === 'rkyv';
      const bodies: [string, Uint8Array][] = [
        ['array of 2^64-1 items', concat(key, Uint8Array.of(0x9b), ff8)],
        ['array of 2^32-1 items', concat(key, Uint8Array.of(0x9a), ff4)],
        ['map of 2^64-1 entries', concat(Uint8Array.of(0xbb), ff8)],
        ['map of 2^32-1 entries', concat(Uint8Array.of(0xba), ff4)],
        ['text of 2^64-1 bytes', concat(key, Uint8Array.of(0x7b), ff8)],
        ['text of 2^32-1 bytes', concat(key, Uint8Array.of(0x7a), ff4, Buffer.from('abc'))],
        ['key of 2^32-1 bytes', concat(Uint8Array.of(0xa1, 0x7a), ff4, Buffer.from('k'))],
        ['tag 86 with 2^64-8 bytes', concat(key, Uint8Array.of(0xd8, 0x56, 0x5b), u64le(0).map((_, i) => (i === 7 ? 0xf8 : 0xff)))],
        ['tag 86 with 2^32-8 bytes', concat(key, Uint8Array.of(0xd8, 0x56, 0x5a, 0xff, 0xff, 0xff, 0xf8))],
        ['tag 86 chunk of 2^32-1 bytes', concat(key, Uint8Array.of(0xd8, 0x56, 0x5f, 0x5a), ff4, Uint8Array.of(0xff))],
        ['nested arrays claiming 2^16 items each', concat(key, new Uint8Array(3000).map((_, i) => (i % 3 === 0 ? 0x99 : 0xff)))],
      ];
      const out: { name: string; bytes: Uint8Array; valid?: boolean }[] = bodies.map(([name, body]) => ({ name, bytes: binFile(body, aligned) }));
      // Valid but extreme: 4096 empty padding chunks before an empty float block (linear, no blow-up).
      out.push({ name: '4096 empty tag 86 chunks', bytes: binFile(concat(key, Uint8Array.of(0xd8, 0x56, 0x5f), new Uint8Array(4096).fill(0x40), Uint8Array.of(0xff)), aligned), valid: true });
      const lying = Uint8Array.from(binFile(Uint8Array.of(0xa0), aligned));
      writeInt(lying, 8, 4, 0xffffffff, true);
      out.push({ name: 'header claims a 4 GiB body', bytes: lying });
      return out;
    }
    case 'legacy':
      return [
        { name: 'length 2^64-1', bytes: concat(ff8, Buffer.from('{"a":1}')) },
        { name: 'length 2^53+2', bytes: concat(u64le(2 ** 53 + 2), Buffer.from('{"a":1}')) },
        { name: 'length 1 GiB', bytes: concat(u64le(2 ** 30), Buffer.from('{"a":1}')) },
        { name: 'length 2^32 + actual', bytes: concat(u64le(2 ** 32 + 7), Buffer.from('{"a":1}')) },
      ];
    case 'json':
      return [
        // Beyond Python's 4300-digit int limit: CORRUPT (numbers.ts), and refused without quadratic work.
        { name: 'number with 100k digits', bytes: Buffer.from(`{"a":1${'0'.repeat(100_000)}}`) },
        { name: 'int of 4300 digits', bytes: Buffer.from(`{"a":1${'0'.repeat(4_299)}}`), valid: true },
        { name: 'unterminated 100k string', bytes: Buffer.from(`{"a":"${'x'.repeat(100_000)}`) },
        { name: '100k escapes', bytes: Buffer.from(`{"a":"${'\\u0000'.repeat(20_000)}"}`), valid: true },
        { name: '20k keys', bytes: Buffer.from(`{${Array.from({ length: 20_000 }, (_, i) => `"k${i}":${i}`).join(',')}}`), valid: true },
      ];
  }
}

/** A valid-looking file of `decoder`'s format holding `depth` nested arrays. */
export function deeplyNested(decoder: DecoderName, depth: number): Uint8Array {
  switch (decoder) {
    case 'json':
      return Buffer.from(`{"a":${'['.repeat(depth)}${']'.repeat(depth)}}`);
    case 'legacy':
      return legacyFile(Buffer.from(`{"a":${'['.repeat(depth)}${']'.repeat(depth)}}`));
    default: {
      // {"a": [[[...[]...]]]} as CBOR: 0x81 = array of one item, 0x80 = empty array.
      const body = new Uint8Array(3 + depth);
      body.set([0xa1, 0x61, 0x61]);
      body.fill(0x81, 3, 3 + depth - 1);
      body[3 + depth - 1] = 0x80;
      return binFile(body, decoder === 'rkyv');
    }
  }
}

/** A nested JS value of `depth` levels (for encoders). */
export function deepValue(depth: number): JsonObject {
  let v: JsonValue = [];
  for (let i = 1; i < depth; i++) v = [v];
  return { a: v };
}

// ---------------------------------------------------------------------------------------------
// random data for round trips
// ---------------------------------------------------------------------------------------------

const keyArb = fc.oneof(
  { arbitrary: fc.string({ maxLength: 12 }), weight: 12 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 6 }), weight: 2 },
  { arbitrary: fc.constantFrom('__proto__', 'constructor', 'sidecar_info', 'face_detection', ''), weight: 1 },
);
const numberArb = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.constantFrom(-0, 0.22490839660167694, 5e-324, 1.7976931348623157e308, 2 ** 53 - 1, -(2 ** 53 - 1), 0.1),
);
/** Lone surrogates: valid in JS strings and JSON escapes, impossible in UTF-8 (CBOR must refuse them). */
const loneSurrogateArb = fc.constantFrom('\ud800', 'x\udfff', '\udc00\ud800');
const stringArb = fc.oneof(
  { arbitrary: fc.string({ maxLength: 20 }), weight: 5 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 10 }), weight: 2 },
  { arbitrary: loneSurrogateArb, weight: 1 },
);

/** Own-property objects (so "__proto__" is an ordinary key, as JSON.parse makes it). */
function objectOf(entries: [string, JsonValue][]): JsonObject {
  const o: JsonObject = {};
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

const { value: jsonValueArb } = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    numberArb,
    stringArb,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 6 }),
    fc.array(numberArb, { minLength: 4, maxLength: 40 }), // float blocks (tag 86)
    fc.array(fc.tuple(keyArb, tie('value')), { maxLength: 6 }).map(objectOf),
  ),
}));

/** A random sidecar-like object: JSON only (no NaN/Infinity), -0 and extreme doubles included. */
export const sidecarDataArb: fc.Arbitrary<JsonObject> = fc.array(fc.tuple(keyArb, jsonValueArb), { maxLength: 8 }).map(objectOf);
