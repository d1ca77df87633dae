/**
 * The earlier tool's implementation-guide recipes in examples/guide/ (its Makefile targets and its
 * health-check script), run against the standalone executable under the earlier tool's name: each
 * does its job on a library with invalid files, as the guide's users run them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSampleLibrary } from '../../src/index.js';

const GUIDE = fileURLToPath(new URL('../../../examples/guide', import.meta.url));
const EXE = fileURLToPath(new URL('../../../dist/exe/image-sidecar', import.meta.url));
const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

test('the guide\'s Makefile targets and health-check script run the executable on a library with findings', { skip: has('make') && has('jq') ? false : 'needs make and jq' }, async (t) => {
  assert.ok(existsSync(EXE), `${EXE} is built (npm run test:long builds it)`);
  const dir = mkdtempSync(join(tmpdir(), 'isc-guide-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lib = join(dir, 'sidecars');
  await generateSampleLibrary(lib, { images: 150, seed: 4 });
  const bin = join(dir, '.bin');
  const make = (...targets: string[]) => spawnSync('make', ['-s', '-C', GUIDE, ...targets, `SIDECAR_DIR=${lib}`, `BIN_DIR=${bin}`, `EXE=${EXE}`], { encoding: 'utf8', timeout: 120_000 });

  const validate = make('validate-rust');
  assert.equal(validate.status, 0, validate.stderr);
  const report = JSON.parse(validate.stdout) as { total_files: number; invalid_files: number };
  assert.ok(report.total_files > 100 && report.invalid_files > 0, 'a library with invalid files validates, and make goes on');
  const stats = make('stats-rust');
  assert.equal(stats.status, 0, stats.stderr);
  assert.ok((JSON.parse(stats.stdout) as { total_images: number }).total_images >= 150);
  const formats = make('format-stats');
  assert.equal(formats.status, 0, formats.stderr);
  assert.ok((JSON.parse(formats.stdout) as { format_distribution: { Json: number } }).format_distribution.Json > 100);
  const integration = make('test-integration');
  assert.equal(integration.status, 0, integration.stderr);

  // Conversions, on copies.
  for (const [target, format] of [['convert-binary', 'Binary'], ['convert-rkyv', 'Rkyv']] as const) {
    const copy = join(dir, target);
    cpSync(lib, copy, { recursive: true, verbatimSymlinks: true });
    const r = spawnSync('make', ['-s', '-C', GUIDE, target, `SIDECAR_DIR=${copy}`, `BIN_DIR=${bin}`, `EXE=${EXE}`], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const after = spawnSync(join(bin, 'sportball-sidecar-rust'), ['format-stats', '--input', copy], { encoding: 'utf8' });
    assert.ok((JSON.parse(after.stdout) as { format_distribution: Record<string, number> }).format_distribution[format] > 100, `${target}: the copy holds ${format} sidecars`);
  }

  // The health check, logging beside it.
  const logs = join(dir, 'logs');
  mkdirSync(logs);
  const health = spawnSync(join(GUIDE, 'health-check.sh'), [lib], { encoding: 'utf8', env: { ...process.env, RUST_TOOL: join(bin, 'sportball-sidecar-rust'), LOG_DIR: logs }, timeout: 120_000 });
  assert.equal(health.status, 0, health.stderr);
  assert.match(health.stdout, /Found [1-9][0-9]* invalid files/);
  assert.match(health.stdout, /Health check complete/);
  const log = readdirSync(logs).filter((n) => n.startsWith('sidecar_health_'));
  assert.equal(log.length, 1);
  assert.match(readFileSync(join(logs, log[0]), 'utf8'), /"format_distribution"/);
  // Without the tool: the script says so and fails.
  const missing = spawnSync(join(GUIDE, 'health-check.sh'), [lib], { encoding: 'utf8', env: { ...process.env, RUST_TOOL: join(dir, 'nothing'), LOG_DIR: logs } });
  assert.equal(missing.status, 1);
  assert.match(missing.stdout, /not found/);
});
