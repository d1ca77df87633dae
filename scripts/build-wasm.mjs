#!/usr/bin/env node
// Compile assembly/scanner.ts (AssemblyScript, a devDependency) to scanner.wasm in each output
// folder given (dist/accel, dist-test/src/accel). Compiled once into build/ and copied; the
// compile is skipped when the module is newer than its sources. No system toolchain is needed.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sourceDir = join(root, 'assembly');
const built = join(root, 'build', 'scanner.wasm');
const asc = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
const targets = process.argv.slice(2);

const newestSource = Math.max(...readdirSync(sourceDir).map((f) => statSync(join(sourceDir, f)).mtimeMs), statSync(fileURLToPath(import.meta.url)).mtimeMs);
if (!existsSync(built) || statSync(built).mtimeMs < newestSource) {
  if (!existsSync(asc)) {
    console.error('build-wasm: assemblyscript is not installed: run npm ci (a devDependency since issue 13; it compiles assembly/scanner.ts to scanner.wasm)');
    process.exit(1);
  }
  mkdirSync(dirname(built), { recursive: true });
  const args = [asc, join(sourceDir, 'scanner.ts'), '-o', built, '-O3', '--runtime', 'stub', '--noAssert', '--enable', 'simd'];
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
for (const dir of targets) {
  mkdirSync(join(root, dir), { recursive: true });
  copyFileSync(built, join(root, dir, 'scanner.wasm'));
}
