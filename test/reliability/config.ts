/**
 * Sizes of the reliability runs. The CI subset (`npm test` and `npm run test:long`) stays well
 * under a minute a file on two cores; the long mode (RELIABILITY_LONG=1, or `report.js --long`) is what the issue
 * calls the real run: ≥ 100,000 fuzz cases per decoder, 10^5 files in one folder.
 */
export interface ReliabilityConfig {
  long: boolean;
  seed: number;
  /** SIGKILLs per crash campaign (at least 50). */
  kills: number;
  crashImages: number;
  processes: number;
  savesPerProcess: number;
  concurrentImages: number;
  /** Hostile-byte cases per decoder. */
  fuzzCases: number;
  /** Random-data round trips per format. */
  roundTrips: number;
  /** Files in the one big folder. */
  bigFolderFiles: number;
  /** Nesting depth of the deep-nesting inputs. */
  deepNesting: number;
}

export const CI_CONFIG: Omit<ReliabilityConfig, 'long' | 'seed'> = {
  kills: 50,
  crashImages: 6,
  processes: 8,
  savesPerProcess: 100,
  concurrentImages: 20,
  fuzzCases: 2_000,
  roundTrips: 300,
  bigFolderFiles: 10_000,
  deepNesting: 100_000,
};

export const LONG_CONFIG: Omit<ReliabilityConfig, 'long' | 'seed'> = {
  kills: 300,
  crashImages: 16,
  processes: 8,
  savesPerProcess: 100,
  concurrentImages: 20,
  fuzzCases: 100_000,
  roundTrips: 10_000,
  bigFolderFiles: 100_000,
  deepNesting: 100_000,
};

export const DEFAULT_SEED = 20250920;

function positiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

/**
 * Resolve the configuration from the environment (RELIABILITY_LONG, RELIABILITY_SEED) and, for
 * report.ts, command-line flags: --long, --seed N, --kills N, --fuzz N, --files N.
 */
export function reliabilityConfig(argv: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): ReliabilityConfig {
  const flag = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
    return v;
  };
  const long = argv.includes('--long') || env.RELIABILITY_LONG === '1';
  const base = long ? LONG_CONFIG : CI_CONFIG;
  const cfg: ReliabilityConfig = { ...base, long, seed: positiveInt('RELIABILITY_SEED', env.RELIABILITY_SEED) ?? DEFAULT_SEED };
  cfg.seed = positiveInt('--seed', flag('--seed')) ?? cfg.seed;
  cfg.kills = Math.max(50, positiveInt('--kills', flag('--kills')) ?? cfg.kills);
  cfg.fuzzCases = positiveInt('--fuzz', flag('--fuzz')) ?? cfg.fuzzCases;
  cfg.bigFolderFiles = positiveInt('--files', flag('--files')) ?? cfg.bigFolderFiles;
  return cfg;
}
