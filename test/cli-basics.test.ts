/** CLI basics end to end: version, help, usage errors, exit codes, output modes, doctor. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasScript, makeCornerTree, parseJson, removeTree, runCli, runCliTty, tempDir, TREE_CLI_PATH } from './helpers/cli.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const COMMANDS = ['validate', 'validate-json', 'stats', 'format-stats', 'convert', 'cleanup', 'restore', 'export', 'read', 'write', 'hash', 'verify', 'sample', 'doctor', 'serve'];

describe('cli basics', () => {
  let root: string;
  before(() => {
    root = makeCornerTree();
  });
  after(() => removeTree(root));

  it('--version prints the package version quickly', async () => {
    const r = await runCli(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${pkg.version}\n`);
    assert.equal(r.stderr, '');
    // Measured, not asserted: the machine may be busy with other work.
    console.log(`# --version took ${r.ms.toFixed(0)} ms (target < 150 ms)`);
  });

  it('--version and --help load only commander and the command table (no ajv, formats or engine)', async (t) => {
    for (const args of [['--version'], ['stats', '--help'], ['validate', '--help']]) {
      // NODE_DEBUG=esm logs every module the loader stores; an internal format, so skip if absent.
      const r = await runCli(args, { env: { NODE_DEBUG: 'esm' }, cli: TREE_CLI_PATH });
      assert.equal(r.code, 0);
      const loaded = [...r.stderr.matchAll(/Storing (file:\/\/\S+)/g)].map((m) => m[1]);
      if (loaded.length === 0) return t.skip('this Node.js does not log ESM loads');
      const ours = loaded.filter((u) => !u.includes('/node_modules/')).map((u) => u.replace(/^.*\/src\//, 'src/'));
      // (and the thread pool watch, a small module: in place before a command's modules load through
      // the pool; and shipped.js, where version.js reads package.json from: beside the code or the
      // standalone executable's assets; and the thread pool's size, with the constant it takes from tuning.js)
      assert.deepEqual(
        [...new Set(ours)].sort(),
        ['src/cli.js', 'src/cli/commands.js', 'src/cli/invocation.js', 'src/cli/thread-pool-size.js', 'src/exit-codes.js', 'src/fs/thread-pool-watch.js', 'src/shipped.js', 'src/tuning.js', 'src/version.js', 'src/vocabulary.js'],
        args.join(' '),
      );
      const deps = loaded.filter((u) => u.includes('/node_modules/')).map((u) => u.replace(/^.*\/node_modules\/([^/]+)\/.*$/, '$1'));
      assert.deepEqual([...new Set(deps)], ['commander'], args.join(' '));
    }
  });

  it('--help of every command shows real examples, on stdout, exit 0', async () => {
    const results = await Promise.all(COMMANDS.map((c) => runCli([c, '--help'])));
    results.forEach((r, i) => {
      assert.equal(r.code, 0, COMMANDS[i]);
      assert.match(r.stdout, new RegExp(`^Usage: image-sidecar ${COMMANDS[i]} `), COMMANDS[i]);
      assert.match(r.stdout, /\nExamples:\n {2}\$ image-sidecar /, COMMANDS[i]);
    });
    const top = await runCli(['--help']);
    assert.equal(top.code, 0);
    for (const c of COMMANDS) assert.match(top.stdout, new RegExp(`\\n  ${c} `), c);
  });

  it('no command, an unknown command or an unknown flag is a usage error (exit 2)', async () => {
    const [none, unknown, flag, excess] = await Promise.all([
      runCli([]),
      runCli(['frobnicate', root]),
      runCli(['stats', root, '--no-such-flag']),
      runCli(['stats', root, 'extra-arg']),
    ]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /Usage: image-sidecar/);
    assert.equal(none.stdout, '');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^image-sidecar: error: unknown command 'frobnicate'/);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /unknown option '--no-such-flag'/);
    assert.equal(excess.code, 2);
    for (const r of [unknown, flag, excess]) assert.equal(r.stdout, '');
  });

  it('bad option values are usage errors', async () => {
    const [workers, engine, fraction] = await Promise.all([
      runCli(['stats', root, '--workers', 'many']),
      runCli(['stats', root, '--engine', 'gpu']),
      runCli(['cleanup', root, '--max-fraction', '1.5', '--dry-run']),
    ]);
    assert.equal(workers.code, 2);
    assert.match(workers.stderr, /expected a whole number/);
    assert.equal(engine.code, 2);
    assert.match(engine.stderr, /Allowed choices are auto, threads, inline/);
    assert.equal(fraction.code, 2);
    assert.match(fraction.stderr, /from 0 to 1/);
  });

  it('a missing input directory is exit 2 with one clear line (the earlier tool returned an empty result)', async () => {
    const missing = join(root, 'no-such-dir');
    for (const cmd of ['validate', 'stats', 'format-stats', 'export', 'cleanup', 'hash']) {
      const r = await runCli([cmd, '--input', missing]);
      assert.equal(r.code, 2, cmd);
      assert.equal(r.stdout, '', cmd);
      assert.equal(r.stderr, `image-sidecar: error [NOT_FOUND]: input directory does not exist: ${missing}\n`, cmd);
    }
    const file = await runCli(['stats', join(root, 'photos/IMG_1.jpg')]);
    assert.equal(file.code, 2);
    assert.match(file.stderr, /^image-sidecar: error \[NOT_A_DIRECTORY\]: /);
    const noDir = await runCli(['stats']);
    assert.equal(noDir.code, 2);
    assert.match(noDir.stderr, /\[USAGE\]: missing directory/);
    const twice = await runCli(['stats', root, '--input', join(root, 'photos')]);
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /\[USAGE\]: directory given twice/);
  });

  it('never prints a stack trace unless IMAGE_SIDECAR_DEBUG=1', async () => {
    const missing = join(root, 'gone');
    const plain = await runCli(['stats', missing]);
    assert.doesNotMatch(plain.stderr, /\n\s+at /);
    const debug = await runCli(['stats', missing], { env: { IMAGE_SIDECAR_DEBUG: '1' } });
    assert.equal(debug.code, 2);
    assert.match(debug.stderr, /\[NOT_FOUND\]/);
    assert.match(debug.stderr, /\n\s+at /);
  });

  it('stdout is pure JSON when piped; -o FILE writes the JSON there and one line on stdout', async () => {
    const piped = await runCli(['stats', '--input', root]);
    assert.equal(piped.code, 0);
    const stats = parseJson(piped);
    assert.equal(stats.total_sidecars, 6, 'the six images with a readable sidecar (not the orphan)');
    // Outside the tree: a JSON file inside it would be scanned as an unrelated file.
    const outDir = tempDir();
    const out = join(outDir, 'stats-out.json');
    const toFile = await runCli(['stats', root, '-o', out]);
    assert.equal(toFile.code, 0);
    assert.equal(toFile.stdout, `Wrote statistics to ${out}\n`);
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), stats);
    const json = await runCli(['stats', root, '-o', out, '--json']);
    assert.deepEqual(parseJson(json), { message: `Wrote statistics to ${out}`, output: out });
    const dash = await runCli(['stats', root, '--output', '-']);
    assert.deepEqual(parseJson(dash), stats);
    removeTree(outDir);
  });

  it('on a terminal: a human summary, coloured unless NO_COLOR; --json forces JSON', { skip: !hasScript() && 'util-linux script not available' }, async () => {
    const [human, noColor, json] = await Promise.all([
      runCliTty(['stats', root]),
      runCliTty(['stats', root], { env: { NO_COLOR: '1' } }),
      runCliTty(['stats', root, '--json']),
    ]);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /\x1b\[1mStatistics for /);
    assert.match(human.stdout, /sidecar files +8 \(6 read for these statistics: one per image\)\n/);
    assert.match(human.stdout, /coverage +87\.5% \(7 images with a sidecar\)/);
    assert.doesNotMatch(noColor.stdout, /\x1b\[/);
    assert.match(noColor.stdout, /^Statistics for .*\n {2}images +8 \(1 symlinks, 0 broken\)\n/);
    assert.equal(JSON.parse(json.stdout).total_sidecars, 6);
  });

  it('doctor prints performanceInfo as JSON: version, engine, honest acceleration, wrapper keys', async () => {
    const r = await runCli(['doctor'], { env: { IMAGE_SIDECAR_WORKERS: '3' } });
    assert.equal(r.code, 0);
    const info = parseJson<Record<string, any>>(r);
    assert.equal(info.version, pkg.version);
    assert.equal(info.node, process.version);
    assert.deepEqual(info.engine.default, { kind: 'auto', workers: 3 });
    assert.equal('last' in info.engine, false, 'no process-global "last engine": each report says what it used');
    assert.equal(info.max_workers, 3);
    assert.equal(info.timeout, null);
    assert.equal(info.acceleration.native, false);
    assert.equal(typeof info.breakEvenFiles, 'number');
    assert.ok(info.limits.maxFileSize > 0 && info.limits.maxDepth > 0);
    assert.equal('rust_available' in info, false);
    const bad = await runCli(['doctor'], { env: { IMAGE_SIDECAR_ENGINE: 'warp' } });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /\[USAGE\]: IMAGE_SIDECAR_ENGINE must be/);
  });

  it('serve without --stdio is a usage error; serve --stdio ends with its input', async () => {
    const r = await runCli(['serve']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /\[USAGE\]: serve supports only --stdio/);
    const s = await runCli(['serve', '--stdio'], { input: '' });
    assert.equal(s.code, 0);
    assert.equal(s.stdout, '');
  });
});
