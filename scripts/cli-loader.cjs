#!/usr/bin/env node
// The installed CLI's entry (`bin`): runs the bundled program beside it (program.cjs) from V8's
// code cache of it (program.cache, written by scripts/bundle.mjs), so that a command does not
// parse and compile the ~0.8 MB program at each start.
//
// The cache is used only when its first 20 bytes are the SHA-1 of program.cjs and of the rest of
// the cache, and V8 accepts it (same V8, same flags: any V8 option, --max-old-space-size included,
// turns it off). V8 checks a cache against the source's length only, and this Node skips the
// cache's checksum: without the SHA-1 an edited program would run its old top-level code, and a
// damaged cache could crash. Otherwise, when the cache is missing or not a regular file, or with
// IMAGE_SIDECAR_CODE_CACHE=off (0, false, no), the program is compiled from its source as any module is. The
// program runs the same either way.
'use strict';
const fs = require('node:fs');
const { dirname, join } = require('node:path');
const Module = require('node:module');
const vm = require('node:vm');
const { createHash } = require('node:crypto');

/**
 * The name the program is compiled under, cache or not: V8 keeps the name a cache was made with
 * (scripts/bundle.mjs uses this one), and stack traces must not name the build machine's folders.
 */
const PROGRAM_NAME = 'image-sidecar/dist/bundle/program.cjs';
const SHA1_BYTES = 20;
/** Far above the cache's size (~0.3 MB): anything bigger is not ours. */
const MAX_CACHE_BYTES = 64 * 1024 * 1024;

/**
 * IMAGE_SIDECAR_CODE_CACHE, spelt as the CLI's other switches (src/settings.ts): off, 0, false or no
 * turns the cache off; on, 1, true, yes or unset leaves it on; anything else is a usage error (2).
 */
function cacheTurnedOff() {
  const given = process.env.IMAGE_SIDECAR_CODE_CACHE;
  if (!given) return false;
  const v = given.toLowerCase();
  if (v === 'off' || v === '0' || v === 'false' || v === 'no') return true;
  if (v === 'on' || v === '1' || v === 'true' || v === 'yes') return false;
  process.stderr.write(`image-sidecar: error [USAGE]: IMAGE_SIDECAR_CODE_CACHE must be off or on (got "${given}")\n`);
  process.exit(2);
}

/** The cache's bytes when it is a regular file of a sane size (a FIFO or /dev/zero is never read). */
function readCache(path) {
  let fd;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const st = fs.fstatSync(fd);
    return st.isFile() && st.size <= MAX_CACHE_BYTES ? fs.readFileSync(fd) : undefined;
  } catch {
    return undefined; // no cache: compiled from source
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

try {
  // Through links to this file (npm's .bin, --preserve-symlinks-main): the package's own folder.
  const dir = dirname(fs.realpathSync(__filename));
  const file = join(dir, 'program.cjs');
  const bytes = fs.readFileSync(file);
  const cache = cacheTurnedOff() ? undefined : readCache(join(dir, 'program.cache'));
  let cachedData;
  if (cache !== undefined && cache.length > SHA1_BYTES) {
    const data = cache.subarray(SHA1_BYTES);
    if (createHash('sha1').update(bytes).update(data).digest().equals(cache.subarray(0, SHA1_BYTES))) cachedData = data;
  }
  const options = { filename: PROGRAM_NAME, cachedData };
  // The program holds no import() today; if it ever does, it resolves as in any module.
  if (vm.constants && vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER) options.importModuleDynamically = vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER;
  const script = new vm.Script(Module.wrap(bytes.toString('utf8')), options);
  const m = { exports: {} };
  script.runInThisContext().call(m.exports, m.exports, Module.createRequire(file), m, file, dir);
} catch (e) {
  // A package that cannot load its program (a file or a dependency missing) is broken: fatal (2),
  // one line as every exit 2 has, never Node's 1 ("findings"); the stack with IMAGE_SIDECAR_DEBUG=1.
  const why = process.env.IMAGE_SIDECAR_DEBUG === '1' && e && e.stack ? e.stack : String((e && e.message) || e).split('\n')[0];
  process.stderr.write(`image-sidecar: error [INTERNAL]: cannot load the CLI: ${why}\n`);
  process.exit(2);
}
