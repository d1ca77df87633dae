/**
 * The embeddings matrix read by NumPy itself (Debian's python3-numpy): numpy.load, memory-mapped,
 * is the float32 of every encoding read through readSidecar, row for row with the .jsonl beside it;
 * and the Python client's datasets suite (clients/python/tests/test_datasets.py) passes. Skipped
 * only on a machine without python3 and NumPy (`apt-get install -y python3-numpy`), and never in CI
 * (.ci/run installs it and sets NUMPY_REQUIRED).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportDataset } from '../src/ops/datasets.js';
import { readSidecar } from '../src/ops/read.js';
import { generateSampleLibrary } from '../src/sample/generate.js';
import { removeTree, tempDir } from './helpers/tree.js';
import { CLI, CLIENT, findPython } from './helpers/python.js';

const python = findPython(['numpy']);
// CI installs NumPy and sets NUMPY_REQUIRED (.ci/run): there a missing NumPy fails, never skips.
const skip = python || process.env.NUMPY_REQUIRED === '1' ? false : 'no python3 with NumPy (apt-get install -y python3-numpy)';

let lib: string;
let out: string;
before(async () => {
  lib = tempDir();
  out = tempDir();
  await generateSampleLibrary(lib, { images: 120, seed: 5, formatMix: { json: 1, bin: 1, legacy: 0 } });
});
after(() => {
  removeTree(lib);
  removeTree(out);
});

test('numpy.load(mmap_mode="r") gives the encodings readSidecar reads, as float32, row for row', { skip }, async () => {
  assert.ok(python, 'python3 with NumPy (NUMPY_REQUIRED is set)');
  const npy = join(out, 'faces.npy');
  const report = await exportDataset(lib, { format: 'embeddings', output: npy, engine: 'threads', workers: 2 });
  assert.ok(report.rows > 50);
  // What readSidecar says each row is: the encoding at the row's operation / backend / face.
  const rows = readFileSync(join(out, 'faces.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
  const expected: number[][] = [];
  for (const r of rows) {
    const data = (await readSidecar(join(lib, r.image))) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const op = data[r.operation];
    const node = r.backend === null ? op : op[r.backend];
    expected.push(node.faces[r.face].encoding);
  }
  const want = join(out, 'expected.json');
  writeFileSync(want, JSON.stringify(expected));
  const script = `
import json, sys, numpy as np
m = np.load(sys.argv[1], mmap_mode="r")
assert isinstance(m, np.memmap), type(m)
assert m.dtype == np.float32 and m.flags["C_CONTIGUOUS"] and m.shape == (int(sys.argv[3]), 512), (m.dtype, m.shape)
want = np.array(json.load(open(sys.argv[2])), dtype=np.float32)
assert np.array_equal(np.asarray(m), want), "values differ"
rows = [json.loads(l) for l in open(sys.argv[1][:-4] + ".jsonl")]
assert len(rows) == m.shape[0]
print("ok", m.shape[0])
`;
  const r = spawnSync(python!, ['-c', script, npy, want, String(report.rows)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), `ok ${report.rows}`);
});

test('the Python client\'s datasets suite (export_*, load_embeddings with and without NumPy, merge)', { skip, timeout: 300_000 }, () => {
  assert.ok(python, 'python3 with NumPy (NUMPY_REQUIRED is set)');
  const env = { ...process.env, IMAGE_SIDECAR_BIN: CLI, IMAGE_SIDECAR_NODE: process.execPath, IMAGE_SIDECAR_REQUIRE: '1', PYTHONDONTWRITEBYTECODE: '1', PYTHONPATH: CLIENT };
  const r = spawnSync(python!, ['-m', 'unittest', 'tests.test_datasets', '-v'], { cwd: CLIENT, env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /Ran 4 tests/);
  assert.doesNotMatch(r.stderr, /skipped/);
});
