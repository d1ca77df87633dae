/**
 * Bounded memory (issue 10 §5), the CI run of the reliability report's big-file row: on a tree
 * of sidecars just under the 64 MiB read limit, every tree command stays under 8 × the largest
 * file + 300 MB of peak RSS (worker threads included), measured in a child process, and no
 * sidecar's data changes. Batches are bounded by bytes as well as by count, so big files travel
 * (almost) alone instead of 64 at a time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runBigFiles } from '../reliability/big-files.js';
import { describeRow } from '../reliability/tally.js';

const FILE_BYTES = 60 * 1024 * 1024;

test(`memory: 3 sidecars of ${FILE_BYTES / 2 ** 20} MiB, every command ≤ 8 × largest file + 300 MB, nothing lost`, async (t) => {
  const row = await runBigFiles({
    files: 3,
    bytes: FILE_BYTES,
    onCommand: (name, kb, limitKb) => t.diagnostic(`${name}: peak RSS ${Math.round(kb / 1024)} MB (limit ${Math.round(limitKb / 1024)} MB)`),
  });
  assert.deepEqual(row.failures, [], describeRow(row));
  assert.equal(row.recordsLost, 0, describeRow(row));
  assert.ok(row.count >= 12, describeRow(row));
});
