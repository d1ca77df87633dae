/**
 * performanceInfo(): what this installation runs with, for `doctor` and for callers that used
 * the earlier wrapper's get_performance_info(). Honest: there is no native module; the speed
 * comes from batching files onto worker threads.
 */
import { availableParallelism } from 'node:os';
import { packageVersion } from '../version.js';
import { lastEngineUsed, resolveEngine, THREADS_BREAK_EVEN_FILES } from '../engine/select.js';
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_FILE_SIZE } from '../formats/value.js';
import type { EngineKind } from '../types.js';

export interface PerformanceInfo {
  version: string;
  node: string;
  platform: string;
  cpus: number;
  engine: {
    /** What a tree operation would use now (options → IMAGE_SIDECAR_ENGINE/WORKERS → defaults). */
    default: { kind: EngineKind; workers: number };
    /** What the last tree operation in this process actually used (null before any). */
    last: { kind: 'inline' | 'threads'; workers: number } | null;
  };
  /** 'auto' moves to worker threads once an operation has seen this many files. */
  breakEvenFiles: number;
  acceleration: { native: false; note: string };
  limits: { maxFileSize: number; maxDepth: number };
  /** The earlier wrapper's keys: workers a tree operation uses by default; no time limit. */
  max_workers: number;
  timeout: null;
}

export function performanceInfo(): PerformanceInfo {
  const def = resolveEngine();
  return {
    version: packageVersion(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: availableParallelism(),
    engine: {
      default: { kind: def.kind, workers: def.workers },
      last: lastEngineUsed.kind === null ? null : { kind: lastEngineUsed.kind, workers: lastEngineUsed.workers },
    },
    breakEvenFiles: THREADS_BREAK_EVEN_FILES,
    acceleration: { native: false, note: 'pure JavaScript; no optional native module is used' },
    limits: { maxFileSize: DEFAULT_MAX_FILE_SIZE, maxDepth: DEFAULT_MAX_DEPTH },
    max_workers: def.workers,
    timeout: null,
  };
}
