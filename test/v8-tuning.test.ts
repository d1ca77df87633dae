import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { allowV8Tuning, INTERRUPT_BUDGET } from '../src/engine/v8-tuning.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir } from './helpers/tree.js';

test('the V8 budget is left alone when the user gave one (command line or NODE_OPTIONS)', () => {
  assert.equal(allowV8Tuning(['--interrupt-budget=1000'], undefined), false);
  assert.equal(allowV8Tuning([], '--max-old-space-size=100 --interrupt-budget=1000'), false);
  assert.ok(INTERRUPT_BUDGET > 67_584, 'above V8 default');
});

test('the CLI runs with the tuned budget, and the stats of a tree are the same bytes as under the default budget', (t) => {
  const root = makeTree({ 'p/a.jpg': FAKE_JPEG, 'p/a.json': { json: sidecarData('a.jpg', 3) }, 'p/b.jpg': FAKE_JPEG, 'g/a.jpg': { symlink: '../p/a.jpg' } }, testDir(t, 'isc-v8-'));
  const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));
  const run = (execArgv: string[]) => spawnSync(process.execPath, [...execArgv, cli, 'stats', root, '--json', '--no-index'], { encoding: 'utf8' });
  const tuned = run([]);
  const plain = run(['--interrupt-budget=67584']);
  assert.equal(tuned.status, 0, tuned.stderr);
  assert.match(tuned.stdout, /"total_images": 3/);
  assert.equal(tuned.stdout, plain.stdout);
});

test('the budget is raised when a worker pool starts, only then, and only when an entry point allowed it', () => {
  // In a child process: flags are process-wide, and this test process must keep V8's default.
  const script = `
    const tuning = await import(${JSON.stringify(new URL('../src/engine/v8-tuning.js', import.meta.url).href)});
    const { ThreadRuntime } = await import(${JSON.stringify(new URL('../src/engine/threads.js', import.meta.url).href)});
    const out = [];
    const pool1 = new ThreadRuntime(1);
    out.push(tuning.v8TuningApplied()); // not allowed: a library caller's process keeps its flags
    await pool1.close();
    out.push(tuning.allowV8Tuning([], undefined), tuning.v8TuningApplied()); // allowed, no pool yet: not raised
    const pool2 = new ThreadRuntime(1);
    out.push(tuning.v8TuningApplied(), tuning.applyV8Tuning()); // raised as the pool started, once
    await pool2.close();
    console.log(JSON.stringify(out));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim()), [false, true, false, true, false]);
});
