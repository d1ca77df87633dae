import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SidecarError } from '../src/errors.js';
import { canonicalJson, canonicalJsonChunks, checkDepth, deepEqualJson } from '../src/formats/codec.js';
import { decodeSidecar } from '../src/formats/codec.js';
import type { JsonObject, JsonValue } from '../src/types.js';

const fromBits = (hex: string) => Buffer.from(hex, 'hex').readDoubleBE(0);

describe('canonicalJson (RFC 8785)', () => {
  it('sorts keys by UTF-16 code units (RFC 8785 section 3.2.3)', () => {
    const input = JSON.parse(
      '{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One",' +
        '"\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control","\\u00f6":"Latin Small Letter O With Diaeresis"}',
    ) as JsonObject;
    const keys = Object.keys(JSON.parse(canonicalJson(input)) as JsonObject);
    // JSON.parse puts "1" first anyway (an array index); check the order in the text instead.
    const text = canonicalJson(input);
    const order = ['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'].map((k) => text.indexOf(JSON.stringify(k) + ':'));
    assert.deepEqual([...order].sort((a, b) => a - b), order);
    assert.equal(keys.length, 7);
  });

  it('matches the RFC 8785 section 3.2.2 example', () => {
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],' +
        '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    ) as JsonObject;
    assert.equal(
      canonicalJson(input),
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('formats numbers like RFC 8785 Appendix B', () => {
    const vectors: [string, string][] = [
      ['0000000000000000', '0'],
      ['8000000000000000', '-0.0'], // RFC 8785 writes 0; our number model keeps -0 a distinct float
      ['0000000000000001', '5e-324'],
      ['8000000000000001', '-5e-324'],
      ['7fefffffffffffff', '1.7976931348623157e+308'],
      ['ffefffffffffffff', '-1.7976931348623157e+308'],
      ['4340000000000000', '9007199254740992'],
      ['c340000000000000', '-9007199254740992'],
      ['4430000000000000', '295147905179352830000'],
      ['44b52d02c7e14af5', '9.999999999999997e+22'],
      ['44b52d02c7e14af6', '1e+23'],
      ['44b52d02c7e14af7', '1.0000000000000001e+23'],
      ['444b1ae4d6e2ef4e', '999999999999999700000'],
      ['444b1ae4d6e2ef50', '1e+21'],
      ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
      ['3eb0c6f7a0b5ed8d', '0.000001'],
      ['41b3de4355555553', '333333333.3333332'],
      ['41b3de4355555555', '333333333.3333333'],
    ];
    for (const [bits, want] of vectors) assert.equal(canonicalJson([fromBits(bits)]), `[${want}]`, bits);
  });

  it('has no whitespace and handles nesting, empty containers and "__proto__"', () => {
    const data = JSON.parse('{"b":[{},[],{"z":1,"a":[true]}],"__proto__":{"y":null,"x":"s"},"a":""}') as JsonObject;
    assert.equal(canonicalJson(data), '{"__proto__":{"x":"s","y":null},"a":"","b":[{},[],{"a":[true],"z":1}]}');
    assert.equal(canonicalJson([]), '[]');
    assert.equal(canonicalJson('x'), '"x"');
    assert.equal(canonicalJson(null), 'null');
  });

  it('does not depend on key insertion order', () => {
    assert.equal(canonicalJson({ a: 1, b: { c: 2, d: 3 } }), canonicalJson({ b: { d: 3, c: 2 }, a: 1 }));
  });

  it('handles any depth without recursion', () => {
    let v: JsonValue = 0;
    for (let i = 0; i < 100_000; i++) v = [v];
    const text = canonicalJson(v);
    assert.equal(text, '['.repeat(100_000) + '0' + ']'.repeat(100_000));
  });

  it('refuses non-finite numbers', () => {
    assert.throws(
      () => canonicalJson({ a: [1, Number.NaN] }),
      (e: unknown) => e instanceof SidecarError && e.code === 'UNREPRESENTABLE' && /\/a\/1/.test(e.message),
    );
  });
});

describe('deepEqualJson', () => {
  it('compares numbers bit-exactly', () => {
    assert.equal(deepEqualJson(0, -0), false);
    assert.equal(deepEqualJson([-0], [-0]), true);
    assert.equal(deepEqualJson({ a: 0.22490839660167694 }, { a: 0.22490839660167697 }), false);
    assert.equal(deepEqualJson(5e-324, 5e-324), true);
  });

  it('ignores key order but not keys, and tells arrays from objects', () => {
    assert.equal(deepEqualJson({ a: 1, b: [1, { c: null }] }, { b: [1, { c: null }], a: 1 }), true);
    assert.equal(deepEqualJson({ a: 1 }, { a: 1, b: 2 }), false);
    assert.equal(deepEqualJson({ a: 1, b: 2 }, { a: 1, c: 2 }), false);
    assert.equal(deepEqualJson([1, 2], [1, 2, 3]), false);
    assert.equal(deepEqualJson([], {}), false);
    assert.equal(deepEqualJson({ 0: 'x' }, ['x']), false);
    assert.equal(deepEqualJson(null, {}), false);
    assert.equal(deepEqualJson('1', 1), false);
  });

  it('sees "__proto__" own keys and does not confuse them with inherited names', () => {
    const withProto = JSON.parse('{"__proto__": 1}') as JsonObject;
    assert.equal(deepEqualJson(withProto, {}), false);
    assert.equal(deepEqualJson(withProto, JSON.parse('{"__proto__": 1}') as JsonObject), true);
    assert.equal(deepEqualJson(withProto, JSON.parse('{"__proto__": 2}') as JsonObject), false);
    assert.equal(deepEqualJson({ toString: 1 } as JsonObject, { valueOf: 1 } as JsonObject), false);
  });

  it('handles deep values without recursion', () => {
    let a: JsonValue = 1;
    let b: JsonValue = 1;
    for (let i = 0; i < 100_000; i++) {
      a = { n: a };
      b = { n: b };
    }
    assert.equal(deepEqualJson(a, b), true);
  });
});

describe('checkDepth', () => {
  it('counts containers on the deepest path; the top-level object is 1', () => {
    checkDepth({}, 1);
    checkDepth({ a: 1, b: 'x' }, 1);
    checkDepth({ a: [1, { b: [] }] }, 4);
    checkDepth(5, 0);
    assert.throws(
      () => checkDepth({ a: [1, { b: [] }] }, 3, '/x.json'),
      (e: unknown) => e instanceof SidecarError && e.code === 'TOO_DEEP' && e.path === '/x.json' && /deeper than 3 levels/.test(e.message),
    );
  });

  it('is iterative: 1 000 000 levels give TOO_DEEP, not a stack overflow', () => {
    let v: JsonValue = null;
    for (let i = 0; i < 1_000_000; i++) v = [v];
    assert.throws(
      () => checkDepth(v, 512),
      (e: unknown) => e instanceof SidecarError && e.code === 'TOO_DEEP',
    );
    checkDepth(v, 1_000_000);
  });
});

describe('canonicalJsonChunks (bounded memory for big sidecars)', () => {
  it('its pieces join to exactly canonicalJson, and a 6 MB value comes in several pieces none far above 1 Mi units', () => {
    const embedding = Array.from({ length: 512 }, (_, i) => Math.sin(i + 0.5) * 0.123456789);
    // Typed numbers (25.0, a big int, -0.0) inside containers that are not plain number arrays.
    const face = '{"bbox":[0.1,0.2,0.3,0.4],"pad":25.0,"id":12345678901234567890,"z":-0.0,"embedding":' + JSON.stringify(embedding) + '}';
    const text = '{"face_detection":{"faces":[' + new Array(600).fill(face).join(',') + '],"success":true},"\u00e9":"x"}';
    const { data } = decodeSidecar(Buffer.from(text), { path: '/big.json' });
    const pieces: string[] = [];
    canonicalJsonChunks(data, (p) => pieces.push(p));
    const whole = canonicalJson(data);
    assert.equal(pieces.join(''), whole);
    assert.ok(whole.includes('"pad":25.0') && whole.includes('12345678901234567890') && whole.includes('-0.0'));
    assert.ok(pieces.length >= 4, `${pieces.length} pieces for ${whole.length} units`);
    for (const p of pieces) assert.ok(p.length > 0 && p.length < (1 << 20) + 64 * 1024, `piece of ${p.length} units`);
  });

  it('small values come as one piece; scalars too', () => {
    for (const v of [{ a: [1, 2] }, [], 'x', 1.5, null] as JsonValue[]) {
      const pieces: string[] = [];
      canonicalJsonChunks(v, (p) => pieces.push(p));
      assert.deepEqual(pieces, [canonicalJson(v)]);
    }
  });
});
