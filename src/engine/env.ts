import { errors } from '../errors.js';
import type { Options } from '../types.js';
import { ENGINE_KINDS, isOneOf } from '../vocabulary.js';

export type EngineOptions = Pick<Options, 'engine' | 'workers' | 'accel' | 'fastStat' | 'callerRuns'>;

/**
 * The engine options the environment asks for (IMAGE_SIDECAR_ENGINE, IMAGE_SIDECAR_WORKERS,
 * IMAGE_SIDECAR_ACCEL=off|on: the WebAssembly scanner's kill switch; IMAGE_SIDECAR_FAST_STAT=off|on,
 * or IMAGE_SIDECAR_INDEX_FAST_STAT=off, its earlier name: Node's stat binding's, fs/stat-binding.ts),
 * merged under the explicit ones. Read once, at the edge (the CLI, the server): the library and
 * the engine never look at the environment.
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
  if (out.fastStat === undefined) {
    const fastStat = fastStatFromEnv(env);
    if (fastStat !== undefined) out.fastStat = fastStat;
  }
  return out;
}

/**
 * IMAGE_SIDECAR_FAST_STAT (off|on; IMAGE_SIDECAR_INDEX_FAST_STAT=off, its earlier name, is off):
 * undefined when neither says. A value that is neither off nor on is a usage error whatever the
 * earlier name says (it is checked first). For the reads that take no engine options (`read`).
 */
export function fastStatFromEnv(env: NodeJS.ProcessEnv): boolean | undefined {
  const v = onOffFromEnv(env, 'IMAGE_SIDECAR_FAST_STAT');
  return v === false || env.IMAGE_SIDECAR_INDEX_FAST_STAT === 'off' ? false : v;
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

// The spellings of off and on (IMAGE_SIDECAR_ACCEL, IMAGE_SIDECAR_FAST_STAT).
const OFF_WORDS: readonly string[] = ['off', '0', 'false', 'no'];
const ON_WORDS: readonly string[] = ['on', '1', 'true', 'yes'];
