import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { INTERRUPT_BUDGET, tuneV8ForShortRuns } from '../src/engine/v8-tuning.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir } from './helpers/tree.js';

test('the V8 budget is left alone when the user gave one (command line or NODE_OPTIONS)', () => {
  assert.equal(tuneV8ForShortRuns(['--interrupt-budget=1000'], undefined), false);
  assert.equal(tuneV8ForShortRuns([], '--max-old-space-size=100 --interrupt-budget=1000'), false);
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
