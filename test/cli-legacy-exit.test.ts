/**
 * Exit codes for the earlier tool's callers: under its names (`image-sidecar-rust`,
 * `sportball-sidecar-rust`, the bin links npm installs) and with --exit-zero, findings exit 0;
 * usage and fatal errors exit 2 with the message on stderr. The end-to-end test runs the earlier
 * wrapper (test/fixtures/legacy-wrapper, unchanged) through a global-install layout against a
 * library with corrupt files: every call must return.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandName, finalExitCode, isLegacyInvocation } from '../src/cli/invocation.js';
import { TREE_CLI_PATH, runCli } from './helpers/cli.js';
import { FAKE_JPEG, makeTree, removeTree, sidecarData, tempDir } from './helpers/tree.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const WRAPPER_DIR = join(REPO, 'test', 'fixtures', 'legacy-wrapper');

function findPython(): string | null {
  for (const name of ['python3', 'python']) {
    const r = spawnSync(name, ['-c', 'import sys; print(sys.version_info >= (3, 6))'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() === 'True') return name;
  }
  return null;
}

/**
 * `npm install -g` lays a package out as prefix/lib/node_modules/NAME with prefix/bin/BIN a
 * relative symlink to the bin script (made executable): `bin` is dist/bundle/cli.cjs, the bundle
 * beside the compiled tree. Built from the tests' build (dist-test/src holds both, as dist/ does)
 * so the test needs no network; node_modules links to the repository's dependencies.
 */
function globalInstallLayout(): { prefix: string; bin: string } {
  const prefix = tempDir('isc-global-');
  const pkg = join(prefix, 'lib', 'node_modules', 'image-sidecar');
  mkdirSync(pkg, { recursive: true });
  cpSync(join(TREE_CLI_PATH, '..'), join(pkg, 'dist'), { recursive: true });
  cpSync(join(REPO, 'package.json'), join(pkg, 'package.json'));
  symlinkSync(join(REPO, 'node_modules'), join(pkg, 'node_modules'));
  chmodSync(join(pkg, 'dist', 'bundle', 'cli.cjs'), 0o755);
  const bin = join(prefix, 'bin');
  mkdirSync(bin);
  for (const name of ['image-sidecar', 'image-sidecar-rust', 'sportball-sidecar-rust']) {
    symlinkSync('../lib/node_modules/image-sidecar/dist/bundle/cli.cjs', join(bin, name));
  }
  return { prefix, bin };
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A library the earlier wrappers meet in real life: valid sidecars, corrupt ones, an orphan. */
function corruptLibrary(): string {
  const tree: Record<string, Parameters<typeof makeTree>[0][string]> = {
    'bad-json.jpg': FAKE_JPEG,
    'bad-json.json': '{"face_detection": {"faces": [',
    'bad-bin.jpg': FAKE_JPEG,
    'bad-bin.bin': Buffer.from([0xff, 0x00, 0x13, 0x37, 0x01]),
    'sub/empty.jpg': FAKE_JPEG,
    'sub/empty.json': '',
    'sub/orphan_001.json': { json: sidecarData('orphan_001.jpg', 1, 8) },
  };
  for (let i = 0; i < 8; i++) {
    tree[`IMG_${i}.jpg`] = FAKE_JPEG;
    tree[`IMG_${i}.json`] = { json: sidecarData(`IMG_${i}.jpg`, i % 3, 8) };
  }
  return makeTree(tree);
}

describe('exit policy (unit)', () => {
  it('recognises the earlier names by the basename of argv[1], not by the target', () => {
    assert.equal(isLegacyInvocation('/usr/local/bin/image-sidecar-rust'), true);
    assert.equal(isLegacyInvocation('/opt/x/bin/sportball-sidecar-rust'), true);
    assert.equal(isLegacyInvocation('C:\\npm\\image-sidecar-rust.cmd'.replaceAll('\\', '/')), true);
    assert.equal(isLegacyInvocation('/usr/local/bin/image-sidecar'), false);
    assert.equal(isLegacyInvocation('/x/lib/node_modules/image-sidecar/dist/cli.js'), false);
    assert.equal(isLegacyInvocation('/x/image-sidecar-rust-helper'), false);
    assert.equal(isLegacyInvocation(undefined), false);
    assert.equal(commandName('/a/b/image-sidecar-rust.exe'), 'image-sidecar-rust');
  });
  it('masks findings only; usage and fatal errors keep exit 2', () => {
    assert.equal(finalExitCode(1, { findingsExitZero: true }), 0);
    assert.equal(finalExitCode(2, { findingsExitZero: true }), 2);
    assert.equal(finalExitCode(0, { findingsExitZero: true }), 0);
    assert.equal(finalExitCode(1, { findingsExitZero: false }), 1);
  });
});

describe('exit codes by invocation name', () => {
  let lib: string;
  let layout: { prefix: string; bin: string };
  let out: string;
  before(() => {
    lib = corruptLibrary();
    layout = globalInstallLayout();
    out = tempDir();
  });
  after(() => {
    removeTree(lib);
    removeTree(layout.prefix);
    removeTree(out);
  });

  it('image-sidecar: validate with corrupt files exits 1; --exit-zero (before or after the command) exits 0 with the same report', async () => {
    const plain = await runCli(['validate', '--input', lib]);
    assert.equal(plain.code, 1, plain.stderr);
    const zero = await runCli(['validate', '--input', lib, '--exit-zero']);
    assert.equal(zero.code, 0, zero.stderr);
    assert.deepEqual(
      JSON.parse(zero.stdout).results.map((r: { file_path: string; is_valid: boolean }) => [r.file_path, r.is_valid]),
      JSON.parse(plain.stdout).results.map((r: { file_path: string; is_valid: boolean }) => [r.file_path, r.is_valid]),
    );
    assert.ok(JSON.parse(zero.stdout).invalid_files >= 3);
    assert.equal((await runCli(['--exit-zero', 'validate', lib])).code, 0);
  });

  it('--exit-zero keeps exit 2 for usage and fatal errors, message on stderr', async () => {
    const missing = await runCli(['validate', '--exit-zero', join(lib, 'nope')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /error \[NOT_FOUND\]: input directory does not exist/);
    const usage = await runCli(['convert', lib, '--exit-zero', '--format', 'gif']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /gif/);
  });

  for (const name of ['image-sidecar-rust', 'sportball-sidecar-rust']) {
    it(`${name} (bin link of a global install): findings exit 0, fatal and usage errors exit 2`, async () => {
      const exe = join(layout.bin, name);
      const env = { ...process.env, IMAGE_SIDECAR_ENGINE: 'inline' };
      const v = await run(exe, ['validate', '--input', lib], env);
      assert.equal(v.code, 0, v.stderr);
      assert.ok(JSON.parse(v.stdout).invalid_files >= 3, 'the report still lists the findings');
      const c = await run(exe, ['convert', '--input', lib, '--format', 'bin', '--dry-run'], env);
      assert.equal(c.code, 0, c.stderr);
      const missing = await run(exe, ['validate', '--input', join(lib, 'nope')], env);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /does not exist/);
      const usage = await run(exe, ['validate', '--input', lib, '--no-such-flag'], env);
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /unknown option/);
    });
  }

  it('a crash (an error thrown where nothing catches it) exits 2 under every name, never 1: findings, which the earlier names make 0', async () => {
    // Thrown from a timer while the server waits on its open stdin: outside any promise the CLI awaits.
    for (const [kind, code] of [
      ['exception', 'setTimeout(() => { throw new Error("boom from a timer"); }, 300)'],
      ['rejection', 'setTimeout(() => { Promise.reject(new Error("boom from a promise")); }, 300)'],
    ]) {
      for (const name of ['image-sidecar', 'image-sidecar-rust']) {
        const child = spawn(join(layout.bin, name), ['serve', '--stdio'], {
          env: { ...process.env, NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(code)}` },
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        const exit = await new Promise<number | null>((resolve) => child.on('close', resolve));
        clearTimeout(timer);
        child.stdin.destroy();
        assert.equal(exit, 2, `${name}, ${kind}: ${stderr}`);
        assert.match(stderr, /error \[INTERNAL\]: .*boom/);
      }
    }
  });

  it('the new name in the same layout keeps 0/1/2', async () => {
    const r = await run(join(layout.bin, 'image-sidecar'), ['validate', '--input', lib], { ...process.env, IMAGE_SIDECAR_ENGINE: 'inline' });
    assert.equal(r.code, 1, r.stderr);
  });

  const python = findPython();
  it('the earlier Python wrapper, unchanged, through image-sidecar-rust on PATH: every call returns', { skip: python ? false : 'no python3', timeout: 120_000 }, async () => {
    const env = { ...process.env, PATH: `${layout.bin}:${process.env.PATH ?? ''}`, IMAGE_SIDECAR_ENGINE: 'inline' };
    const r = await run(python!, [join(WRAPPER_DIR, 'drive.py'), lib, out], env, 110_000);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Record<string, { ok: boolean; value?: any; error?: string }>;
    assert.equal(report.binary!.value, join(layout.bin, 'image-sidecar-rust'), 'found on PATH under the earlier name');
    for (const [call, res] of Object.entries(report)) {
      if (call === 'validate_missing_dir') continue;
      assert.equal(res.ok, true, `${call} raised: ${res.error}`);
    }
    const results = report.validate_sidecars!.value as { file_path: string; is_valid: boolean; error: string | null }[];
    const invalid = results.filter((x) => !x.is_valid).map((x) => x.file_path.slice(lib.length + 1)).sort();
    assert.deepEqual(invalid, ['bad-bin.bin', 'bad-json.json', 'sub/empty.json']);
    assert.ok(results.filter((x) => x.is_valid).length >= 8);
    assert.equal(report.get_statistics!.value.total_images, 11);
    assert.equal(typeof report.get_format_statistics!.value.Json, 'number');
    assert.ok((report.validate_json_files!.value as unknown[]).length >= 10);
    assert.equal(report.export_json!.value, 8, 'the eight valid sidecars were exported');
    assert.ok(existsSync(join(out, 'export.json')));
    assert.equal(report.export_csv!.value, 8);
    assert.equal(report.cleanup_dry_run!.value, 0, 'a dry run never says "Removed"');
    assert.equal(report.cleanup!.value, 1, 'the orphan went to the quarantine');
    // The failure mode the wrapper must still see: a fatal error raises, with our message.
    assert.equal(report.validate_missing_dir!.ok, false);
    assert.match(report.validate_missing_dir!.error!, /^RuntimeError: Rust validation failed: image-sidecar: error \[NOT_FOUND\]/);
    // The conversion really ran: valid sidecars are .bin now, corrupt ones are untouched.
    assert.ok(existsSync(join(lib, 'IMG_0.bin')));
    assert.equal(readFileSync(join(lib, 'bad-json.json'), 'utf8'), '{"face_detection": {"faces": [');
  });
});
