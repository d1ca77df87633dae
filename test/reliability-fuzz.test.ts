/**
 * Hostile files (CI subset of `npm run test:reliability`): random and mutated bytes into every
 * decoder (~2,000 cases each here, ≥ 100,000 in the long mode), length bombs, 10^5-level nesting,
 * random data round trips. Only SidecarError comes out, nothing hangs, no allocation follows an
 * untrusted length, and nothing that decodes changes through a round trip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSidecarError } from '../src/errors.js';
import { decodeSidecar } from '../src/formats/codec.js';
import { reliabilityConfig } from './reliability/config.js';
import { probeAllocations } from './reliability/alloc-probe.js';
import { DECODER_NAMES, lengthBombs } from './reliability/fuzz-inputs.js';
import { checkDecodeCase, runDecoderFuzz, runDeepNesting, runLengthBombs, runRoundTrips } from './reliability/fuzz.js';
import { describeRow, type ReliabilityRow } from './reliability/tally.js';

const cfg = reliabilityConfig();
const timeout = cfg.long ? 3_600_000 : 120_000;

function assertClean(row: ReliabilityRow): void {
  assert.deepEqual(row.failures, [], describeRow(row));
  assert.equal(row.recordsLost, 0, describeRow(row));
  assert.equal(row.bytesLost, 0, describeRow(row));
}

for (const decoder of DECODER_NAMES) {
  test(`fuzz ${decoder}: ${cfg.fuzzCases} hostile inputs, only SidecarError, no hang, no untrusted allocation`, { timeout }, async () => {
    const row = await runDecoderFuzz(decoder, { cases: cfg.fuzzCases, seed: cfg.seed });
    assert.equal(row.count, cfg.fuzzCases);
    assertClean(row);
  });
}

test(`random sidecar data round-trips bit for bit through json, bin, rkyv and legacy (${cfg.roundTrips} objects)`, { timeout }, async () => {
  const row = await runRoundTrips({ cases: cfg.roundTrips, seed: cfg.seed });
  assert.equal(row.count, cfg.roundTrips * 4);
  assertClean(row);
});

test('length fields up to 2^64 are rejected as CORRUPT at once, without allocating for them', async () => {
  const row = await runLengthBombs();
  assert.ok(row.count >= 20);
  assertClean(row);
  // and the probe really sees allocations: decoding a large valid file requests about its size
  const big = Buffer.from(JSON.stringify({ a: 'x'.repeat(10_000) }));
  const probed = probeAllocations(() => decodeSidecar(big));
  assert.equal(probed.threw, false);
  const bomb = lengthBombs('bin').find((b) => b.name === 'array of 2^32-1 items')!;
  const r = probeAllocations(() => decodeSidecar(bomb.bytes));
  assert.ok(r.threw && isSidecarError(r.error) && r.error.code === 'CORRUPT');
  assert.ok(r.alloc.maxArrayLength <= bomb.bytes.length, `array of ${r.alloc.maxArrayLength} for ${bomb.bytes.length} bytes`);
});

test('the allocation probe notices a decoder-sized allocation', () => {
  const r = probeAllocations(() => new Array(1e6).length + new Float64Array(1000).length + Buffer.allocUnsafe(5000).length);
  assert.equal(r.value, 1e6 + 1000 + 5000);
  assert.equal(r.alloc.maxArrayLength, 1e6);
  assert.equal(r.alloc.maxBytes, 8000);
  // globals are restored afterwards
  assert.equal(probeAllocations(() => 0).alloc.maxBytes, 0);
  assert.equal(typeof Array.isArray, 'function');
});

test(`${cfg.deepNesting} levels of nesting give TOO_DEEP, never a stack overflow`, { timeout }, async () => {
  const row = await runDeepNesting(cfg.deepNesting);
  assert.ok(row.count >= 20);
  assertClean(row);
});

test('a decodable hostile input is checked through a round trip', () => {
  const v = checkDecodeCase('json', Buffer.from('{"a":[1.5,-0.0,{"__proto__":{"x":1}}],"b":"\\ud800"}'));
  assert.deepEqual(v.problems, []);
  assert.equal(v.decoded, true);
  assert.equal(v.lostRecords, 0);
  const bad = checkDecodeCase('bin', Buffer.from('not a bin file'));
  assert.deepEqual(bad.problems, []);
  assert.equal(bad.decoded, false);
});
