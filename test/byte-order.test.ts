/**
 * byte-order.ts: typed-array columns as base64 text of little-endian bytes (validate's tree memo
 * rows) come back as the same values of the same type, and a text no column gives is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { columnOf, columnText, LITTLE_ENDIAN_HOST } from '../src/byte-order.js';

test('columns come back value for value, -0, NaN, infinities and the extremes of each type included', () => {
  const f64 = Float64Array.from([0, -0, 1.5, -2.25, Number.MAX_VALUE, Number.MIN_VALUE, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, NaN, Infinity, -Infinity, 0.1 + 0.2]);
  const back = columnOf(columnText(f64), Float64Array)!;
  assert.equal(back.length, f64.length);
  for (let i = 0; i < f64.length; i++) assert.ok(Object.is(back[i], f64[i]), `f64 ${i}: ${back[i]} for ${f64[i]}`);
  const i32 = Int32Array.from([0, -1, 1, 2 ** 31 - 1, -(2 ** 31), 999]);
  assert.deepEqual([...columnOf(columnText(i32), Int32Array)!], [...i32]);
  const u32 = Uint32Array.from([0, 1, 2 ** 32 - 1, 34_000]);
  assert.deepEqual([...columnOf(columnText(u32), Uint32Array)!], [...u32]);
  const u8 = Uint8Array.from([0, 1, 255]);
  assert.deepEqual([...columnOf(columnText(u8), Uint8Array)!], [...u8]);
  assert.equal(columnOf(columnText(new Float64Array(0)), Float64Array)!.length, 0);
  assert.equal(columnOf(columnText(new Int32Array(0)), Int32Array)!.length, 0);
  assert.equal(columnOf(columnText(new Uint8Array(0)), Uint8Array)!.length, 0);
  // A view into a bigger buffer: only its own values.
  const big = Float64Array.from([1, 2, 3, 4]);
  assert.deepEqual([...columnOf(columnText(big.subarray(1, 3)), Float64Array)!], [2, 3]);
});

test('the text is of little-endian bytes on every host', () => {
  assert.equal(columnText(Uint32Array.from([1])), Buffer.from([1, 0, 0, 0]).toString('base64'));
  assert.equal(columnText(Float64Array.from([1])), Buffer.from([0, 0, 0, 0, 0, 0, 0xf0, 0x3f]).toString('base64'));
  assert.equal(typeof LITTLE_ENDIAN_HOST, 'boolean');
});

test('a text no column gives is refused: not a string, not whole values, not base64 as written', () => {
  const text = columnText(Float64Array.from([1, 2]));
  for (const bad of [null, 7, [1, 2], { length: 2 }, undefined]) assert.equal(columnOf(bad, Float64Array), null, String(bad));
  assert.equal(columnOf(text.slice(0, -4), Float64Array), null, 'cut short of a whole value');
  assert.equal(columnOf(columnText(Uint8Array.from([1, 2, 3])), Int32Array), null, '3 bytes as i32');
  assert.equal(columnOf(`*${text}`, Float64Array), null, 'a character base64 skips');
  assert.equal(columnOf(text.replace(/=*$/, ''), Float64Array), null, 'padding left out');
  assert.equal(columnOf(` ${text}`, Float64Array), null, 'space');
});
