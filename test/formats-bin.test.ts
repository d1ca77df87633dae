import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { SidecarError } from '../src/errors.js';
import { binEncodedSize, decodeSidecar, deepEqualJson, detectFormat, encodeSidecar } from '../src/formats/codec.js';
import type { JsonObject, JsonValue } from '../src/types.js';

/** A .bin file around a body: 16-byte header with the right length and CRC unless overridden. */
function binFile(body: number[] | Uint8Array, o: { version?: number; flags?: number; crc?: number } = {}): Buffer {
  const b = Buffer.from(body);
  const h = Buffer.alloc(16);
  h.set([0x89, 0x49, 0x53, 0x43, o.version ?? 1, o.flags ?? 0, 0, 0]);
  h.writeUInt32LE(b.length, 8);
  h.writeUInt32LE(o.crc ?? crc32(b), 12);
  return Buffer.concat([h, b]);
}

const hex = (s: string) => [...Buffer.from(s.replace(/\s+/g, ''), 'hex')];
/** Body of the map {"a": <item>}. */
const mapA = (item: number[]) => [0xa1, 0x61, 0x61, ...item];

function decodeError(bytes: Uint8Array, opts = {}): SidecarError {
  try {
    decodeSidecar(bytes, opts);
  } catch (e) {
    assert.ok(e instanceof SidecarError, `expected a SidecarError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected decodeSidecar to throw');
}

function assertCorrupt(bytes: Uint8Array, re: RegExp): void {
  const e = decodeError(bytes);
  assert.equal(e.code, 'CORRUPT', e.message);
  assert.match(e.message, re);
}

const f64le = (xs: number[]) => {
  const b = Buffer.alloc(xs.length * 8);
  xs.forEach((x, i) => b.writeDoubleLE(x, i * 8));
  return [...b];
};

describe('bin container', () => {
  it('writes the documented header and a CBOR body (RFC 8949 Appendix A example)', () => {
    const file = encodeSidecar({ a: 1, b: [2, 3] }, 'bin');
    const body = hex('a2 6161 01 6162 82 02 03');
    assert.deepEqual([...file.subarray(0, 8)], [0x89, 0x49, 0x53, 0x43, 1, 0, 0, 0]);
    assert.equal(file.readUInt32LE(8), body.length);
    assert.equal(file.readUInt32LE(12), crc32(Buffer.from(body)));
    assert.deepEqual([...file.subarray(16)], body);
    assert.equal(detectFormat(file), 'bin');
    assert.equal(decodeSidecar(file).format, 'bin');
  });

  it('accepts "binary" as an alias of "bin"', () => {
    assert.deepEqual(encodeSidecar({ x: 'y' }, 'binary'), encodeSidecar({ x: 'y' }, 'bin'));
  });

  it('rejects header damage with precise messages', () => {
    const good = encodeSidecar({ a: [0.5, 1.5, 2.5, 3.5], b: 'text' }, 'bin');
    const mutate = (i: number, v: number) => {
      const c = Buffer.from(good);
      c[i] = v;
      return c;
    };
    assertCorrupt(mutate(4, 2), /unsupported bin format version 2 at byte 4/);
    assertCorrupt(mutate(5, 0x04), /unknown flags 0x04 at byte 5/);
    assertCorrupt(mutate(5, 0x03), /flags 0x03 at byte 5: an encrypted file has no aligned layout/);
    // Flag bit 1 (encrypted) on a plain file: the body is no encryption header.
    assertCorrupt(mutate(5, 0x02), /truncated encryption header|unknown cipher/);
    assertCorrupt(mutate(6, 1), /reserved header bytes 6\.\.7 are not zero/);
    assertCorrupt(mutate(3, 0x44), /not a known sidecar format: binary data \(first bytes 89 49 53 44 01 00 00 00 …\)/);
    assertCorrupt(Buffer.concat([good, Buffer.from([0])]), /1 trailing bytes after the \d+-byte body/);
    assertCorrupt(good.subarray(0, good.length - 1), /truncated: the header says the body is \d+ bytes but only \d+ follow/);
    assertCorrupt(good.subarray(0, 10), /truncated bin header: 10 of 16 bytes/);
    assertCorrupt(good.subarray(0, 2), /truncated bin header: 2 of 16 bytes/);
  });

  it('detects every flipped body byte through the checksum', () => {
    const good = encodeSidecar({ a: [0.5, 1.5, 2.5, 3.5], b: 'text', c: { d: null } }, 'bin');
    for (let i = 16; i < good.length; i++) {
      const c = Buffer.from(good);
      c[i] ^= 0x10;
      assertCorrupt(c, /checksum mismatch: the header says CRC-32 0x[0-9a-f]{8}, the body has 0x[0-9a-f]{8}/);
    }
  });

  it('rejects every truncation with CORRUPT', () => {
    const good = encodeSidecar({ k: [0.25, -1, 2, 3], s: 'str', n: null, o: { t: true } }, 'bin');
    for (let len = 0; len < good.length; len++) {
      const e = decodeError(good.subarray(0, len));
      assert.equal(e.code, 'CORRUPT', `length ${len}: ${e.message}`);
    }
  });
});

describe('bin body (CBOR subset)', () => {
  it('decodes RFC 8949 Appendix A values', () => {
    const vectors: [string, JsonValue][] = [
      ['00', 0],
      ['17', 23],
      ['1818', 24],
      ['1903e8', 1000],
      ['1a000f4240', 1000000],
      ['1b000000e8d4a51000', 1000000000000],
      ['20', -1],
      ['3863', -100],
      ['3903e7', -1000],
      ['f90000', 0],
      ['f93c00', 1],
      ['fb3ff199999999999a', 1.1],
      ['f93e00', 1.5],
      ['f97bff', 65504],
      ['fa47c35000', 100000],
      ['fa7f7fffff', 3.4028234663852886e38],
      ['fb7e37e43c8800759c', 1e300],
      ['f90001', 5.960464477539063e-8],
      ['f90400', 0.00006103515625],
      ['f9c400', -4],
      ['fbc010666666666666', -4.1],
      ['f4', false],
      ['f5', true],
      ['f6', null],
      ['60', ''],
      ['6449455446', 'IETF'],
      ['62225c', '"\\'],
      ['62c3bc', '\u00fc'],
      ['63e6b0b4', '\u6c34'],
      ['64f0908591', '\ud800\udd51'],
      ['80', []],
      ['83010203', [1, 2, 3]],
      ['8301820203820405', [1, [2, 3], [4, 5]]],
      ['a0', {}],
      ['a26161016162820203', { a: 1, b: [2, 3] }],
    ];
    for (const [h, want] of vectors) {
      const r = decodeSidecar(binFile(mapA(hex(h))));
      assert.ok(deepEqualJson(r.data.a, want), `${h}: got ${JSON.stringify(r.data.a)}`);
      assert.deepEqual(r.notes, []);
    }
    assert.ok(Object.is(decodeSidecar(binFile(mapA(hex('f98000')))).data.a, -0));
  });

  it('reads integers beyond 2^53 exactly: the nearest double for JavaScript, the exact value for re-encoding', () => {
    const asJson = (bytes: Buffer) => encodeSidecar(decodeSidecar(bytes).data, 'legacy').subarray(8).toString();
    const r = decodeSidecar(binFile(mapA(hex('1bffffffffffffffff'))));
    assert.equal(r.data.a, 18446744073709551615);
    assert.deepEqual(r.notes, []);
    assert.equal(asJson(binFile(mapA(hex('1bffffffffffffffff')))), '{"a":18446744073709551615}');
    assert.equal(asJson(binFile(mapA(hex('3b0020000000000000')))), '{"a":-9007199254740993}');
    // RFC 8949 bignums (tags 2 and 3), also non-shortest ones.
    assert.equal(asJson(binFile(mapA(hex('c249010000000000000000')))), '{"a":18446744073709551616}');
    assert.equal(asJson(binFile(mapA(hex('c349010000000000000000')))), '{"a":-18446744073709551617}');
    assert.equal(asJson(binFile(mapA(hex('c24105')))), '{"a":5}');
    assert.equal(asJson(binFile(mapA(hex('c240')))), '{"a":0}');
  });

  it('rejects items outside the subset with their byte offset', () => {
    // Offsets: 16 header + 3 for the map head and key "a" -> the item is at byte 19.
    const cases: [string, RegExp][] = [
      ['40', /unsupported CBOR item \(byte string outside tag 86\) at byte 19/],
      ['c074323031332d30332d32315432303a30343a30305a', /unsupported CBOR item \(tag 0\) at byte 19/],
      ['c26161', /tag 2 \(bignum\) at byte 19 must enclose a definite-length byte string, found a text string at byte 20/],
      ['c25f41 01ff', /tag 2 \(bignum\) at byte 19 must enclose a definite-length byte string/],
      ['c35a00000800' + '01'.repeat(2048), /bignum at byte 19 has 2048 bytes, more than an int of 4300 digits needs/],
      ['c249010000', /byte string at byte 20 claims 9 bytes but only 3 remain/],
      ['f7', /unsupported CBOR item \(undefined\) at byte 19/],
      ['f0', /unsupported CBOR item \(simple value 16\) at byte 19/],
      ['f8ff', /unsupported CBOR item \(simple value 255\) at byte 19/],
      ['9fff', /unsupported CBOR item \(indefinite-length array\) at byte 19/],
      ['bfff', /unsupported CBOR item \(indefinite-length map\) at byte 19/],
      ['7f6161ff', /unsupported CBOR item \(indefinite-length text string\) at byte 19/],
      ['1c', /reserved additional information 28 in the CBOR item at byte 19/],
      ['ff', /unexpected break code \(0xff\) at byte 19/],
      ['f97c00', /non-finite float \(NaN or Infinity\) at byte 19/],
      ['f97e00', /non-finite float/],
      ['fb7ff8000000000000', /non-finite float/],
      ['84010203', /array at byte 19 claims 4 items but only 3 bytes remain/],
      ['9affffffff', /array at byte 19 claims 4294967295 items but only 0 bytes remain/],
      ['7a7fffffff', /text string at byte 19 claims 2147483647 bytes/],
      ['a3', /map at byte 19 claims 3 entries but only 0 bytes remain/],
      // Lengths beyond 2^53 are said exactly (a double printed 18446744073709552000, 9007199254740992).
      ['7bffffffffffffffff', /text string at byte 19 claims 18446744073709551615 bytes but only 0 remain/],
      ['9b0020000000000001', /array at byte 19 claims 9007199254740993 items but only 0 bytes remain/],
      ['bb0020000000000001', /map at byte 19 claims 9007199254740993 entries but only 0 bytes remain/],
      ['d8565b0020000000000001', /byte string at byte 21 claims 9007199254740993 bytes but only 0 remain/],
      ['d85683010203', /tag 86 at byte 19 must enclose a byte string, found an array at byte 21/],
      ['d8564401020304', /tag 86 payload at byte 21 is 4 bytes, not a multiple of 8/],
      ['62c328', /invalid UTF-8 at byte 20 in the text string at byte 19/],
      ['7820' + '61'.repeat(31) + 'ed', /invalid UTF-8 at byte 52 in the text string at byte 19/],
    ];
    for (const [h, re] of cases) assertCorrupt(binFile(mapA(hex(h))), re);
  });

  it('rejects duplicate keys, non-text keys, non-map tops and trailing items', () => {
    assertCorrupt(binFile(hex('a2 6161 01 6161 02')), /duplicate map key "a" at byte 20/);
    assertCorrupt(binFile(hex('a2 695f5f70726f746f5f5f 01 695f5f70726f746f5f5f 02')), /duplicate map key "__proto__"/);
    assertCorrupt(binFile(hex('a1 01 02')), /map key at byte 17 is an unsigned integer, expected a text string/);
    assertCorrupt(binFile(hex('83 01 02 03')), /top-level CBOR item at byte 16 is an array, expected a map/);
    assertCorrupt(binFile(hex('a0 a0')), /1 trailing bytes after the CBOR item, from byte 17/);
    assertCorrupt(binFile([]), /truncated CBOR item at byte 16/);
  });

  it('gives TOO_DEEP (not a stack overflow) for 100000 nested arrays', () => {
    const depth = 100_000;
    const body = Buffer.concat([Buffer.from(mapA([])), Buffer.alloc(depth, 0x81), Buffer.from([0x80])]);
    const e = decodeError(binFile(body));
    assert.equal(e.code, 'TOO_DEEP', e.message);
    // Even with an absurd limit the result is a SidecarError, never a RangeError.
    const e2 = decodeError(binFile(body), { maxDepth: 10_000_000 });
    assert.equal(e2.code, 'TOO_DEEP', e2.message);
  });

  it('counts depth like checkDepth: a tag-86 block is an array level', () => {
    const file = encodeSidecar({ a: [[0.5, 1, 2, 3]] }, 'bin'); // depth 3
    assert.ok(deepEqualJson(decodeSidecar(file, { maxDepth: 3 }).data, { a: [[0.5, 1, 2, 3]] }));
    assert.equal(decodeError(file, { maxDepth: 2 }).code, 'TOO_DEEP');
  });
});

describe('bin encoding rules', () => {
  const body = (data: JsonObject) => [...encodeSidecar(data, 'bin').subarray(16)];

  it('writes ints as CBOR ints (bignums beyond 64 bits) and floats as float64', () => {
    assert.deepEqual(body({ a: 24 }), mapA(hex('1818')));
    assert.deepEqual(body({ a: -25 }), mapA(hex('3818')));
    assert.deepEqual(body({ a: 2 ** 32 }), mapA(hex('1b0000000100000000')));
    assert.deepEqual(body({ a: Number.MAX_SAFE_INTEGER }), mapA(hex('1b001fffffffffffff')));
    // An integral JS number below 1e21 is an int (its JSON text has no '.'): the value of its digits.
    assert.deepEqual(body({ a: 2 ** 53 }), mapA(hex('1b0020000000000000')));
    assert.deepEqual(body({ a: 2 ** 64 }), mapA(hex('c249' + (18446744073709552000n).toString(16).padStart(18, '0'))));
    assert.deepEqual(body({ a: -0 }), mapA(hex('fb8000000000000000')));
    assert.deepEqual(body({ a: 0.5 }), mapA(hex('fb3fe0000000000000')));
    assert.deepEqual(body({ a: 1e21 }), mapA(hex('fb444b1ae4d6e2ef50'))); // written 1e+21 in JSON: a float
    // Read from JSON: the type of the text.
    const fromJson = (t: string) => [...encodeSidecar(decodeSidecar(Buffer.from(t)).data, 'bin').subarray(16)];
    assert.deepEqual(fromJson('{"a":25.0}'), mapA(hex('fb4039000000000000')));
    assert.deepEqual(fromJson('{"a":1763805012345678901}'), mapA(hex('1b187a4b504deaec35')));
    assert.deepEqual(fromJson('{"a":-9223372036854775809}'), mapA(hex('3b8000000000000000')));
    assert.deepEqual(fromJson('{"a":12345678901234567890123}'), mapA(hex('c24a029d42b64e76714244cb')));
  });

  it('writes arrays of >= 4 floats as one tag-86 block, and arrays mixing ints and floats item by item', () => {
    const xs = [0.5, 1.5, -0, 3.25];
    assert.deepEqual(body({ a: xs }), mapA([0xd8, 0x56, 0x58, 0x20, ...f64le(xs)]));
    const wholeFloats = decodeSidecar(Buffer.from('{"a":[10.0,20.0,1e2,-0.0]}')).data;
    assert.deepEqual(body(wholeFloats), mapA([0xd8, 0x56, 0x58, 0x20, ...f64le([10, 20, 100, -0])]));
    // Plain arrays: only integers, ints and floats mixed, too short, or not only numbers.
    assert.deepEqual(body({ a: [1, 2, 3, 4] }), mapA(hex('84 01 02 03 04')));
    assert.deepEqual(body({ a: [0.5, 1, 2, 3] }), mapA(hex('84 fb3fe0000000000000 01 02 03')));
    const mixed = decodeSidecar(Buffer.from('{"a":[1.0,2,3.0,4.0]}')).data;
    assert.deepEqual(body(mixed), mapA(hex('84 fb3ff0000000000000 02 fb4008000000000000 fb4010000000000000')));
    assert.deepEqual(body({ a: [0.5, 1.5] }), mapA(hex('82 fb3fe0000000000000 fb3ff8000000000000')));
    assert.deepEqual(body({ a: [0.5, 1, 2, 'x'] }).slice(3, 4), [0x84]);
    // Landmarks rows stay plain; the 512-float embedding becomes a block of 2 + 3 + 4096 bytes.
    const face = { landmarks: [[0.1, 0.2], [0.3, 0.4]], encoding: Array.from({ length: 512 }, (_, i) => (i + 0.5) / 7) };
    const file = encodeSidecar(face, 'bin');
    assert.equal(binEncodedSize(face.encoding), 2 + 3 + 4096);
    assert.ok(deepEqualJson(decodeSidecar(file).data, face));
  });

  it('keeps floats bit-exact', () => {
    const xs = [0.22490839660167694, 5e-324, 1.7976931348623157e308, -2.2250738585072014e-308, 0.1 + 0.2, Math.PI, -0];
    const data: JsonObject = { scalars: { a: xs[0], b: xs[1], c: xs[2], d: xs[3] }, block: xs, row: [xs[0], xs[1]] };
    for (const f of ['bin', 'rkyv'] as const) {
      const back = decodeSidecar(encodeSidecar(data, f)).data;
      assert.ok(deepEqualJson(back, data), f);
      (back.block as number[]).forEach((x, i) => assert.ok(Object.is(x, xs[i])));
    }
  });

  it('refuses strings with lone surrogates, naming the JSON pointer', () => {
    const cases: [JsonObject, RegExp][] = [
      [{ a: [{ b: 'x\ud800y' }] }, /unpaired UTF-16 surrogate at \/a\/0\/b/],
      [{ 'we/ird~': 'long string '.repeat(10) + '\udc00' }, /at \/we~1ird~0/],
      [{ ok: 'fine', ['k\ud800']: 1 }, /at \/k\ud800/],
    ];
    for (const [data, re] of cases) {
      for (const f of ['bin', 'rkyv'] as const) {
        assert.throws(
          () => encodeSidecar(data, f),
          (e: unknown) => e instanceof SidecarError && e.code === 'UNREPRESENTABLE' && re.test(e.message),
        );
      }
    }
    // Well-formed astral characters are fine.
    const fine = { s: 'emoji \ud83d\ude00 and \u00e9' };
    assert.ok(deepEqualJson(decodeSidecar(encodeSidecar(fine, 'bin')).data, fine));
  });

  it('refuses non-finite numbers and non-JSON values', () => {
    for (const data of [{ a: [0.5, 1, Number.NaN, 2] }, { a: Number.POSITIVE_INFINITY }, { a: [1, undefined] }, { f: () => 1 }]) {
      assert.throws(
        () => encodeSidecar(data as unknown as JsonObject, 'bin'),
        (e: unknown) => e instanceof SidecarError && e.code === 'UNREPRESENTABLE' && /at \/(a|f)/.test(e.message),
      );
    }
  });

  it('refuses data nested deeper than maxDepth, and still works afterwards', () => {
    let deep: JsonValue = 1;
    for (let i = 0; i < 600; i++) deep = [deep];
    assert.throws(
      () => encodeSidecar({ deep }, 'bin'),
      (e: unknown) => e instanceof SidecarError && e.code === 'TOO_DEEP',
    );
    assert.ok(deepEqualJson(decodeSidecar(encodeSidecar({ deep }, 'bin', { maxDepth: 602 }), { maxDepth: 602 }).data, { deep }));
    assert.ok(deepEqualJson(decodeSidecar(encodeSidecar({ x: 1 }, 'bin')).data, { x: 1 }));
  });

  it('turns a stack overflow under an absurd maxDepth into TOO_DEEP for every format', () => {
    let deep: JsonValue = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    for (const f of ['bin', 'rkyv', 'json', 'legacy'] as const) {
      assert.throws(
        () => encodeSidecar({ deep }, f, { maxDepth: 10_000_000 }),
        (e: unknown) => e instanceof SidecarError && e.code === 'TOO_DEEP' && /stack ran out before the limit of 10000000/.test(e.message),
        f,
      );
    }
    assert.ok(deepEqualJson(decodeSidecar(encodeSidecar({ x: [0.5, 1, 2, 3] }, 'bin')).data, { x: [0.5, 1, 2, 3] }));
  });

  it('round-trips "__proto__" as an own key without touching prototypes', () => {
    const data = JSON.parse('{"__proto__": {"polluted": 1}, "a": {"__proto__": [1]}}') as JsonObject;
    for (const f of ['bin', 'rkyv'] as const) {
      const back = decodeSidecar(encodeSidecar(data, f)).data;
      assert.ok(Object.prototype.hasOwnProperty.call(back, '__proto__'));
      assert.equal(Object.getPrototypeOf(back), Object.prototype);
      assert.equal(Object.getPrototypeOf(back.a), Object.prototype);
      assert.deepEqual(Object.keys(back), ['__proto__', 'a']);
      assert.ok(deepEqualJson(back, data));
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    }
  });

  it('decodes keys correctly when they share length and first/last bytes (string cache)', () => {
    const keys = ['abXd', 'abYd', 'abZd', 'confidence', 'confidencf', 'x', 'y', 'éé', 'k'.repeat(24), 'k'.repeat(25)];
    const data: JsonObject = {};
    keys.forEach((k, i) => (data[k] = { [k]: i, v: keys[(i + 1) % keys.length] }));
    const file = encodeSidecar(data, 'bin');
    for (let round = 0; round < 3; round++) assert.ok(deepEqualJson(decodeSidecar(file).data, data));
  });

  it('decodes from any Uint8Array view, aligned or not', () => {
    const data = { e: [0.1, 0.2, 0.3, 0.4, 0.5] };
    const file = encodeSidecar(data, 'bin');
    for (let shift = 0; shift < 8; shift++) {
      const backing = new Uint8Array(file.length + 8);
      backing.set(file, shift);
      assert.ok(deepEqualJson(decodeSidecar(backing.subarray(shift, shift + file.length)).data, data), `shift ${shift}`);
    }
  });

  it('grows its scratch buffer for large sidecars and shrinks it again', () => {
    const big: JsonObject = { blocks: Array.from({ length: 150 }, (_, i) => Array.from({ length: 512 }, (_, j) => i + j / 1024)) };
    const file = encodeSidecar(big, 'bin'); // ~ 615 KB
    assert.ok(file.length > 600_000);
    assert.ok(deepEqualJson(decodeSidecar(file).data, big));
    const long: JsonObject = { k: 'x', xs: Array.from({ length: 70_000 }, (_, i) => i / 9) };
    for (const f of ['bin', 'rkyv'] as const) assert.ok(deepEqualJson(decodeSidecar(encodeSidecar(long, f)).data, long), f);
    const huge: JsonObject = { s: 'z'.repeat(5 * 1024 * 1024) };
    assert.equal(decodeSidecar(encodeSidecar(huge, 'bin')).data.s, huge.s);
    assert.ok(deepEqualJson(decodeSidecar(encodeSidecar({ small: [1, 2.5] }, 'bin')).data, { small: [1, 2.5] }));
  });
});

describe('binEncodedSize', () => {
  it('is the exact body size for values around every head-size boundary', () => {
    const values: JsonValue[] = [
      0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, 2 ** 53, -1, -24, -25, -256, -257,
      -(2 ** 32), -(2 ** 32) - 1, Number.MIN_SAFE_INTEGER, -0, 0.5, 1e300, true, false, null, '', 'a'.repeat(23), 'a'.repeat(24),
      'a'.repeat(255), 'a'.repeat(256), 'é'.repeat(40), '\ud83d\ude00', 'x'.repeat(70000), [], [1, 2, 3, 4], [0.5, 1, 2, 3],
      Array.from({ length: 70000 }, (_, i) => i / 3), { '': {} }, { ['k'.repeat(30)]: [[0.5, 2], [1, 2, 3.5, 4, 5]] },
    ];
    for (const v of values) {
      const file = encodeSidecar({ v }, 'bin');
      assert.equal(binEncodedSize({ v }), file.length - 16, JSON.stringify(v).slice(0, 40));
      assert.equal(binEncodedSize(v) + 3, file.length - 16); // map head + key "v"
    }
  });
});

describe('rkyv (aligned bin)', () => {
  /** Data whose float blocks sit after keys of every length mod 8, with distinctive first values. */
  function alignmentData(): { data: JsonObject; firsts: number[] } {
    const data: JsonObject = {};
    const firsts: number[] = [];
    for (let i = 0; i < 9; i++) {
      const first = 1000.3 + i * 0.0625; // never whole: a JS whole number is an int
      firsts.push(first);
      data['k'.repeat(i + 1)] = [first, ...Array.from({ length: 3 + i }, (_, j) => (j + 0.5) / 3)];
      data['s' + i] = 'x'.repeat(i);
    }
    return { data, firsts };
  }

  it('sets flag bit 0 and starts every float payload on a file offset that is a multiple of 8', () => {
    const { data, firsts } = alignmentData();
    const file = encodeSidecar(data, 'rkyv');
    assert.equal(file[5], 0x01);
    assert.equal(detectFormat(file), 'rkyv');
    for (const first of firsts) {
      const at = file.indexOf(Buffer.from(f64le([first])));
      assert.ok(at > 0);
      assert.equal(at % 8, 0, `payload of ${first} at ${at}`);
      // ... preceded by a definite chunk head 0x5a <u32 length>, padding chunks 0x40, 0x5f, tag 86.
      assert.equal(file[at - 5], 0x5a);
      let q = at - 6;
      while (file[q] === 0x40) q--;
      assert.ok(at - 6 - q <= 7, 'at most 7 padding chunks');
      assert.deepEqual([...file.subarray(q - 2, q + 1)], [0xd8, 0x56, 0x5f]);
    }
    const r = decodeSidecar(file);
    assert.equal(r.format, 'rkyv');
    assert.ok(deepEqualJson(r.data, data));
  });

  it('decodes the same data as bin', () => {
    const { data } = alignmentData();
    assert.ok(deepEqualJson(decodeSidecar(encodeSidecar(data, 'rkyv')).data, decodeSidecar(encodeSidecar(data, 'bin')).data));
  });

  it('accepts indefinite byte strings in tag 86 in plain bin too, joining data chunks', () => {
    const xs = [0.5, -1.25, 3e-300, 7];
    const payload = f64le(xs);
    // Chunks of 5, 0, 11 and 16 bytes: floats straddle chunk boundaries.
    const chunked = [0xd8, 0x56, 0x5f, 0x45, ...payload.slice(0, 5), 0x40, 0x4b, ...payload.slice(5, 16), 0x50, ...payload.slice(16), 0xff];
    assert.deepEqual(decodeSidecar(binFile(mapA(chunked))).data.a, xs);
    assert.deepEqual(decodeSidecar(binFile(mapA(hex('d856 5f 40 40 ff')))).data.a, []);
    assertCorrupt(binFile(mapA(hex('d856 5f 5f40ff ff'))), /chunk at byte 22 of the byte string at byte 21 is a byte string, expected a definite byte string/);
    assertCorrupt(binFile(mapA(hex('d856 5f 6161 ff'))), /chunk at byte 22 .* is a text string/);
    assertCorrupt(binFile(mapA(hex('d856 5f 43010203 ff'))), /tag 86 payload at byte 21 is 3 bytes, not a multiple of 8/);
    assertCorrupt(binFile(mapA(hex('d856 5f 40'))), /truncated indefinite-length byte string at byte 21/);
  });
});
