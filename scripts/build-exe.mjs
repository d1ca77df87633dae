#!/usr/bin/env node
// The standalone executable, dist/exe/image-sidecar: Node's single-executable application (a copy
// of this Node with one script injected by postject), over one CommonJS bundle of the CLI (esbuild,
// every dependency inside). The worker thread's script, the two WebAssembly modules, the
// code-digest manifest and package.json are embedded as assets (src/shipped.ts reads them), so
// nothing outside the executable is read at run time. Linux x86-64 (the Node that runs this).
// Usage (after `npm run build`): node scripts/build-exe.mjs
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import postject from 'postject';

const top = resolve(import.meta.dirname ?? new URL('..', import.meta.url).pathname, '..');
const dist = join(top, 'dist');
const out = join(dist, 'exe');
const work = join(out, 'sea');
rmSync(out, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

// analysis/schema.ts loads ajv through createRequire (lazily, from node_modules): here through the
// bundle's own require, so that esbuild puts ajv inside.
const ajvInside = {
  name: 'ajv-inside',
  setup(b) {
    b.onLoad({ filter: /[\\/]analysis[\\/]schema\.js$/ }, (args) => ({
      contents: readFileSync(args.path, 'utf8').replace('createRequire(import.meta.url)', 'require'),
      loader: 'js',
    }));
  },
};

await build({
  entryPoints: { cli: join(dist, 'cli.js'), worker: join(dist, 'engine/worker.js') },
  outdir: work,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // A single-executable application's script is CommonJS: no import.meta. Its files are assets
  // (shipped.ts); this URL only anchors createRequire and the names shipped files are asked by.
  define: { 'import.meta.url': '__shipped_url' },
  banner: { js: 'var __shipped_url = require("node:url").pathToFileURL(__filename).href;' },
  plugins: [ajvInside],
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const config = {
  main: join(work, 'cli.cjs'),
  output: join(work, 'prep.blob'),
  disableExperimentalSEAWarning: true,
  useCodeCache: true,
  assets: {
    'worker.js': join(work, 'worker.cjs'),
    'scanner.wasm': join(dist, 'accel/scanner.wasm'),
    'entries.wasm': join(dist, 'tasks/entries.wasm'),
    'code-digest.json': join(dist, 'incremental/code-digest.json'),
    'package.json': join(top, 'package.json'),
  },
};
writeFileSync(join(work, 'sea-config.json'), JSON.stringify(config, null, 2));
execFileSync(process.execPath, ['--experimental-sea-config', join(work, 'sea-config.json')], { stdio: 'inherit' });

const exe = join(out, 'image-sidecar');
copyFileSync(process.execPath, exe);
chmodSync(exe, 0o755);
await postject.inject(exe, 'NODE_SEA_BLOB', readFileSync(config.output), { sentinelFuse: 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2' });
rmSync(work, { recursive: true, force: true });
console.log(`wrote ${exe}`);
