/**
 * The platform wheel (`npm run build:wheel`: the client with the standalone executable inside),
 * installed with `pip install --no-index` in a fresh venv, with no Node.js on PATH: the client, the
 * earlier tool's Python import name and its command names all run the executable they carry,
 * found before PATH and IMAGE_SIDECAR_BIN.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLIENT, findPython, twoSidecarLibrary } from '../helpers/python.js';

const python = findPython(['venv', 'ensurepip']);
const EXE = fileURLToPath(new URL('../../../dist/exe/image-sidecar', import.meta.url));

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 300_000 });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

test('the platform wheel installs offline in a fresh venv and runs the executable it carries, with no Node.js on PATH', { skip: python ? false : 'no python3 with venv/ensurepip', timeout: 600_000 }, () => {
  assert.ok(fs.existsSync(EXE), `${EXE} is built (npm run test:long builds it)`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'isc-wheel-'));
  try {
    // The wheel, as `npm run build:wheel` makes it (from the executable npm run test:long built).
    const built = ok(run(python!, [path.join(CLIENT, '_backend', 'isc_build.py'), EXE, path.join(tmp, 'wheel')], process.env, tmp), 'build the platform wheel').trim();
    assert.match(path.basename(built), /^image_sidecar-[0-9.]+-py3-none-manylinux_2_28_x86_64\.whl$/);
    const venv = path.join(tmp, 'venv');
    ok(run(python!, ['-m', 'venv', venv], process.env, tmp), 'python -m venv');
    const bin = path.join(venv, 'bin');
    // PATH: the venv's scripts and the system's tools, no Node.js. IMAGE_SIDECAR_BIN points at
    // nothing: the carried executable is found first.
    const noNode = path.join(tmp, 'no-node');
    fs.mkdirSync(noNode);
    const env: NodeJS.ProcessEnv = { PATH: `${bin}:${noNode}`, HOME: tmp, PYTHONDONTWRITEBYTECODE: '1', PIP_DISABLE_PIP_VERSION_CHECK: '1', IMAGE_SIDECAR_BIN: path.join(tmp, 'nothing') };
    const py = path.join(bin, 'python');
    ok(run(py, ['-m', 'pip', 'install', '--no-index', '--no-cache-dir', built], env, tmp), 'pip install --no-index <wheel>');

    const lib = path.join(tmp, 'lib');
    twoSidecarLibrary(lib);
    const script = `
import json, os, sys, image_sidecar, image_sidecar_rust
from image_sidecar import ImageSidecarManager
from image_sidecar.locate import locate_binary
lib = sys.argv[1]
found = locate_binary()
assert found.command == [os.path.join(os.path.dirname(image_sidecar.__file__), "_bin", "image-sidecar")], found
m = ImageSidecarManager()
report = m.validate_sidecars(lib)
stats = m.get_statistics(lib)
with ImageSidecarManager() as s:
    s.save_data(os.path.join(lib, "a.jpg"), "quality", {"score": 0.5})
    data = s.read_data(os.path.join(lib, "a.jpg"))
info = m.get_performance_info()
print(json.dumps({"total": report["total_files"], "invalid": report["invalid_files"], "images": stats["total_images"], "score": data["quality"]["score"], "available": info["available"], "yolo": str(image_sidecar_rust.OperationType.YOLOV8)}))
`;
    const out = JSON.parse(ok(run(py, ['-c', script, lib], env, tmp), 'the client and image_sidecar_rust')) as Record<string, unknown>;
    assert.deepEqual(out, { total: 2, invalid: 1, images: 2, score: 0.5, available: true, yolo: 'yolov8' });
    // The earlier tool's command names (console scripts): findings exit 0, a usage error 2.
    for (const alias of ['image-sidecar-rust', 'sportball-sidecar-rust']) {
      const r = run(path.join(bin, alias), ['validate', '--input', lib], env, tmp);
      assert.equal(r.status, 0, `${alias}: findings exit 0\n${r.stderr}`);
      assert.equal((JSON.parse(r.stdout) as { invalid_files: number }).invalid_files, 1);
      assert.equal(run(path.join(bin, alias), ['validate', '--input', path.join(tmp, 'missing')], env, tmp).status, 2);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
