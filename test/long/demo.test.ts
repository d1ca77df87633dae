/**
 * The README's first command (`npm run demo`, scripts/demo.mjs): the package's CLI as installed
 * generates the built-in sample library and runs the everyday commands on it. Run on the package's
 * build (test:long builds it), with a smaller library than the demo's 2,000 images.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const DEMO = fileURLToPath(new URL('../../../scripts/demo.mjs', import.meta.url));
const BIN = fileURLToPath(new URL('../../../dist/bundle/cli.cjs', import.meta.url));

test('the demo generates the sample library and runs stats, format-stats, validate, cleanup --dry-run and hash on it', () => {
  assert.ok(existsSync(BIN), `${BIN} is built (npm run test:long builds it)`);
  const r = spawnSync(process.execPath, [DEMO], { encoding: 'utf8', env: { ...process.env, DEMO_IMAGES: '120' }, timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  const where = /The sample library is in (.+)\n/.exec(r.stderr);
  assert.ok(where, r.stderr.slice(-500));
  try {
    for (const cmd of ['sample', 'stats', 'format-stats', 'validate', 'cleanup', 'hash']) assert.match(r.stderr, new RegExp(`\\$ image-sidecar ${cmd} `), `${cmd} ran`);
    assert.match(r.stdout, /"avg_data_sizes"/, 'stats printed its report');
    assert.match(r.stdout, /"images": 120,/, 'sample made the library asked for');
    // The sample library holds corrupt sidecars on purpose: the canonical digest names them instead.
    assert.match(r.stdout, /"digest": null,\n\s+"error": \{\n\s+"code": "CORRUPT"/, 'hash --canonical refused the corrupt files by name');
  } finally {
    rmSync(dirname(where[1]), { recursive: true, force: true });
  }
});
