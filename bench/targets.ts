/**
 * Targets printed next to the figures (PASS / MISS, never asserted), and where we stand against
 * the earlier Rust tool's ratios on a 20,000-image library.
 */
import type { OperationFigure, ReferenceResult, TargetResult, FailedFigure } from './results.js';
import { isFailed } from './results.js';
import { median, timeRatio } from './measure.js';

/** The earlier tool's time over floor (b) on 20,000 images (from the issue). */
export const RUST_REFERENCE: ReadonlyArray<{ id: string; operation: string; xFloorB: number }> = [
  { id: 'validate.json.threads', operation: 'validate', xFloorB: 0.4 },
  { id: 'stats.json.threads', operation: 'stats', xFloorB: 3.8 },
  { id: 'convert.json-bin', operation: 'convert to bin', xFloorB: 7 },
];

export interface TargetInputs {
  figures: ReadonlyArray<OperationFigure | FailedFigure>;
  versionMedianMs: number | null;
  /** The standalone executable: its size, and [its, node dist/cli.js's] medians of --version and a small stats (ms). */
  executable?: { bytes: number; version: [number, number]; stats: [number, number] } | null;
  codec: {
    indentJsonBytes: number;
    binBytes: number;
    jsonParseUs: number;
    binDecodeUs: number;
    jsonStringifyUs: number;
    binEncodeUs: number;
    crypto?: { encryptedOverPlain: number; floorOverPlain?: number };
  } | null;
  /** Server read latency, median of sequential calls (ms). */
  serverP50Ms: number | null;
  /** The incremental index's size per sidecar with validate + stats + format-stats results (bytes). */
  indexBytesPerSidecar?: number | null;
}

const at = (figs: TargetInputs['figures'], id: string): OperationFigure | null => {
  const f = figs.find((x) => x.id === id);
  return f && !isFailed(f) ? f : null;
};

/** `value <= goal` (or `>=`) → PASS / MISS; unknown when the value could not be measured. */
function target(name: string, measured: number | null, unit: string, cmp: '<=' | '<' | '>=', goal: number, note?: string): TargetResult {
  const pass =
    measured === null || !Number.isFinite(measured) ? null : cmp === '<=' ? measured <= goal : cmp === '<' ? measured < goal : measured >= goal;
  const r: TargetResult = { name, measured, unit, goal: `${cmp} ${goal}${unit}`, pass };
  if (note) r.note = note;
  return r;
}

const ratio = (a: number | null | undefined, b: number | null | undefined): number | null =>
  a == null || b == null || b === 0 ? null : a / b;

const cpuOf = (f: OperationFigure | null): number | null => (f && typeof f.detail?.cpuMs === 'number' ? f.detail.cpuMs : null);

const sum = (xs: (number | null | undefined)[]): number | null => (xs.every((x) => typeof x === 'number') ? (xs as number[]).reduce((a, b) => a + b, 0) : null);

export function evaluateTargets(t: TargetInputs): TargetResult[] {
  const f = (id: string) => at(t.figures, id);
  const vJson = f('validate.json.threads');
  const sJson = f('stats.json.threads');
  const hash = f('hash.json');
  const sha = f('sha256sum.json');
  const c = t.codec;
  // A run with the index against `--no-index` measured in the same rounds (figure `none`): wall ratio, CPU in the note.
  const noIndexRow = (op: string, none: OperationFigure | null) => (what: string, id: string, goal: number, also = '') =>
    target(
      `${op}, ${what} × --no-index (wall; CPU all threads in the note)`,
      timeRatio(f(id), none),
      '×',
      '<=',
      goal,
      `CPU ${timeRatio(f(id), none, true)?.toFixed(3) ?? '?'}×; the medians' ratio ${ratio(f(id)?.ms, none?.ms)?.toFixed(3) ?? '?'}×${also}`,
    );
  const indexTargets = (['validate', 'stats'] as const).flatMap((op) => {
    const none = f(`index.${op}.none`);
    const row = noIndexRow(op, none);
    return [
      row('warm index, unchanged tree,', `index.${op}.warm`, 0.1),
      target(
        `${op}, warm index, unchanged tree × the warm-run floor (stat of every sidecar and folder)`,
        timeRatio(f(`index.${op}.warm`), f('floor-stat.json')),
        '×',
        '>=',
        0,
        `no target: how far the warm run is from what it cannot skip; the floor is ${timeRatio(f('floor-stat.json'), none)?.toFixed(3) ?? '?'}× --no-index`,
      ),
      row('warm index, 1 % changed,', `index.${op}.changed`, 0.15),
      target(
        `${op}, warm index, unchanged tree, folder records off × --no-index`,
        timeRatio(f(`index.${op}.warm-files`), none),
        '×',
        '>=',
        0,
        `no target: per-file results only, beside the default's row; CPU ${timeRatio(f(`index.${op}.warm-files`), none, true)?.toFixed(3) ?? '?'}×`,
      ),
      row('first run (builds the index),', `index.${op}.first`, 1.1),
      // The index rows' denominator runs the CLI's default engine (auto): it should cost what threads
      // do on a tree this size.
      target(
        `${op}, --no-index, auto engine (the CLI's default) × threads`,
        timeRatio(none, f(`${op}.json.threads`)),
        '×',
        '>=',
        0,
        `no target: a figure (the index and tree sections, measured apart); CPU ${timeRatio(f(`index.${op}.none`), f(`${op}.json.threads`), true)?.toFixed(3) ?? '?'}×`,
      ),
    ];
  });
  // A run's CPU (all its threads) spread over two cores, × `none`'s wall, round by round: what the
  // run would take with its work split perfectly and nothing shared between the halves.
  const cpuOverCores = (a: ReturnType<typeof f>, b: ReturnType<typeof f>): string => {
    const xs = a?.runsCpuMs;
    const ys = b?.runsMs;
    if (!a || !b || !xs || !ys || xs.length !== ys.length || xs.length === 0 || a.rounds === undefined || a.rounds !== b.rounds) return '?';
    return `${median(xs.map((x, i) => x / 2 / ys[i])).toFixed(3)}×`;
  };
  // Issue 58: every run of a health check on an unchanged tree.
  const runTargets = (['validate', 'stats', 'format-stats'] as const).flatMap((op) => {
    const none = f(`runs.${op}.none`);
    const row = noIndexRow(op, none);
    // A run that serves no folder from folder records makes every folder again on the main thread:
    // that alone, with nothing to store, measured in the same rounds, is its bound in this design.
    const bound = `; the bound of a run that serves no folder (every folder made again from per-file results on the main thread, nothing stored; same rounds): wall ${timeRatio(f(`runs.${op}.per-file`), none)?.toFixed(3) ?? '?'}×, CPU ${timeRatio(f(`runs.${op}.per-file`), none, true)?.toFixed(3) ?? '?'}×`;
    // What the machine allows a design that splits such a run over both cores (bench/at-once.ts),
    // and the run's own CPU spread over both (no contention at all): a looser floor.
    const split = (id: string) =>
      `; split over two cores (two at once, the longer clock halved; same rounds): ${timeRatio(f(`runs.${op}.${id}-split`), none)?.toFixed(3) ?? '?'}×; its CPU over two cores: ${cpuOverCores(f(`runs.${op}.${id}`), none)}`;
    return [
      row('first run (empty index),', `runs.${op}.first`, 1.1),
      row('first run on an index another command filled,', `runs.${op}.other-first`, 1.1),
      row('second run, unchanged tree,', `runs.${op}.second`, 0.6, bound + split('second')),
      row('later run (the third), unchanged tree,', `runs.${op}.later`, 0.6, bound + split('later')),
      row('served run, unchanged tree,', `runs.${op}.served`, 0.6),
    ];
  });
  // Section file-server (opt-in): the same repeat runs where every call is a round trip (a NAS).
  const fileServerNone = f('file-server.validate.none');
  const fileServerRow = noIndexRow('validate on a file server (each call 200 µs)', fileServerNone);
  const fileServerTargets = fileServerNone
    ? [
        fileServerRow(
          'second run, unchanged tree,',
          'file-server.validate.second',
          0.6,
          `; the mount's bound, same rounds: a second run's calls alone (every folder listed, link resolved, sidecar stat'ed, many at once) ${timeRatio(f('file-server.calls.second'), fileServerNone)?.toFixed(3) ?? '?'}× of --no-index; --no-index's own calls alone ${timeRatio(f('file-server.calls.none'), fileServerNone)?.toFixed(3) ?? '?'}×`,
        ),
        fileServerRow('third run, unchanged tree,', 'file-server.validate.third', 0.6),
        fileServerRow('served run, unchanged tree,', 'file-server.validate.served', 0.6),
      ]
    : [];
  return [
    ...indexTargets,
    ...runTargets,
    ...fileServerTargets,
    target('index size per sidecar (validate + stats + format-stats results and folder records)', t.indexBytesPerSidecar ?? null, ' B', '>=', 0, 'no target: a figure'),
    target('validate, JSON library, × floor (b)', vJson?.xFloorB ?? null, '×', '<=', 0.6),
    target('stats, JSON library, × floor (b)', sJson?.xFloorB ?? null, '×', '<=', 0.6),
    ...accelTargets(f),
    ...earlierTargets(t.figures),
    ...(['validate', 'stats'] as const).map((op) =>
      target(
        `${op}, bin copy, × floor (d) (read + decodeSidecar, one thread)`,
        // floor (d) measured in rounds with this operation's runs (suite.ts withFloor)
        timeRatio(f(`${op}.bin.threads`), f(`floor-d.bin.${op}`)),
        '×',
        '<=',
        1.0,
        // The floor is one thread; the operation's CPU is all of its threads (main, workers, V8's).
        `CPU ${timeRatio(f(`${op}.bin.threads`), f(`floor-d.bin.${op}`), true)?.toFixed(2) ?? '?'}× (all threads ÷ the floor's)`,
      ),
    ),
    // What the machine allows (irreducible.ts): the work no run can skip, on two threads, no pipeline.
    target(
      'irreducible work on two threads (list, resolve links, read), JSON library, × floor (b)',
      timeRatio(f('floor-irreducible.json'), f('floor-b.json.validate')),
      '×',
      '>=',
      0,
      'no target: a lower bound of validate and stats on JSON before any parsing (issue 13 asks ≤ 0.3× with the parsing)',
    ),
    target(
      'irreducible work on two threads (list, resolve links, read, decodeSidecar), bin copy, × floor (d)',
      timeRatio(f('floor-irreducible.bin'), f('floor-d.bin.validate')),
      '×',
      '>=',
      0,
      'no target: a lower bound of validate and stats on the bin copy that decode every file (issue 12 asks ≤ 1×)',
    ),
    target('validate, bin copy, × the JSON run', timeRatio(f('validate.bin.threads'), vJson), '×', '<=', 0.2),
    target('stats, bin copy, × the JSON run', timeRatio(f('stats.bin.threads'), sJson), '×', '<=', 0.2),
    target(
      'stats N = 8 shards: sum of shard wall times × unsharded',
      timeRatio(f('stats.shards.sum8'), f('stats.shards.unsharded')),
      '×',
      '<=',
      1.15,
      shardListingNote(f('stats.shards.unsharded')?.ms, f('floor-walk.json')?.ms, 8),
    ),
    target(
      'stats N = 8 shards: sum of shard CPU times × unsharded CPU',
      ratio(cpuOf(f('stats.shards.sum8')), cpuOf(f('stats.shards.unsharded'))),
      '×',
      '<=',
      1.15,
      'CPU = user + system of each process (worker threads included)',
    ),
    target('todo, JSON library, × validate (threads)', timeRatio(f('todo.json.threads'), vJson), '×', '<=', 0.5, todoFloorNote(f('floor-check.json')?.ms, f('inspect.json.probe')?.ms, f('inspect.json.validate')?.ms)),
    target(
      'todo, JSON library, CPU × validate CPU (threads)',
      ratio(cpuOf(f('todo.json.threads')), cpuOf(vJson)),
      '×',
      '<=',
      0.5,
      todoFloorNote(cpuOf(f('floor-check.json')) ?? undefined, cpuOf(f('inspect.json.probe')) ?? undefined, cpuOf(f('inspect.json.validate')) ?? undefined, 'CPU'),
    ),
    f('convert.orig-sync')
      ? target('convert json→bin (durable) × earlier tool + sync', timeRatio(f('convert.json-bin'), f('convert.orig-sync')), '×', '<=', 1.0)
      : target('convert json→bin (durable), × floor (c)', f('convert.json-bin')?.xFloorC ?? null, '×', '<=', 2.5, 'no earlier-tool convert row (IMAGE_SIDECAR_BENCH_ORIG not set, or no convert section in this run)'),
    target('`image-sidecar --version`, median', t.versionMedianMs, ' ms', '<', 150),
    target('standalone executable `--version` × `node dist/cli.js --version`', t.executable ? t.executable.version[0] / t.executable.version[1] : null, '×', '<=', 1.2, t.executable ? `${(t.executable.bytes / 2 ** 20).toFixed(1)} MiB; ${t.executable.version.map((v) => v.toFixed(1)).join(' vs ')} ms` : 'no executable (npm run build:exe)'),
    target('standalone executable small `stats` × `node dist/cli.js`', t.executable ? t.executable.stats[0] / t.executable.stats[1] : null, '×', '<=', 1.2, t.executable ? `${t.executable.stats.map((v) => v.toFixed(1)).join(' vs ')} ms` : 'no executable (npm run build:exe)'),
    target('bin size, share of indent JSON', c ? (c.binBytes / c.indentJsonBytes) * 100 : null, ' %', '<=', 50),
    target('bin decode speed-up over JSON.parse', c ? c.jsonParseUs / c.binDecodeUs : null, '×', '>=', 5),
    target('bin encode speed-up over JSON.stringify(x, null, 2)', c ? c.jsonStringifyUs / c.binEncodeUs : null, '×', '>=', 3),
    target(
      'encrypted bin read + decode × plain bin',
      c?.crypto?.encryptedOverPlain ?? null,
      '×',
      '<=',
      1.3,
      c?.crypto?.floorOverPlain ? `floor on this machine: plain + bare node:crypto AES-256-GCM = ${c.crypto.floorOverPlain.toFixed(2)}×` : undefined,
    ),
    target('hashTree time × sha256sum time (same files)', timeRatio(hash, sha), '×', '<=', 1),
    target('server `read` latency, median', t.serverP50Ms, ' ms', '<', 0.3),
    target(
      'report time × (stats + validate + format-stats)',
      ratio(f('report.json')?.ms, sum([f('stats.json.threads')?.ms, vJson?.ms, f('format-stats.json')?.ms])),
      '×',
      '<=',
      1.1,
      'three scans, one per aggregate; the page itself costs milliseconds',
    ),
    target('stats peak RSS (JSON library)', sJson?.peakRssMB ?? null, ' MB', '<', 300, 'the real check is --images 1000000'),
    ...(['auto', 'threads'] as const).map((engine) =>
      target(
        `stats peak RSS, 10 big sidecars ÷ 1 (section big-files, ${engine === 'auto' ? 'default engine' : 'threads'})`,
        ratio(f(`big-files.stats.${engine}.10`)?.peakRssMB, f(`big-files.stats.${engine}.1`)?.peakRssMB),
        '×',
        '<=',
        1.5,
      ),
    ),
  ];
}

/**
 * Issue 59: our CLI against the earlier Rust tool, whole processes measured in the same rounds
 * (section earlier; IMAGE_SIDECAR_BENCH_ORIG). Each is a wall-time ratio (paired by round), the
 * CPU ratio in the note; a row that failed says why instead of a number.
 */
export const EARLIER_GOALS = {
  validateJson: 1.0,
  binOverValidate: 0.5,
  stats: 0.3,
  served: 0.4,
  threadsOverInline: 0.6,
} as const;

export function earlierTargets(figs: TargetInputs['figures']): TargetResult[] {
  const f = (id: string) => at(figs, id);
  const why = (id: string): string | null => {
    const x = figs.find((y) => y.id === id);
    if (!x) return null;
    return isFailed(x) ? x.error : null;
  };
  // What is missing, when something is: the section not run, or a row that failed and why.
  const missing = (ids: string[]): string | null => {
    for (const id of ids) {
      const e = why(id);
      if (e !== null) return `${id} failed: ${e}`;
    }
    if (ids.some((id) => !figs.some((y) => y.id === id))) return 'not measured (section earlier runs with IMAGE_SIDECAR_BENCH_ORIG set)';
    return null;
  };
  const pair = (name: string, id: string, den: string, goal: number, extra = ''): TargetResult => {
    const gap = missing([id, den]);
    const cpu = timeRatio(f(id), f(den), true);
    return target(name, gap ? null : timeRatio(f(id), f(den)), '×', '<=', goal, gap ?? `CPU ${cpu?.toFixed(3) ?? '?'}×; ${msPair(f(id), f(den))}${extra}`);
  };
  const vOrig = 'earlier.orig.validate.json';
  // threads ÷ inline, validate --no-index: the earlier section's CLI pair when it measured one,
  // else the tree section's (library calls in the child runner, threads against inline).
  const cliInline = figs.some((x) => x.id === 'earlier.ours.validate.inline');
  const [tId, iId, where] = cliInline
    ? ['earlier.ours.validate.json', 'earlier.ours.validate.inline', 'our CLI, default engine ÷ IMAGE_SIDECAR_ENGINE=inline (section earlier)']
    : ['validate.json.threads', 'validate.json.inline', 'threads ÷ inline engine (section tree)'];
  // The machine's bound of a row (irreducible-whole.ts: the irreducible work as a process of its own, same rounds), in its note.
  const bound = (floorId: string): string => {
    if (!figs.some((y) => y.id === floorId)) return '';
    const gap = missing([floorId, vOrig]);
    const r = gap ? null : timeRatio(f(floorId), f(vOrig));
    return r === null ? `; the bound on this machine not measured (${gap ?? 'no paired rounds'})` : `; the bound on this machine (the irreducible work as a whole process, same rounds): ${r.toFixed(3)}× (${msPair(f(floorId), f(vOrig))})`;
  };
  // threads ÷ inline's bound: the irreducible work at what two threads made of it (floor.json), and
  // the rest of the inline run (inline − the irreducible work on one thread) halved exactly: no
  // threaded run of that work does better on this machine. Per round (the rows share rounds), median.
  const threadsBound = (): string => {
    const [two, one] = ['earlier.floor.json', 'earlier.floor.json.inline'];
    // Whole processes only: the tree section's inline row is library calls, in other rounds.
    if (!cliInline || !figs.some((y) => y.id === one)) return '';
    const gap = missing([two, one, iId]);
    const [a, b, c] = [f(two), f(one), f(iId)];
    let r: number | null = null;
    if (!gap && a && b && c) {
      const rounds = [a, b, c].every((x) => x.rounds !== undefined && x.rounds === a.rounds && x.runsMs?.length === a.runsMs?.length);
      const bounds = rounds ? a.runsMs!.map((t2, i) => (t2 + (c.runsMs![i] - b.runsMs![i]) / 2) / c.runsMs![i]) : [(a.ms + (c.ms - b.ms) / 2) / c.ms];
      r = median(bounds);
    }
    return r === null || !Number.isFinite(r)
      ? `; the bound on this machine not measured (${gap ?? 'no figures'})`
      : `; the bound on this machine (an estimate, median of the rounds): ${r.toFixed(3)}× (the irreducible work on two threads, ${a!.ms.toFixed(0)} ms against ${b!.ms.toFixed(0)} on one, and the rest of the inline run halved exactly)`;
  };
  return [
    pair('validate --no-index, JSON library, × the earlier tool\'s validate (whole processes, same rounds)', 'earlier.ours.validate.json', vOrig, EARLIER_GOALS.validateJson, bound('earlier.floor.json')),
    pair('validate --no-index, bin copy, × the earlier tool\'s validate on the JSON library', 'earlier.ours.validate.bin', vOrig, EARLIER_GOALS.binOverValidate, bound('earlier.floor.bin')),
    pair('stats --no-index, bin copy, × the earlier tool\'s validate on the JSON library', 'earlier.ours.stats.bin', vOrig, EARLIER_GOALS.binOverValidate, bound('earlier.floor.bin')),
    pair('stats --no-index, JSON library, × the earlier tool\'s stats', 'earlier.ours.stats.json', 'earlier.orig.stats.json', EARLIER_GOALS.stats),
    pair('validate, served index (unchanged tree), JSON library, × the earlier tool\'s validate', 'earlier.ours.validate.served', vOrig, EARLIER_GOALS.served),
    pair('validate --no-index, JSON library, threads ÷ inline', tId, iId, EARLIER_GOALS.threadsOverInline, `; ${where}${threadsBound()}`),
  ];
}

/** The two medians of a ratio's rows, for its note. */
function msPair(a: OperationFigure | null, b: OperationFigure | null): string {
  return a && b ? `${a.ms.toFixed(0)} / ${b.ms.toFixed(0)} ms` : '';
}

/** The WebAssembly JSON scanner's rows (issue 13): on/off pairs of the accel section. */
function accelTargets(f: (id: string) => OperationFigure | null): TargetResult[] {
  const on = f('accel.inspect.on');
  const off = f('accel.inspect.off');
  const certified = Number(on?.detail.certified ?? NaN);
  const deferred = Number(on?.detail.deferred ?? NaN);
  const share = on && certified + deferred > 0 ? (100 * deferred) / (certified + deferred) : null;
  const cpuNote = (id: string) => `CPU all threads ${((cpuOf(f(id)) ?? NaN) / 1000).toFixed(2)} s; accel off: ${f(id.replace('-on', '-off'))?.xFloorB?.toFixed(2) ?? '?'}× floor (b), CPU ${((cpuOf(f(id.replace('-on', '-off'))) ?? NaN) / 1000).toFixed(2)} s`;
  return [
    target('validate, JSON library, WebAssembly scanner on, × floor (b)', f('validate.json.accel-on')?.xFloorB ?? null, '×', '<=', 0.3, cpuNote('validate.json.accel-on')),
    target('stats, JSON library, WebAssembly scanner on, × floor (b)', f('stats.json.accel-on')?.xFloorB ?? null, '×', '<=', 0.3, cpuNote('stats.json.accel-on')),
    target('JSON files the scanner defers to the reference (sample library)', share, ' %', '<', 5, on ? `${deferred} of ${certified + deferred}` : undefined),
    target(
      'inspect task CPU (one thread), scanner on × off',
      ratio(cpuOf(on), cpuOf(off)),
      '×',
      '>=',
      0,
      `no target: a figure; on ${((cpuOf(on) ?? NaN) / 1000).toFixed(2)} s, off ${((cpuOf(off) ?? NaN) / 1000).toFixed(2)} s CPU`,
    ),
  ];
}

export function referenceStanding(figs: TargetInputs['figures']): ReferenceResult[] {
  return RUST_REFERENCE.map((r) => {
    const ours = at(figs, r.id)?.xFloorB ?? null;
    return { operation: r.operation, rustXFloorB: r.xFloorB, oursXFloorB: ours, oursOverRust: ours === null ? null : ours / r.xFloorB };
  });
}

/**
 * The least the shards' sum can be over one run when each shard only lists the tree once more and
 * everything else were free: (T + (n - 1) × listing) / T.
 */
/** Per file, one thread: what todo cannot skip (read + syntax check) and todo's whole inspection, × validate's. */
function todoFloorNote(checkMs: number | undefined, probeMs: number | undefined, validateMs: number | undefined, clock: 'wall' | 'CPU' = 'wall'): string {
  if (checkMs === undefined || validateMs === undefined || !(validateMs > 0)) return 'per-file floor not measured';
  const probe = probeMs !== undefined ? `, todo's inspection ${(probeMs / validateMs).toFixed(2)}×` : '';
  const cpu = clock === 'CPU' ? 'CPU = user + system of the process, worker threads included (steadier than wall on a shared machine); ' : '';
  return `${cpu}per file, one thread: read + syntax check alone (todo's floor) = ${(checkMs / validateMs).toFixed(2)}× validate's inspection${probe}`;
}

function shardListingNote(unshardedMs: number | undefined, walkMs: number | undefined, n: number): string {
  if (unshardedMs === undefined || walkMs === undefined || !(unshardedMs > 0)) return 'listing floor not measured';
  const bound = (unshardedMs + (n - 1) * walkMs) / unshardedMs;
  return `listing alone: ${n} shards list the tree ${n - 1} times more (${walkMs.toFixed(0)} ms each) → at least ${bound.toFixed(2)}× with nothing else per shard`;
}
