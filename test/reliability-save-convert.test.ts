/**
 * Saves racing convert between processes (CI subset of `npm run test:reliability`): NFD image
 * names with NFC sidecars, link-side sidecars of symlinked images, plain images; convert flips the
 * tree json ⇄ bin on worker threads while 3 processes save. 0 acknowledged saves lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSaveVsConvert } from './reliability/save-vs-convert.js';
import { describeRow } from './reliability/tally.js';

test('saves racing convert json⇄bin: every acknowledged save survives, one sidecar per image', { timeout: 300_000 }, async () => {
  const row = await runSaveVsConvert({ savers: 3, saves: 40, perKind: 3 });
  assert.equal(row.count, 3 * 40, describeRow(row));
  assert.equal(row.recordsLost, 0, describeRow(row));
  assert.equal(row.bytesLost, 0, describeRow(row));
  assert.deepEqual(row.failures, [], describeRow(row));
});
