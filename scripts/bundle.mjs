#!/usr/bin/env node
// The CLI and its worker thread bundled (esbuild over the compiled tree, after `tsc`), two ways:
//
//   node scripts/bundle.mjs dist        the installed CLI, dist/bundle/: program.cjs (CommonJS) and
//                                       worker.js (an ES module), dependencies (commander, ajv) left
//                                       to node_modules, beside the files they open by a URL relative
//                                       to themselves (the two WebAssembly modules, the code-digest
//                                       manifest); cli.cjs (`bin`, scripts/cli-loader.cjs) runs the
//                                       program from program.cache, V8's code cache of it. One file
//                                       parses and links once where the compiled tree is ~190
//                                       modules, and from the cache it is not compiled again:
//                                       `stats` of a small tree took ~145 ms here against ~210 from
//                                       an ES module bundle and ~240 from the compiled tree (a busy
//                                       day), and ~90 against ~105 compiled from source (a quiet
//                                       one). `build:test` makes the same of dist-test/src for the
//                                       suite's CLI.
//   node scripts/bundle.mjs dist --exe  the standalone executable, dist/exe/image-sidecar (Linux
//                                       x86-64, Node >= 20.12): Node's single-executable application,
//                                       a copy of this Node with one script injected by postject.
//                                       That script is CommonJS and its `require` loads built-in
//                                       modules only, so every dependency is inside it; the worker
//                                       script, the WebAssembly modules, the manifest and
//                                       package.json are embedded as assets (src/shipped.ts reads
//                                       them): nothing outside the executable is read at run time.
//
// The library (dist/index.js) stays the compiled tree: a caller's bundler bundles it.
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import Module from 'node:module';
import vm from 'node:vm';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

/** What both bundles share: the entries, the platform, less to parse at each start (names kept: messages and stacks read as in the compiled tree). */
function common(dist, outdir) {
  return {
    entryPoints: { cli: join(dist, 'cli.js'), worker: join(dist, 'engine/worker.js') },
    outdir,
    bundle: true,
    platform: 'node',
    target: 'node20',
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    logLevel: 'warning',
  };
}

/** Files the bundles open by name beside themselves (src/shipped.ts): name → where the compiled tree has it. */
function shippedBeside(dist) {
  return { 'scanner.wasm': join(dist, 'accel/scanner.wasm'), 'entries.wasm': join(dist, 'tasks/entries.wasm'), 'code-digest.json': join(dist, 'incremental/code-digest.json') };
}

/**
 * CommonJS has no import.meta: this URL anchors createRequire and the names of the shipped files
 * (shipped.ts). esbuild's own "use strict" lands after the banner, where it is no longer a
 * directive: the banner repeats it first, so the program stays strict, as the ES modules it is
 * made of are.
 */
const IMPORT_META_AS_CJS = {
  define: { 'import.meta.url': '__shipped_url' },
  banner: { js: '"use strict";var __shipped_url = require("node:url").pathToFileURL(__filename).href;' },
};

async function installedCli(dist) {
  const out = join(dist, 'bundle');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const { entryPoints, ...shared } = common(dist, out);
  // splitting off: the compiled tree's dynamic imports (a command's module) stay in the file.
  // The program is CommonJS so that cli.cjs can run it from V8's code cache (vm.Script); the
  // worker stays an ES module, which a worker thread loads as the compiled tree's.
  await build({ ...shared, entryPoints: { program: entryPoints.cli }, format: 'cjs', outExtension: { '.js': '.cjs' }, packages: 'external', ...IMPORT_META_AS_CJS });
  await build({ ...shared, entryPoints: { worker: entryPoints.worker }, format: 'esm', splitting: false, packages: 'external' });
  // The code cache: a SHA-1 of the program's bytes and V8's data, then that data
  // (scripts/cli-loader.cjs checks both), made under the name the loader compiles the program
  // under. Made by this Node: another V8 rejects it and compiles from source.
  const programPath = join(out, 'program.cjs');
  const program = readFileSync(programPath, 'utf8').replace(/^#!.*\n/, '\n'); // the hashbang stays the loader's; the lines keep their numbers
  writeFileSync(programPath, program);
  const loader = readFileSync(new URL('./cli-loader.cjs', import.meta.url), 'utf8');
  const programName = /^const PROGRAM_NAME = '([^']+)';$/m.exec(loader)?.[1];
  if (!programName) throw new Error('scripts/cli-loader.cjs: no PROGRAM_NAME');
  const data = new vm.Script(Module.wrap(program), { filename: programName }).createCachedData();
  writeFileSync(join(out, 'program.cache'), Buffer.concat([createHash('sha1').update(program).update(data).digest(), data]));
  writeFileSync(join(out, 'cli.cjs'), loader);
  chmodSync(join(out, 'cli.cjs'), 0o755);
  for (const [name, from] of Object.entries(shippedBeside(dist))) copyFileSync(from, join(out, name));
}

// analysis/schema.ts loads ajv lazily through `createRequire(import.meta.url)`, which inside the
// executable would look for node_modules beside it (there are none): the executable's script
// loads it through esbuild's own `require` instead, so that ajv is bundled in.
const SCHEMA_REQUIRE = 'const require = createRequire(import.meta.url);';
const ajvInside = {
  name: 'ajv-inside',
  setup(b) {
    b.onLoad({ filter: /[\\/]analysis[\\/]schema\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes(SCHEMA_REQUIRE)) throw new Error(`${args.path}: "${SCHEMA_REQUIRE}" not found (the executable would not carry ajv)`);
      return { contents: text.replace(SCHEMA_REQUIRE, ''), loader: 'js' };
    });
  },
};

async function executable(dist) {
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`the standalone executable is built for linux-x64 (this is ${process.platform}-${process.arch})`);
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 12)) throw new Error(`the standalone executable needs Node >= 20.12 (single-executable assets); this is ${process.versions.node}`);
  const top = resolve(dist, '..');
  const out = join(dist, 'exe');
  const work = join(out, 'sea');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  await build({
    ...common(dist, work),
    outExtension: { '.js': '.cjs' },
    format: 'cjs',
    // Inside the executable this URL anchors createRequire (built-ins) and names the shipped files,
    // which shipped.ts answers from the assets.
    ...IMPORT_META_AS_CJS,
    plugins: [ajvInside],
  });
  const config = {
    main: join(work, 'cli.cjs'),
    output: join(work, 'prep.blob'),
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
    assets: {
      ...shippedBeside(dist),
      'worker.js': join(work, 'worker.cjs'),
      'package.json': join(top, 'package.json'),
    },
  };
  writeFileSync(join(work, 'sea-config.json'), JSON.stringify(config, null, 2));
  execFileSync(process.execPath, ['--experimental-sea-config', join(work, 'sea-config.json')], { stdio: 'inherit' });
  const exe = join(out, 'image-sidecar');
  copyFileSync(process.execPath, exe);
  chmodSync(exe, 0o755);
  const { inject } = (await import('postject')).default;
  await inject(exe, 'NODE_SEA_BLOB', readFileSync(config.output), { sentinelFuse: 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2' });
  rmSync(work, { recursive: true, force: true });
  console.log(`wrote ${exe}`);
}

const dist = resolve(process.argv[2] ?? 'dist');
if (process.argv.includes('--exe')) await executable(dist);
else await installedCli(dist);
