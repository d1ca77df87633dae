/**
 * Hostile trees (CI subset of `npm run test:reliability`): unreadable files and folders, symlink
 * loops, links out of the root, odd and non-UTF-8 names, a folder of 10^4 files (10^5 in the
 * long mode), files changing under a running scan, a read-only file system, the cleanup guard.
 * Each case counts the bytes and records it lost; all must be 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reliabilityConfig } from './reliability/config.js';
import { IN_PROCESS_TREE_CASES } from './reliability/trees.js';
import { SPECIAL_TREE_CASES } from './reliability/trees-special.js';
import { runTreeCase } from './reliability/tree-kit.js';
import { describeRow } from './reliability/tally.js';
import { KNOWN_BUGS } from './reliability/known-bugs.js';

const cfg = reliabilityConfig();

for (const c of [...IN_PROCESS_TREE_CASES, ...SPECIAL_TREE_CASES]) {
  const todo = KNOWN_BUGS[c.id];
  test(`hostile tree: ${c.title}`, { timeout: cfg.long ? 600_000 : 90_000, ...(todo ? { todo } : {}) }, async (t) => {
    const row = await runTreeCase(c, { seed: cfg.seed, bigFolderFiles: cfg.bigFolderFiles });
    if (row.skipped !== undefined) {
      t.skip(row.skipped);
      return;
    }
    assert.ok(row.count > 0, 'the case checked nothing');
    assert.deepEqual(row.failures, [], describeRow(row));
    assert.equal(row.recordsLost, 0, describeRow(row));
    assert.equal(row.bytesLost, 0, describeRow(row));
  });
}
