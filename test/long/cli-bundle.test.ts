/**
 * The CLI as installed: `bin` runs the package's one-file bundle (scripts/bundle.mjs, dist/bundle/).
 * Every command must give the compiled tree's output, exit code and index, with its worker threads
 * and WebAssembly modules found beside it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSampleLibrary } from '../../src/index.js';
import { fileURLToPath } from 'node:url';
import { BUNDLE_CLI_PATH, TREE_CLI_PATH, runCli, withoutRunFacts as noTimes } from '../helpers/cli.js';

/** The package build's compiled tree (dist/cli.js), which the bundle is made from. */
const PACKAGE_TREE_CLI_PATH = fileURLToPath(new URL('../../../dist/cli.js', import.meta.url));


test('the installed bundle gives the compiled tree\'s output, exit code and index for every tree command, threads and WebAssembly included', async (t) => {
  assert.ok(existsSync(BUNDLE_CLI_PATH), `the package build writes ${BUNDLE_CLI_PATH} (npm run build)`);
  const dir = mkdtempSync(join(tmpdir(), 'isc-bundle-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const root = join(dir, 'lib');
  // Symlinks, RAW+JPEG pairs, corrupt and orphaned sidecars, reports: findings exit 1.
  await generateSampleLibrary(root, { images: 400, seed: 5 });
  const env = { IMAGE_SIDECAR_ENGINE: 'threads', IMAGE_SIDECAR_WORKERS: '2' };
  const commands: string[][] = [
    ['validate', root, '--no-index'],
    ['stats', root, '--no-index'],
    ['format-stats', root, '--no-index'],
    ['export', root, '--no-index', '--format', 'jsonl'],
    ['hash', root],
    ['find', root, '--where', 'faces > 0', '--no-index', '--jsonl'],
    ['todo', root, '--operation', 'yolov8', '--no-index'],
    ['cleanup', root, '--dry-run'],
  ];
  for (const args of commands) {
    const tree = await runCli(args, { env, cli: TREE_CLI_PATH });
    const bundle = await runCli(args, { env, cli: BUNDLE_CLI_PATH });
    assert.equal(bundle.code, tree.code, `${args[0]}: exit code (stderr: ${bundle.stderr.slice(-300)})`);
    assert.ok(bundle.stdout.length > 0, `${args[0]}: output`);
    assert.equal(noTimes(bundle.stdout), noTimes(tree.stdout), `${args[0]}: output`);
  }
  // One index for both: what the package's compiled tree stored, the bundle built from it serves
  // (one code digest). The files were just written: no racy margin, or none would be stored.
  const index = join(dir, 'index');
  const indexEnv = { ...env, IMAGE_SIDECAR_INDEX_RACY_MS: '0' };
  const first = await runCli(['validate', root, '--index', index], { env: indexEnv, cli: PACKAGE_TREE_CLI_PATH });
  const served = await runCli(['validate', root, '--index', index], { env: indexEnv, cli: BUNDLE_CLI_PATH });
  assert.equal(noTimes(served.stdout), noTimes(first.stdout));
  const status = JSON.parse((await runCli(['index', 'status', root, '--index', index], { cli: BUNDLE_CLI_PATH })).stdout) as { last_run: { hits: number; misses: number } };
  assert.equal(status.last_run.misses, 0, 'every result the tree stored is served to the bundle');
  assert.ok(status.last_run.hits > 0);
  // Its threads and WebAssembly modules in use.
  const doctor = JSON.parse((await runCli(['doctor', '--json'], { cli: BUNDLE_CLI_PATH })).stdout) as { acceleration: { wasm: { inUse: boolean } }; index: { entryWriter: { inUse: boolean } } };
  assert.equal(doctor.acceleration.wasm.inUse, true, 'the scanner module is found beside the bundle');
  assert.equal(doctor.index.entryWriter.inUse, true, 'the entry writer module is found beside the bundle');
  // Under the earlier tool's name, findings exit 0 as it did.
  const legacy = join(dir, 'image-sidecar-rust');
  symlinkSync(BUNDLE_CLI_PATH, legacy);
  const asRust = await runCli(['validate', '--input', root, '--no-index'], { env, cli: legacy });
  assert.equal((await runCli(['validate', '--input', root, '--no-index'], { env, cli: BUNDLE_CLI_PATH })).code, 1, 'the sample library has findings');
  assert.equal(asRust.code, 0, 'as image-sidecar-rust: findings exit 0');
});
