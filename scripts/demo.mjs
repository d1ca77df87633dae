#!/usr/bin/env node
// The README's first command: the main job on the built-in sample library, no external data.
// Generates a fresh library in a temp folder, then runs the everyday commands on it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The CLI as installed (`bin`): the bundle, run from its code cache.
const cli = fileURLToPath(new URL('../dist/bundle/cli.cjs', import.meta.url));
const images = process.env.DEMO_IMAGES ?? '2000';
const root = join(mkdtempSync(join(tmpdir(), 'image-sidecar-demo-')), 'library');

function run(...args) {
  process.stderr.write(`\n$ image-sidecar ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit' });
  if (r.status === 2) process.exit(2); // a fatal error; 1 means findings, which the sample library has on purpose
}

run('sample', root, '--images', images, '--seed', '1');
run('stats', root);
run('format-stats', root);
run('validate', root, '--quiet');
run('cleanup', root, '--dry-run');
run('hash', root, '--canonical');
process.stderr.write(`\nThe sample library is in ${root}\n`);
