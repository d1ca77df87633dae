/**
 * The environment variables the CLI and the server read, and the options each becomes (the table
 * of them all: README.md "Settings"). Read at those entries only (the CLI once per command, the
 * server at each request it runs): the library and the engine never look at the environment.
 * The CLI's own are read where it uses them: IMAGE_SIDECAR_KEY_FILE and IMAGE_SIDECAR_PASSPHRASE
 * (cli/keys.ts), IMAGE_SIDECAR_DEBUG (cli/fail.ts); the installed CLI's loader reads
 * IMAGE_SIDECAR_CODE_CACHE (scripts/cli-loader.cjs).
 */
import { errors } from './errors.js';
import type { Options } from './types.js';
import { DEFAULT_FORMAT_NAMES, ENGINE_KINDS, isOneOf } from './vocabulary.js';

export type EngineOptions = Pick<Options, 'engine' | 'workers' | 'accel' | 'fastStat' | 'readAhead' | 'callerRuns'>;

/**
 * The engine options the environment asks for, merged under the explicit ones:
 * IMAGE_SIDECAR_ENGINE, IMAGE_SIDECAR_WORKERS, IMAGE_SIDECAR_ACCEL=off (the WebAssembly scanner's
 * kill switch) and IMAGE_SIDECAR_FAST_STAT=off (Node's stat binding's: the CLI and the server ask
 * for it, fs/stat-binding.ts, unless this says off).
 */
export function engineFromEnv<T extends EngineOptions>(env: NodeJS.ProcessEnv, explicit: T = {} as T): T {
  const out: T = { ...explicit };
  if (out.engine === undefined && env.IMAGE_SIDECAR_ENGINE) {
    const kind = env.IMAGE_SIDECAR_ENGINE;
    if (!isOneOf(ENGINE_KINDS, kind)) {
      throw errors.usage(`IMAGE_SIDECAR_ENGINE must be ${ENGINE_KINDS.join(', ')} (got "${kind}")`);
    }
    out.engine = kind;
  }
  if (out.workers === undefined && env.IMAGE_SIDECAR_WORKERS) {
    const n = Number(env.IMAGE_SIDECAR_WORKERS);
    if (!Number.isInteger(n) || n < 1 || n > 256) throw errors.usage(`IMAGE_SIDECAR_WORKERS must be an integer from 1 to 256 (got "${env.IMAGE_SIDECAR_WORKERS}")`);
    out.workers = n;
  }
  if (out.accel === undefined) {
    const accel = onOffFromEnv(env, 'IMAGE_SIDECAR_ACCEL');
    if (accel !== undefined) out.accel = accel;
  }
  if (out.fastStat === undefined) out.fastStat = statBindingFromEnv(env);
  if (out.readAhead === undefined && statAheadFromEnv(env) === false) out.readAhead = false;
  return out;
}

/** Whether the CLI and the server use Node's stat binding: yes unless IMAGE_SIDECAR_FAST_STAT=off (for the reads that take no engine options: `read`). */
export function statBindingFromEnv(env: NodeJS.ProcessEnv): boolean {
  return onOffFromEnv(env, 'IMAGE_SIDECAR_FAST_STAT') !== false;
}

/** IMAGE_SIDECAR_STAT_AHEAD=off: a warm run's stats and link reads, and every run's sidecar reads, one at a time even on a file server (IndexOptions.statAhead, Options.readAhead false); else undefined (the default). */
export function statAheadFromEnv(env: NodeJS.ProcessEnv): false | undefined {
  return onOffFromEnv(env, 'IMAGE_SIDECAR_STAT_AHEAD') === false ? false : undefined;
}

/** The index's racy margin in ms under IMAGE_SIDECAR_INDEX_RACY_MS (tests: record the files they just wrote), else undefined. */
export function racyMarginFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const racy = env.IMAGE_SIDECAR_INDEX_RACY_MS;
  return racy !== undefined && /^\d+$/.test(racy) ? Number(racy) : undefined;
}

/** An off|on switch of the environment: false, true, or undefined when unset or empty; any other value is a usage error. */
function onOffFromEnv(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const given = env[name];
  if (!given) return undefined;
  const v = given.toLowerCase();
  if (OFF_WORDS.includes(v)) return false;
  if (ON_WORDS.includes(v)) return true;
  throw errors.usage(`${name} must be off or on (got "${given}")`);
}

// The spellings of off and on (IMAGE_SIDECAR_ACCEL, IMAGE_SIDECAR_FAST_STAT, IMAGE_SIDECAR_STAT_AHEAD).
const OFF_WORDS: readonly string[] = ['off', '0', 'false', 'no'];
const ON_WORDS: readonly string[] = ['on', '1', 'true', 'yes'];

/** The environment's default save format: IMAGE_SIDECAR_FORMAT (json, bin, binary, rkyv), else undefined. */
export function saveFormatFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env.IMAGE_SIDECAR_FORMAT;
  // In any case, spaces around it ignored (`JSON`, `json `): as the Python packages take a format's name.
  const v = raw?.trim().toLowerCase();
  if (v === undefined || v === '') return undefined;
  if (!isOneOf(DEFAULT_FORMAT_NAMES, v)) throw errors.usage(`IMAGE_SIDECAR_FORMAT must be one of ${DEFAULT_FORMAT_NAMES.join(', ')} (got "${raw}")`);
  return v;
}
