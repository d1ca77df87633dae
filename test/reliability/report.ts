/**
 * `npm run test:reliability`: runs the whole reliability suite and prints one table — kills
 * survived, concurrent saves, fuzz cases per decoder, hostile files and trees — each with the
 * bytes and records lost (all must be 0). Exit status 0 only when every row passes.
 *
 *   node dist-test/test/reliability/report.js [--long] [--seed N] [--kills N] [--fuzz N]
 *        [--files N] [--only crash,concurrency,fuzz,files,trees] [--verbose] [--json FILE]
 *
 * --long (or RELIABILITY_LONG=1): ≥ 100,000 fuzz cases per decoder, 10^5 files in one folder,
 * 300 kills. Without it, the CI sizes (those of the reliability-*.test.ts files).
 */
import * as fs from 'node:fs';
import { reliabilityConfig, type ReliabilityConfig } from './config.js';
import { runCrashCampaign } from './crash.js';
import { runConcurrentSaves } from './concurrency.js';
import { runSaveVsConvert } from './save-vs-convert.js';
import { runDecoderFuzz, runDeepNesting, runLengthBombs, runRoundTrips } from './fuzz.js';
import { DECODER_NAMES } from './fuzz-inputs.js';
import { runCorruptFilesKept, runDeepFiles, runSizeLimit } from './hostile-files.js';
import { runBigFiles } from './big-files.js';
import { KNOWN_BUGS } from './known-bugs.js';
import { rowPassed, type ReliabilityRow } from './tally.js';
import { runTreeCase } from './tree-kit.js';
import { accelTreeSweeper, runAccelFuzz, runAccelSampleLibrary } from './accel.js';
import { IN_PROCESS_TREE_CASES } from './trees.js';
import { SPECIAL_TREE_CASES } from './trees-special.js';

const SECTIONS = ['crash', 'concurrency', 'fuzz', 'files', 'trees'] as const;
type Section = (typeof SECTIONS)[number];

interface ReportRow extends ReliabilityRow {
  knownBug?: string;
}

function parseArgs(argv: string[]): { cfg: ReliabilityConfig; only: Set<Section>; verbose: boolean; json?: string } {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`usage: report.js [--long] [--seed N] [--kills N] [--fuzz N] [--files N] [--only ${SECTIONS.join(',')}] [--verbose] [--json FILE]\n`);
    process.exit(0);
  }
  const cfg = reliabilityConfig(argv);
  const i = argv.indexOf('--only');
  const only = new Set<Section>(i >= 0 ? (argv[i + 1] ?? '').split(',').map((s) => s.trim() as Section) : SECTIONS);
  for (const s of only) if (!SECTIONS.includes(s)) throw new Error(`--only: unknown section "${s}" (known: ${SECTIONS.join(', ')})`);
  const j = argv.indexOf('--json');
  return { cfg, only, verbose: argv.includes('--verbose'), json: j >= 0 ? argv[j + 1] : undefined };
}

async function runAll(cfg: ReliabilityConfig, only: Set<Section>, log: (s: string) => void): Promise<ReportRow[]> {
  const rows: ReportRow[] = [];
  const add = (r: ReportRow) => {
    rows.push(r);
    log(`${rowPassed(r) ? (r.skipped ? 'skip' : 'pass') : 'FAIL'}  ${r.area} / ${r.name} (${r.ms} ms)`);
  };
  if (only.has('crash')) add(await runCrashCampaign({ kills: cfg.kills, images: cfg.crashImages, seed: cfg.seed }));
  if (only.has('crash')) add(await runCrashCampaign({ kills: cfg.kills, images: cfg.crashImages, seed: cfg.seed + 1, crypto: true }));
  if (only.has('concurrency')) {
    add(await runConcurrentSaves({ processes: cfg.processes, saves: cfg.savesPerProcess, images: cfg.concurrentImages, seed: cfg.seed }));
    add(await runSaveVsConvert({ savers: 4, saves: cfg.long ? 500 : 150, perKind: 5 }));
  }
  if (only.has('fuzz')) {
    for (const d of DECODER_NAMES) add(await runDecoderFuzz(d, { cases: cfg.fuzzCases, seed: cfg.seed }));
    add(await runRoundTrips({ cases: cfg.roundTrips, seed: cfg.seed }));
    add(await runAccelFuzz({ cases: cfg.fuzzCases, seed: cfg.seed }));
    add(await runAccelFuzz({ cases: cfg.fuzzCases, seed: cfg.seed, decoder: 'bin' }));
    add(await runAccelSampleLibrary({ images: cfg.long ? 5000 : 600, seed: cfg.seed }));
  }
  if (only.has('files')) {
    add(await runLengthBombs());
    add(await runDeepNesting(cfg.deepNesting));
    add(await runCorruptFilesKept(cfg.seed));
    add(await runSizeLimit(cfg.seed));
    add(await runDeepFiles(cfg.deepNesting));
    // The issue's case: six sidecars of 60 MB (three in the CI run).
    add(await runBigFiles({ files: cfg.long ? 6 : 3, bytes: 60 * 1024 * 1024 }));
  }
  if (only.has('trees')) {
    const accel = accelTreeSweeper();
    for (const c of [...IN_PROCESS_TREE_CASES, ...SPECIAL_TREE_CASES]) {
      const r: ReportRow = await runTreeCase(c, { seed: cfg.seed, bigFolderFiles: cfg.bigFolderFiles }, accel.sweep);
      if (KNOWN_BUGS[c.id] !== undefined && !rowPassed(r)) r.knownBug = KNOWN_BUGS[c.id];
      add(r);
    }
    add(accel.row());
  }
  return rows;
}

function pad(s: string, n: number, right = false): string {
  const t = s.length > n ? `${s.slice(0, n - 1)}…` : s;
  return right ? t.padStart(n) : t.padEnd(n);
}

function status(r: ReportRow): string {
  if (r.skipped !== undefined) return 'SKIP';
  if (rowPassed(r)) return 'PASS';
  return r.knownBug ? 'FAIL (known src bug)' : 'FAIL';
}

function formatTable(rows: ReportRow[], cfg: ReliabilityConfig, ms: number): string {
  const out: string[] = [];
  out.push(`image-sidecar reliability report — ${cfg.long ? 'long' : 'CI'} mode, seed ${cfg.seed}, node ${process.version}`);
  out.push('');
  const head = `${pad('area', 14)}  ${pad('case', 66)}  ${pad('count', 14, true)}  ${pad('bytes lost', 10, true)}  ${pad('records lost', 12, true)}  ${pad('time', 8, true)}  status`;
  out.push(head);
  out.push('-'.repeat(head.length + 8));
  for (const r of rows) {
    const count = r.skipped !== undefined ? '—' : `${r.count} ${r.unit}`;
    out.push(
      `${pad(r.area, 14)}  ${pad(r.name, 66)}  ${pad(count, 14, true)}  ${pad(String(r.bytesLost), 10, true)}  ${pad(String(r.recordsLost), 12, true)}  ${pad(`${(r.ms / 1000).toFixed(1)} s`, 8, true)}  ${status(r)}`,
    );
  }
  out.push('-'.repeat(head.length + 8));
  const bytes = rows.reduce((n, r) => n + r.bytesLost, 0);
  const records = rows.reduce((n, r) => n + r.recordsLost, 0);
  const failed = rows.filter((r) => !rowPassed(r));
  const skipped = rows.filter((r) => r.skipped !== undefined);
  const sum = (area: string, unit: string) => rows.filter((r) => r.area === area && r.unit === unit).reduce((n, r) => n + r.count, 0);
  out.push(
    `totals: ${sum('crash', 'kills')} kills survived · ${sum('concurrency', 'saves')} concurrent saves · ${sum('fuzz', 'cases')} fuzz cases · ` +
      `${sum('hostile files', 'cases') + sum('hostile trees', 'checks')} hostile checks — ${bytes} bytes and ${records} records lost · ` +
      `${failed.length} failed, ${skipped.length} skipped · ${(ms / 1000).toFixed(1)} s`,
  );
  out.push(failed.length === 0 && bytes === 0 && records === 0 ? 'RESULT: OK — nothing lost' : 'RESULT: FAILED');

  const details = rows.filter((r) => r.notes.length > 0 || r.failures.length > 0 || r.skipped !== undefined || r.knownBug);
  if (details.length > 0) {
    out.push('', 'details:');
    for (const r of details) {
      out.push(`  ${r.area} / ${r.name}: ${status(r)}`);
      if (r.skipped !== undefined) out.push(`    skipped: ${r.skipped}`);
      if (r.knownBug) out.push(`    known: ${r.knownBug}`);
      for (const f of r.failures) out.push(`    ✗ ${f.split('\n')[0]}`);
      for (const n of r.notes) out.push(`    · ${n}`);
    }
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const { cfg, only, verbose, json } = parseArgs(process.argv.slice(2));
  const log = verbose ? (s: string) => process.stderr.write(`${s}\n`) : () => undefined;
  const t0 = performance.now();
  const rows = await runAll(cfg, only, log);
  const ms = performance.now() - t0;
  process.stdout.write(`${formatTable(rows, cfg, ms)}\n`);
  if (json) fs.writeFileSync(json, `${JSON.stringify({ config: cfg, rows }, null, 2)}\n`);
  const ok = rows.every(rowPassed);
  process.exitCode = ok ? 0 : 1;
}

main().catch((e: unknown) => {
  process.stderr.write(`reliability report failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 2;
});
