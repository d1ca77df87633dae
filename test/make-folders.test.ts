/**
 * fs/make-folders.ts: `mkdir -p` for every folder the library makes (the index's, a quarantine's,
 * a restore's, a yolo export's, a sample library's). Node 20's recursive mkdir loops forever at
 * full CPU where a folder cannot be made under one that exists (under /proc), so a user's
 * `sample /proc/x/lib` never ended. The /proc cases run in a child process with a deadline: a
 * regression shows as a failed test, not a test run that never ends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeFolders, makeFoldersSync } from '../src/fs/make-folders.js';
import { runCli } from './helpers/cli.js';

const MODULE = fileURLToPath(new URL('../src/fs/make-folders.js', import.meta.url));
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'is-mkdirs-'));

/** Run `code` (with `make` and `makeSync` in scope) in a child; its stdout, or a failure after 20 s. */
function inChild(code: string): { status: number | null; stdout: string; timedOut: boolean } {
  const src = `import { makeFolders as make, makeFoldersSync as makeSync } from ${JSON.stringify(MODULE)};\n${code}`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', src], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, timedOut: r.error !== undefined || r.signal !== null };
}

test('makeFolders: where no folder can be made under an existing one (/proc), the error comes back (sync and async), never a loop', () => {
  const r = inChild(`
    try { makeSync('/proc/isc-no-such/a/b'); console.log('made'); } catch (e) { console.log('sync', e.code); }
    try { await make('/proc/isc-no-such/a/b'); console.log('made'); } catch (e) { console.log('async', e.code); }
  `);
  assert.equal(r.timedOut, false, 'still making folders after 20 s');
  assert.equal(r.stdout, 'sync ENOENT\nasync ENOENT\n');
});

test('makeFolders: every missing folder on the way is made; an existing folder, or a link to one, is fine', async () => {
  const dir = tmp();
  try {
    makeFoldersSync(path.join(dir, 'a', 'b', 'c'));
    await makeFolders(path.join(dir, 'x', 'y', 'z'));
    assert.ok(fs.statSync(path.join(dir, 'a', 'b', 'c')).isDirectory());
    assert.ok(fs.statSync(path.join(dir, 'x', 'y', 'z')).isDirectory());
    makeFoldersSync(path.join(dir, 'a', 'b'));
    await makeFolders(path.join(dir, 'x'));
    fs.symlinkSync(path.join(dir, 'a'), path.join(dir, 'to-a'));
    makeFoldersSync(path.join(dir, 'to-a', 'b', 'new'));
    await makeFolders(path.join(dir, 'to-a'));
    assert.ok(fs.statSync(path.join(dir, 'a', 'b', 'new')).isDirectory());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('makeFolders: a file where a folder belongs is an error (as `mkdir -p` says), never taken as the folder', async () => {
  const dir = tmp();
  try {
    fs.writeFileSync(path.join(dir, 'f'), 'notes');
    assert.throws(() => makeFoldersSync(path.join(dir, 'f')), { code: 'EEXIST' });
    await assert.rejects(makeFolders(path.join(dir, 'f')), { code: 'EEXIST' });
    assert.throws(() => makeFoldersSync(path.join(dir, 'f', 'sub')), { code: 'ENOTDIR' });
    await assert.rejects(makeFolders(path.join(dir, 'f', 'sub')), { code: 'ENOTDIR' });
    fs.symlinkSync(path.join(dir, 'missing'), path.join(dir, 'dangling'));
    assert.throws(() => makeFoldersSync(path.join(dir, 'dangling')), { code: 'EEXIST' });
    assert.throws(() => makeFoldersSync(path.join(dir, 'dangling', 'sub')), { code: 'EEXIST' });
    await assert.rejects(makeFolders(path.join(dir, 'dangling', 'sub')), { code: 'EEXIST' });
    assert.equal(fs.readFileSync(path.join(dir, 'f'), 'utf8'), 'notes');
    assert.equal(fs.existsSync(path.join(dir, 'missing')), false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('sample into a folder that cannot be made (under /proc): exit 2 naming it (the run spun at full CPU for good)', async () => {
  const r = await runCli(['sample', '/proc/isc-no-such/lib', '--images', '5'], { timeoutMs: 30_000 });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /\/proc\/isc-no-such/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'a stack trace');
});
