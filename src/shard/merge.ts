/**
 * `merge`: shard outputs of one run → the result the unsharded command gives.
 *   stats          the same TreeStats (exact sums: byte-identical JSON)
 *   format-stats   the same totals
 *   hash           the same tree digest (entries of all shards, sorted, digested once)
 *   validate       one report, results in tree order (problems too)
 *   export         in tree order, entries copied as raw text: one json run's document, or jsonl
 * Refused before anything is written: files that are not complete shard outputs, mixed commands,
 * roots, shard counts, partitions, tool versions or options, a shard given twice, a shard missing.
 */
import { resolve, sep } from 'node:path';
import { statSync } from 'node:fs';
import { errors, firstUnreadable } from '../errors.js';
import { checkedItemText, mergeBySeq, openShardFile, parsedItem, type ShardCommand, type ShardFile, type ShardReadOptions, MERGEABLE_COMMANDS } from './format.js';
import type { ExportShardSummary, HashShardSummary, LineSink, ValidateShardSummary } from './run.js';
import type { StatsRaw, TreeStats } from '../ops/stats.js';
import type { FormatStats } from '../ops/format-stats.js';
import type { TreeHash, TreeEntry } from '../integrity/tree-hash.js';
import { compareSeq, type ScanProblem, type ScanSummary, type TreeSeq } from '../scan/records.js';
import type { ValidationReport } from '../ops/validate.js';
import type { DatasetExportReport, DatasetFinding, DatasetShardSummary, DatasetWriteOptions } from '../ops/datasets.js';
import { DATASET_FORMATS, DEFAULT_EMBEDDING_DIM, isOneOf } from '../vocabulary.js';
import { endLineDeparture } from './summary-shape.js';
import { addOwn } from '../analysis/own-record.js';
import { sameFile } from '../analysis/output-guard.js';

/** Open and check every shard output; returns them ordered by shard index. */
export async function openShards(paths: readonly string[], opts: ShardReadOptions = {}): Promise<ShardFile[]> {
  if (paths.length === 0) throw errors.usage('merge needs the shard output files (one per shard)');
  const files: ShardFile[] = [];
  for (const p of paths) files.push(await openShardFile(p, opts));
  checkShards(files);
  const command = files[0].header.command as ShardCommand;
  const dataset = command === 'export' && isOneOf(DATASET_FORMATS, files[0].header.options.format);
  for (const f of files) {
    const why = endLineDeparture(dataset ? 'export-dataset' : command, f.trailer);
    if (why !== null) throw errors.notShardOutput(f.path, why);
    // A stats summary names its root (the merged report's `directory`): the header's.
    const root = (f.trailer.summary as { root?: unknown }).root;
    if (command === 'stats' && root !== f.header.root) throw errors.notShardOutput(f.path, `its summary's root ${JSON.stringify(root)} is not its header's ${JSON.stringify(f.header.root)}`);
  }
  // Validate results and export lines stream to the output as they are merged (standard output
  // too): every shard's items are read once first (count, order, each line an item), so a shard
  // cut or edited in the middle is refused before anything is written.
  if (command === 'validate' || command === 'export') for (const f of files) await checkItems(f);
  return files.sort((a, b) => a.header.shard.index - b.header.shard.index);
}

/** Every item of a shard output read once (no long item's text): the count its end line gives, each line an item, tree order. */
async function checkItems(file: ShardFile): Promise<void> {
  let last: TreeSeq | null = null;
  for await (const it of file.items()) {
    if (last !== null && compareSeq(it.seq, last) < 0) throw errors.notShardOutput(file.path, 'items out of tree order');
    last = it.seq;
  }
}

/** Same run (command, root, N, partition, version, options), each shard exactly once. */
export function checkShards(files: readonly ShardFile[]): void {
  const first = files[0];
  const fields: [string, (f: ShardFile) => string][] = [
    ['the command', (f) => f.header.command],
    ['the root', (f) => f.header.root],
    ['the shard count N', (f) => String(f.header.shard.count)],
    ['the partition rule', (f) => f.header.partition],
    ['the tool version', (f) => f.header.tool_version],
    ['the options', (f) => `${JSON.stringify(f.header.options)} (digest ${f.header.options_digest.slice(0, 12)})`],
  ];
  for (const f of files) {
    for (const [what, get] of fields) {
      if (get(f) !== get(first)) throw errors.shardMismatch(what, { path: first.path, value: get(first) }, { path: f.path, value: get(f) });
    }
  }
  if (!(MERGEABLE_COMMANDS as readonly string[]).includes(first.header.command)) {
    throw errors.notShardOutput(first.path, `command ${first.header.command} has no merge`);
  }
  const count = first.header.shard.count;
  const byIndex = new Map<number, string>();
  for (const f of files) {
    const i = f.header.shard.index;
    const seen = byIndex.get(i);
    if (seen !== undefined) throw errors.shardDuplicate(i, [seen, f.path]);
    byIndex.set(i, f.path);
  }
  const missing: number[] = [];
  for (let i = 0; i < count; i++) if (!byIndex.has(i)) missing.push(i);
  if (missing.length > 0) throw errors.shardMissing(missing, count);
}

/**
 * An output of the merge (`-o`, `--manifest`) never replaces one of its own inputs: the merged
 * result came out right, but the shard output it replaced (a day of a Job's work) was gone, and the
 * next merge refused for a missing shard. Compared by identity, so a link or another spelling of
 * the path is caught too.
 */
export function assertNotAnInput(files: readonly ShardFile[], output: string, what: string): void {
  for (const f of files) {
    if (sameFile(resolve(output), f.path)) throw errors.usage(`refusing to write the ${what} to ${output}: it is ${f.path}, one of the shard outputs being merged`);
  }
}

export async function mergeStats(files: readonly ShardFile[]): Promise<TreeStats> {
  const { finishStats, mergeStatsRaw } = await import('../ops/stats.js');
  const raw = mergeStatsRaw(files.map((f) => f.trailer.summary as StatsRaw));
  const o = files[0].header.options;
  return finishStats(raw, {
    operationType: typeof o.operation_type === 'string' ? o.operation_type : undefined,
    where: typeof o.where === 'string' ? o.where : undefined,
  });
}

export async function mergeFormatStats(files: readonly ShardFile[]): Promise<FormatStats> {
  const { sortKeysDeep } = await import('../ops/common.js');
  const parts = files.map((f) => f.trailer.summary as FormatStats);
  const out: FormatStats = JSON.parse(JSON.stringify(parts[0])) as FormatStats;
  for (const p of parts.slice(1)) {
    for (const k of Object.keys(p.format_distribution) as (keyof FormatStats['format_distribution'])[]) out.format_distribution[k] += p.format_distribution[k];
    // Extensions come from file names: own keys only (a `constructor` extension is a count, not Object's).
    for (const [k, v] of Object.entries(p.extension_distribution)) addOwn(out.extension_distribution, k, v);
    out.total_files += p.total_files;
    // A shard written before kept copies were counted has none to add.
    out.kept_copies = (out.kept_copies ?? 0) + (p.kept_copies ?? 0);
    out.scan_complete &&= p.scan_complete;
  }
  return sortKeysDeep(out);
}

/** hash: the tree digest of all shards' entries; with `manifest`, also the manifest `hash --manifest` writes. */
export async function mergeHash(files: readonly ShardFile[], opts: { manifest?: string } = {}): Promise<TreeHash> {
  const { compareUtf8, sortByKey, tagOf, treeDigest } = await import('../formats/digest.js');
  // Sidecars a shard could not decode or paths it could not read: no digest, as the unsharded run
  // (the same error, every shard's paths).
  const sums = files.map((f) => f.trailer.summary as HashShardSummary);
  const undecodable = sums.flatMap((s) => s.undecodable ?? []);
  const unreadableCount = sums.reduce((n, s) => n + (s.unreadable_count ?? 0), 0);
  if (undecodable.length > 0 || unreadableCount > 0) {
    throw errors.notDigested(undecodable.sort(compareUtf8), firstUnreadable(sums.flatMap((s) => s.unreadable ?? [])), unreadableCount);
  }
  const entries: TreeEntry[] = [];
  let bytes = 0;
  // The manifest this merge writes, when it lies in the tree: the shards could not know it, and hashed
  // the one an earlier merge wrote there (a new digest on every merge of an unchanged tree).
  const { relInTree } = await import('../integrity/tree-hash.js');
  const manifestRel = opts.manifest ? relInTree(files[0].header.root, opts.manifest) : null;
  const manifestKey = manifestRel === null ? null : manifestRel.split(sep).join('/');
  for (const f of files) {
    for await (const it of f.items()) {
      const e = await parsedItem<TreeEntry>(it);
      if (e.key === manifestKey) {
        bytes -= statSync(opts.manifest!, { throwIfNoEntry: false })?.size ?? 0;
        continue;
      }
      entries.push(e);
    }
    bytes += (f.trailer.summary as HashShardSummary).bytes;
  }
  sortByKey(entries);
  for (let i = 1; i < entries.length; i++) {
    if (entries[i].key === entries[i - 1].key) throw errors.notShardOutput(files[0].path, `${entries[i].key} is in two shards (not a partition: shards of different trees?)`);
  }
  const version = (files[0].trailer.summary as HashShardSummary).version as TreeHash['version'];
  const digest = treeDigest(entries);
  if (opts.manifest) {
    const { writeManifest } = await import('../integrity/manifest.js');
    const { assertOutputNotManaged } = await import('../analysis/output-guard.js');
    const exts = files[0].header.options.image_extensions;
    assertOutputNotManaged(resolve(opts.manifest), 'manifest', Array.isArray(exts) ? (exts as string[]) : undefined);
    assertNotAnInput(files, opts.manifest, 'manifest');
    await writeManifest(opts.manifest, { version, rootDigest: digest, allFiles: (files[0].trailer.summary as HashShardSummary).all_files, entries });
  }
  return { version, digest, tag: tagOf(version, digest), files: entries.length, bytes };
}

export interface MergedValidate {
  report: Pick<ValidationReport, 'total_files' | 'valid_files' | 'invalid_files' | 'keptNewer' | 'scan'>;
}

/**
 * validate: results in tree order through `onResult` (parsed: they are plain values), then the
 * totals as one report (`scan` holds what validationTotals prints).
 */
export async function mergeValidate(files: readonly ShardFile[], onResult: (r: object) => Promise<void> | void | undefined): Promise<MergedValidate> {
  for await (const it of mergeBySeq(files)) {
    const w = onResult(await parsedItem<object>(it));
    if (w) await w;
  }
  const parts = files.map((f) => f.trailer.summary as ValidateShardSummary);
  const problems = parts.flatMap((p) => p.problems).sort((a, b) => compareSeq(a.seq as TreeSeq, b.seq as TreeSeq));
  const scan = {
    root: files[0].header.root,
    complete: parts.every((p) => p.complete),
    problemCount: parts.reduce((n, p) => n + p.problem_count, 0),
    problems: problems.slice(0, 200).map(({ seq: _seq, ...p }): ScanProblem => p),
    // A fact of the run, not of the tree: shard 0's engine stands for the merge.
    engine: parts[0].engine,
  } as ScanSummary;
  return {
    report: {
      total_files: parts.reduce((n, p) => n + p.total_files, 0),
      valid_files: parts.reduce((n, p) => n + p.valid_files, 0),
      invalid_files: parts.reduce((n, p) => n + p.invalid_files, 0),
      keptNewer: parts.reduce((n, p) => n + (p.kept_newer ?? 0), 0),
      scan,
    },
  };
}

/**
 * export: the entries in tree order, copied byte for byte; an entry longer than the shard reader
 * holds as one string (a big sidecar's data) is copied in pieces. As JSON lines, or (shards of
 * `-f json`, the default: `files[0].header.options.format`) in the document one json run writes
 * (ops/export.ts's json writer: the same bytes). Shards of json wrote JSON lines merged as JSON
 * lines, not the document asked for.
 */
export async function mergeExport(files: readonly ShardFile[], out: LineSink): Promise<ExportShardSummary> {
  const json = files[0].header.options.format === 'json';
  const { JSON_DOCUMENT } = await import('../ops/export.js');
  const put = async (text: string) => {
    const w = out.write(text);
    if (w) await w;
  };
  if (json) await put(JSON_DOCUMENT.begin(files[0].header.root));
  let count = 0;
  for await (const it of mergeBySeq(files)) {
    if (json) await put(JSON_DOCUMENT.before(count));
    count++;
    // Copied as text (numbers keep their type); one held as text is checked to parse first.
    if (it.raw !== null) await put(await checkedItemText(it));
    else for await (const piece of it.pieces()) await put(piece);
    if (!json) await put('\n');
  }
  if (json) await put(JSON_DOCUMENT.end(count));
  const parts = files.map((f) => f.trailer.summary as ExportShardSummary);
  return {
    exported: parts.reduce((n, p) => n + p.exported, 0),
    problems: parts.reduce((n, p) => n + p.problems, 0),
    complete: parts.every((p) => p.complete),
  };
}

/** The options a dataset export's shards recorded (run.ts resultOptions), as the writers take them. */
export function datasetShardOptions(files: readonly ShardFile[], output: string | NodeJS.WritableStream): DatasetWriteOptions | null {
  const o = files[0].header.options;
  if (!isOneOf(DATASET_FORMATS, o.format)) return null;
  return { format: o.format, output, root: files[0].header.root, dim: typeof o.dim === 'number' ? o.dim : DEFAULT_EMBEDDING_DIM, copyImages: o.copy_images === true };
}

/**
 * A dataset export (coco, yolo, embeddings): the images of every shard in tree order, written as
 * one run writes them (ids, categories and classes numbered as it numbers them). `onFinding` hears
 * of each image the writer leaves out (a YOLO label name taken twice).
 */
export async function mergeDataset(files: readonly ShardFile[], output: string | NodeJS.WritableStream, onFinding?: (f: DatasetFinding) => void): Promise<DatasetExportReport> {
  const o = datasetShardOptions(files, output);
  if (o === null) throw errors.usage(`these export shards are ${String(files[0].header.options.format)}, not a dataset`);
  const { writeDatasetItems } = await import('../ops/datasets.js');
  const items = (async function* () {
    for await (const it of mergeBySeq(files)) yield await checkedItemText(it);
  })();
  let refused = 0;
  const exts = files[0].header.options.image_extensions;
  const written = await writeDatasetItems(o, items, (message, sidecar) => {
    refused++;
    onFinding?.({ path: resolve(o.root, sidecar), kind: 'dataset', message });
  }, Array.isArray(exts) ? (exts as string[]) : undefined);
  const parts = files.map((f) => f.trailer.summary as DatasetShardSummary);
  const otherDims: Record<string, number> = {};
  for (const p of parts) for (const [k, v] of Object.entries(p.other_dims)) addOwn(otherDims, k, v);
  const sum = (k: 'problems' | 'findings' | 'without_detections' | 'no_encoding' | 'sidecar_files') => parts.reduce((n, p) => n + p[k], 0);
  return {
    format: o.format,
    ...written,
    problems: sum('problems'),
    findings: sum('findings') + refused,
    without_detections: sum('without_detections'),
    no_encoding: sum('no_encoding'),
    other_dims: otherDims,
    complete: parts.every((p) => p.complete),
    sidecar_files: sum('sidecar_files'),
  };
}

export type MergeResult =
  | { command: 'stats'; result: TreeStats }
  | { command: 'format-stats'; result: FormatStats }
  | { command: 'hash'; result: TreeHash }
  | { command: 'validate'; result: MergedValidate }
  | { command: 'export'; result: ExportShardSummary }
  /** export shards of a dataset format (coco, yolo, embeddings): written to `output`. */
  | { command: 'export-dataset'; result: DatasetExportReport };

/**
 * The library's merge: open and check the files, then combine them. Streamed results (validate
 * results, export lines) go to `onResult` / `out`; aggregates come back in the result.
 */
export async function mergeShards(
  paths: readonly string[],
  opts: {
    onResult?: (r: object) => Promise<void> | void | undefined;
    out?: LineSink;
    manifest?: string;
    /** A dataset export's output (its file, folder or stream), and who hears of the images it leaves out. */
    output?: string | NodeJS.WritableStream;
    onFinding?: (f: DatasetFinding) => void;
  } & ShardReadOptions = {},
): Promise<MergeResult> {
  const files = await openShards(paths, { textLineBytes: opts.textLineBytes });
  const command = files[0].header.command as ShardCommand;
  switch (command) {
    case 'stats':
      return { command, result: await mergeStats(files) };
    case 'format-stats':
      return { command, result: await mergeFormatStats(files) };
    case 'hash':
      return { command, result: await mergeHash(files, { manifest: opts.manifest }) };
    case 'validate':
      return { command, result: await mergeValidate(files, opts.onResult ?? (() => undefined)) };
    case 'export':
      if (isOneOf(DATASET_FORMATS, files[0].header.options.format)) {
        if (opts.output === undefined) throw errors.usage(`merging ${String(files[0].header.options.format)} shards needs an output`);
        return { command: 'export-dataset', result: await mergeDataset(files, opts.output, opts.onFinding) };
      }
      return { command, result: await mergeExport(files, opts.out ?? { write: () => undefined }) };
  }
}
