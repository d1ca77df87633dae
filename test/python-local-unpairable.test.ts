/**
 * The Python client's local read path pairs as the library does for names no rule makes an image
 * (pair.ts pairGroupOf) and for links to folders: an image (or a link's target, or a link) with
 * no extension (`IMG`, `.hidden`, `IMG.`) or with a sidecar's extension (a link to `x.json`)
 * pairs nothing, and a folder is never an image. The local path used to read `IMG.json` for `IMG`,
 * `x.json.json` for a link to `x.json` and `A.json` beside a linked folder `A.jpg`, where the
 * library reads `{}` (or the link's own sidecar). Found by comparing both paths on odd names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, CLIENT, findPython } from './helpers/python.js';
import { testDir } from './helpers/tree.js';

const python = findPython();

/** For each image: the local answer (or "handed over") and the library's, compared with types. */
const COMPARE_PY = String.raw`
import json, sys
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[1] + '/tests')
from image_sidecar import ImageSidecarManager, ImageSidecarError
from image_sidecar.decode import NotLocal
from image_sidecar.local import read_local
from parity import same_typed
out = []
with ImageSidecarManager(local_reads=False) as m:
    for image in sys.argv[2:]:
        try:
            local = read_local(image)
        except NotLocal:
            local = 'handed over'
        try:
            lib = m.read_data(image)
        except ImageSidecarError as e:
            lib = 'error ' + e.code
        if local != 'handed over' and not (isinstance(lib, dict) and same_typed(local, lib)):
            out.append({'image': image, 'local': local, 'library': lib})
print(json.dumps(out))
`;

test('Python local reads: names that pair nothing and links to folders, as the library', { skip: python ? false : 'no python3 >= 3.9' }, (t) => {
  const root = testDir(t);
  const put = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  };
  const link = (rel: string, target: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.symlinkSync(target, path.join(root, rel));
  };
  const doc = (v: number) => JSON.stringify({ sidecar_info: {}, v }); // sidecar-shaped: another tool's file is passed over
  put('plain/IMG', 'jpeg');
  put('plain/IMG.json', doc(1));
  put('plain/.hidden', 'jpeg');
  put('plain/.hidden.json', doc(2));
  put('plain/END.', 'jpeg');
  put('plain/END..json', doc(3));
  put('plain/END.json', doc(4));
  put('t/x.json', doc(5));
  put('t/x.json.json', doc(6));
  link('g/to-sidecar.jpg', '../t/x.json');
  put('t/NOEXT', 'jpeg');
  put('t/NOEXT.json', doc(7));
  put('g/to-noext.json', doc(8));
  link('g/to-noext.jpg', '../t/NOEXT');
  fs.mkdirSync(path.join(root, 't/DIR.jpg'));
  put('t/DIR.json', doc(9));
  link('g/to-dir.jpg', '../t/DIR.jpg');
  put('t/A.jpg', 'jpeg');
  put('g/L.json', doc(10));
  link('g/L', '../t/A.jpg');
  put('t/X.JSON', 'jpeg'); // an upper-case extension is not a sidecar's: an image given explicitly
  put('t/X.json', doc(11));
  link('g/to-upper.jpg', '../t/X.JSON');
  const images = ['plain/IMG', 'plain/.hidden', 'plain/END.', 'g/to-sidecar.jpg', 'g/to-noext.jpg', 'g/to-dir.jpg', 'g/L', 'g/to-upper.jpg'].map((r) => path.join(root, r));

  const r = spawnSync(python!, ['-c', COMPARE_PY, CLIENT, ...images], {
    encoding: 'utf8',
    env: { ...process.env, IMAGE_SIDECAR_BIN: CLI, IMAGE_SIDECAR_NODE: process.execPath, PYTHONDONTWRITEBYTECODE: '1' },
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [], 'local reads that differ from the library');
});
