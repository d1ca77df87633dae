/**
 * Stats' per-operation sizes of a bin file come from the decoder (formats/cbor.ts encodedSize: the
 * byte span of each of the root's values when it was written as our encoder writes it) instead of
 * a walk of the decoded value (binEncodedSize). The attack: the same data written every other way
 * CBOR allows and our decoder accepts (longer heads, float32/float16, float runs as plain arrays,
 * short or chunked tag-86 blocks, small ints as bignums, the padded .rkyv layout) must give exactly
 * binEncodedSize's answer, never the span.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { SidecarError } from '../src/errors.js';
import { binEncodedSize, decodeSidecar, deepEqualJson, encodeSidecar } from '../src/formats/codec.js';
import { encodedSize, withFloatBlocks } from '../src/formats/cbor.js';
import { summarizeSidecar } from '../src/analysis/summary.js';
import { inspectBytes } from '../src/tasks/inspect.js';
import type { JsonObject } from '../src/types.js';
import { sidecarDataArb } from './reliability/fuzz-inputs.js';
import { campaign } from './helpers/campaign.js';

const MODES = ['stand-ins', 'mark'] as const;

/** Every root value's size as the decoder reports it, against a walk of the plain decode. */
function checkSizes(file: Uint8Array, label: string): { recorded: number } {
  const plain = decodeSidecar(file).data;
  let recorded = 0;
  for (const mode of MODES) {
    const data = withFloatBlocks(mode, () => decodeSidecar(file).data);
    for (const key of Object.keys(plain)) {
      const want = binEncodedSize(plain[key]);
      const got = encodedSize(data[key]);
      assert.equal(got, want, `${label} ${mode} /${key}`);
      if (typeof data[key] === 'object' && data[key] !== null && got === binEncodedSize(data[key])) recorded++;
    }
    assert.deepEqual(summarizeSidecar(data).dataSizes, summarizeSidecar(plain).dataSizes, `${label} ${mode}`);
  }
  return { recorded };
}

function binFile(body: Uint8Array): Buffer {
  const h = Buffer.alloc(16);
  h.set([0x89, 0x49, 0x53, 0x43, 1, 0, 0, 0]);
  h.writeUInt32LE(body.length, 8);
  h.writeUInt32LE(crc32(body), 12);
  return Buffer.concat([h, body]);
}

/**
 * Re-writes a canonical CBOR body item by item, taking the other encodings the decoder accepts
 * where `choose` says so. The data decoded from the result is the same (same values, same
 * int/float types); only the bytes differ.
 */
class Rewriter {
  private p = 0;
  private readonly out: number[] = [];
  constructor(
    private readonly b: Buffer,
    private readonly choose: () => number,
  ) {}

  run(): Uint8Array {
    this.item();
    assert.equal(this.p, this.b.length);
    return Uint8Array.from(this.out);
  }

  private head(major: number, n: number): void {
    // Shortest head, or (sometimes) a longer one that still holds n.
    const minimal = n < 24 ? 0 : n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 2 ** 32 ? 3 : 4;
    const size = this.choose() < 3 ? Math.min(4, minimal + 1 + (this.choose() % 2)) : minimal;
    const m = major << 5;
    if (size === 0) this.out.push(m | n);
    else if (size === 1) this.out.push(m | 24, n);
    else if (size === 2) this.out.push(m | 25, n >>> 8, n & 0xff);
    else if (size === 3) this.out.push(m | 26, ...u32(n));
    else this.out.push(m | 27, ...u32(Math.floor(n / 2 ** 32)), ...u32(n >>> 0));
  }

  private readArg(ai: number): number {
    const b = this.b;
    if (ai < 24) return ai;
    if (ai === 24) return b[this.p++];
    if (ai === 25) return (this.p += 2), b.readUInt16BE(this.p - 2);
    if (ai === 26) return (this.p += 4), b.readUInt32BE(this.p - 4);
    this.p += 8;
    return b.readUInt32BE(this.p - 8) * 2 ** 32 + b.readUInt32BE(this.p - 4);
  }

  private float(x: number): void {
    const c = this.choose();
    if (c < 2 && Math.fround(x) === x) {
      const f = Buffer.alloc(4);
      f.writeFloatBE(x);
      this.out.push(0xfa, ...f);
    } else if (c < 3 && half(x) !== null) {
      this.out.push(0xf9, ...half(x)!);
    } else {
      const f = Buffer.alloc(8);
      f.writeDoubleBE(x);
      this.out.push(0xfb, ...f);
    }
  }

  private floatBlock(xs: number[]): void {
    const c = this.choose();
    if (c < 2) {
      // a plain array of floats
      this.head(4, xs.length);
      for (const x of xs) this.float(x);
      return;
    }
    this.out.push(...(c < 3 ? [0xd9, 0x00, 0x56] : [0xd8, 0x56]));
    const bytes = Buffer.alloc(8 * xs.length);
    xs.forEach((x, i) => bytes.writeDoubleLE(x, 8 * i));
    if (this.choose() < 2) {
      // indefinite: an empty chunk, the data in two chunks, a break
      const cut = 8 * Math.floor(xs.length / 2);
      this.out.push(0x5f, 0x40);
      this.head(2, cut);
      this.out.push(...bytes.subarray(0, cut));
      this.head(2, bytes.length - cut);
      this.out.push(...bytes.subarray(cut), 0xff);
    } else {
      this.head(2, bytes.length);
      this.out.push(...bytes);
    }
  }

  private item(): void {
    const b = this.b;
    const ib = b[this.p++];
    const major = ib >>> 5;
    const ai = ib & 31;
    switch (major) {
      case 0:
      case 1: {
        const v = ai === 27 ? b.readBigUInt64BE((this.p += 8) - 8) : BigInt(this.readArg(ai));
        if (this.choose() < 2) {
          // as a bignum (tag 2 / 3), sometimes with a leading zero byte
          let hex = v.toString(16);
          if (hex.length % 2) hex = '0' + hex;
          if (this.choose() < 3) hex = '00' + hex;
          const mag = Buffer.from(hex, 'hex');
          this.out.push(0xc0 | (major === 0 ? 2 : 3));
          this.head(2, mag.length);
          this.out.push(...mag);
        } else if (v >= 2n ** 32n) {
          this.out.push((major << 5) | 27, ...u32(Number(v >> 32n)), ...u32(Number(v & 0xffffffffn)));
        } else this.head(major, Number(v));
        return;
      }
      case 3: {
        const n = this.readArg(ai);
        this.head(3, n);
        this.out.push(...b.subarray(this.p, this.p + n));
        this.p += n;
        return;
      }
      case 4: {
        const n = this.readArg(ai);
        // A short plain array of floats: sometimes a (short) tag-86 block.
        const start = this.p;
        let floats = n > 0;
        for (let i = 0, q = start; i < n && floats; i++, q += 9) floats = b[q] === 0xfb;
        if (floats && this.choose() < 3) {
          const xs: number[] = [];
          for (let i = 0; i < n; i++, this.p += 9) xs.push(b.readDoubleBE(this.p + 1));
          this.out.push(0xd8, 0x56);
          const bytes = Buffer.alloc(8 * n);
          xs.forEach((x, i) => bytes.writeDoubleLE(x, 8 * i));
          this.head(2, bytes.length);
          this.out.push(...bytes);
          return;
        }
        this.head(4, n);
        for (let i = 0; i < n; i++) this.item();
        return;
      }
      case 5: {
        const n = this.readArg(ai);
        this.head(5, n);
        for (let i = 0; i < 2 * n; i++) this.item();
        return;
      }
      case 6: {
        const tag = this.readArg(ai);
        if (tag === 86) {
          const lb = b[this.p++];
          const len = this.readArg(lb & 31);
          const xs: number[] = [];
          for (let i = 0; i < len / 8; i++) xs.push(b.readDoubleLE(this.p + 8 * i));
          this.p += len;
          this.floatBlock(xs);
          return;
        }
        // tags 2 / 3 (bignums beyond 64 bits): copied as they are
        this.out.push(ib);
        if (ai >= 24) this.out.push(...b.subarray(this.p - (ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : 8), this.p));
        const lb = b[this.p++];
        const len = this.readArg(lb & 31);
        this.head(2, len);
        this.out.push(...b.subarray(this.p, this.p + len));
        this.p += len;
        return;
      }
      default:
        if (ai === 27) {
          this.float(b.readDoubleBE(this.p));
          this.p += 8;
        } else this.out.push(ib); // false, true, null
    }
  }
}

function u32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

/** The float16 bytes of x when float16 holds it exactly (normal numbers, zeros). */
function half(x: number): [number, number] | null {
  if (x === 0) return Object.is(x, -0) ? [0x80, 0] : [0, 0];
  const sign = x < 0 ? 0x8000 : 0;
  const a = Math.abs(x);
  const e = Math.floor(Math.log2(a));
  if (e < -14 || e > 15) return null;
  const mant = a / 2 ** e - 1;
  const m = mant * 1024;
  if (!Number.isInteger(m) || 2 ** e * (1 + m / 1024) !== a) return null;
  const h = sign | ((e + 15) << 10) | m;
  return [h >>> 8, h & 0xff];
}

/** A stream of choices from a seed: 0..9, each as likely. */
function chooser(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % 10;
  };
}

/** False for data bin cannot carry (a lone surrogate: UNREPRESENTABLE). */
function encodable(data: JsonObject): boolean {
  try {
    encodeSidecar(data, 'bin');
    return true;
  } catch (e) {
    if (e instanceof SidecarError && e.code === 'UNREPRESENTABLE') return false;
    throw e;
  }
}

const withOps = (gen: JsonObject): JsonObject => ({
  face_detection: { success: true, faces: [{ bbox: [1, 2, 3.5, 4], confidence: 0.5, encoding: [0.25, -0.5, 0.125, 1.5, 2.0] }] },
  ...gen,
  objects_misc: [1.5, 2.5, 3.5, 4.5],
});

describe('bin sizes from the decoder (stats)', () => {
  it('property: a canonical file gives every root value its recorded size, equal to binEncodedSize', () => {
    let recorded = 0;
    fc.assert(
      fc.property(sidecarDataArb, (gen) => {
        const data = withOps(gen);
        fc.pre(encodable(data));
        recorded += checkSizes(encodeSidecar(data, 'bin'), 'bin').recorded;
        checkSizes(encodeSidecar(data, 'rkyv'), 'rkyv');
      }),
      { numRuns: 200, seed: 21 },
    );
    assert.ok(recorded > 400, `recorded sizes used ${recorded} times`);
  });

  it('property: the same data written any other way the decoder accepts gives binEncodedSize, not the span', () => {
    let rewritten = 0;
    fc.assert(
      fc.property(sidecarDataArb, fc.integer({ min: 1, max: 2 ** 31 }), (gen, seed) => {
        const data = withOps(gen);
        fc.pre(encodable(data));
        const canonical = encodeSidecar(data, 'bin');
        const body = new Rewriter(canonical.subarray(16), chooser(seed)).run();
        const file = binFile(body);
        // the rewrite is the same data, types included
        assert.ok(deepEqualJson(decodeSidecar(file).data, decodeSidecar(canonical).data));
        if (body.length !== canonical.length - 16) rewritten++;
        checkSizes(file, `rewritten (seed ${seed})`);
      }),
      { numRuns: campaign(100, 300), seed: 22 },
    );
    assert.ok(rewritten > campaign(65, 200), `${rewritten} rewrites changed the bytes`);
  });

  it('each non-canonical form alone: the size is the walk of the value', () => {
    const f64 = (x: number) => {
      const b = Buffer.alloc(8);
      b.writeDoubleBE(x);
      return [0xfb, ...b];
    };
    const le = (xs: number[]) => {
      const b = Buffer.alloc(8 * xs.length);
      xs.forEach((x, i) => b.writeDoubleLE(x, 8 * i));
      return [...b];
    };
    // {"a": <value>} bodies, each value a map or an array whose span is not binEncodedSize's answer
    const values: [string, number[]][] = [
      ['map with a 2-byte head', [0xb8, 0x01, 0x61, 0x78, 0x01]],
      ['array with a 2-byte head', [0x98, 0x01, 0x01]],
      ['int with a longer head', [0x81, 0x18, 0x05]],
      ['string with a longer head', [0x81, 0x78, 0x01, 0x61]],
      ['int in 9 bytes', [0x81, 0x1b, 0, 0, 0, 0, 0, 0, 0, 5]],
      ['float32', [0x81, 0xfa, 0x3f, 0xc0, 0, 0]],
      ['float16', [0x81, 0xf9, 0x3e, 0x00]],
      ['4 floats as a plain array', [0x84, ...f64(0.5), ...f64(1.5), ...f64(2.5), ...f64(3.5)]],
      ['a 1-float tag-86 block', [0x81, 0xd8, 0x56, 0x48, ...le([0.5])]],
      ['tag 86 with a longer tag head', [0x81, 0xd9, 0x00, 0x56, 0x58, 32, ...le([0.5, 1.5, 2.5, 3.5])]],
      ['chunked tag-86 block', [0x81, 0xd8, 0x56, 0x5f, 0x40, 0x58, 32, ...le([0.5, 1.5, 2.5, 3.5]), 0xff]],
      ['small bignum', [0x81, 0xc2, 0x41, 0x05]],
    ];
    for (const [label, value] of values) {
      const file = binFile(Uint8Array.from([0xa1, 0x61, 0x61, ...value]));
      const plain = decodeSidecar(file).data;
      const span = value.length;
      assert.notEqual(binEncodedSize(plain.a), span, `${label}: the case must be one where the span is wrong`);
      for (const mode of MODES) {
        const data = withFloatBlocks(mode, () => decodeSidecar(file).data);
        assert.equal(encodedSize(data.a), binEncodedSize(plain.a), `${label} (${mode})`);
      }
    }
  });

  it('stats inspection of a rewritten file: the same summary as the canonical file', () => {
    const data = withOps({ face_detection: { faces: [{ encoding: [0.5, 1.5, 2.5, 3.5, -4.5] }], metadata: { processing_time: 0.25 } } });
    const canonical = encodeSidecar(data, 'bin');
    for (let seed = 1; seed <= 40; seed++) {
      const file = binFile(new Rewriter(canonical.subarray(16), chooser(seed)).run());
      const a = inspectBytes({ path: 'x.bin', name: 'x.bin' }, canonical, { summarize: true });
      const b = inspectBytes({ path: 'x.bin', name: 'x.bin' }, file, { summarize: true });
      assert.deepEqual(b.summary, a.summary, `seed ${seed}`);
    }
  });

  it('a size is given only for the last decode inside withFloatBlocks, and only for its own data', () => {
    const file = encodeSidecar({ a: { x: 'one' } }, 'bin');
    const one = withFloatBlocks('mark', () => decodeSidecar(file).data);
    assert.equal(encodedSize(one.a), file.length - 16 - 3); // recorded: {"a": ...} less the map head and key
    // Changed after its decode (outside the contract) and then another file decoded: walked again.
    (one.a as JsonObject).x = 'a longer string';
    withFloatBlocks('mark', () => decodeSidecar(encodeSidecar({ b: {} }, 'bin')));
    assert.equal(encodedSize(one.a), binEncodedSize(one.a));
    // data decoded outside withFloatBlocks (handed out: it may change) is always walked
    const out = decodeSidecar(file).data;
    (out.a as JsonObject).x = 'changed to something longer';
    assert.equal(encodedSize(out.a), binEncodedSize(out.a));
  });
});
