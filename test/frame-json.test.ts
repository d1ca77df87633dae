/**
 * incremental/frame-json.ts: the JSON of a tree memo's frames. Byte strings come back as the same
 * bytes, every other value as JSON gives it; the text is ASCII whatever the names; a value with
 * the stand-in's own key is never stored (it would come back as bytes); and stand-ins no run
 * writes (other keys, ranges outside the region, deep nesting) are refused, never misread.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAscii } from 'node:buffer';
import { asciiJson, encodeFrameJson, parseFrameText, restoreBytes } from '../src/incremental/frame-json.js';

const decode = (enc: { text: string; bytes: Buffer }) => {
  const text = Buffer.from(enc.text, 'latin1');
  return restoreBytes(parseFrameText(text, 0, text.length), enc.bytes);
};

test('byte strings come back as their bytes, in place, at any depth; other values as JSON gives them', () => {
  const value = {
    a: Buffer.from([1, 2, 3]),
    list: [Uint8Array.from([255]), 'x', null, { deep: [[Buffer.alloc(0)]] }],
    n: 25.5,
    s: 'photo é 🚀 \u2028 \ud800',
    '__proto__x': 1,
  };
  const enc = encodeFrameJson(value);
  // 3 bytes, 5 of padding, 1: each at a multiple of 8 (the empty one too).
  assert.equal(enc.bytes.length, 9 + 7);
  const back = decode(enc) as typeof value & { list: [Buffer, string, null, { deep: Buffer[][] }] };
  assert.ok(Buffer.isBuffer(back.a));
  assert.deepEqual([...back.a], [1, 2, 3]);
  assert.deepEqual([...back.list[0]], [255]);
  assert.equal(back.list[3].deep[0][0].length, 0);
  assert.equal(back.s, value.s);
  assert.equal(back.n, 25.5);
  // A byte string at the top.
  const top = encodeFrameJson(Buffer.from('abc'));
  assert.equal((decode(top) as Buffer).toString(), 'abc');
});

test('the text is ASCII whatever the strings hold, and parses back to the same strings (UTF-8 text, written by hand, too)', () => {
  const names = ['Ærø/ø.json', 'ｆｕｌｌ', '😀 pair', 'lone \udc00 low', 'KELVIN \u212a', 'e\u0301', '\u007f del'];
  const enc = encodeFrameJson({ names });
  assert.ok(isAscii(Buffer.from(enc.text, 'latin1')));
  assert.deepEqual((decode(enc) as { names: string[] }).names, names);
  assert.equal(asciiJson('"plain"'), '"plain"');
  const utf8 = Buffer.from(JSON.stringify({ names }), 'utf8');
  assert.deepEqual((parseFrameText(utf8, 0, utf8.length) as { names: string[] }).names, names);
});

test('a value holding the stand-in\'s key is not stored (a sidecar\'s own key could be one), nor what JSON cannot hold', () => {
  assert.throws(() => encodeFrameJson({ counts: { '\u0000bytes': [0, 1] } }), TypeError);
  assert.throws(() => encodeFrameJson([{ '\u0000bytes': 1, other: 2 }]), TypeError);
  assert.throws(() => encodeFrameJson(undefined), TypeError);
  assert.throws(() => encodeFrameJson({ big: 1n }), TypeError);
  // The key elsewhere than as an object's own key is only text.
  const enc = encodeFrameJson({ s: '\u0000bytes', list: ['\u0000bytes'] });
  assert.deepEqual(decode(enc), { s: '\u0000bytes', list: ['\u0000bytes'] });
});

test('stand-ins no run writes are refused: other keys, ranges outside the region, not a pair of integers', () => {
  const region = Buffer.from([1, 2, 3, 4]);
  const bad = [
    { '\u0000bytes': [0, 5] },
    { '\u0000bytes': [4, 1] },
    { '\u0000bytes': [-1, 1] },
    { '\u0000bytes': [0.5, 1] },
    { '\u0000bytes': [0] },
    { '\u0000bytes': '0,1' },
    { '\u0000bytes': [0, 1], more: true },
    { '\u0000bytes': [2 ** 53, 1] },
  ];
  for (const b of bad) assert.throws(() => restoreBytes({ x: [b] }, region), TypeError, JSON.stringify(b));
  assert.deepEqual([...(restoreBytes({ x: { '\u0000bytes': [1, 2] } }, region) as { x: Buffer }).x], [2, 3]);
});

test('a "__proto__" key stays an own key when its value is restored; a deep value is walked without recursion', () => {
  const parsed = JSON.parse('{"__proto__":{"\\u0000bytes":[0,2]}}') as Record<string, unknown>;
  const back = restoreBytes(parsed, Buffer.from([7, 8])) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(back), Object.prototype);
  assert.ok(Object.hasOwn(back, '__proto__'));
  assert.deepEqual([...(back['__proto__'] as Buffer)], [7, 8]);
  let deep: unknown = { '\u0000bytes': [0, 1] };
  for (let i = 0; i < 200_000; i++) deep = [deep];
  let v = restoreBytes(deep, Buffer.from([42]));
  for (let i = 0; i < 200_000; i++) v = (v as unknown[])[0];
  assert.deepEqual([...(v as Buffer)], [42]);
});

test('each byte string starts at a multiple of 8 in its region (a region read at one gives its columns in place)', () => {
  const enc = encodeFrameJson({ a: Buffer.from([1, 2, 3]), b: Buffer.from(new Float64Array([1.5, -0]).buffer), c: [Buffer.alloc(0), Buffer.from([9])] });
  const back = decode(enc) as { a: Buffer; b: Buffer; c: Buffer[] };
  for (const x of [back.a, back.b, ...back.c]) assert.equal((x.byteOffset - enc.bytes.byteOffset) % 8, 0);
  assert.deepEqual([...new Float64Array(Uint8Array.from(back.b).buffer)].map((v) => Object.is(v, -0) ? '-0' : v), [1.5, '-0']);
  assert.deepEqual([...back.c[1]], [9]);
});
