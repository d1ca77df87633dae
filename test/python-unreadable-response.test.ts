/**
 * A server response the Python process cannot parse must fail its request, not leave the caller
 * waiting forever. Python refuses ints longer than its int_max_str_digits (4300 by default, as low
 * as 640 with PYTHONINTMAXSTRDIGITS=640, a hardening setting): a sidecar holding a 700-digit int
 * is valid to the library (up to 4300 digits), its local read hands over (json.loads refuses the
 * int), and the server's answer was dropped as "not a response" — `read_data` inside `with` hung
 * (TIMEOUT only when a timeout was set). Now it raises BAD_OUTPUT, as the CLI path already did.
 * Found reading big ints from Python with a lowered int_max_str_digits.
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
with ImageSidecarManager(timeout=20) as m:
    try:
        m.read_data(sys.argv[2])
        out.append("read")
    except ImageSidecarError as e:
        out.append(e.code)
    out.append(str(m.ping().get("pong")))  # the connection still serves
print(" ".join(out))
`;

test('Python client: a server answer it cannot parse fails that request (BAD_OUTPUT), it does not hang', { skip: python ? false : 'no python3 >= 3.9' }, (t) => {
  const dir = testDir(t);
  const image = path.join(dir, 'A.jpg');
  fs.writeFileSync(image, 'jpeg');
  // A known operation key: sidecar-shaped (another tool's file is passed over, docs/PAIRING.md §7).
  fs.writeFileSync(path.join(dir, 'A.json'), `{"yolov8": ${'7'.repeat(700)}}`);
  const r = spawnSync(python!, ['-c', READ_PY, CLIENT, image], {
    encoding: 'utf8',
    env: { ...process.env, IMAGE_SIDECAR_BIN: CLI, IMAGE_SIDECAR_NODE: process.execPath, PYTHONDONTWRITEBYTECODE: '1', PYTHONINTMAXSTRDIGITS: '640' },
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'BAD_OUTPUT True');
});
