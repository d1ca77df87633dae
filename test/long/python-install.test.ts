/**
 * `pip install --no-index ./clients/python` in a fresh venv: only the pip and setuptools that come
 * with Python, no `wheel`, no index (our in-tree PEP 517 backend builds the wheel with zipfile).
 * Then the installed packages and console scripts are used from outside the source folder, and an
 * editable install (PEP 660) points back at the source.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI, CLIENT, findPython, twoSidecarLibrary } from '../helpers/python.js';

const python = findPython(['venv', 'ensurepip']);

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): SpawnSyncReturns<string> {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PIP_DISABLE_PIP_VERSION_CHECK: '1', ...opts.env };
  delete env.PYTHONPATH; // the venv must find the installed copy, not the source folder
  delete env.PIP_INDEX_URL;
  delete env.PIP_FIND_LINKS;
  return spawnSync(cmd, args, { cwd: opts.cwd, env, input: opts.input, encoding: 'utf8', timeout: 120_000 });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

test('pip install --no-index ./clients/python works offline in a fresh venv without `wheel`', { skip: python ? false : 'no python3 with venv/ensurepip', timeout: 180_000 }, () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'isc-pip-'));
  try {
    const venv = path.join(tmp, 'venv');
    ok(run(python!, ['-m', 'venv', venv]), 'python -m venv');
    const py = path.join(venv, 'bin', 'python');
    // The precondition of the issue: no `wheel` in the venv (setuptools alone fails with bdist_wheel).
    assert.notEqual(run(py, ['-c', 'import wheel'], { cwd: tmp }).status, 0, 'the fresh venv has no `wheel` module');

    const pipSource = CLIENT.replace(/\/+$/, '');
    const before = snapshot(CLIENT);
    ok(run(py, ['-m', 'pip', 'install', '--no-index', '--no-cache-dir', pipSource], { cwd: tmp }), 'pip install --no-index');
    assert.deepEqual(snapshot(CLIENT), before, 'building the wheel leaves no files in the source folder');

    const where = ok(
      run(py, ['-c', 'import image_sidecar, image_sidecar_rust, image_sidecar_rust.exceptions as e; print(image_sidecar.__file__); print(image_sidecar_rust.__file__); print(image_sidecar_rust.OperationType.YOLOV8, e.FormatError.__name__)'], { cwd: tmp }),
      'import the installed packages',
    ).trim().split('\n');
    for (const file of where.slice(0, 2)) assert.ok(file.startsWith(venv), `${file} is imported from the venv`);
    assert.equal(where[2], 'yolov8 FormatError');

    // The earlier tool's command names, with its exit codes: findings exit 0, usage errors 2.
    const lib = path.join(tmp, 'lib');
    twoSidecarLibrary(lib);
    const list = path.join(tmp, 'list.txt');
    fs.writeFileSync(list, `${path.join(lib, 'a.json')}\n${path.join(lib, 'b.json')}\n`);
    const env = { IMAGE_SIDECAR_BIN: CLI, IMAGE_SIDECAR_NODE: process.execPath };
    for (const alias of ['image-sidecar-rust', 'sportball-sidecar-rust']) {
      const bin = path.join(venv, 'bin', alias);
      const r = run(bin, ['validate-json', '--input', list, '--output', '-', '--workers', '2'], { cwd: tmp, env });
      assert.equal(r.status, 0, `${alias} validate-json: findings exit 0 as the old tool did\n${r.stderr}`);
      const lines = r.stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>);
      const results = lines.filter((l) => 'file_path' in l);
      assert.deepEqual(results.map((l) => [path.basename(String(l.file_path)), l.is_valid]), [['a.json', true], ['b.json', false]]);
      const bad = run(bin, ['validate', '--input', path.join(tmp, 'missing')], { cwd: tmp, env });
      assert.equal(bad.status, 2, `${alias}: a missing input directory is still an error`);
      assert.match(bad.stderr, /missing/);
    }
    const gone = run(path.join(venv, 'bin', 'image-sidecar-rust'), ['--version'], { cwd: tmp, env: { IMAGE_SIDECAR_BIN: path.join(tmp, 'nothing.js') } });
    assert.equal(gone.status, 2);
    assert.match(gone.stderr, /NOT_INSTALLED.*nothing\.js/);

    // Editable install (PEP 660): the import resolves to the source folder.
    ok(run(py, ['-m', 'pip', 'install', '--no-index', '--no-cache-dir', '-e', pipSource], { cwd: tmp }), 'pip install -e');
    const editable = ok(run(py, ['-c', 'import image_sidecar_rust; print(image_sidecar_rust.__file__)'], { cwd: tmp }), 'import (editable)').trim();
    assert.equal(editable, path.join(CLIENT, 'image_sidecar_rust', '__init__.py'));
    assert.deepEqual(snapshot(CLIENT), before, 'the editable build leaves no files in the source folder');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

/** Every file under dir (relative paths), skipping bytecode caches. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.name === '__pycache__') continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}
