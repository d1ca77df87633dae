/**
 * The bin body scan (issue 12 on the issue-13 fast path): a plain bin file's CBOR body goes onto
 * the JSON scanner's tape (assembly/scanner.ts scanCbor), where the validate certifier, the stats
 * summarizer and format-stats' shape walk decide it; anything else defers to the reference decoder
 * (formats/cbor.ts), which defines the result. Every guarantee with its attacker:
 *  - parity: every inspection of a certified file is the reference's, on a library stored as bin,
 *    on generated data and on the bin fuzz corpus with its hostile mutations (container fixed up,
 *    so the mutated body reaches both decoders);
 *  - never certifies what the reference flags: non-finite floats (item or block), invalid UTF-8
 *    (also a sequence cut by the string's end), duplicate keys, ints beyond 2^53, bignums, other
 *    tags, byte strings, indefinite lengths, undefined, trailing bytes, too deep, a bad header;
 *  - what it does certify is read as the reference reads it: float16/32 values, -0.0, integral
 *    floats, non-shortest heads, plain float arrays and tag 86 blocks, non-ASCII text;
 *  - aligned (.rkyv layout) and encrypted files are not scanned; the switch turns it off;
 *  - the public API gives the same output with the accelerator on and off.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { setBinScan } from '../src/accel/decode.js';
import { encodeSidecar } from '../src/formats/codec.js';
import { inspectBytes } from '../src/tasks/inspect.js';
import { formatStats, generateSampleLibrary, stats, validate } from '../src/index.js';
import { binFile, sidecarDataArb } from './reliability/fuzz-inputs.js';
import { checkAccelParity, checkFuzzParity, checkTreeParity, newTally, type ParityTally } from './helpers/accel-parity.js';
import { cborHead } from './helpers/cbor.js';
import { removeTree, tempDir } from './helpers/cli.js';

function assertClean(t: ParityTally): void {
  assert.deepEqual(t.mismatches.slice(0, 5), [], `${t.mismatches.length} mismatches`);
}

// A small CBOR writer for hand-made bodies (heads of any width, so that non-shortest forms can be written).
const cat = (...parts: (Uint8Array | number[])[]) => Buffer.concat(parts.map((p) => Buffer.from(p)));
const head = cborHead;
const text = (s: string | Buffer) => {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return cat(head(3, b.length), b);
};
const map = (entries: [string | Buffer, Buffer][]) => cat(head(5, entries.length), ...entries.flatMap(([k, v]) => [typeof k === 'string' ? text(k) : k, v]));
const arr = (items: Buffer[]) => cat(head(4, items.length), ...items);
const int = (n: number | bigint) => (BigInt(n) >= 0n ? head(0, n) : head(1, -1n - BigInt(n)));
const f64 = (x: number) => {
  const b = Buffer.alloc(9);
  b[0] = 0xfb;
  b.writeDoubleBE(x, 1);
  return b;
};
const f32 = (x: number) => {
  const b = Buffer.alloc(5);
  b[0] = 0xfa;
  b.writeFloatBE(x, 1);
  return b;
};
const f16 = (bits: number) => Buffer.from([0xf9, bits >> 8, bits & 0xff]);
const block = (xs: number[]) => {
  const payload = Buffer.alloc(8 * xs.length);
  xs.forEach((x, i) => payload.writeDoubleLE(x, 8 * i));
  return cat([0xd8, 86], head(2, payload.length), payload);
};
const TRUE = Buffer.from([0xf5]);
const emb = (n: number) => Array.from({ length: n }, (_, i) => ((i % 3 === 0 ? -1 : 1) * (i + 1)) / 1000 + 0.000123456789);
/** A face as the pipeline writes it, with `extra` entries appended. */
const face = (extra: [string | Buffer, Buffer][] = []) =>
  map([
    ['bbox', map([['x', f64(0.1)], ['y', f64(0.2)], ['width', f64(0.3)], ['height', f64(0.4)]])],
    ['confidence', f64(0.9)],
    ['landmarks', arr([arr([f64(1.5), f64(2.5)]), arr([f64(3.25), f64(4)])])],
    ['encoding', block(emb(512))],
    ...extra,
  ]);
/** A sidecar body: face_detection with `faces`, and `more` root entries. */
const body = (faces: Buffer[], more: [string, Buffer][] = [], metadata: [string, Buffer][] = []) =>
  map([['face_detection', map([['success', TRUE], ['faces', arr(faces)], ['metadata', map([['processing_time', f64(0.25)], ['detector', text('insightface')], ...metadata])]])], ...more]);
const file = (b: Buffer) => Buffer.from(binFile(b, false));

/** Inspect with the bin scan on; its path. */
function fastPath(bytes: Buffer, opts = { brief: true, validate: true }): string | undefined {
  return inspectBytes({ path: 'x.bin', name: 'x.bin' }, bytes, { ...opts, accel: true }).accel;
}

describe('accel: bin bodies on the tape', () => {
  it('a clean bin sidecar is certified for validate, stats and format-stats, each the reference inspection', () => {
    const bytes = file(body([face(), face()]));
    const t = newTally();
    checkAccelParity('clean.bin', bytes, t);
    assertClean(t);
    assert.equal(t.binCertified, 1);
    for (const opts of [{ brief: true, validate: true }, { summarize: true }, {}]) assert.equal(fastPath(bytes, opts as never), 'wasm');
    // The encoder's own output of the same data is certified too.
    assert.equal(fastPath(encodeSidecar({ face_detection: { success: true, faces: [] } }, 'bin')), 'wasm');
  });

  it('reads what it certifies as the reference reads it: float16/32, -0.0, integral floats, non-shortest heads, float arrays, non-ASCII text', () => {
    const cases: [string, Buffer][] = [
      ['float16 1.0, -0.0, a subnormal, 65504', body([face([['a', f16(0x3c00)], ['b', f16(0x8000)], ['c', f16(0x0001)], ['d', f16(0x7bff)]])])],
      ['float32 0.1 and 1e-40 (subnormal)', body([face([['a', f32(0.1)], ['b', f32(1e-40)]])])],
      ['integral floats in the rules (confidence 1.0 as float16)', body([map([['bbox', map([['x', f16(0)], ['y', f16(0)], ['width', f16(0x3c00)], ['height', f16(0x3c00)]])], ['confidence', f16(0x3c00)], ['encoding', block(emb(512))]])])],
      ['non-shortest heads: ints, a text, a map, an array', body([face([['n', head(0, 5, 8)], ['s', cat(head(3, 2, 4), Buffer.from('ok'))], ['m', cat(head(5, 1, 2), text('k'), int(1))], ['a', cat(head(4, 2, 1), int(1), int(2))]])])],
      ['ints at the edges of a double', body([face([['a', int(2 ** 53 - 1)], ['b', int(-(2 ** 53))], ['c', int(0)], ['d', int(-1)], ['e', int(255)]])])],
      ['plain float arrays (2 and 6 items) and mixed arrays', body([face([['p', arr([f64(0.5), f64(-0.25)])], ['q', arr([1, 2, 3, 4, 5, 6].map((x) => f64(x / 7)))], ['r', arr([int(1), f64(2.5)])]])])],
      ['a block of -0.0 only, a block with one negative element', body([face([['z', block([-0, -0, -0, -0])], ['n', block([1, 2, -3, 4])]])])],
      // The block check takes two values at a time (SIMD): an odd last value is looked at alone.
      ['blocks of odd length, the sign in the last value alone', body([face([['a', block([0.5])], ['b', block([1, 2, 3, 4, -0.5])], ['c', block([1, 2, 3, 4, -0])], ['d', block([1, 2, 3])]])])],
      ['non-ASCII text, keys and a BOM at a string start', body([face([['name', text('Zoë 北京 🏐')], ['ключ', text('x')], ['bom', text('\ufeffx')]])])],
      ['__proto__, an empty key, a 65-byte key, a key starting with a digit', body([face([['__proto__', int(1)], ['', int(2)], ['k'.repeat(65), int(3)], ['9lives', int(4)]])])],
    ];
    const t = newTally();
    for (const [name, b] of cases) checkAccelParity(name, file(b), t);
    assertClean(t);
    // Not vacuous: the value cases are certified (the key cases may be left to the reference).
    for (const [name, b] of cases.slice(0, 8)) assert.equal(fastPath(file(b)), 'wasm', name);
  });

  it('never certifies what the reference flags or reads otherwise (each case deferred or identical)', () => {
    const bad: [string, Buffer][] = [
      ['NaN as float16', body([face([['a', f16(0x7e00)]])])],
      ['Infinity as float32', body([face([['a', f32(Infinity)]])])],
      ['-Infinity as float64', body([face([['a', f64(-Infinity)]])])],
      ['NaN in a tag 86 block', body([face([['e', block([1, NaN, 2, 3])]])])],
      ['NaN as the odd last value of a block', body([face([['e', block([1, 2, 3, 4, NaN])]])])],
      ['Infinity as the only value of a block', body([face([['e', block([Infinity])]])])],
      ['-Infinity as the first value of a block', body([face([['e', block([-Infinity, 1, 2, 3])]])])],
      ['Infinity in a plain float array', body([face([['e', arr([f64(1), f64(Infinity)])]])])],
      ['an empty tag 86 block', body([face([['e', cat([0xd8, 86], head(2, 0))]])])],
      ['a tag 86 block of 12 bytes', body([face([['e', cat([0xd8, 86], head(2, 12), Buffer.alloc(12))]])])],
      ['a chunked tag 86 block', body([face([['e', cat([0xd8, 86, 0x5f], head(2, 8), Buffer.alloc(8), [0xff])]])])],
      ['tag 86 with a two-byte tag head', body([face([['e', cat([0xd9, 0, 86], head(2, 8), Buffer.alloc(8))]])])],
      ['an int of 2^53', body([face([['a', int(2 ** 53)]])])],
      ['an int of -2^53 - 1', body([face([['a', int(-(2n ** 53n) - 1n)]])])],
      ['a bignum', body([face([['a', cat([0xc2], head(2, 9), Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0]))]])])],
      ['a date tag', body([face([['a', cat([0xc1], int(0))]])])],
      ['a byte string', body([face([['a', cat(head(2, 2), [1, 2])]])])],
      ['undefined', body([face([['a', Buffer.from([0xf7])]])])],
      ['simple value 16', body([face([['a', Buffer.from([0xf0])]])])],
      ['an indefinite map', cat([0xbf], text('face_detection'), map([['success', TRUE]]), [0xff])],
      ['an indefinite text', body([face([['a', cat([0x7f], text('a'), [0xff])]])])],
      ['a duplicate key', body([face([['confidence', f64(0.5)]])])],
      ['a duplicate key in an object of 70 keys', body([face(Array.from({ length: 70 }, (_, i) => [`k${i % 69}`, int(i)] as [string, Buffer]))])],
      ['overlong UTF-8', body([face([['a', text(Buffer.from([0xc0, 0x80]))]])])],
      ['a UTF-8 surrogate', body([face([['a', text(Buffer.from([0xed, 0xa0, 0x80]))]])])],
      ['a sequence cut by the string end (the next byte, an empty array, is a continuation byte)', body([face([['a', arr([cat(head(3, 1), [0xc3]), arr([])])]])])],
      ['invalid UTF-8 in a key', body([face([[text(Buffer.from([0xff])), int(1)]])])],
      ['a key that is not text', cat(head(5, 1), int(1), int(2))],
      ['trailing bytes after the root', cat(body([face()]), [0xf6])],
      ['a root array', arr([int(1)])],
      ['a truncated body', body([face()]).subarray(0, 200)],
      ['a map claiming more entries than bytes', cat(head(5, 1000), text('a'), int(1))],
      ['reserved additional information', body([face([['a', Buffer.from([0x1c])]])])],
    ];
    const t = newTally();
    for (const [name, b] of bad) checkAccelParity(name, file(b), t);
    assertClean(t);
    for (const [name, b] of bad) assert.notEqual(fastPath(file(b)), 'wasm', name);
  });

  it('depth: the limit itself is certified, one more level (a tag 86 block counts) is the reference TOO_DEEP', () => {
    const nest = (levels: number, inner: Buffer) => {
      let v = inner;
      for (let i = 0; i < levels; i++) v = map([['n', v]]);
      return v;
    };
    const t = newTally();
    for (const maxDepth of [6, 8]) {
      for (const levels of [maxDepth - 6, maxDepth - 5, maxDepth - 4, maxDepth - 3]) {
        for (const inner of [int(1), block([1, 2, 3, 4]), arr([f64(0.5)])]) {
          // Under a face (the root's own keys are the certifier's to know): the face at depth 3, `x` at 4.
          checkAccelParity(`depth ${levels}/${maxDepth}`, file(body([face([['x', nest(levels, inner)]])])), t, { maxDepth });
        }
      }
    }
    assertClean(t);
    assert.ok(t.binCertified > 0 && t.deferred > 0, `certified ${t.binCertified}, deferred ${t.deferred}`);
  });

  it('the header decides first: a bad CRC, version or length is the reference error; aligned and encrypted files are not scanned', () => {
    const good = file(body([face()]));
    const badCrc = Buffer.from(good);
    badCrc[12] ^= 1;
    const badVersion = Buffer.from(good);
    badVersion[4] = 2;
    const t = newTally();
    for (const [name, b] of [['crc', badCrc], ['version', badVersion], ['short', good.subarray(0, 20)]] as const) checkAccelParity(name, b, t);
    assertClean(t);
    assert.equal(fastPath(badCrc), 'deferred');
    assert.equal(fastPath(badVersion), undefined, 'another version is not a bin file by content (formats/detect.ts)');
    const aligned = encodeSidecar({ face_detection: { success: true, faces: [] } }, 'rkyv');
    assert.equal(fastPath(aligned), undefined, 'the aligned layout takes the reference, as before');
    const encrypted = Buffer.from(good);
    encrypted[5] = 2;
    assert.equal(fastPath(encrypted), undefined);
  });

  it('the switch: off, every bin file takes the reference (and gives the same inspection)', () => {
    const bytes = file(body([face()]));
    setBinScan(false);
    try {
      assert.equal(fastPath(bytes), undefined);
    } finally {
      setBinScan(true);
    }
    assert.equal(fastPath(bytes), 'wasm');
  });

  it('property: generated sidecar data stored as bin is deferred or identical', () => {
    const t = newTally();
    fc.assert(
      fc.property(sidecarDataArb, (gen) => {
        const data = Object.hasOwn(gen, 'face_detection') ? gen : { face_detection: { success: true, faces: [] }, ...gen };
        let bytes: Buffer;
        try {
          bytes = encodeSidecar(data, 'bin');
        } catch {
          return true; // not representable in bin (a lone surrogate)
        }
        checkAccelParity('gen.bin', bytes, t);
        return t.mismatches.length === 0;
      }),
      { numRuns: 150, seed: 12 },
    );
    assertClean(t);
    // Random root keys are the user's own: the certifier is unsure of those, and a bin file then takes the reference.
    assert.ok(t.binCertified > 5, `certified ${t.binCertified} of ${t.files}`);
  });

  it('property: the bin fuzz corpus and its hostile mutations (container fixed up) are deferred or identical', () => {
    const t = newTally();
    checkFuzzParity('bin', { runs: 400, seed: 12, untilMismatch: true }, t);
    assertClean(t);
    assert.ok(t.binCertified > 0 && t.deferred > 0, `certified ${t.binCertified}, deferred ${t.deferred}`);
  });

  it('every one-byte change of a small bin sidecar (CRC fixed up) is deferred or identical', () => {
    const base = file(body([map([['bbox', map([['x', f16(0)], ['y', f32(0.5)]])], ['confidence', f64(0.9)], ['encoding', block([0.5, -0.25, 1, 2])], ['name', text('é')]])]));
    const t = newTally();
    for (let at = 16; at < base.length; at++) {
      for (const v of [0x00, 0x17, 0x18, 0x1b, 0x1f, 0x40, 0x5f, 0x60, 0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc2, 0xd8, 0xf4, 0xf6, 0xf7, 0xf9, 0xfb, 0xff, base[at] ^ 0x80]) {
        const b = Buffer.from(base);
        b[at] = v;
        checkAccelParity(`byte ${at} = ${v}`, Buffer.from(binFile(b.subarray(16), false)), t);
      }
    }
    assertClean(t);
    assert.ok(t.binCertified > 0 && t.deferred > 0, `certified ${t.binCertified}, deferred ${t.deferred}`);
  });
});

describe('accel: a library stored as bin, each path forced through the public API', () => {
  let root = '';
  before(async () => {
    root = tempDir('isc-accel-bin-');
    await generateSampleLibrary(root, { images: 90, seed: 12, formatMix: { json: 0, bin: 1, legacy: 0 } });
  });
  after(() => removeTree(root));

  it('every file: identical inspections; only files the reference flags are deferred', () => {
    const t = newTally();
    checkTreeParity(root, t);
    assertClean(t);
    assert.ok(t.bin > 40, `${t.bin} bin files`);
    // The rest: files the reference flags, and rare shapes the certifier is unsure of (an alias
    // spelling of an operation key...), which a bin file leaves to the reference (no skeleton).
    assert.ok(t.binCertified > t.bin * 0.85, `certified ${t.binCertified} of ${t.bin}`);
  });

  it('validate, stats, format-stats: the same output with accel on and off, inline and on threads', async () => {
    const run = async (accel: boolean, engine: 'inline' | 'threads') => {
      const v = await validate(root, { accel, engine, workers: 2 });
      for (const x of v.results!) x.processing_time = 0;
      return JSON.stringify([{ ...v, scan: { ...v.scan, engine: null } }, await stats(root, { accel, engine, workers: 2 }), await formatStats(root, { accel, engine, workers: 2 })]);
    };
    const reference = await run(false, 'inline');
    assert.equal(await run(true, 'inline'), reference);
    assert.equal(await run(true, 'threads'), reference);
  });
});
