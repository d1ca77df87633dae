/**
 * issue 10 §6: when the client of `serve --stdio` goes away (EPIPE on stdout, stderr closed too),
 * the saves already running finish (or never start), the process exits on its own, and no lock
 * directory or temp file is left behind. Every sidecar is either absent or complete.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeSidecar } from '../src/formats/codec.js';
import { LOCK_SUFFIX, TEMP_MARK } from '../src/fs/temp-files.js';
import { FAKE_JPEG, putFile, testDir } from './helpers/tree.js';
import { CLI_PATH as CLI } from './helpers/cli.js';

const IMAGES = 150;

test('serve --stdio: EPIPE on stdout mid-run finishes in-flight saves, exits, leaves no lock or temp file', { timeout: 120_000 }, async (t) => {
  const dir = testDir(t);
  const images = Array.from({ length: IMAGES }, (_, i) => putFile(dir, `IMG_${i}.jpg`, FAKE_JPEG));
  const embedding = Array.from({ length: 512 }, (_, i) => (i + 0.5) / 1000);
  const requests = images.map(
    (img, i) => `${JSON.stringify({ id: i, method: 'save', params: { image: img, operation: 'face_detection', data: { faces: [{ encoding: embedding }], n: i } } })}\n`,
  );

  const child = spawn(process.execPath, [CLI, 'serve', '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.stdin.on('error', () => undefined); // the server may be gone before we finish writing
  const firstResponse = new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  for (const r of requests) child.stdin.write(r);
  await firstResponse;
  // The client goes away: nobody reads stdout or stderr any more.
  child.stdout.destroy();
  child.stderr.destroy();
  // More work arrives after the break, then input ends.
  for (const r of requests.slice(0, 20)) child.stdin.write(r.replace('"n":', '"late":1,"n":'));
  child.stdin.end();

  const started = Date.now();
  const { code, signal } = await exited;
  assert.equal(signal, null, 'not killed by a signal (SIGPIPE is not fatal)');
  assert.equal(code, 0, 'a client going away is not an error of the server');
  assert.ok(Date.now() - started < 60_000, 'exits on its own');

  const names = fs.readdirSync(dir);
  assert.deepEqual(names.filter((n) => n.endsWith(LOCK_SUFFIX)), [], 'no lock directory left');
  assert.deepEqual(names.filter((n) => n.includes(TEMP_MARK)), [], 'no temp file left');
  let saved = 0;
  for (let i = 0; i < IMAGES; i++) {
    const p = path.join(dir, `IMG_${i}.bin`);
    if (!fs.existsSync(p)) continue;
    const data = decodeSidecar(fs.readFileSync(p)).data as { face_detection: { n: number; faces: { encoding: number[] }[] } };
    assert.equal(data.face_detection.n, i);
    assert.equal(data.face_detection.faces[0].encoding.length, 512);
    saved++;
  }
  assert.ok(saved >= 1, 'the save answered before the break is on disk');
  t.diagnostic(`${saved} of ${IMAGES} saves completed before the server stopped`);
});
