#!/usr/bin/env node
// Compile the AssemblyScript modules (a devDependency; no system toolchain is needed) into build/
// and copy each into every compiled tree given (dist, dist-test/src): assembly/scanner.ts →
// accel/scanner.wasm, assembly/entries.ts → tasks/entries.wasm. A module is compiled again
// only when it is older than its source or this script.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sourceDir = join(root, 'assembly');
const asc = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
const MODULES = [
  { source: 'scanner.ts', wasm: 'scanner.wasm', into: 'accel', flags: ['--enable', 'simd'] },
  { source: 'entries.ts', wasm: 'entries.wasm', into: 'tasks', flags: [] },
];
const trees = process.argv.slice(2);

const own = statSync(fileURLToPath(import.meta.url)).mtimeMs;
for (const m of MODULES) {
  const built = join(root, 'build', m.wasm);
  const newestSource = Math.max(statSync(join(sourceDir, m.source)).mtimeMs, statSync(join(sourceDir, 'tsconfig.json')).mtimeMs, own);
  if (!existsSync(built) || statSync(built).mtimeMs < newestSource) {
    if (!existsSync(asc)) {
      console.error(`build-wasm: assemblyscript is not installed: run npm ci (a devDependency; it compiles assembly/${m.source} to ${m.wasm})`);
      process.exit(1);
    }
    mkdirSync(dirname(built), { recursive: true });
    const args = [asc, join(sourceDir, m.source), '-o', built, '-O3', '--runtime', 'stub', '--noAssert', ...m.flags];
    const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  for (const tree of trees) {
    mkdirSync(join(root, tree, m.into), { recursive: true });
    copyFileSync(built, join(root, tree, m.into, m.wasm));
  }
}
