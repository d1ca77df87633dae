/**
 * A fresh clone packs and installs: `npm pack` runs the prepare script (dist/ is built, not
 * committed), the tarball carries dist/, LICENSE and the bin links, and installing it into an
 * empty folder gives a working `npx image-sidecar`. Works offline when the npm cache holds the
 * three dependencies (it does after `npm ci`); otherwise npm falls back to the registry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withCaCerts } from '../helpers/test-env.js';
import { removeTree, tempDir } from '../helpers/tree.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const PKG = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string; license: string; scripts: Record<string, string> };

/** What a fresh clone holds: the tracked files (from the working tree), or the build inputs without git. */
function cloneLikeCopy(dest: string): void {
  const ls = spawnSync('git', ['ls-files', '-z'], { cwd: REPO, encoding: 'utf8' });
  const files =
    ls.status === 0 && ls.stdout.length > 0
      ? ls.stdout.split('\0').filter((f) => f !== '')
      : ['package.json', 'package-lock.json', 'tsconfig.json', 'README.md', 'ARCHITECTURE.md', 'LICENSE', 'scripts/prepare.mjs', ...walk('src'), ...walk('docs')];
  for (const f of files) {
    const from = join(REPO, f);
    if (!existsSync(from) || !statSync(from).isFile()) continue; // deleted in the working tree
    mkdirSync(dirname(join(dest, f)), { recursive: true });
    copyFileSync(from, join(dest, f));
  }
  assert.ok(!existsSync(join(dest, 'dist')), 'a clone has no dist/');
  // The clone after `npm ci`: the repository's own installed dependencies.
  symlinkSync(join(REPO, 'node_modules'), join(dest, 'node_modules'));
}

function walk(rel: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(REPO, rel), { withFileTypes: true })) {
    const r = join(rel, e.name);
    if (e.isDirectory()) out.push(...walk(r));
    else out.push(r);
  }
  return out;
}

/**
 * npm's own settings of the outer `npm run test:long` (npm_config_*, lifecycle vars) must not leak in; the
 * CA bundle the test runner set aside (helpers/test-env.ts) is given back: npm may reach the registry.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && !k.startsWith('IMAGE_SIDECAR_')) env[k] = v;
  env.npm_config_audit = 'false';
  env.npm_config_fund = 'false';
  env.npm_config_update_notifier = 'false';
  return withCaCerts(env);
}

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('LICENSE is the MIT license package.json names', () => {
  assert.equal(PKG.license, 'MIT');
  assert.match(readFileSync(join(REPO, 'LICENSE'), 'utf8'), /^MIT License\n[\s\S]*Permission is hereby granted, free of charge/);
});

test('fresh clone → npm pack → install into an empty folder → npx image-sidecar works', { timeout: 240_000 }, async (t) => {
  const work = tempDir('isc-pack-');
  t.after(() => removeTree(work));
  const clone = join(work, 'clone');
  const packs = join(work, 'packs');
  const app = join(work, 'app');
  mkdirSync(packs);
  mkdirSync(app);
  cloneLikeCopy(clone);

  const pack = await run('npm', ['pack', '--json', '--pack-destination', packs], clone);
  assert.equal(pack.code, 0, `npm pack failed:\n${pack.stderr}`);
  const info = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as { filename: string; files: { path: string; mode: number }[] }[];
  const paths = new Set(info[0]!.files.map((f) => f.path));
  // The CLI as `bin` runs it (the bundle and what it opens beside itself), and the library.
  for (const must of ['dist/bundle/cli.cjs', 'dist/bundle/program.cjs', 'dist/bundle/program.cache', 'dist/bundle/worker.js', 'dist/bundle/scanner.wasm', 'dist/bundle/entries.wasm', 'dist/bundle/code-digest.json', 'dist/cli.js', 'dist/index.js', 'dist/index.d.ts', 'LICENSE', 'README.md', 'package.json']) {
    assert.ok(paths.has(must), `the tarball holds ${must}`);
  }
  assert.ok(![...paths].some((p) => p.startsWith('dist/exe/') || p.startsWith('dist/wheel/')), 'no standalone executable or wheel in the npm package');
  assert.ok(![...paths].some((p) => p.startsWith('test/') || p.startsWith('dist-test/') || p.startsWith('node_modules/')), 'no tests or dependencies in the tarball');
  const tarball = join(packs, info[0]!.filename);

  const install = await run('npm', ['install', '--prefer-offline', '--no-save', '--no-package-lock', tarball], app);
  assert.equal(install.code, 0, `npm install failed:\n${install.stderr}`);
  for (const bin of ['image-sidecar', 'image-sidecar-rust', 'sportball-sidecar-rust']) {
    assert.ok(existsSync(join(app, 'node_modules', '.bin', bin)), `bin link ${bin}`);
  }

  const version = await run('npx', ['--no', '--', 'image-sidecar', '--version'], app);
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout.trim(), PKG.version);

  const sample = await run('npx', ['--no', '--', 'image-sidecar', 'sample', 'lib', '--images', '40', '--seed', '3', '--json'], app);
  assert.equal(sample.code, 0, sample.stderr);
  const stats = await run('npx', ['--no', '--', 'image-sidecar', 'stats', 'lib', '--json', '--engine', 'inline'], app);
  assert.equal(stats.code, 0, stats.stderr);
  const made = JSON.parse(sample.stdout) as { images: number; sidecars: number };
  const s = JSON.parse(stats.stdout) as { total_images: number; total_sidecars: number };
  assert.equal(made.images, 40);
  assert.ok(s.total_images >= made.images, 'every generated image is counted (symlinked images too)');
  assert.ok(s.total_sidecars >= made.sidecars && s.total_sidecars > 0);
});
