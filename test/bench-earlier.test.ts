import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isFailure, measureRounds, type Measurement } from '../bench/measure.js';
import { figure, type FailedFigure, type OperationFigure } from '../bench/results.js';
import { earlierTargets, EARLIER_GOALS } from '../bench/targets.js';
import { checkToolOutput, parseTimeFile, TIME_BIN, toolArgv, toolRunOp } from '../bench/tool-run.js';
import { testDir } from './helpers/tree.js';

const ok = { status: 0 };

test('a tool run that did not do the job is an error with the reason, never counts', () => {
  // Our CLI exits 1 when it found problems (the sample library has corrupt sidecars): a done job.
  assert.deepEqual(checkToolOutput('ours', 'validate', { status: 1 }, JSON.stringify({ total_files: 10, valid_files: 8, invalid_files: 2, results: new Array(10).fill({}), scan_complete: true })), {
    sidecars: 10,
    valid: 8,
    invalid: 2,
    results: 10,
  });
  assert.throws(() => checkToolOutput('ours', 'validate', { status: 2 }, '{"total_files":10}'), /exited with 2/);
  assert.throws(() => checkToolOutput('ours', 'stats', { status: null, signal: 'SIGKILL' }, null), /exited with SIGKILL/);
  // The earlier tool: only 0 is success.
  assert.throws(() => checkToolOutput('earlier', 'validate', { status: 1 }, '{"total_files":10}'), /earlier tool's validate exited with 1/);
  assert.throws(() => checkToolOutput('earlier', 'validate', ok, '{"total_files":0,"results":[]}'), /validated 0 files/);
  assert.throws(() => checkToolOutput('earlier', 'stats', ok, '{"total_sidecars":0}'), /counted 0 sidecars/);
  assert.throws(() => checkToolOutput('earlier', 'validate', ok, null), /wrote no output/);
  assert.throws(() => checkToolOutput('earlier', 'validate', ok, 'Validation results written to: x'), /not JSON/);
  assert.throws(() => checkToolOutput('earlier', 'validate', ok, '{"valid_files":3}'), /no total_files/);
  assert.throws(() => checkToolOutput('ours', 'stats', ok, '{"total_sidecars":5,"scan_complete":false,"scan_problems":1}'), /not complete/);
  assert.deepEqual(checkToolOutput('earlier', 'stats', ok, JSON.stringify({ total_sidecars: 3, total_images: 4, sidecars: [{}, {}, {}] })), { sidecars: 3, images: 4, listed: 3 });
  assert.deepEqual(checkToolOutput('ours', 'stats', ok, JSON.stringify({ total_sidecars: 3, total_images: 7, sidecar_files: 4 })), { sidecars: 3, images: 7, sidecarFiles: 4 });  // The bound's own process (irreducible.ts --whole): the files it read, or an error.
  assert.deepEqual(checkToolOutput('floor', 'validate', ok, JSON.stringify({ files: 9, links: 2, notDecodable: 0, cpuMs: 5 })), { sidecars: 9, links: 2 });
  assert.throws(() => checkToolOutput('floor', 'validate', ok, JSON.stringify({ files: 0, links: 0 })), /irreducible work read no sidecar/);
  assert.throws(() => checkToolOutput('floor', 'validate', { status: 1 }, '{"files":3}'), /^.*the irreducible work exited with 1/);
});

test('the command lines: ours with --no-index or the index, the engine only when asked; the earlier tool with -o', () => {
  const saved = process.env.IMAGE_SIDECAR_ENGINE;
  process.env.IMAGE_SIDECAR_ENGINE = 'threads';
  try {
    const none = toolArgv({ op: 'tool-run', tool: 'ours', command: 'validate', exe: '/x/cli.js', root: '/lib' });
    assert.equal(none.file, process.execPath);
    assert.deepEqual(none.args, ['/x/cli.js', 'validate', '/lib', '--json', '--no-index']);
    assert.equal(none.env.IMAGE_SIDECAR_ENGINE, undefined, 'the default engine');
    const inline = toolArgv({ op: 'tool-run', tool: 'ours', command: 'stats', exe: '/x/cli.js', root: '/lib', index: '/w/index', engine: 'inline' });
    assert.deepEqual(inline.args, ['/x/cli.js', 'stats', '/lib', '--json', '--index', '/w/index']);
    assert.equal(inline.env.IMAGE_SIDECAR_ENGINE, 'inline');
    const theirs = toolArgv({ op: 'tool-run', tool: 'earlier', command: 'stats', exe: '/e/rust', root: '/lib', out: '/w/o.json' });
    assert.deepEqual([theirs.file, ...theirs.args], ['/e/rust', 'stats', '--input', '/lib', '-o', '/w/o.json']);
    assert.throws(() => toolArgv({ op: 'tool-run', tool: 'earlier', command: 'stats', exe: '/e/rust', root: '/lib' }), /output file/);
    const floor = toolArgv({ op: 'tool-run', tool: 'floor', command: 'validate', exe: '/b/irreducible-whole.js', root: '/lib' });
    assert.deepEqual([floor.file, ...floor.args], [process.execPath, '/b/irreducible-whole.js', '/lib']);
    const floorInline = toolArgv({ op: 'tool-run', tool: 'floor', command: 'validate', exe: '/b/irreducible-whole.js', root: '/lib', engine: 'inline' });
    assert.deepEqual(floorInline.args, ['/b/irreducible-whole.js', '/lib', '--inline']);
  } finally {
    if (saved === undefined) delete process.env.IMAGE_SIDECAR_ENGINE;
    else process.env.IMAGE_SIDECAR_ENGINE = saved;
  }
});

test("/usr/bin/time's figures: its last line, CPU as user + system", () => {
  assert.deepEqual(parseTimeFile('1.50 0.75 0.25 12345\n'), { cpuMs: 1000, maxRssKB: 12345 });
  assert.deepEqual(parseTimeFile('Command exited with non-zero status 1\n0.10 0.02 0.01 900\n'), { cpuMs: 30, maxRssKB: 900 });
  assert.throws(() => parseTimeFile(''), /unreadable/);
});

const fig = (id: string, runsMs: number[], rounds: number, runsCpuMs?: number[]): OperationFigure => {
  const ms = [...runsMs].sort((a, b) => a - b)[runsMs.length >> 1];
  const meas: Measurement = { ms, runsMs, maxRssKB: null, detail: {}, rounds, ...(runsCpuMs ? { runsCpuMs } : {}) };
  return figure({ id, label: id, outcome: meas, files: 1, bytes: 1 }) as OperationFigure;
};

const byName = (ts: ReturnType<typeof earlierTargets>, part: string) => {
  const t = ts.find((x) => x.name.includes(part));
  assert.ok(t, part);
  return t;
};

test('the earlier targets are ratios paired by round; a failed row gives its reason, an absent section says so', () => {
  const figs: (OperationFigure | FailedFigure)[] = [
    // one slow round of the earlier tool (round 2): paired ratios 0.5, 0.5, 0.25 → 0.5
    fig('earlier.orig.validate.json', [1000, 1000, 2000], 3, [1500, 1500, 3000]),
    fig('earlier.ours.validate.json', [500, 500, 500], 3, [1500, 1500, 1500]),
    fig('earlier.orig.stats.json', [4000, 4000, 4000], 3),
    fig('earlier.ours.stats.json', [1000, 1000, 1000], 3),
    fig('earlier.ours.validate.bin', [300, 300, 300], 3),
    { id: 'earlier.ours.stats.bin', label: 'x', error: "our CLI's stats exited with 2" },
    fig('earlier.ours.validate.served', [400, 400, 400], 3),
    fig('earlier.ours.validate.inline', [1000, 1000, 1000], 3),
    fig('earlier.floor.json', [250, 250, 250], 3),
    // the tree section's pair: not used while the earlier section measured its own
    fig('validate.json.threads', [100, 100, 100], 4),
    fig('validate.json.inline', [100, 100, 100], 4),
  ];
  const ts = earlierTargets(figs);
  assert.equal(ts.length, 6);
  const v = byName(ts, 'validate --no-index, JSON library, × the earlier');
  assert.equal(v.measured, 0.5);
  assert.equal(v.pass, true);
  assert.equal(v.goal, `<= ${EARLIER_GOALS.validateJson}×`);
  assert.match(v.note ?? '', /^CPU 1\.000×/);
  // The bound in the note, paired by round as the row is (0.25, 0.25, 0.125 → 0.25); a bound not measured: none.
  assert.match(v.note ?? '', /the bound on this machine \(the irreducible work as a whole process, same rounds\): 0\.250×/);
  assert.equal(byName(ts, 'validate --no-index, bin copy').measured, 0.3);
  assert.doesNotMatch(byName(ts, 'validate --no-index, bin copy').note ?? '', /bound/, 'a bound the run did not measure is not named');
  // A bound row that failed says why in the rows it bounds.
  const failedBound = earlierTargets([...figs, { id: 'earlier.floor.bin', label: 'x', error: 'the irreducible work exited with 1' }]);
  assert.match(byName(failedBound, 'validate --no-index, bin copy').note ?? '', /bound on this machine not measured \(earlier\.floor\.bin failed: the irreducible work exited with 1\)/);
  const failed = byName(ts, 'stats --no-index, bin copy');
  assert.equal(failed.measured, null);
  assert.equal(failed.pass, null);
  assert.match(failed.note ?? '', /earlier\.ours\.stats\.bin failed: our CLI's stats exited with 2/);
  assert.equal(byName(ts, "× the earlier tool's stats").measured, 0.25);
  assert.equal(byName(ts, "× the earlier tool's stats").pass, true);
  assert.equal(byName(ts, 'served index').measured, 0.4);
  assert.equal(byName(ts, 'served index').pass, true, 'at the goal');
  const ti = byName(ts, 'threads ÷ inline');
  assert.equal(ti.measured, 0.5);
  assert.match(ti.note ?? '', /section earlier/);
  assert.doesNotMatch(ti.note ?? '', /bound/, 'no one-thread bound measured: none named');
  // The bound of threads ÷ inline, per round: the irreducible work as two threads did it, plus the
  // rest of the inline run (inline − the work on one thread) halved: (250 + 600/2) / 1000,
  // (250 + 750/2) / 1000, (250 + 500/2) / 1000 → median 0.55.
  const withInlineBound = earlierTargets([...figs, fig('earlier.floor.json.inline', [400, 250, 500], 3)]);
  assert.match(byName(withInlineBound, 'threads ÷ inline').note ?? '', /the bound on this machine \(an estimate, median of the rounds\): 0\.550× \(the irreducible work on two threads, 250 ms against 400 on one/);
  const failedOne = earlierTargets([...figs, { id: 'earlier.floor.json.inline', label: 'x', error: 'the irreducible work exited with 1' }]);
  assert.match(byName(failedOne, 'threads ÷ inline').note ?? '', /bound on this machine not measured \(earlier\.floor\.json\.inline failed/);

  // Without the section's inline row, the tree section's pair; without the section, no numbers and why.
  const tree = earlierTargets(figs.filter((x) => x.id !== 'earlier.ours.validate.inline'));
  assert.equal(byName(tree, 'threads ÷ inline').measured, 1);
  assert.match(byName(tree, 'threads ÷ inline').note ?? '', /section tree/);
  // The tree pair times library calls in other rounds: no whole-process bound is set against it.
  const treeWithOne = earlierTargets([...figs.filter((x) => x.id !== 'earlier.ours.validate.inline'), fig('earlier.floor.json.inline', [400, 250, 500], 3)]);
  assert.doesNotMatch(byName(treeWithOne, 'threads ÷ inline').note ?? '', /bound/);
  const none = earlierTargets([]);
  assert.ok(none.every((t) => t.measured === null && t.pass === null));
  assert.match(byName(none, 'served index').note ?? '', /IMAGE_SIDECAR_BENCH_ORIG/);
});

test('an earlier tool that exits 0 having validated nothing is a failed row, not a figure', { skip: !fs.existsSync(TIME_BIN) && `${TIME_BIN} not found` }, (t) => {
  const dir = testDir(t, 'isc-bench-earlier-');
  const fake = path.join(dir, 'fake-tool.sh');
  // Writes `-o FILE` with nothing validated, as a tool pointed at the wrong folder would.
  fs.writeFileSync(fake, '#!/bin/sh\nwhile [ "$1" != "-o" ]; do shift; done\nprintf \'{"total_files":0,"valid_files":0,"invalid_files":0,"results":[]}\' > "$2"\n', { mode: 0o755 });
  const good = path.join(dir, 'good-tool.sh');
  fs.writeFileSync(good, '#!/bin/sh\nwhile [ "$1" != "-o" ]; do shift; done\nprintf \'{"total_files":2,"valid_files":2,"invalid_files":0,"results":[{},{}]}\' > "$2"\n', { mode: 0o755 });
  const spec = (exe: string, out: string) => ({ op: 'tool-run' as const, tool: 'earlier' as const, command: 'validate' as const, exe, root: dir, out: path.join(dir, out) });
  const [bad, fine] = measureRounds([{ label: 'fake', spec: spec(fake, 'a.json') }, { label: 'good', spec: spec(good, 'b.json') }], 3);
  assert.ok(isFailure(bad));
  assert.match(bad.error, /validated 0 files/);
  assert.ok(!isFailure(fine));
  assert.equal(fine.detail.sidecars, 2);
  assert.equal(typeof fine.detail.cpuMs, 'number');
  assert.equal(fine.runsCpuMs?.length, 3);
});

test('the bound as a whole process: every folder listed once, every sidecar read, every symlink resolved, its counts on stdout', { skip: !fs.existsSync(TIME_BIN) && `${TIME_BIN} not found` }, (t) => {
  const root = testDir(t);
  // Folders on both threads' shares (alternate folders go to the worker).
  for (const d of ['a', 'b', 'c', 'c/d']) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.writeFileSync(path.join(root, 'a', 'IMG_1.json'), '{}');
  fs.writeFileSync(path.join(root, 'a', 'IMG_1.jpg'), '');
  fs.writeFileSync(path.join(root, 'b', 'IMG_2.bin'), 'x');
  fs.writeFileSync(path.join(root, 'c', 'IMG_3.rkyv'), 'x');
  fs.writeFileSync(path.join(root, 'c', 'd', 'IMG_4.json'), '{}');
  fs.writeFileSync(path.join(root, 'c', 'd', 'notes.txt'), 'not a sidecar');
  fs.symlinkSync('../a/IMG_1.jpg', path.join(root, 'b', 'IMG_1.jpg'));
  fs.symlinkSync('../../a/IMG_1.jpg', path.join(root, 'c', 'd', 'IMG_1.jpg'));
  const exe = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bench', 'irreducible-whole.js');
  const r = toolRunOp({ op: 'tool-run', tool: 'floor', command: 'validate', exe, root });
  assert.equal(r.detail.sidecars, 4);
  assert.equal(r.detail.links, 2);
  assert.ok(r.ms > 0);
  // On one thread: the same counts.
  const one = toolRunOp({ op: 'tool-run', tool: 'floor', command: 'validate', exe, root, engine: 'inline' });
  assert.equal(one.detail.sidecars, 4);
  assert.equal(one.detail.links, 2);
  // A missing root: a failed row with the reason, never a figure.
  assert.throws(() => toolRunOp({ op: 'tool-run', tool: 'floor', command: 'validate', exe, root: path.join(root, 'none') }), /the irreducible work exited with 1/);
});
