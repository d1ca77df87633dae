/**
 * byte-order.ts: typed-array columns as little-endian bytes (validate's tree memo rows) come back
 * as the same values of the same type, and bytes no column gives are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { columnBytes, columnOf, LITTLE_ENDIAN_HOST } from '../src/byte-order.js';

test('columns come back value for value, -0, NaN, infinities and the extremes of each type included', () => {
  const f64 = Float64Array.from([0, -0, 1.5, -2.25, Number.MAX_VALUE, Number.MIN_VALUE, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, NaN, Infinity, -Infinity, 0.1 + 0.2]);
  const back = columnOf(columnBytes(f64), Float64Array)!;
  assert.equal(back.length, f64.length);
  for (let i = 0; i < f64.length; i++) assert.ok(Object.is(back[i], f64[i]), `f64 ${i}: ${back[i]} for ${f64[i]}`);
  const i32 = Int32Array.from([0, -1, 1, 2 ** 31 - 1, -(2 ** 31), 999]);
  assert.deepEqual([...columnOf(columnBytes(i32), Int32Array)!], [...i32]);
  const u32 = Uint32Array.from([0, 1, 2 ** 32 - 1, 34_000]);
  assert.deepEqual([...columnOf(columnBytes(u32), Uint32Array)!], [...u32]);
  const u8 = Uint8Array.from([0, 1, 255]);
  assert.deepEqual([...columnOf(columnBytes(u8), Uint8Array)!], [...u8]);
  assert.equal(columnOf(columnBytes(new Float64Array(0)), Float64Array)!.length, 0);
  assert.equal(columnOf(columnBytes(new Int32Array(0)), Int32Array)!.length, 0);
  assert.equal(columnOf(columnBytes(new Uint8Array(0)), Uint8Array)!.length, 0);
  // A view into a bigger buffer: only its own values.
  const big = Float64Array.from([1, 2, 3, 4]);
  assert.deepEqual([...columnOf(columnBytes(big.subarray(1, 3)), Float64Array)!], [2, 3]);
});

test('the bytes are little-endian on every host, and a copy', () => {
  assert.deepEqual([...columnBytes(Uint32Array.from([1]))], [1, 0, 0, 0]);
  assert.deepEqual([...columnBytes(Float64Array.from([1]))], [0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
  assert.equal(typeof LITTLE_ENDIAN_HOST, 'boolean');
  const column = Int32Array.from([5]);
  const bytes = columnBytes(column);
  column[0] = 6;
  assert.deepEqual([...bytes], [5, 0, 0, 0]);
  // columnOf reads aligned bytes in place on a little-endian host (a view), others as a copy.
  const aligned = Buffer.alloc(16);
  bytes.copy(aligned, 8);
  const view = columnOf(aligned.subarray(8, 12), Int32Array)!;
  assert.equal(view[0], 5);
  assert.equal(view.buffer === aligned.buffer, LITTLE_ENDIAN_HOST);
  const unaligned = Buffer.alloc(16);
  bytes.copy(unaligned, 5);
  const copy = columnOf(unaligned.subarray(5, 9), Int32Array)!;
  unaligned.fill(0);
  assert.equal(copy[0], 5);
});

test('bytes no column gives are refused: not bytes, not whole values', () => {
  const bytes = columnBytes(Float64Array.from([1, 2]));
  for (const bad of [null, 7, [1, 2], { length: 2 }, undefined, bytes.toString('base64'), Float64Array.from([1, 2])]) {
    // (A Float64Array is no Uint8Array: a column is stored as bytes only.)
    assert.equal(columnOf(bad, Float64Array), null, String(bad));
  }
  assert.equal(columnOf(bytes.subarray(0, 12), Float64Array), null, 'cut short of a whole value');
  assert.equal(columnOf(Uint8Array.from([1, 2, 3]), Int32Array), null, '3 bytes as i32');
  // A view at an odd offset of a bigger buffer reads as its own bytes.
  const odd = Buffer.concat([Buffer.from([9]), bytes]).subarray(1);
  assert.deepEqual([...columnOf(odd, Float64Array)!], [1, 2]);
});
