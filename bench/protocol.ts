/**
 * What the parent (run.ts) asks a child runner (runner.ts) to do, and what the child answers.
 * One child process per measured run, so each run's peak RSS is its own.
 */
import type { EngineKind } from '../src/types.js';

export type OpSpec =
  /** Floor (a): readFileSync every listed file, one thread. */
  | { op: 'floor-read'; list: string }
  /** Floor (b): readFileSync + JSON.parse every listed file, one thread. */
  | { op: 'floor-parse'; list: string }
  /**
   * The listing floor of a shard: readdirSync (with file types) of every folder of the tree, one
   * thread — what every shard must do at least, since a group's partition comes from its names.
   */
  | { op: 'floor-walk'; root: string }
  | { op: 'floor-stat'; list: string; root: string }
  /** Floor (d), the bin floor: readFileSync + decodeSidecar every listed file, one thread. */
  | { op: 'floor-decode'; list: string }
  /** An export's output floor: the bytes of the files `from` (read before the clock starts) written to new files in `dir` and fsynced, one thread. */
  | { op: 'floor-write'; from: string[]; dir: string }
  /** The irreducible work of a tree on two threads (irreducible.ts): walk, image links resolved, sidecars read (`decode`: and decoded). */
  | { op: 'floor-irreducible'; root: string; decode: boolean }
  /** The file-system calls a run on a file server cannot skip, many at once (file-server-calls.ts): `reads` false a second run's, true --no-index's. */
  | { op: 'floor-file-server'; root: string; listFrom: string; reads: boolean }
  /**
   * Floor (c) for convert: convert's durability steps without decoding, per listed file (paths
   * under fromRoot, done on the copy under toRoot): read → write a new file beside it → fsync →
   * rename → fsync dir → unlink the source → fsync dir. One thread.
   */
  | { op: 'floor-durable'; list: string; fromRoot: string; toRoot: string }
  /** `accel`: the WebAssembly JSON scanner (absent: the default, on); `callerRuns`: Options.callerRuns (absent: the default, on). */
  | { op: 'validate'; root: string; engine: EngineKind; workers?: number; index?: BenchIndex; accel?: boolean; callerRuns?: boolean }
  /** With `shard`: what one job of `stats --shard I/N` computes (the shard's raw counts). */
  | { op: 'stats'; root: string; engine: EngineKind; workers?: number; shard?: { index: number; count: number }; index?: BenchIndex; accel?: boolean }
  /**
   * The parse-only cost: the inspect task (validate's options) over every listed file, one thread,
   * with the accelerator on or off; CPU time and how many files were certified / deferred.
   */
  | { op: 'accel-inspect'; list: string; accel: boolean; what?: InspectWhat }
  | { op: 'format-stats'; root: string; engine: EngineKind; workers?: number; index?: BenchIndex }
  /** The HTML report (stats + validate + format-stats + render), page kept in memory. */
  | { op: 'report'; root: string; engine: EngineKind; workers?: number }
  /** `todo` for one operation (the pipeline's "what is left"), compared with validate. */
  | { op: 'todo'; root: string; engine: EngineKind; workers?: number; operation: string }
  | { op: 'convert'; root: string; format: 'bin' | 'json'; workers?: number }
  /** The earlier tool's `convert -i ROOT -f bin` (binary given by IMAGE_SIDECAR_BENCH_ORIG), then `sync`. */
  | { op: 'orig-convert'; bin: string; root: string }
  /**
   * One whole process of a command-line tool (section earlier, tool-run.ts): our CLI (`exe`: its
   * cli.js; `index`: the index file, absent: --no-index; `engine: 'inline'`: IMAGE_SIDECAR_ENGINE=inline)
   * or the earlier Rust tool (`exe`: its binary; `out`: the file its `-o` writes), or (`floor`) the
   * irreducible work as a process of its own (`exe`: irreducible-whole.js; `engine: 'inline'`: on one thread), under /usr/bin/time.
   */
  | { op: 'tool-run'; tool: 'ours' | 'earlier' | 'floor'; command: 'validate' | 'stats'; exe: string; root: string; out?: string; index?: string; engine?: 'inline' }
  /** `readSidecar` for every listed image, one call at a time. */
  | { op: 'read'; list: string }
  | { op: 'hash'; root: string; workers?: number }
  /** `xargs -0 sha256sum` over the listed files (one sha256sum process at a time). */
  | { op: 'sha256sum'; list: string }
  /** Start `serve --stdio`, read every listed image through it (pipelined), then time sequential calls. */
  | { op: 'server-reads'; cli: string; list: string; latencyCalls: number; window: number }
  /** exportDataset of a tree into `output` (no index, as --no-index). */
  | { op: 'export-dataset'; root: string; format: 'coco' | 'yolo' | 'embeddings'; output: string; engine: EngineKind; workers?: number }
  /**
   * bench/python_embeddings.py over the listed files: the plain Python loop a pipeline writes
   * (json.load each, collect the 512-float encodings and their rows, one float32 matrix); its own
   * clock, interpreter start-up excluded.
   */
  | { op: 'python-embeddings'; python: string; script: string; list: string }
  /** In-memory codec figures on realistic sidecars. */
  | { op: 'codec'; count: number; seed: number }
  /**
   * The given runs started together, each a runner process of its own (at-once.ts): a run split
   * perfectly over the machine's cores, with no cost of its own for splitting, takes at least the
   * wall of N of it at once divided by N — the bound of a design that would split it.
   */
  | { op: 'at-once'; specs: OpSpec[] };

/**
 * What the one-thread inspect op does per file: validate's inspection (the default), todo's probe,
 * or only the part todo cannot skip — read the file and check its syntax with the WebAssembly
 * scanner (every byte: a corrupt sidecar is a problem, never listed), nothing built.
 */
export type InspectWhat = 'validate' | 'probe' | 'check';

/** The incremental index of a tree operation (absent: --no-index). */
export interface BenchIndex {
  path: string;
  /** 0: record files however recently they changed (preparing a warm index right after a change). */
  racyMarginMs?: number;
  /** Folder records (on by default, docs/INDEX.md): absent = the library's default. */
  folderRecords?: boolean;
}

export type OpName = OpSpec['op'];

/** A child's answer: one JSON line, the last on its stdout. */
export interface OpSample {
  /** Wall time of the operation itself (module loading and set-up excluded). */
  ms: number;
  /** process.resourceUsage().maxRSS of the child (KiB), worker threads included; null if not meaningful. */
  maxRssKB: number | null;
  /** Operation-specific figures (counts it reported, latencies, sizes...). */
  detail: Record<string, unknown>;
}
