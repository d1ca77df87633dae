/**
 * The library refuses ints of more than 4300 digits (CORRUPT, docs/FORMAT.md "Numbers": Python's
 * default int_max_str_digits). The Python client's local read relied on json.loads refusing them
 * too, which holds only under that default: with the limit raised (PYTHONINTMAXSTRDIGITS=0,
 * sys.set_int_max_str_digits) or on a Python without it (before 3.11 / 3.10.7 / 3.9.14) the local
 * path returned a 5000-digit int where the library raises CORRUPT. Found reading big ints with the
 * digit limit switched off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, CLIENT, findPython } from './helpers/python.js';
import { testDir } from './helpers/tree.js';

const python = findPython();

const READ_PY = String.raw`
import sys
sys.path.insert(0, sys.argv[1])
from image_sidecar import ImageSidecarManager, ImageSidecarError
out = []
for image in sys.argv[2:]:
    for local in (True, False):
        m = ImageSidecarManager(local_reads=local)
        try:
            d = m.read_data(image)
            out.append("%d digits" % len(str(abs(d["yolov8"]))))
        except ImageSidecarError as e:
            out.append(e.code)
print(" ".join(out))
`;

test('Python local reads refuse ints over 4300 digits as the library does, whatever the interpreter limit', { skip: python ? false : 'no python3 >= 3.9' }, (t) => {
  const dir = testDir(t);
  const images: string[] = [];
  for (const [name, digits] of [['over', 5000], ['negative-over', 4301], ['at-limit', 4300]] as const) {
    const image = path.join(dir, `${name}.jpg`);
    fs.writeFileSync(image, 'jpeg');
    // A known operation key: sidecar-shaped (another tool's file is passed over, docs/PAIRING.md §7).
    fs.writeFileSync(path.join(dir, `${name}.json`), `{"yolov8": ${name === 'negative-over' ? '-' : ''}${'9'.repeat(digits)}}`);
    images.push(image);
  }
  for (const limit of ['0', '100000']) {
    const r = spawnSync(python!, ['-c', READ_PY, CLIENT, ...images], {
      encoding: 'utf8',
      env: { ...process.env, IMAGE_SIDECAR_BIN: CLI, IMAGE_SIDECAR_NODE: process.execPath, PYTHONDONTWRITEBYTECODE: '1', PYTHONINTMAXSTRDIGITS: limit },
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    // local, then library, per image: the same answers.
    assert.equal(r.stdout.trim(), 'CORRUPT CORRUPT CORRUPT CORRUPT 4300 digits 4300 digits', `PYTHONINTMAXSTRDIGITS=${limit}`);
  }
});
