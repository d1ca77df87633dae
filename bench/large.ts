/**
 * The large check (issue 12: "`stats` peak RSS on 10^6 images stays below 300 MB"): generate a
 * library of N images (default 10^6) with the sample generator's layout — dated folders, game
 * folders of symlinks, bursts, RAW+JPEG pairs, corrupt and orphaned sidecars — but with face
 * embeddings of 8 floats instead of 512, so the tree has the real file count without 18 GB of
 * JSON. Then run `stats` (without the index, building it, warm) and `validate` as the user runs them
 * (the CLI, default engine, output to /dev/null) and report each one's peak RSS from /usr/bin/time,
 * against the bound.
 *
 *   npm run build && npm run build:test
 *   node dist-test/bench/large.js [--images N] [--work-dir DIR] [--out FILE] [--keep]
 *
 * The library is kept under DIR/large-N (reused by a later run) when --work-dir is given.
 * Not part of `npm run bench`: generating 10^6 images takes minutes and 2·10^6 inodes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { generateSampleLibrary } from '../src/sample/generate.js';

/** The CLI as installed (package.json `bin`: the one-file bundle). */
const CLI = fileURLToPath(new URL('../../dist/bundle/cli.cjs', import.meta.url));
/** Issue 12's bound for stats at 10^6 images. */
const RSS_BOUND_MB = 300;
const EMBEDDING_LENGTH = 8;

interface Args {
  images: number;
  workDir: string | null;
  out: string | null;
  keep: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { images: 1_000_000, workDir: null, out: null, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === '--images') {
      a.images = Number(value());
      if (!Number.isSafeInteger(a.images) || a.images < 1) throw new Error('--images needs a positive integer');
    } else if (flag === '--work-dir') a.workDir = path.resolve(value());
    else if (flag === '--out') a.out = path.resolve(value());
    else if (flag === '--keep') a.keep = true;
    else throw new Error(`unknown option ${flag} (expected --images N, --work-dir DIR, --out FILE, --keep)`);
  }
  return a;
}

interface Run {
  command: string;
  exitCode: number | null;
  wallS: number;
  userS: number;
  sysS: number;
  maxRssMB: number;
  boundMB: number | null;
  withinBound: boolean | null;
}

/** One CLI run under /usr/bin/time; stdout to /dev/null (the figure is the process's, not a pipe's). */
function runCli(label: string, args: string[], boundMB: number | null): Run {
  const timeFile = path.join(os.tmpdir(), `isc-large-${process.pid}.time`);
  const r = spawnSync('/usr/bin/time', ['-o', timeFile, '-f', '%e %U %S %M', process.execPath, CLI, ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (r.error) throw r.error;
  const [wall, user, sys, rssKB] = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  fs.rmSync(timeFile, { force: true });
  const maxRssMB = Math.round((rssKB * 1024) / 1e6);
  return {
    command: label,
    exitCode: r.status,
    wallS: wall,
    userS: user,
    sysS: sys,
    maxRssMB,
    boundMB,
    withinBound: boundMB === null ? null : maxRssMB < boundMB,
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const base = args.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'isc-large-'));
  const root = path.join(base, `large-${args.images}`);
  const done = path.join(base, `large-${args.images}.done.json`);
  let generation: unknown;
  if (fs.existsSync(done)) {
    generation = JSON.parse(fs.readFileSync(done, 'utf8'));
    process.stderr.write(`[large] reusing ${root}\n`);
  } else {
    fs.rmSync(root, { recursive: true, force: true });
    process.stderr.write(`[large] generating ${args.images} images under ${root} (embeddings of ${EMBEDDING_LENGTH} floats)\n`);
    const t0 = performance.now();
    const report = await generateSampleLibrary(root, { images: args.images, seed: 1, embeddingLength: EMBEDDING_LENGTH });
    generation = { seconds: Math.round((performance.now() - t0) / 100) / 10, report };
    fs.writeFileSync(done, JSON.stringify(generation));
  }
  fs.rmSync(path.join(root, '.image-sidecar'), { recursive: true, force: true }); // no index from an earlier run
  const runs: Run[] = [];
  // --no-index first: the default run after it then builds the index from nothing (a first run)
  for (const [label, cmd, bound] of [
    ['stats --no-index', ['stats', root, '--json', '--no-index'], RSS_BOUND_MB],
    ['stats (default: with the index, first run)', ['stats', root, '--json'], RSS_BOUND_MB],
    // The second run lists the folders and stores their listings and links; the third stores the
    // first share of the folder records and is served the rest from per-file results (docs/INDEX.md).
    ['stats (second run: stores the listings and links)', ['stats', root, '--json'], RSS_BOUND_MB],
    ['stats (third run: stores the first share of the folder records)', ['stats', root, '--json'], RSS_BOUND_MB],
    // Every run with the index on stays under the same bound (issue 12 names stats; validate shares the pipeline).
    ['validate', ['validate', root, '--json'], RSS_BOUND_MB],
    // Each command's results are entries of their own: an index of three commands holds three per file.
    ['format-stats (its first run, on the index of two commands)', ['format-stats', root, '--json'], RSS_BOUND_MB],
    ['stats (repeat run over the index of three commands)', ['stats', root, '--json'], RSS_BOUND_MB],
  ] as const) {
    process.stderr.write(`[large] ${label}...\n`);
    const run = runCli(label, [...cmd], bound);
    runs.push(run);
    process.stderr.write(`[large] ${label}: exit ${run.exitCode}, ${run.wallS} s wall, ${run.userS + run.sysS} s CPU, peak RSS ${run.maxRssMB} MB${bound === null ? '' : ` (bound ${bound} MB: ${run.withinBound ? 'within' : 'OVER'})`}\n`);
  }
  const result = { images: args.images, embeddingLength: EMBEDDING_LENGTH, node: process.version, cpus: os.cpus().length, generation, runs };
  const text = JSON.stringify(result, null, 2);
  process.stdout.write(`${text}\n`);
  if (args.out) fs.writeFileSync(args.out, `${text}\n`);
  if (!args.keep && args.workDir === null) fs.rmSync(base, { recursive: true, force: true });
  // exit 1 when a bound is exceeded or a command failed beyond findings (exit 2)
  process.exitCode = runs.some((r) => r.withinBound === false || r.exitCode === 2 || r.exitCode === null) ? 1 : 0;
}

main().catch((e: unknown) => {
  process.stderr.write(`[large] ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 2;
});
