/**
 * identity.ts timeNsHalves: a stat's time in ns made of the binding array's u32 halves without a
 * BigInt (a warm run's ~18,700 stats) must be exactly the BigInt form's seconds × 10^9 + ns, as
 * BigUint64Array stores it (modulo 2^64): every second of the u64 range's edges, times before 1970
 * (negative seconds), the ns extremes, and random values. And the identities a scratch loads that
 * way are the ones fs.statSync gives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdentityScratch, identityBytes, timeNsHalves } from '../src/fs/identity.js';
import { LITTLE_ENDIAN_HOST } from '../src/byte-order.js';

function viaBigInt(sec: bigint, ns: bigint): [number, number] {
  const w = new BigUint64Array(1);
  w[0] = BigInt.asUintN(64, sec * 1_000_000_000n + ns);
  const h = new Uint32Array(w.buffer);
  return LITTLE_ENDIAN_HOST ? [h[0], h[1]] : [h[1], h[0]];
}

function viaHalves(sec: bigint, ns: bigint): [number, number] {
  const v = new BigInt64Array(16);
  v[12] = BigInt.asIntN(64, sec);
  v[13] = ns;
  const out = new Uint32Array(2);
  timeNsHalves(new Uint32Array(v.buffer), 12, out, 0);
  return [out[0], out[1]];
}

test('timeNsHalves gives the BigInt form\'s ns, modulo 2^64, at the edges and at random', { skip: !LITTLE_ENDIAN_HOST && 'the halves are read on little-endian hosts only' }, () => {
  const secs: bigint[] = [0n, 1n, -1n, 1_700_000_000n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 33n + 12345n, -(2n ** 31n), -(2n ** 32n), 2n ** 63n - 1n, -(2n ** 63n), 0xffffn, 0x10000n, 0xffff_ffffn * 7n];
  const nss: bigint[] = [0n, 1n, 999_999_999n, 500_000_000n, 65_535n, 65_536n];
  for (const s of secs) for (const n of nss) assert.deepEqual(viaHalves(s, n), viaBigInt(s, n), `${s} s ${n} ns`);
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0), seed);
  for (let i = 0; i < 20_000; i++) {
    const s = BigInt.asIntN(64, (BigInt(rnd()) << 32n) | BigInt(rnd())) >> BigInt(rnd() % 40);
    const n = BigInt(rnd() % 1_000_000_000);
    assert.deepEqual(viaHalves(s, n), viaBigInt(s, n), `${s} s ${n} ns`);
  }
});

test('a scratch\'s identity is fs.statSync\'s, times before 1970 and far ahead included', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'isc-halves-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'a.json');
  writeFileSync(f, '{}');
  const scratch = new IdentityScratch();
  for (const when of [1_700_000_000.123456, -86_400.5, 4_102_444_800.999, 0, 1]) {
    utimesSync(f, when, when);
    for (let k = 0; k < 3; k++) {
      // (The first stat of a process may go the pure way while the fast one is checked: three each.)
      assert.equal(scratch.stat(f), 2);
      assert.deepEqual([...scratch.bytes], [...identityBytes(statSync(f, { bigint: true }))], `mtime ${when}`);
    }
  }
});

test('ctimeBefore and sizeNumber (a first run\'s racy and size checks, by u32 halves) agree with the BigInt comparisons at every edge', () => {
  const s = new IdentityScratch({ fast: false });
  const U64 = 2n ** 64n;
  const edges = [0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 32n + 1n, 2n ** 53n, 1_700_000_000_000_000_000n, U64 - 1n];
  const around = (v: bigint) => [v - 1n, v, v + 1n].filter((x) => x >= 0n && x < U64);
  const ctimes = edges.flatMap(around);
  // Cutoffs as racyCutoffNs makes them (ms × 10^6), the edges, and past 2^64 (a racy margin of 0 with a far clock).
  const cutoffs = [...edges.flatMap(around), BigInt(Number.MAX_SAFE_INTEGER) * 1_000_000n, 0n, -1n];
  for (let i = 0; i < 2000; i++) ctimes.push(BigInt.asUintN(64, BigInt(Math.floor(Math.random() * 2 ** 32)) * 2n ** 32n + BigInt(Math.floor(Math.random() * 2 ** 32))));
  for (const ctimeNs of ctimes) {
    s.load({ dev: 1n, ino: 2n, size: 3n, mtimeNs: 4n, ctimeNs });
    // The same scratch asked about several cutoffs in turn (it keeps the last one's halves).
    for (const cutoff of cutoffs) assert.equal(s.ctimeBefore(cutoff), ctimeNs < cutoff, `ctime ${ctimeNs} before ${cutoff}`);
  }
  for (const size of [0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 32n + 7n, 2n ** 53n - 1n]) {
    s.load({ dev: 1n, ino: 2n, size, mtimeNs: 4n, ctimeNs: 5n });
    assert.equal(s.sizeNumber(), Number(size));
  }
});
