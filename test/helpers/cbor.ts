/**
 * CBOR heads for tests that write bin bodies by hand (test/accel-bin.test.ts, test/accel-bin-parity.test.ts):
 * major type `major`, argument `n`, its bytes as wide as asked (non-shortest forms the decoders
 * must read too), at least as wide as `n` needs.
 */
export function cborHead(major: number, n: number | bigint, width?: 0 | 1 | 2 | 4 | 8): Buffer {
  const v = BigInt(n);
  const min = v < 24n ? 0 : v < 0x100n ? 1 : v < 0x10000n ? 2 : v < 0x100000000n ? 4 : 8;
  const w = width === undefined || width < min ? min : width;
  if (w === 0) return Buffer.from([(major << 5) | Number(v)]);
  const b = Buffer.alloc(1 + w);
  b[0] = (major << 5) | { 1: 24, 2: 25, 4: 26, 8: 27 }[w];
  for (let k = 0; k < w; k++) b[w - k] = Number((v >> BigInt(8 * k)) & 0xffn);
  return b;
}
