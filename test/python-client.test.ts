/**
 * Runs the Python client's unittest suite (clients/python/tests) against the CLI built next to
 * this file, so CI counts it: any Python failure or error fails this test. Skipped only when the
 * machine has no python3 at all. The timeout only catches a hang: the suite starts ~100 CLI and
 * server processes, which took 136 s with four builds sharing two cores.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, CLIENT, findPython } from './helpers/python.js';

const python = findPython();

test('Python client: unittest suite against the built CLI', { skip: python ? false : 'no python3 >= 3.9 on this machine', timeout: 300_000 }, async () => {
  assert.ok(fs.existsSync(CLI), `the built CLI is at ${CLI}`);
  assert.ok(fs.existsSync(path.join(CLIENT, 'tests')), `the Python tests are at ${CLIENT}/tests`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    IMAGE_SIDECAR_BIN: CLI,
    IMAGE_SIDECAR_NODE: process.execPath,
    IMAGE_SIDECAR_REQUIRE: '1', // a missing CLI must fail the suite, not skip it
    PYTHONPATH: [CLIENT, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter),
    PYTHONDONTWRITEBYTECODE: '1',
  };
  const child = spawn(python!, ['-m', 'unittest', 'discover', '-s', 'tests', '-v'], { cwd: CLIENT, env });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));

  const ran = /^Ran (\d+) tests? in/m.exec(output);
  const summary = output.split('\n').filter((l) => /^(Ran |OK|FAILED)/.test(l)).join(' | ');
  console.log(`# python unittest: ${summary}`);
  assert.equal(code, 0, `the Python tests failed:\n${output}`);
  assert.ok(ran && Number(ran[1]) >= 10, `the suite ran its tests:\n${output}`);
  assert.doesNotMatch(output, /skipped=/, `no Python test was skipped:\n${output}`);
});

test('Python client: the variables it restarts its server for are every one the server reads at start (settings.ts, cli/keys.ts), but the debug switch and the loader\'s code cache', () => {
  const root = path.resolve(CLIENT, '..', '..');
  const read = new Set<string>();
  for (const f of ['src/settings.ts', 'src/cli/keys.ts']) for (const m of fs.readFileSync(path.join(root, f), 'utf8').matchAll(/IMAGE_SIDECAR_[A-Z_]+/g)) read.add(m[0]);
  for (const x of ['IMAGE_SIDECAR_DEBUG', 'IMAGE_SIDECAR_CODE_CACHE']) read.delete(x);
  const client = fs.readFileSync(path.join(CLIENT, 'image_sidecar', 'client.py'), 'utf8');
  const tuple = /_SERVER_ENV = \(([^)]*)\)/.exec(client);
  assert.ok(tuple, 'no _SERVER_ENV in client.py');
  const listed = new Set([...tuple[1].matchAll(/"(IMAGE_SIDECAR_[A-Z_]+)"/g)].map((m) => m[1]));
  assert.deepEqual([...listed].sort(), [...read].sort());
});
