/**
 * Error messages say what and where once: no "ENOENT: ENOENT:", no syscall tail, and never the
 * name of one of our temp files (a user looks for the file they asked for).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { errors } from '../src/errors.js';
import { tempNameFor } from '../src/fs/temp-files.js';
import { runCli } from './helpers/cli.js';
import { FAKE_JPEG, putFile, sidecarData, testDir } from './helpers/tree.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  assert.fail('expected a throw');
}

test('fromFs: the code once, the path once, no syscall tail', () => {
  const e = thrown(() => readFileSync('/no-such-dir-isc/x.json'));
  const err = errors.fromFs(e);
  assert.equal(err.code, 'NOT_FOUND');
  assert.equal(err.message, '/no-such-dir-isc/x.json: no such file or directory (ENOENT)');
  assert.equal(errors.fromFs(e, '/no-such-dir-isc/x.json').message, err.message);
  const dir = thrown(() => readFileSync('/'));
  assert.equal(errors.fromFs(dir, '/').message, '/: illegal operation on a directory (EISDIR)');
});

test('fromFs: a temp file in the path names its target instead', () => {
  const tmp = join('/no-such-dir-isc', tempNameFor('IMG_1.json'));
  const e = thrown(() => renameSync(tmp, '/no-such-dir-isc/IMG_1.json'));
  const err = errors.fromFs(e);
  assert.equal(err.message, '/no-such-dir-isc/IMG_1.json: no such file or directory (ENOENT)');
  assert.equal(err.path, '/no-such-dir-isc/IMG_1.json');
  assert.doesNotMatch(err.message, /isc-tmp/);
});

test('CLI: a failing write and a missing output folder print one clean line', async (t) => {
  const dir = testDir(t);
  putFile(dir, 'IMG_1.jpg', FAKE_JPEG);
  putFile(dir, 'IMG_1.json', JSON.stringify(sidecarData('IMG_1.jpg', 0, 4)));
  const r = await runCli(['export', dir, '-o', join(dir, 'missing', 'out.json')]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, `image-sidecar: error [NOT_FOUND]: ${join(dir, 'missing', 'out.json')}: no such file or directory (ENOENT)\n`);
  for (const line of r.stderr.split('\n')) {
    assert.doesNotMatch(line, /(E[A-Z]+): \1/);
    assert.doesNotMatch(line, /isc-tmp/);
  }
});
