/**
 * Data nested too deep gets one error, TOO_DEEP, whichever way the Python client saves it: through
 * the server (`with`), the CLI (outside `with`) or image_sidecar_rust. The server answered USAGE
 * when the data made the whole request line too deep to parse (600 levels), and data deeper than
 * Python's own encoder goes (5000 levels) escaped as a bare RecursionError, not an
 * ImageSidecarError / SidecarError. Found saving nested data from Python both ways.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, CLIENT, findPython } from './helpers/python.js';
import { testDir } from './helpers/tree.js';

const python = findPython();

const SAVE_PY = String.raw`
import json, sys
sys.path.insert(0, sys.argv[1])
from image_sidecar import ImageSidecarManager, ImageSidecarError
from image_sidecar_rust import ImageSidecar, SidecarError
image = sys.argv[2]
def nest(n):
    v = 1
    for _ in range(n):
        v = [v]
    return {"x": v}
out = {}
for n in (600, 5000):
    for how in ("server", "cli", "rust"):
        try:
            if how == "server":
                with ImageSidecarManager() as m:
                    m.save_data(image, "op", nest(n))
            elif how == "cli":
                ImageSidecarManager().save_data(image, "op", nest(n))
            else:
                ImageSidecar().save_data(image, "yolov8", nest(n))
            out["%s %d" % (how, n)] = "saved"
        except ImageSidecarError as e:
            out["%s %d" % (how, n)] = e.code
        except SidecarError as e:
            out["%s %d" % (how, n)] = e.error_code
        except BaseException as e:
            out["%s %d" % (how, n)] = "raw " + type(e).__name__
print(json.dumps(out))
`;

test('Python saves of data nested too deep: TOO_DEEP through the server, the CLI and image_sidecar_rust', { skip: python ? false : 'no python3 >= 3.9' }, (t) => {
  const dir = testDir(t);
  const image = path.join(dir, 'A.jpg');
  fs.writeFileSync(image, 'jpeg');
  const r = spawnSync(python!, ['-c', SAVE_PY, CLIENT, image], {
    encoding: 'utf8',
    env: { ...process.env, IMAGE_SIDECAR_BIN: CLI, IMAGE_SIDECAR_NODE: process.execPath, PYTHONDONTWRITEBYTECODE: '1' },
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout) as Record<string, string>;
  for (const [k, v] of Object.entries(got)) assert.equal(v, 'TOO_DEEP', `${k}: ${v}`);
  assert.equal(Object.keys(got).length, 6);
  assert.deepEqual(fs.readdirSync(dir), ['A.jpg'], 'nothing saved');
});
