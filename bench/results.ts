/**
 * The benchmark's results: per-operation figures (rates, RSS, ratios to the two floors), the
 * targets with PASS/MISS, the earlier tool's reference ratios, and the engine break-even.
 * This is what goes into the JSON file; report.ts renders it as tables.
 */
import type { Measurement, Outcome } from './measure.js';
import { isFailure } from './measure.js';

export interface OperationFigure {
  id: string;
  label: string;
  ms: number;
  runsMs: number[];
  /** Files (or calls) the operation covered and their bytes, for the rates. */
  files: number;
  bytes: number;
  filesPerSec: number;
  mbPerSec: number;
  peakRssMB: number | null;
  /** This figure's time over floor (a) / floor (b) time (lower is better; < 1 beats the floor). */
  xFloorA: number | null;
  xFloorB: number | null;
  /** Convert rows: time over floor (c), the durability steps alone. */
  xFloorC?: number | null;
  detail: Record<string, unknown>;
  /** Each run's CPU ms, all threads (measure.ts Measurement.runsCpuMs). */
  runsCpuMs?: number[];
  /** The set of rounds it was measured in: figures of one set are compared round by round (measure.ts timeRatio). */
  rounds?: number;
}

export interface FailedFigure {
  id: string;
  label: string;
  error: string;
}

export interface TargetResult {
  name: string;
  measured: number | null;
  unit: string;
  goal: string;
  pass: boolean | null;
  note?: string;
}

export interface ReferenceResult {
  operation: string;
  rustXFloorB: number;
  oursXFloorB: number | null;
  /** ours / rust: below 1 means we are faster than the earlier tool was. */
  oursOverRust: number | null;
}

export interface BreakEvenRow {
  images: number;
  sidecarFiles: number;
  inlineMs: number | null;
  threadsMs: number | null;
  winner: 'inline' | 'threads' | null;
}

export interface BreakEven {
  rows: BreakEvenRow[];
  /** Smallest measured tree (sidecar files) from which threads win at every larger size; null if never. */
  measuredFiles: number | null;
  /** Where the fitted time-vs-files lines of the two engines cross; null if threads never catch up. */
  fittedFiles: number | null;
  configuredFiles: number;
  agrees: boolean | null;
  note: string;
}

export interface BenchResults {
  startedAt: string;
  finishedAt?: string;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGB: number;
    node: string;
    platform: string;
    /** 1, 5, 15-minute load averages: other processes on the machine skew every figure. */
    loadAverageAtStart: number[];
    loadAverageAtEnd?: number[];
  };
  args: Record<string, unknown>;
  library: Record<string, unknown>;
  operations: (OperationFigure | FailedFigure)[];
  targets: TargetResult[];
  reference: ReferenceResult[];
  breakEven?: BreakEven;
  /** In-memory codec figures (see codec-bench.ts). */
  codec?: Record<string, unknown>;
  extra: Record<string, unknown>;
  notes: string[];
}

export const isFailed = (f: OperationFigure | FailedFigure | undefined): f is FailedFigure => f !== undefined && 'error' in f;

export interface FigureInput {
  id: string;
  label: string;
  outcome: Outcome;
  files: number;
  bytes: number;
  floorA?: Outcome;
  floorB?: Outcome;
  floorC?: Outcome;
}

const msOf = (o: Outcome | undefined): number | null => (o && !isFailure(o) ? o.ms : null);

/** Turn a measurement into rates and floor ratios. */
export function figure(f: FigureInput): OperationFigure | FailedFigure {
  if (isFailure(f.outcome)) return { id: f.id, label: f.label, error: f.outcome.error };
  const m: Measurement = f.outcome;
  const s = m.ms / 1000;
  const a = msOf(f.floorA);
  const b = msOf(f.floorB);
  const c = msOf(f.floorC);
  return {
    id: f.id,
    label: f.label,
    ms: m.ms,
    runsMs: m.runsMs,
    files: f.files,
    bytes: f.bytes,
    filesPerSec: f.files / s,
    mbPerSec: f.bytes / 1e6 / s,
    peakRssMB: m.maxRssKB === null ? null : m.maxRssKB / 1024,
    xFloorA: a ? m.ms / a : null,
    xFloorB: b ? m.ms / b : null,
    ...(f.floorC ? { xFloorC: c ? m.ms / c : null } : {}),
    detail: m.detail,
    ...(m.runsCpuMs ? { runsCpuMs: m.runsCpuMs } : {}),
    ...(m.rounds !== undefined ? { rounds: m.rounds } : {}),
  };
}
