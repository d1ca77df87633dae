/**
 * Concurrent writers (CI subset of `npm run test:reliability`): 8 processes × 100 saves over 20
 * images, all operations distinct; one image starts behind the stale lock of a SIGKILLed holder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reliabilityConfig } from '../reliability/config.js';
import { runConcurrentSaves } from '../reliability/concurrency.js';
import { describeRow } from '../reliability/tally.js';

const cfg = reliabilityConfig();

test(`${cfg.processes} processes × ${cfg.savesPerProcess} saves over ${cfg.concurrentImages} images: every operation is present`, { timeout: 300_000 }, async () => {
  const row = await runConcurrentSaves({ processes: cfg.processes, saves: cfg.savesPerProcess, images: cfg.concurrentImages, seed: cfg.seed });
  assert.equal(row.count, cfg.processes * cfg.savesPerProcess, describeRow(row));
  assert.equal(row.recordsLost, 0, describeRow(row));
  assert.equal(row.bytesLost, 0, describeRow(row));
  assert.deepEqual(row.failures, [], describeRow(row));
  assert.match(row.notes.join('\n'), /stale lock of a SIGKILLed holder taken over \d+ ms/);
});
