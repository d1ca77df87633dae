#!/usr/bin/env node
// `prepare`: build dist/ whenever npm packs this package (npm pack, publish) or installs it from
// git or from a folder, so a fresh clone installs a working CLI. npm installs devDependencies
// before `prepare` for git installs, but not when it links a folder: then TypeScript comes from
// the lockfile first (scripts ignored, so this does not recurse). npm's own npm_config_* settings
// (e.g. --global of the outer install) must not reach that nested install.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

function run(cmd, args, env = process.env) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env, shell: process.platform === 'win32' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (!existsSync(tsc)) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k)));
  console.error('image-sidecar: installing the build tools (devDependencies) to build dist/');
  run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], env);
}
run(process.execPath, [tsc, '-p', 'tsconfig.json']);
run(process.execPath, [join(root, 'scripts', 'build-wasm.mjs'), 'dist']);
run(process.execPath, [join(root, 'scripts', 'code-digest.mjs'), 'dist/incremental']);
run(process.execPath, [join(root, 'scripts', 'bundle.mjs'), 'dist']);
