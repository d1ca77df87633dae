/**
 * What a stored result is keyed by (src/incremental/key.ts: the code digest, the schema engine's
 * and Node's versions, the option set) and a killed run's spool (docs/INDEX.md, issue 20): every
 * run with the index gives what `--no-index` gives. Each test here failed on the code before its fix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeDigestFiles, optionsKey } from '../src/incremental/key.js';
import { schemaEngineVersion } from '../src/analysis/schema.js';
import { hostMark } from '../src/fs/temp-files.js';
import { stats, validate, type IndexRunStats } from '../src/index.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir } from './helpers/tree.js';

/** The compiled tree the tests run against (dist-test/src). */
const COMPILED = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');

/** Every compiled module `starts` import, statically or dynamically, relative to COMPILED. */
function importClosure(starts: string[]): string[] {
  const seen = new Set<string>();
  const todo = starts.map((s) => join(COMPILED, s));
  while (todo.length > 0) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    for (const m of readFileSync(f, 'utf8').matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+)["']/g)) todo.push(join(dirname(f), m[1]));
  }
  return [...seen].map((f) => relative(COMPILED, f)).sort();
}

// A build whose pairing rule, categories, accelerated decoder or error messages changed (a git
// build, no version bump) served the folder records and results of the build before: the code
// digest covered formats/, analysis/, tasks/ and crypto/ only, while folder records hold what
// discovery/ (pairing, categories, links) made, and results what accel/ decoded and errors.ts said.
test('the code digest covers every module the inspecting task and the scan import (but the engine and the index\'s own versioned forms)', () => {
  const covered = new Set(codeDigestFiles());
  // tuning.js: the engine's constants (batch sizes, bounds), which shape how work runs, never a result;
  // shipped.js: where shipped files are read from (beside the code, or the executable's assets).
  const notShaping = (f: string) => f.startsWith('engine/') || f.startsWith('incremental/') || f.startsWith('integrity/') || f === 'tuning.js' || f === 'version.js' || f === 'exit-codes.js' || f === 'shipped.js';
  const missing = importClosure(['tasks/index.js', 'scan/session.js']).filter((f) => !notShaping(f) && !covered.has(f));
  assert.deepEqual(missing, [], 'modules that shape stored results or records but are not in the code digest');
  assert.ok(covered.has('accel/scanner.wasm'), 'the accelerated scanner\'s WebAssembly is code too');
});

// A schema's verdict is ajv's (checks and messages), and ajv ^8 is updated under us by npm without
// a version of ours: validate --schema served the messages of the ajv that made them.
test('results made with a schema are keyed by the schema engine\'s version (an ajv update is another option set)', () => {
  const withSchema = { validate: true, brief: true, schema: { type: 'object', required: ['x'] } };
  assert.notEqual(optionsKey(withSchema, 'ajv 8.20.0'), optionsKey(withSchema, 'ajv 8.21.0'));
  assert.equal(optionsKey(withSchema), optionsKey(withSchema, schemaEngineVersion()), 'the installed ajv by default');
  assert.match(schemaEngineVersion(), /^ajv \d+\.\d+\.\d+/);
  const without = { validate: true, brief: true };
  assert.equal(optionsKey(without, 'ajv 8.20.0'), optionsKey(without, 'ajv 8.21.0'), 'no schema: ajv plays no part');
});

// A run killed or interrupted (Ctrl-C: no handler, the process just ends) leaves its spool, as big
// as its new results. Only a run that wrote the index swept such leftovers, so repeat runs where
// nothing changed (a nightly health check) kept a Ctrl-C'd `validate --schema` spool for good.
test('a killed run\'s spool is removed by the next run, also one that has nothing to write', async (t) => {
  const dir = testDir(t, 'isc-index-keys-spool-');
  const root = makeTree({ 'a/IMG_1.jpg': FAKE_JPEG, 'a/IMG_1.json': { json: sidecarData('IMG_1.jpg', 1, 4) } }, join(dir, 'lib'));
  const runs: IndexRunStats[] = [];
  const index = { path: join(dir, 'idx', 'index'), racyMarginMs: 0, onStats: (s: IndexRunStats) => runs.push(s) };
  await stats(root, { index, engine: 'inline' });
  await stats(root, { index, engine: 'inline' }); // stores the folder's listing
  await stats(root, { index, engine: 'inline' }); // stores the folder's records
  // The spool of a run of this host whose process is gone.
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  const spool = join(dir, 'idx', `.index.spool.isc-tmp-${hostMark()}-${dead}-k1ll3d`);
  writeFileSync(spool, Buffer.alloc(4096));
  await stats(root, { index, engine: 'inline' });
  assert.equal(runs.at(-1)!.written, false, 'nothing changed: the index is not written');
  assert.equal(existsSync(spool), false, 'the dead run\'s spool is removed all the same');
});

// ajv reports problems in the order of the schema's keys. The options key digested the schema as
// canonical JSON (keys sorted), so a schema whose `properties` were reordered was the same option
// set: validate --schema served the problems in the order of the schema used before.
test('a schema with its keys in another order is another option set: its problems come in its own order', async (t) => {
  const dir = testDir(t, 'isc-index-keys-schema-order-');
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': { json: { ...sidecarData('IMG_1.jpg', 1, 4), a: 1, b: 2 } } }, join(dir, 'lib'));
  const ab = { properties: { a: { type: 'string' }, b: { type: 'string' } } };
  const ba = { properties: { b: { type: 'string' }, a: { type: 'string' } } };
  const index = { path: join(dir, 'index'), racyMarginMs: 0 };
  const pointers = (r: Awaited<ReturnType<typeof validate>>) => (r.results ?? []).flatMap((x) => x.problems.map((p) => p.pointer)).filter((p) => p === '/a' || p === '/b');
  assert.deepEqual(pointers(await validate(root, { schema: ab, index, engine: 'inline' })), ['/a', '/b']);
  const plain = await validate(root, { schema: ba, index: false, engine: 'inline' });
  assert.deepEqual(pointers(plain), ['/b', '/a'], 'ajv follows the schema\'s key order');
  assert.deepEqual(pointers(await validate(root, { schema: ba, index, engine: 'inline' })), ['/b', '/a'], 'not the order of the schema used before');
  assert.notEqual(optionsKey({ validate: true, schema: ab }), optionsKey({ validate: true, schema: ba }));
});

test("results are keyed by Node's version too: V8's parse messages, fs error texts and ICU's normalization are part of a result", () => {
  const opts = { validate: true, brief: true };
  assert.notEqual(optionsKey(opts, undefined, '20.20.2'), optionsKey(opts, undefined, '22.1.0'));
  assert.equal(optionsKey(opts), optionsKey(opts, undefined, process.versions.node), "the running Node's by default");
});
