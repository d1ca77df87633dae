import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OPT_IN_SECTIONS, SECTIONS } from '../bench/args.js';
import { measureRounds, measurePair, runChild, timeRatio, type Measurement } from '../bench/measure.js';
import { figure } from '../bench/results.js';
import { testDir } from './helpers/tree.js';

const m = (runsMs: number[], rounds?: number, runsCpuMs?: number[]) => ({ ms: [...runsMs].sort((a, b) => a - b)[runsMs.length >> 1], runsMs, rounds, runsCpuMs });

test('figures of one set of rounds are compared round by round; others by their medians', () => {
  // One slow run of `a` (round 1): the rounds' own ratios are 1.1, 1.0, 1.0; the medians' ratio is 1.1.
  const a = m([1100, 2000, 1000], 7, [2200, 4000, 2000]);
  const b = m([1000, 2000, 1000], 7, [2000, 4000, 2000]);
  assert.equal(timeRatio(a, b), 1);
  assert.equal(timeRatio(a, b, true), 1);
  // Another set of rounds, no set, or runs that do not line up: the medians' ratio.
  assert.equal(timeRatio(m([1100, 2000, 1000], 8), b), 1.1);
  assert.equal(timeRatio(m([1100, 2000, 1000]), m([1000, 2000, 1000])), 1.1);
  assert.equal(timeRatio(m([1100, 2000], 7), b), 2000 / 1000);
  assert.equal(timeRatio(m([3, 3, 3], 9, [30, 60, 90]), m([1, 1, 1], 10, [10, 10, 20]), true), 60 / 10);
  assert.equal(timeRatio(m([3, 3, 3], 7), m([1, 1, 1], 7, [10, 10, 20]), true), null, 'no CPU figures for one side');
  assert.equal(timeRatio(null, b), null);
  assert.equal(timeRatio(a, m([0, 0, 0])), null);
});

test('the rounds a measurement was made in reach its figure', () => {
  const meas: Measurement = { ms: 10, runsMs: [9, 10, 11], maxRssKB: null, detail: {}, runsCpuMs: [1, 2, 3], rounds: 4 };
  const f = figure({ id: 'x', label: 'x', outcome: meas, files: 1, bytes: 1 });
  assert.ok(!('error' in f));
  assert.equal(f.rounds, 4);
  assert.deepEqual(f.runsCpuMs, [1, 2, 3]);
  const alone = figure({ id: 'y', label: 'y', outcome: { ms: 10, runsMs: [10], maxRssKB: null, detail: {} }, files: 1, bytes: 1 });
  assert.ok(!('error' in alone) && alone.rounds === undefined);
});

test('runs measured at once count as one run split that many ways (the split estimate): the longer clock halved, how far apart they started', (t) => {
  const root = testDir(t, 'isc-bench-at-once-');
  const walk = { op: 'floor-walk' as const, root };
  const s = runChild({ op: 'at-once', specs: [walk, walk] });
  const runs = s.detail.childMs as number[];
  assert.equal(runs.length, 2, 'both runs reported');
  assert.ok(runs.every((ms) => ms > 0));
  assert.equal(s.ms, Math.max(...runs) / 2, 'the longest of the two, halved');
  assert.equal(typeof s.detail.startSkewMs, 'number');
  assert.equal(s.maxRssKB, null, "the runner's own RSS says nothing of its children");
  // A run that fails makes the whole measurement fail, with its message.
  assert.throws(() => runChild({ op: 'at-once', specs: [walk, { op: 'floor-walk', root: `${root}/missing` }] }), /floor-walk \(run at once with others\) exited with 2/);
});

test('every step of one measureRounds call shares its set of rounds, and the next call has another', (t) => {
  const root = testDir(t, 'isc-bench-rounds-');
  const walk = { op: 'floor-walk' as const, root };
  const [x, y] = measureRounds([{ label: 'walk x', spec: walk }, { label: 'walk y', spec: walk }], 2);
  const [p, q] = measurePair(['walk p', 'walk q'], [walk, walk], 2);
  for (const o of [x, y, p, q]) assert.ok(!('error' in o), 'measured');
  const [mx, my, mp, mq] = [x, y, p, q] as Measurement[];
  assert.equal(mx.runsMs.length, 2);
  assert.equal(mx.rounds, my.rounds);
  assert.equal(mp.rounds, mq.rounds);
  assert.notEqual(mx.rounds, mp.rounds);
  assert.ok(mx.rounds !== undefined && mp.rounds !== undefined);
});

test('docs/BENCHMARKS.md names every bench section, and which ones run only with --only', () => {
  const docs = readFileSync(fileURLToPath(new URL('../../docs/BENCHMARKS.md', import.meta.url)), 'utf8');
  const row = docs.split('\n').find((l) => l.startsWith('| `--only LIST`'));
  assert.ok(row, 'the options table has its --only row');
  const listed = /sections \(comma-separated\): `([^`]+)`/.exec(row)![1].split(',').map((s) => s.trim());
  assert.deepEqual(listed.sort(), [...SECTIONS].sort());
  for (const s of OPT_IN_SECTIONS) assert.match(row, new RegExp(`\`${s}\``), `${s} is said to run only with --only`);
});
