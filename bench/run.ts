/**
 * `npm run bench`: generate a realistic library, measure every tree operation against floors
 * measured in the same run, print the tables on stdout (logs on stderr) and write the JSON results
 * to bench-results/. See docs/BENCHMARKS.md for what each figure means.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { errors } from '../src/errors.js';
import { parseArgs } from './args.js';
import { removeTree } from './library.js';

/** What a --work-dir keeps for the next run: the generated libraries and what they were made with. */
const KEPT_IN_WORK_DIR = new Set(['json', 'json.meta.json', 'bin', 'bin.meta.json']);
import { log } from './measure.js';
import { renderTables, writeResults } from './report.js';
import type { BenchResults } from './results.js';
import { Bench } from './suite.js';

/** The package root: the nearest directory upwards holding this package's package.json. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'image-sidecar') return dir;
    } catch {
      // not here
    }
    const up = path.dirname(dir);
    if (up === dir) throw errors.internal('cannot find the image-sidecar package root');
    dir = up;
  }
}

const STANDING_NOTES = [
  'Floors read the same files as the operations (every regular .json/.bin/.rkyv file: sidecars, reports, corrupt samples) from a path list made before the clock starts, so they do not walk directories: ratios to them are conservative.',
  'Ratios are time ÷ floor time: below 1 the operation is faster than the floor. Bin-copy rows use the bin copy\'s own floor (a) and the JSON library\'s floor (b).',
  'MB = 10^6 bytes of sidecar files; for per-image reads, the bytes of the sidecar each image resolves to by name.',
  'Peak RSS is process.resourceUsage().maxRSS of the child process that ran the operation (worker threads included); the server row has none (the server is another process): its own peak is under "Other figures".',
];

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!args) return;
  const root = packageRoot();
  // The CLI as installed (package.json `bin`: the one-file bundle).
  const cli = args.cli ? path.resolve(args.cli) : path.join(root, 'dist', 'bundle', 'cli.cjs');
  const ownWork = args.workDir === undefined;
  const work = ownWork ? fs.mkdtempSync(path.join(os.tmpdir(), 'image-sidecar-bench-')) : path.resolve(args.workDir!);
  fs.mkdirSync(work, { recursive: true });
  const cpus = os.cpus();
  const load = () => os.loadavg().map((v) => Number(v.toFixed(2)));
  const results: BenchResults = {
    startedAt: new Date().toISOString(),
    machine: {
      cpus: os.availableParallelism(),
      cpuModel: cpus[0]?.model ?? 'unknown',
      memoryGB: Math.round(os.totalmem() / 2 ** 30),
      node: process.versions.node,
      platform: `${process.platform} ${os.release()}`,
      loadAverageAtStart: load(),
    },
    args: { ...args, sections: [...args.sections] },
    library: {},
    operations: [],
    targets: [],
    reference: [],
    extra: {},
    notes: [...STANDING_NOTES],
  };
  const t0 = performance.now();
  try {
    await new Bench(args, work, cli, results).run();
  } finally {
    results.finishedAt = new Date().toISOString();
    results.machine.loadAverageAtEnd = load();
    results.extra['bench wall time, s'] = (performance.now() - t0) / 1000;
    const files = writeResults(results, root, args.out);
    process.stdout.write(renderTables(results));
    log(`results written to ${files.join(', ')}`);
    if (args.keep) log(`libraries kept in ${work}`);
    else if (ownWork) removeTree(work);
    else for (const name of fs.readdirSync(work)) if (!KEPT_IN_WORK_DIR.has(name)) removeTree(path.join(work, name));
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 2;
});
