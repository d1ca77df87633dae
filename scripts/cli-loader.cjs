#!/usr/bin/env node
// The installed CLI's entry (`bin`): runs the bundled program beside it (program.cjs) from V8's
// code cache of it (program.cache, written by scripts/bundle.mjs), so that a command does not
// parse and compile the ~0.8 MB program at each start.
//
// The cache is used only when it was made from these very bytes (its first 20 bytes are the
// SHA-1 of program.cjs) and V8 accepts it (same V8, same flags); otherwise, or when it is
// missing, the program is compiled from its source as any module is. Deleting program.cache
// turns the cache off; the program runs the same either way.
'use strict';
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const Module = require('node:module');
const vm = require('node:vm');
const { createHash } = require('node:crypto');

const file = join(__dirname, 'program.cjs');
const source = readFileSync(file, 'utf8');
let cachedData;
try {
  const cache = readFileSync(join(__dirname, 'program.cache'));
  if (cache.length > 20 && createHash('sha1').update(source).digest().equals(cache.subarray(0, 20))) cachedData = cache.subarray(20);
} catch {
  // no cache: compiled from source
}
const options = { filename: file, cachedData };
// The program holds no import() today; if it ever does, it resolves as in any module.
if (vm.constants && vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER) options.importModuleDynamically = vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER;
const script = new vm.Script(Module.wrap(source), options);
const m = { exports: {} };
script.runInThisContext().call(m.exports, m.exports, Module.createRequire(file), m, file, __dirname);
