/**
 * The installed CLI's entry (scripts/cli-loader.cjs → bundle/cli.cjs) runs the bundled program
 * from V8's code cache of it (bundle/program.cache). The cache only saves compile time: the
 * program runs as its bytes say whether the cache is there, turned off, stale, damaged, not a
 * file or gone; and a package that cannot load its program says so in one line, exit 2.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { dirname, join } from 'node:path';
import vm from 'node:vm';
import { CLI_PATH, runCli, withoutRunFacts } from './helpers/cli.js';
import { FAKE_JPEG, makeTree, removeTree, tempDir, testDir } from './helpers/tree.js';

const BUNDLE = dirname(CLI_PATH);
const REPO = join(BUNDLE, '..', '..', '..');
/** The name the loader compiles the program under (and the build made the cache under). */
const PROGRAM_NAME = /^const PROGRAM_NAME = '([^']+)';$/m.exec(readFileSync(CLI_PATH, 'utf8'))![1];
const SHIPPED_CACHE = () => readFileSync(join(BUNDLE, 'program.cache'));

/** A package as npm lays it out (package.json for the version, node_modules for commander, the bundle), in a test folder removed when the test ends. */
function installed(t: TestContext, withModules = true): { pkg: string; cli: string; cache: string; program: string } {
  const pkg = join(testDir(t, 'isc-code-cache-'), 'pkg');
  mkdirSync(join(pkg, 'dist'), { recursive: true });
  cpSync(BUNDLE, join(pkg, 'dist', 'bundle'), { recursive: true });
  cpSync(join(REPO, 'package.json'), join(pkg, 'package.json'));
  if (withModules) symlinkSync(join(REPO, 'node_modules'), join(pkg, 'node_modules'));
  const at = (n: string) => join(pkg, 'dist', 'bundle', n);
  return { pkg, cli: at('cli.cjs'), cache: at('program.cache'), program: at('program.cjs') };
}

describe('the CLI from its code cache', () => {
  let lib = '';
  let reference: string[] = [];
  /** --help, --version, stats and validate of a small library: code, stdout and stderr of each, run facts made equal. */
  const runs = async (cli: string, env: Record<string, string> = {}) => {
    const out: string[] = [];
    for (const args of [['--help'], ['--version'], ['stats', lib, '--no-index'], ['validate', lib, '--no-index', '--json']]) {
      const r = await runCli(args, { cli, env });
      out.push(withoutRunFacts(`${r.code}\n${r.stdout}\n${r.stderr}`));
    }
    return out;
  };
  before(async () => {
    lib = makeTree({ 'a/IMG_1.jpg': FAKE_JPEG, 'a/IMG_1.json': { json: { face_detection: { success: true, faces: [] } } }, 'b/IMG_2.jpg': FAKE_JPEG }, join(tempDir('isc-code-cache-lib-'), 'lib'));
    // The program compiled from source: what every case below must print.
    reference = await runs(CLI_PATH, { IMAGE_SIDECAR_CODE_CACHE: 'off' });
    assert.match(reference[0], /^0\nUsage: image-sidecar/);
    assert.match(reference[2], /^0\n/);
  });
  after(() => removeTree(dirname(lib)));

  it('the shipped cache is made from the program beside it, and V8 takes it as the loader compiles it', () => {
    const program = readFileSync(join(BUNDLE, 'program.cjs'), 'utf8');
    const cache = SHIPPED_CACHE();
    assert.deepEqual(cache.subarray(0, 20), createHash('sha1').update(program).update(cache.subarray(20)).digest(), 'the header is the SHA-1 of program.cjs and the V8 data');
    const script = new vm.Script(Module.wrap(program), { filename: PROGRAM_NAME, cachedData: cache.subarray(20), importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER });
    assert.equal(script.cachedDataRejected, false, 'this Node accepts the cache the build made');
  });

  it('with the cache, without it, and with IMAGE_SIDECAR_CODE_CACHE=off: the same output', async (t) => {
    const p = installed(t);
    assert.deepEqual(await runs(p.cli), reference, 'with the cache');
    assert.deepEqual(await runs(p.cli, { IMAGE_SIDECAR_CODE_CACHE: 'off' }), reference, 'turned off');
    rmSync(p.cache);
    assert.deepEqual(await runs(p.cli), reference, 'no cache');
  });

  it('a cache that is garbage, damaged after the build, or not a regular file is not run', async (t) => {
    const p = installed(t);
    const program = readFileSync(p.program, 'utf8');
    // Garbage under a header that matches it: V8 rejects it (its magic number).
    const garbage = Buffer.alloc(4096, 7);
    writeFileSync(p.cache, Buffer.concat([createHash('sha1').update(program).update(garbage).digest(), garbage]));
    assert.deepEqual(await runs(p.cli), reference, 'garbage');
    // The command table's text changed inside the cache, where V8 checks nothing (this Node skips
    // the cache's checksum): only the SHA-1 keeps the damaged code from running.
    const damaged = SHIPPED_CACHE();
    const at = damaged.indexOf('decode every sidecar of a tree', 20, 'latin1');
    assert.ok(at > 20, 'the command table\'s text is in the cache');
    damaged.write('HACKED', at, 'latin1');
    writeFileSync(p.cache, damaged);
    assert.deepEqual(await runs(p.cli), reference, 'damaged');
    // A FIFO in its place is never opened for reading (the start would block for good).
    rmSync(p.cache);
    assert.equal(spawnSync('mkfifo', [p.cache]).status, 0, 'mkfifo');
    assert.deepEqual(await runs(p.cli), reference, 'a FIFO');
  });

  it('IMAGE_SIDECAR_CODE_CACHE is spelt as the other switches: off, 0, false, no in any case skip the cache; another word is a usage error', async (t) => {
    // A cache whose text was changed under a header made for it: V8 runs it (it checks the source's
    // length only), so what --help prints tells whether the cache ran.
    const p = installed(t);
    const program = readFileSync(p.program, 'utf8');
    const from = 'decode every sidecar of a tree';
    const cache = SHIPPED_CACHE();
    const at = cache.indexOf(from, 20, 'latin1');
    assert.ok(at > 20, "the command table's text is in the cache");
    const marked = Buffer.from(cache);
    marked.write(from.toUpperCase(), at, 'latin1');
    const data = marked.subarray(20);
    createHash('sha1').update(program).update(data).digest().copy(marked, 0);
    writeFileSync(p.cache, marked);
    const help = async (value?: string) => {
      const r = await runCli(['--help'], { cli: p.cli, env: value === undefined ? {} : { IMAGE_SIDECAR_CODE_CACHE: value } });
      return { code: r.code, cached: r.stdout.includes(from.toUpperCase()), source: r.stdout.includes(from), stderr: r.stderr };
    };
    assert.deepEqual(await help(), { code: 0, cached: true, source: false, stderr: '' }, 'unset: the cache runs');
    for (const on of ['on', '1', 'TRUE', 'yes', '']) assert.deepEqual(await help(on), { code: 0, cached: true, source: false, stderr: '' }, `"${on}": the cache runs`);
    for (const off of ['off', 'OFF', '0', 'false', 'No']) assert.deepEqual(await help(off), { code: 0, cached: false, source: true, stderr: '' }, `"${off}": compiled from source`);
    const bad = await help('maybe');
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, 'image-sidecar: error [USAGE]: IMAGE_SIDECAR_CODE_CACHE must be off or on (got "maybe")\n');
  });

  it('a program edited after the build (its length kept) runs as edited, not as the cache has it', async (t) => {
    // V8 checks a cache against the source's length only, and takes the top-level code (this
    // command table is a top-level constant) from it: the SHA-1 check turns the stale cache away.
    const p = installed(t);
    const from = 'decode every sidecar of a tree';
    const program = readFileSync(p.program, 'utf8');
    assert.ok(program.includes(`summary:"${from}`), 'the top-level command table this test edits');
    writeFileSync(p.program, program.replace(from, from.toUpperCase()));
    const edited = await runCli(['--help'], { cli: p.cli });
    assert.equal(edited.code, 0);
    assert.ok(edited.stdout.includes(from.toUpperCase()), edited.stdout);
  });

  it('stack traces name the program, never the folders of the machine that built the cache', async (t) => {
    // V8 keeps the name a cache was made with: the build and the loader both use one fixed name.
    const p = installed(t);
    const fail = await runCli(['read', join(p.pkg, 'nowhere', 'IMG.jpg')], { cli: p.cli, env: { IMAGE_SIDECAR_DEBUG: '1' } });
    assert.equal(fail.code, 2, fail.stderr);
    assert.ok(fail.stderr.includes(`${PROGRAM_NAME}:`), fail.stderr);
    assert.ok(!fail.stderr.includes(BUNDLE), fail.stderr);
  });

  it('a package that cannot load its program (a dependency missing) fails with one line and exit 2, under the earlier tool\'s names too', async (t) => {
    const p = installed(t, false); // no node_modules: commander is missing
    for (const name of ['image-sidecar', 'image-sidecar-rust']) {
      const link = join(p.pkg, name);
      symlinkSync(p.cli, link);
      const r = await runCli(['stats', lib], { cli: link });
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^image-sidecar: error \[INTERNAL\]: cannot load the CLI: Cannot find module 'commander'\n$/, name);
    }
    const debug = await runCli(['stats', lib], { cli: p.cli, env: { IMAGE_SIDECAR_DEBUG: '1' } });
    assert.equal(debug.code, 2);
    assert.match(debug.stderr, /\n {4}at /, 'IMAGE_SIDECAR_DEBUG=1: the stack');
  });
});
