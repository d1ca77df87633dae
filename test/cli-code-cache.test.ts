/**
 * The installed CLI's entry (scripts/cli-loader.cjs → bundle/cli.cjs) runs the bundled program
 * from V8's code cache of it (bundle/program.cache). The cache only saves compile time: the
 * program runs as its bytes say whether the cache is there, stale, garbage or gone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import Module from 'node:module';
import { dirname, join } from 'node:path';
import vm from 'node:vm';
import { CLI_PATH, runCli, withoutRunFacts } from './helpers/cli.js';
import { FAKE_JPEG, makeTree, testDir } from './helpers/tree.js';

const BUNDLE = dirname(CLI_PATH);
const REPO = join(BUNDLE, '..', '..', '..');

test('code cache: the shipped cache is made from the program beside it and V8 accepts it', () => {
  const program = readFileSync(join(BUNDLE, 'program.cjs'), 'utf8');
  const cache = readFileSync(join(BUNDLE, 'program.cache'));
  assert.deepEqual(cache.subarray(0, 20), createHash('sha1').update(program).update(cache.subarray(20)).digest(), 'the header is the SHA-1 of program.cjs and the V8 data');
  const script = new vm.Script(Module.wrap(program), { filename: join(BUNDLE, 'program.cjs'), cachedData: cache.subarray(20) });
  assert.equal(script.cachedDataRejected, false, 'this Node accepts the cache the build made');
});

test('code cache: the program runs as its bytes say with the cache, without it, under a garbage one, and after an edit the cache predates', async (t) => {
  const dir = testDir(t, 'isc-code-cache-');
  // A package as npm lays it out: package.json (the version), node_modules (commander), the bundle.
  const pkg = join(dir, 'pkg');
  mkdirSync(join(pkg, 'dist'), { recursive: true });
  cpSync(BUNDLE, join(pkg, 'dist', 'bundle'), { recursive: true });
  cpSync(join(REPO, 'package.json'), join(pkg, 'package.json'));
  symlinkSync(join(REPO, 'node_modules'), join(pkg, 'node_modules'));
  const cli = join(pkg, 'dist', 'bundle', 'cli.cjs');
  const cachePath = join(pkg, 'dist', 'bundle', 'program.cache');
  const programPath = join(pkg, 'dist', 'bundle', 'program.cjs');
  const lib = makeTree({ 'a/IMG_1.jpg': FAKE_JPEG, 'a/IMG_1.json': { json: { face_detection: { success: true, faces: [] } } }, 'b/IMG_2.jpg': FAKE_JPEG }, join(dir, 'lib'));
  const runs = async () => {
    const out: string[] = [];
    for (const args of [['--help'], ['--version'], ['stats', lib, '--no-index'], ['validate', lib, '--no-index', '--json']]) {
      const r = await runCli(args, { cli });
      out.push(withoutRunFacts(`${r.code}\n${r.stdout}\n${r.stderr}`));
    }
    return out;
  };
  const withCache = await runs();
  assert.match(withCache[0], /^0\n/);
  assert.match(withCache[2], /^0\n/);
  // The suite's own CLI (the same loader and bundle) gives the same bytes.
  assert.equal(withCache[2], await (async () => {
    const r = await runCli(['stats', lib, '--no-index']);
    return withoutRunFacts(`${r.code}\n${r.stdout}\n${r.stderr}`);
  })());

  rmSync(cachePath);
  assert.deepEqual(await runs(), withCache, 'no cache: the same output');

  // Garbage under a header that matches it: V8 rejects it (its magic number) and compiles the source.
  const program = readFileSync(programPath, 'utf8');
  const garbage = Buffer.alloc(4096, 7);
  writeFileSync(cachePath, Buffer.concat([createHash('sha1').update(program).update(garbage).digest(), garbage]));
  assert.deepEqual(await runs(), withCache, 'a cache V8 rejects: the same output');

  // The cache damaged after the build (its text of the command table, where V8 checks nothing):
  // this Node skips the cache's checksum and ran the damaged code; the SHA-1 turns it away.
  const shipped = readFileSync(join(BUNDLE, 'program.cache'));
  const at = shipped.indexOf('decode every sidecar of a tree', 20, 'latin1');
  assert.ok(at > 20, 'the command table\'s text is in the cache');
  const damaged = Buffer.from(shipped);
  damaged.write('HACKED', at, 'latin1');
  writeFileSync(cachePath, damaged);
  assert.deepEqual(await runs(), withCache, 'a damaged cache: the same output');

  // Not a regular file: never read (a FIFO would block the start for good).
  rmSync(cachePath);
  spawnSync('mkfifo', [cachePath]);
  assert.deepEqual(await runs(), withCache, 'a FIFO in the cache\'s place: the same output');
  rmSync(cachePath);

  // Stack traces name the program, never the folders of the machine that built the cache (V8
  // keeps the name a cache was made with).
  cpSync(join(BUNDLE, 'program.cache'), cachePath);
  const fail = await runCli(['read', join(dir, 'nowhere', 'IMG.jpg')], { cli, env: { IMAGE_SIDECAR_DEBUG: '1' } });
  assert.equal(fail.code, 2, fail.stderr);
  assert.match(fail.stderr, /image-sidecar\/dist\/bundle\/program\.cjs:\d+:\d+/);
  assert.ok(!fail.stderr.includes(BUNDLE), fail.stderr);

  // The program edited after the build, its length kept. V8 checks a cache against the source's
  // length only, and takes the top-level code from it: without the loader's SHA-1 check this
  // command table (a top-level constant) printed its old text.
  cpSync(join(BUNDLE, 'program.cache'), cachePath);
  const from = 'decode every sidecar of a tree';
  assert.ok(program.includes(`summary:"${from}`), 'the top-level command table this test edits');
  writeFileSync(programPath, program.replace(from, from.toUpperCase()));
  const edited = await runCli(['--help'], { cli });
  assert.equal(edited.code, 0);
  assert.ok(edited.stdout.includes(from.toUpperCase()), edited.stdout);
});
