/**
 * Saves racing convert between processes (CI subset of `npm run test:reliability`): NFD image
 * names with NFC sidecars, link-side sidecars of symlinked images, plain images; convert flips the
 * tree json ⇄ bin on worker threads while 3 processes save. 0 acknowledged saves lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI_PATH } from './helpers/cli.js';
import { runSaveVsConvert } from './reliability/save-vs-convert.js';
import { describeRow } from './reliability/tally.js';

test('saves racing convert json⇄bin: every acknowledged save survives, one sidecar per image', { timeout: 300_000 }, async () => {
  const row = await runSaveVsConvert({ savers: 3, saves: 40, perKind: 3 });
  assert.equal(row.count, 3 * 40, describeRow(row));
  assert.equal(row.recordsLost, 0, describeRow(row));
  assert.equal(row.bytesLost, 0, describeRow(row));
  assert.deepEqual(row.failures, [], describeRow(row));
});

/**
 * A save in another format landing between convert's scan and the unit's lock (here made to land
 * there: a preload runs it right before convert takes the image's lock). Convert wrote a copy of the
 * older file in the format asked: in bin, read first, it hid the new result at once; in JSON, the
 * newest file, `resolve` (the documented way to finish) kept it and quarantined the new result.
 */
test('a save in another format landing before convert locks the image: a conflict, the saved result stays what reads return, resolve included', async () => {
  const cases: { start: 'rkyv' | 'json'; to: string; save: string }[] = [
    { start: 'rkyv', to: 'json', save: 'bin' },
    { start: 'json', to: 'bin', save: 'rkyv' },
  ];
  for (const c of cases) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isc-conv-race-'));
    try {
      fs.writeFileSync(path.join(dir, 'I7.jpg'), 'img');
      const first = spawnSync(process.execPath, [CLI_PATH, 'write', path.join(dir, 'I7.jpg'), '--operation', 'faces', '--data', '-', '--format', c.start, '-q'], { encoding: 'utf8', input: '{"n":1}' });
      assert.equal(first.status, 0, first.stderr);
      const hook = path.join(dir, 'save-before-lock.cjs');
      const save = [CLI_PATH, 'write', path.join(dir, 'I7.jpg'), '--operation', 'new_result', '--data', '-', '--format', c.save, '-q'];
      fs.writeFileSync(
        hook,
        `const fs = require('fs'), cp = require('child_process');
let done = false;
const mkdir = fs.mkdirSync;
fs.mkdirSync = function (p) {
  if (!done && String(p).includes('.isc-lock')) { done = true; cp.execFileSync(process.execPath, ${JSON.stringify(save)}, { input: '{"n":2}' }); }
  return mkdir.apply(this, arguments);
};
`,
      );
      const conv = spawnSync(process.execPath, ['-r', hook, CLI_PATH, 'convert', dir, '-f', c.to, '--engine', 'inline', '--json'], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(conv.status, 1, `${c.start}→${c.to}: ${conv.stderr}`);
      assert.match(conv.stdout, /appeared since the scan/);
      const read = () => JSON.parse(spawnSync(process.execPath, [CLI_PATH, 'read', path.join(dir, 'I7.jpg'), '--json'], { encoding: 'utf8' }).stdout) as Record<string, unknown>;
      assert.deepEqual(read().new_result, { n: 2 }, `${c.start}→${c.to}: the saved result is hidden after convert (${fs.readdirSync(dir).join(', ')})`);
      const res = spawnSync(process.execPath, [CLI_PATH, 'resolve', dir, '--json'], { encoding: 'utf8' });
      assert.ok(res.status === 0 || res.status === 1, res.stderr);
      assert.deepEqual(read().new_result, { n: 2 }, `${c.start}→${c.to}: the saved result is lost after resolve (${fs.readdirSync(dir).join(', ')})`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});
