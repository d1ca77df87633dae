/**
 * Command-line options of `npm run bench` (after `--`): `npm run bench -- --images 100000 --runs 5`.
 * Kept dependency-free and tiny; unknown flags are refused so a typo never silently runs defaults.
 */
import { errors } from '../src/errors.js';

export const SECTIONS = ['floors', 'tree', 'accel', 'index', 'runs', 'shards', 'convert', 'bin', 'earlier', 'reads', 'server', 'server-soak', 'hash', 'codec', 'startup', 'break-even', 'python', 'datasets', 'reorganise', 'big-files', 'file-server'] as const;
export type Section = (typeof SECTIONS)[number];
/** Sections that run only when named with --only (slow: server-soak's 10^5 saves, big-files' 25 MiB sidecars and file-server's round trips take minutes; file-server also needs FUSE). */
export const OPT_IN_SECTIONS: ReadonlySet<Section> = new Set<Section>(['server-soak', 'big-files', 'file-server']);

export interface BenchArgs {
  images: number;
  seed: number;
  /** Measured runs per figure (median reported), after one warm-up run. */
  runs: number;
  /** Worker count for the threads engine (default: the library's default, available parallelism). */
  workers?: number;
  /** The CLI to spawn (default: dist/bundle/cli.cjs of this package, the CLI as installed). */
  cli?: string;
  /** Extra copy of the JSON results. */
  out?: string;
  /** Where the libraries are generated (default: a fresh temp dir, removed at the end); the JSON library is kept and reused. */
  workDir?: string;
  /** Leave the generated libraries in place. */
  keep: boolean;
  /** Sections to run (default: all but the opt-in ones). */
  sections: Set<Section>;
  /** Spawns of `image-sidecar --version` and of `image-sidecar read`. */
  spawnCalls: number;
  /** Sequential calls for the server latency figure. */
  latencyCalls: number;
  /** Images in the (smaller) library convert runs on; each converted file costs several fsyncs. */
  convertImages: number;
  /** Images sampled (evenly) for the per-image read figures. */
  reads: number;
  /** Tree sizes (images) for the inline/threads break-even. */
  breakEvenSizes: number[];
  /** Saves of the server-soak section. */
  soakSaves: number;
}

const HELP = `npm run bench -- [options]
  --images N        images in the generated library (default 20000; 1000000 is the large check)
  --seed N          generator seed (default 1)
  --runs N          measured runs per figure, median reported, after one warm-up (default 3, min 3)
  --workers N       workers for the threads engine (default: available parallelism)
  --cli FILE        the CLI to spawn for server, read, --version and earlier-tool figures (default dist/bundle/cli.cjs)
  --out FILE        also write the JSON results to FILE
  --work-dir DIR    generate libraries under DIR (default: a temp dir, removed); the JSON library
                    and the bin copy stay there and are reused by a later run with the same
                    --images and --seed
  --keep            keep the generated libraries
  --only LIST       run only these sections (comma-separated; the only way to run server-soak, big-files and file-server)
  --skip LIST       skip these sections (comma-separated)
  --convert-images N  images in the library convert runs on (default 1000; its own floors are
                    measured for the ratios; with N >= --images convert runs on the main library)
  --reads N         images sampled evenly for the per-image read figures (default 2000)
  --spawn-calls N   spawns for --version and per-call read (default 25)
  --latency-calls N sequential server calls for the latency figure (default 1000)
  --break-even LIST tree sizes in images (default 250,500,1000,2000,4000)
  --soak-saves N    saves of a 512-float embedding sent to one serve --stdio by the opt-in
                    server-soak section, its RSS sampled every tenth (default 100000)
sections: ${SECTIONS.join(', ')} (${[...OPT_IN_SECTIONS].join(', ')}: with --only only)`;

function int(flag: string, v: string | undefined, min: number): number {
  const n = Number(v);
  if (v === undefined || !Number.isSafeInteger(n) || n < min) throw errors.usage(`${flag} needs an integer >= ${min} (got ${v ?? 'nothing'})`);
  return n;
}

function sectionList(flag: string, v: string | undefined): Section[] {
  if (!v) throw errors.usage(`${flag} needs a comma-separated list of: ${SECTIONS.join(', ')}`);
  return v.split(',').map((s) => {
    if (!(SECTIONS as readonly string[]).includes(s)) throw errors.usage(`${flag}: unknown section "${s}" (expected ${SECTIONS.join(', ')})`);
    return s as Section;
  });
}

/** Parse argv (without node and script); returns null when help was asked for. */
export function parseArgs(argv: readonly string[]): BenchArgs | null {
  const a: BenchArgs = {
    images: 20_000,
    seed: 1,
    runs: 3,
    keep: false,
    sections: new Set(SECTIONS.filter((s) => !OPT_IN_SECTIONS.has(s))),
    spawnCalls: 25,
    convertImages: 1000,
    reads: 2000,
    latencyCalls: 1000,
    breakEvenSizes: [250, 500, 1000, 2000, 4000],
    soakSaves: 100_000,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const next = () => argv[++i];
    switch (flag) {
      case '-h':
      case '--help':
        process.stderr.write(`${HELP}\n`);
        return null;
      case '--images':
        a.images = int(flag, next(), 1);
        break;
      case '--seed':
        a.seed = int(flag, next(), 0);
        break;
      case '--runs':
        a.runs = int(flag, next(), 3);
        break;
      case '--workers':
        a.workers = int(flag, next(), 1);
        break;
      case '--out':
        a.out = next();
        if (!a.out) throw errors.usage('--out needs a file name');
        break;
      case '--cli':
        a.cli = next();
        if (!a.cli) throw errors.usage('--cli needs a file name');
        break;
      case '--work-dir':
        a.workDir = next();
        if (!a.workDir) throw errors.usage('--work-dir needs a directory');
        break;
      case '--keep':
        a.keep = true;
        break;
      case '--only':
        a.sections = new Set(sectionList(flag, next()));
        break;
      case '--skip':
        for (const s of sectionList(flag, next())) a.sections.delete(s);
        break;
      case '--convert-images':
        a.convertImages = int(flag, next(), 1);
        break;
      case '--reads':
        a.reads = int(flag, next(), 1);
        break;
      case '--spawn-calls':
        a.spawnCalls = int(flag, next(), 3);
        break;
      case '--latency-calls':
        a.latencyCalls = int(flag, next(), 10);
        break;
      case '--soak-saves':
        a.soakSaves = int(flag, next(), 10);
        break;
      case '--break-even': {
        const v = next();
        a.breakEvenSizes = (v ?? '').split(',').map((s) => int(flag, s, 1));
        break;
      }
      default:
        throw errors.usage(`unknown option ${flag}\n${HELP}`);
    }
  }
  return a;
}
