/**
 * performanceInfo(): what this installation runs with, for `doctor` and for callers that used
 * the earlier wrapper's get_performance_info(). Honest: there is no native module; the speed
 * comes from batching files onto worker threads and, for JSON sidecars, from the WebAssembly
 * scanner (src/accel/) where it is available and not switched off.
 */
import { availableParallelism } from 'node:os';
import { packageVersion } from '../version.js';
import { resolveEngine, type EngineOptions } from '../engine/select.js';
import { THREADS_BREAK_EVEN_FILES } from '../tuning.js';
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_FILE_SIZE } from '../formats/value.js';
import type { EngineKind } from '../types.js';
import { accelStatus } from '../accel/scanner.js';
import { fastStatStatus } from '../fs/identity.js';
import { entryWriterStatus } from '../tasks/entry-writer.js';

export interface PerformanceInfo {
  version: string;
  node: string;
  platform: string;
  cpus: number;
  engine: {
    /**
     * What a tree operation would use with these options (the CLI and the server pass
     * IMAGE_SIDECAR_ENGINE/WORKERS in). What an operation actually used is in its own report.
     */
    default: { kind: EngineKind; workers: number };
  };
  /** 'auto' moves to worker threads once an operation has seen this many files. */
  breakEvenFiles: number;
  acceleration: {
    native: false;
    /** The WebAssembly scanner (JSON text, plain bin bodies): asked for (not IMAGE_SIDECAR_ACCEL=off), loadable here, so in use. */
    wasm: { enabled: boolean; available: boolean; inUse: boolean; reason?: string };
    note: string;
  };
  /**
   * Node's own stat binding (fs/stat-binding.ts) for the per-file stat calls, each read's fstat and
   * the incremental index's warm checks: asked for (Options.fastStat: the CLI and the server unless
   * IMAGE_SIDECAR_FAST_STAT=off), agreeing with
   * fs.fstatSync and fs.statSync here, so in use. (Under `index` where it began as the checks' alone.)
   */
  index: {
    fastStat: { enabled: boolean; available: boolean; inUse: boolean; reason?: string };
    /** The WebAssembly entry writer (tasks/entry-writer.ts: a first run's index entries): asked for (not IMAGE_SIDECAR_ACCEL=off), loadable here, so in use. */
    entryWriter: { enabled: boolean; available: boolean; inUse: boolean; reason?: string };
  };
  limits: { maxFileSize: number; maxDepth: number };
  /** The earlier wrapper's keys: workers a tree operation uses by default; no time limit. */
  max_workers: number;
  timeout: null;
}

export function performanceInfo(opts: EngineOptions = {}, index: { fastStat?: boolean } = {}): PerformanceInfo {
  const statEnabled = opts.fastStat === true && index.fastStat !== false;
  const stat = statEnabled ? fastStatStatus() : { available: false };
  const fastStat = { enabled: statEnabled, available: stat.available, inUse: statEnabled && stat.available, ...('reason' in stat && stat.reason ? { reason: stat.reason } : {}) };
  const def = resolveEngine(opts);
  const enabled = opts.accel !== false;
  const loaded = accelStatus();
  const wasm = { enabled, available: loaded.available, inUse: enabled && loaded.available, ...(loaded.reason ? { reason: loaded.reason } : {}) };
  const writer = enabled ? entryWriterStatus() : { available: false, reason: 'IMAGE_SIDECAR_ACCEL=off' };
  const entryWriter = { enabled, available: writer.available, inUse: enabled && writer.available, ...(writer.reason ? { reason: writer.reason } : {}) };
  const note = wasm.inUse
    ? 'WebAssembly scanner in use for JSON text and plain bin bodies (IMAGE_SIDECAR_ACCEL=off turns it off); no native module'
    : !enabled
      ? 'WebAssembly scanner off (IMAGE_SIDECAR_ACCEL=off): pure JavaScript'
      : `WebAssembly scanner unavailable (${loaded.reason}): pure JavaScript`;
  return {
    version: packageVersion(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: availableParallelism(),
    engine: {
      default: { kind: def.kind, workers: def.workers },
    },
    breakEvenFiles: THREADS_BREAK_EVEN_FILES,
    acceleration: { native: false, wasm, note },
    index: { fastStat, entryWriter },
    limits: { maxFileSize: DEFAULT_MAX_FILE_SIZE, maxDepth: DEFAULT_MAX_DEPTH },
    max_workers: def.workers,
    timeout: null,
  };
}
