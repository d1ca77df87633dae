/**
 * performanceInfo(): what this installation runs with, for `doctor` and for callers that used
 * the earlier wrapper's get_performance_info(). Honest: there is no native module; the speed
 * comes from batching files onto worker threads.
 */
import { availableParallelism } from 'node:os';
import { packageVersion } from '../version.js';
import { resolveEngine, THREADS_BREAK_EVEN_FILES, type EngineOptions } from '../engine/select.js';
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_FILE_SIZE } from '../formats/value.js';
import type { EngineKind } from '../types.js';

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
  acceleration: { native: false; note: string };
  limits: { maxFileSize: number; maxDepth: number };
  /** The earlier wrapper's keys: workers a tree operation uses by default; no time limit. */
  max_workers: number;
  timeout: null;
}

export function performanceInfo(opts: EngineOptions = {}): PerformanceInfo {
  const def = resolveEngine(opts);
  return {
    version: packageVersion(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: availableParallelism(),
    engine: {
      default: { kind: def.kind, workers: def.workers },
    },
    breakEvenFiles: THREADS_BREAK_EVEN_FILES,
    acceleration: { native: false, note: 'pure JavaScript; no optional native module is used' },
    limits: { maxFileSize: DEFAULT_MAX_FILE_SIZE, maxDepth: DEFAULT_MAX_DEPTH },
    max_workers: def.workers,
    timeout: null,
  };
}
