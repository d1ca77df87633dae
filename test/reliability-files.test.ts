/**
 * Hostile files on disk (CI subset of `npm run test:reliability`): corrupt sidecars of every kind
 * seen in the wild survive read, save, scan, convert and cleanup byte for byte; files above the
 * size limit and 10^5-level nesting give clear errors and are kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reliabilityConfig } from './reliability/config.js';
import { runCorruptFilesKept, runDeepFiles, runSizeLimit } from './reliability/hostile-files.js';
import { describeRow, type ReliabilityRow } from './reliability/tally.js';

const cfg = reliabilityConfig();

function assertClean(row: ReliabilityRow, minChecks: number): void {
  assert.ok(row.count >= minChecks, describeRow(row));
  assert.deepEqual(row.failures, [], describeRow(row));
  assert.equal(row.recordsLost, 0, describeRow(row));
  assert.equal(row.bytesLost, 0, describeRow(row));
}

test('corrupt sidecars (truncated, empty, invalid UTF-8, NaN, zeros, bad CRC, torn bin/legacy) are never overwritten or removed', async () => {
  assertClean(await runCorruptFilesKept(cfg.seed), 18);
});

test('a sidecar above the configured size limit is rejected with its size and the limit, and kept', async () => {
  assertClean(await runSizeLimit(cfg.seed), 5);
});

test(`sidecar files nested ${cfg.deepNesting} levels deep give TOO_DEEP in read, save and scan, and are kept`, async () => {
  assertClean(await runDeepFiles(cfg.deepNesting), 10);
});
