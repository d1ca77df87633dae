#!/usr/bin/env node
// After `tsc`: the CLI and its worker thread as one file each (esbuild), in dist/bundle/, beside
// the files they open by a URL relative to themselves: the two WebAssembly modules, the worker,
// the code-digest manifest (its paths are relative to dist/, the bundle's parent, as they are to
// the compiled tree's top). One file parses and links once where the compiled tree is ~190
// modules: a command starts ~40 ms sooner, each worker thread too. The library (dist/index.js)
// stays the compiled tree: a caller's bundler bundles it. ajv is loaded by `require` on the first
// schema (analysis/schema.ts), from node_modules as before.
// Usage: node scripts/build-bundle.mjs dist
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const dist = resolve(process.argv[2] ?? 'dist');
const out = join(dist, 'bundle');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { cli: join(dist, 'cli.js'), worker: join(dist, 'engine/worker.js') },
  outdir: out,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // The compiled tree's dynamic imports (a command's module, loaded when it runs) stay in the file.
  splitting: false,
  packages: 'external',
  logLevel: 'warning',
  legalComments: 'none',
  // Less to parse at each start (names kept: messages and stacks read as in the compiled tree).
  minifyWhitespace: true,
  minifySyntax: true,
});
copyFileSync(join(dist, 'accel/scanner.wasm'), join(out, 'scanner.wasm'));
copyFileSync(join(dist, 'tasks/entries.wasm'), join(out, 'entries.wasm'));
copyFileSync(join(dist, 'incremental/code-digest.json'), join(out, 'code-digest.json'));
