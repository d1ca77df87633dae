import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hostFlags } from '../src/engine/host.js';
import { INTERRUPT_BUDGET, WORKER_INITIAL_OLD_SPACE_MB, WORKER_YOUNG_GENERATION_MB } from '../src/tuning.js';
import { CLI_PATH } from './helpers/cli.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir } from './helpers/tree.js';

const BUDGET_FLAG = `--interrupt-budget=${INTERRUPT_BUDGET}`;
const HEAP_FLAG = `--initial-old-space-size=${WORKER_INITIAL_OLD_SPACE_MB}`;

test('each V8 flag is left alone when the user gave a value of their own (command line or NODE_OPTIONS, - or _)', () => {
  assert.deepEqual(hostFlags([], undefined), [BUDGET_FLAG, HEAP_FLAG]);
  assert.deepEqual(hostFlags(['--interrupt-budget=1000'], undefined), [HEAP_FLAG]);
  assert.deepEqual(hostFlags([], '--interrupt-budget=1000'), [HEAP_FLAG]);
  assert.deepEqual(hostFlags([], '--max-old-space-size=100 --interrupt-budget=1000'), []);
  assert.deepEqual(hostFlags(['--max_heap_size=512'], undefined), [BUDGET_FLAG]);
  assert.deepEqual(hostFlags(['--initial_old_space_size=16'], undefined), [BUDGET_FLAG]);
  assert.deepEqual(hostFlags([], '--initial-heap-size=64'), [BUDGET_FLAG]);
  assert.deepEqual(hostFlags(['--interrupt_budget=1'], '--initial-old-space-size=8'), []);
  assert.ok(INTERRUPT_BUDGET > 67_584, 'above V8 default');
});

test('the CLI runs with the tuned budget, and the stats of a tree are the same bytes as under the default budget', (t) => {
  const root = makeTree({ 'p/a.jpg': FAKE_JPEG, 'p/a.json': { json: sidecarData('a.jpg', 3) }, 'p/b.jpg': FAKE_JPEG, 'g/a.jpg': { symlink: '../p/a.jpg' } }, testDir(t, 'isc-v8-'));
  const cli = CLI_PATH;
  const run = (execArgv: string[]) => spawnSync(process.execPath, [...execArgv, cli, 'stats', root, '--json', '--no-index'], { encoding: 'utf8' });
  const tuned = run([]);
  const plain = run(['--interrupt-budget=67584']);
  assert.equal(tuned.status, 0, tuned.stderr);
  assert.match(tuned.stdout, /"total_images": 3/);
  assert.equal(tuned.stdout, plain.stdout);
});

test('tuneHost sets the flags at once, once asked: a worker pool started without it leaves V8 as it was', () => {
  // In a child process: flags are process-wide, and this test process must keep V8's default.
  const script = `
    const v8 = await import('node:v8');
    const { syncBuiltinESMExports } = await import('node:module');
    const set = [];
    const own = v8.default.setFlagsFromString;
    v8.default.setFlagsFromString = (f) => { set.push(f); own(f); };
    syncBuiltinESMExports();
    const tuning = await import(${JSON.stringify(new URL('../src/engine/host.js', import.meta.url).href)});
    const { ThreadRuntime } = await import(${JSON.stringify(new URL('../src/engine/threads.js', import.meta.url).href)});
    const pool = new ThreadRuntime(1);
    await pool.close();
    const untouched = set.slice();
    console.log(JSON.stringify([untouched, tuning.tuneHost([], undefined), set]));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim()), [[], [BUDGET_FLAG, HEAP_FLAG], [BUDGET_FLAG, HEAP_FLAG]]);
});

test("a worker thread started after the flags were set does not collect its old space in full below WORKER_INITIAL_OLD_SPACE_MB; under V8's own limit it does", () => {
  // Each in a child process (flags are process-wide). The worker keeps ~32 MB of small objects,
  // made a little at a time as a reading thread's survivors are: V8's own first limit is below
  // that (its first full collection came at ~25 MB), ours above it.
  const script = (tuned: boolean) => `
    const { Worker } = await import('node:worker_threads');
    const tuning = await import(${JSON.stringify(new URL('../src/engine/host.js', import.meta.url).href)});
    if (${tuned}) tuning.tuneHost([], undefined);
    const body = \`
      const { parentPort } = require('node:worker_threads');
      const { PerformanceObserver, constants } = require('node:perf_hooks');
      let full = 0;
      new PerformanceObserver((list) => { for (const e of list.getEntries()) if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) full++; }).observe({ entryTypes: ['gc'] });
      const keep = [];
      const step = () => {
        for (let k = 0; k < 2000; k++) keep.push({ a: keep.length, b: 'x' + keep.length, c: [keep.length] });
        if (keep.length < 200000) setTimeout(step, 1);
        else setTimeout(() => parentPort.postMessage({ full, kept: keep.length }), 50);
      };
      step();
    \`;
    const w = new Worker(body, { eval: true, execArgv: [], resourceLimits: { maxYoungGenerationSizeMb: ${WORKER_YOUNG_GENERATION_MB} } }); // as the pool's threads (engine/threads.ts)
    w.on('message', (m) => { console.log(JSON.stringify(m)); w.terminate(); });
  `;
  const run = (tuned: boolean) => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script(tuned)], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim()) as { full: number; kept: number };
  };
  const tuned = run(true);
  assert.equal(tuned.kept, 200000);
  assert.equal(tuned.full, 0, 'no full collection under the raised limit');
  const plain = run(false);
  assert.ok(plain.full > 0, `V8's own limit collects below it (the control: ${JSON.stringify(plain)})`);
});
