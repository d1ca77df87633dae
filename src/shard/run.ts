/**
 * One shard of a tree command, written as a shard output (format.ts) for `merge`:
 *   stats, format-stats   no items; the summary holds the raw counts
 *   validate              one item per result, tree order; summary: totals, scan facts, problems with positions
 *   hash                  one item per entry ({key, hex[, canonical]}), key order; summary: version, counts
 *   export                one item per jsonl entry, tree order (written by ops/export.ts)
 * The caller gives a line sink (stdout, or a file written atomically: fs/output-sink.ts).
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { errors, type UnreadablePath } from '../errors.js';
import { DEFAULT_MAX_FILE_SIZE, readInputLimited } from '../fs/read-file.js';
import { canonicalJson } from '../formats/canonical.js';
import { keyringIds } from '../crypto/keys.js';
import type { ShardSpec } from '../discovery/shard.js';
import type { JsonValue, Options } from '../types.js';
import { packageVersion } from '../version.js';
import { headerLine, itemLine, makeHeader, SHARD_FORMAT_NOT_DIGESTED, trailerLine, type ShardCommand, type ShardHeader } from './format.js';
import type { StatsOptions } from '../ops/stats.js';
import type { ValidateOptions } from '../ops/validate.js';
import type { HashOptions } from '../integrity/tree-hash.js';
import type { ExportOptions } from '../ops/export.js';
import type { DatasetExportOptions } from '../ops/datasets.js';
import { DATASET_FORMATS, DEFAULT_EMBEDDING_DIM, isOneOf } from '../vocabulary.js';

export interface LineSink {
  write(text: string): Promise<void> | undefined;
}

export type ShardRunOptions = Options & { shard: ShardSpec & { source?: string } };

/** Summary of a validate shard: the report's totals and what merge needs of its scan. */
export interface ValidateShardSummary {
  total_files: number;
  valid_files: number;
  invalid_files: number;
  /** Kept copies modified after the file reads take (ValidationReport.keptNewer; absent in older shard files). */
  kept_newer?: number;
  complete: boolean;
  problem_count: number;
  /** This shard's kept problems, with their tree positions. */
  problems: { seq: [number, number]; path: string; code: string; message: string }[];
  engine: { kind: string; workers: number };
}

export interface HashShardSummary {
  version: string;
  all_files: boolean;
  files: number;
  bytes: number;
  /**
   * `--canonical`: this shard's sidecars that cannot be decoded; and the paths it could not read (the
   * first named, all counted). With any, no entry is written: the merge then gives what the
   * unsharded run gives, no digest and every shard's such paths.
   */
  undecodable?: string[];
  unreadable?: UnreadablePath[];
  unreadable_count?: number;
}

export interface ExportShardSummary {
  exported: number;
  problems: number;
  complete: boolean;
}

/** The options that change a command's result, as the header records them (digested). */
async function resultOptions(command: ShardCommand, opts: ShardRunOptions & Record<string, unknown>): Promise<Record<string, JsonValue | undefined>> {
  // Which keys can decrypt changes results; the ids say which (the same in every job: keyringIds), the keys never leave.
  const ids = opts.keyring ? keyringIds(opts.keyring) : null;
  const o: Record<string, JsonValue | undefined> = {
    image_extensions: opts.imageExtensions ? [...opts.imageExtensions].sort() : undefined,
    max_file_size: opts.maxFileSize,
    max_depth: opts.maxDepth,
    key_ids: ids && ids.keys.length > 0 ? ids.keys : undefined,
    passphrase: ids?.passphrase ?? undefined,
  };
  if (command === 'stats' || command === 'validate' || command === 'export') {
    o.operation_type = typeof opts.operationType === 'string' ? opts.operationType : undefined;
    o.where = typeof opts.where === 'string' ? opts.where : undefined;
  }
  if (command === 'validate' && opts.schema !== undefined) {
    // The schema's content, not its path (shards may mount it elsewhere).
    const text = typeof opts.schema === 'string' ? await readInputLimited(opts.schema, DEFAULT_MAX_FILE_SIZE) : canonicalJson(opts.schema as JsonValue);
    o.schema_sha256 = createHash('sha256').update(text).digest('hex');
  }
  if (command === 'hash') {
    o.canonical = opts.canonical === true;
    o.all_files = opts.allFiles === true;
  }
  if (command === 'export') {
    // A dataset's shards record what shapes their items and the merged outputs.
    const dataset = isOneOf(DATASET_FORMATS, opts.format);
    // json or jsonl: the items are JSON lines either way; merge writes the document asked for.
    o.format = dataset ? (opts.format as string) : opts.format === 'json' ? 'json' : 'jsonl';
    if (dataset) {
      o.faces = opts.faces === true;
      o.dim = opts.format === 'embeddings' ? ((opts.dim as number | undefined) ?? DEFAULT_EMBEDDING_DIM) : undefined;
      o.copy_images = opts.copyImages === true;
    }
  }
  return o;
}

async function header(command: ShardCommand, root: string, opts: ShardRunOptions): Promise<ShardHeader> {
  return makeHeader(command, resolve(root), opts.shard, packageVersion(), await resultOptions(command, opts as ShardRunOptions & Record<string, unknown>));
}

/** stats of one shard. Returns the raw counts written as the summary. */
export async function statsShard(root: string, opts: StatsOptions & ShardRunOptions, out: LineSink) {
  const { statsRaw } = await import('../ops/stats.js');
  const h = await header('stats', root, opts);
  const raw = await statsRaw(root, opts);
  await out.write(headerLine(h));
  await out.write(trailerLine(0, raw));
  return raw;
}

/** format-stats of one shard (its counts are the summary). */
export async function formatStatsShard(root: string, opts: ShardRunOptions, out: LineSink) {
  const { formatStats } = await import('../ops/format-stats.js');
  const h = await header('format-stats', root, opts);
  const r = await formatStats(root, opts);
  await out.write(headerLine(h));
  await out.write(trailerLine(0, r));
  return r;
}

/** validate of one shard: each result as an item at its record's tree position. */
export async function validateShard(root: string, opts: Omit<ValidateOptions, 'onResult'> & ShardRunOptions, out: LineSink): Promise<ValidateShardSummary> {
  const { validate } = await import('../ops/validate.js');
  const h = await header('validate', root, opts);
  await out.write(headerLine(h));
  let items = 0;
  const report = await validate(root, {
    ...opts,
    onResult: (r, rec) => {
      items++;
      return out.write(itemLine(rec.seq, JSON.stringify(r)));
    },
  });
  const s = report.scan;
  const summary: ValidateShardSummary = {
    total_files: report.total_files,
    valid_files: report.valid_files,
    invalid_files: report.invalid_files,
    kept_newer: report.keptNewer,
    complete: s.complete,
    problem_count: s.problemCount,
    problems: s.problems.map((p, i) => ({ seq: [report.problemSeqs[i][0], report.problemSeqs[i][1]], ...p })),
    engine: s.engine,
  };
  await out.write(trailerLine(items, summary));
  return summary;
}

/** hash of one shard: its entries (key order) and counts; merge computes the tree digest. */
export async function hashShard(root: string, opts: HashOptions & ShardRunOptions, out: LineSink): Promise<HashShardSummary> {
  if (opts.manifest) throw errors.usage('a shard of hash writes no manifest: give --manifest FILE to merge instead');
  const { listTree } = await import('../integrity/tree-hash.js');
  const h = await header('hash', root, opts);
  const { perImageSidecarsFor } = await import('../ops/hash.js');
  const listing = await listTree(root, { perImageSidecars: perImageSidecarsFor(opts), ...opts });
  if (listing.undecodable.length > 0 || listing.unreadableCount > 0) {
    // A digest cannot leave a file out: the unsharded run lists these and gives no digest (exit
    // 1); the shard says which are its own, and the merge gives that list whole.
    const summary: HashShardSummary = { version: listing.version, all_files: listing.allFiles, files: 0, bytes: 0 };
    if (listing.undecodable.length > 0) summary.undecodable = listing.undecodable;
    if (listing.unreadableCount > 0) Object.assign(summary, { unreadable: listing.unreadable, unreadable_count: listing.unreadableCount });
    await out.write(headerLine({ ...h, image_sidecar_shard: SHARD_FORMAT_NOT_DIGESTED }));
    await out.write(trailerLine(0, summary));
    return summary;
  }
  await out.write(headerLine(h));
  let i = 0;
  for (const e of listing.entries) {
    const w = out.write(itemLine([0, i++], JSON.stringify(e)));
    if (w) await w;
  }
  const summary: HashShardSummary = { version: listing.version, all_files: listing.allFiles, files: listing.files, bytes: listing.bytes };
  await out.write(trailerLine(listing.entries.length, summary));
  return summary;
}

/** A dataset export of one shard: its items are the images in tree order; merge writes the dataset. */
export async function exportDatasetShard(root: string, opts: Omit<DatasetExportOptions, 'shardEnvelope'> & ShardRunOptions) {
  const { exportDataset } = await import('../ops/datasets.js');
  const h = await header('export', root, opts);
  return exportDataset(root, { ...opts, shardEnvelope: { begin: headerLine(h), end: (summary) => trailerLine(summary.items, summary) } });
}

/**
 * export of one shard (its entries as JSON lines): written by exportSidecars into `output` (a path is
 * written atomically). `format`: what merge writes of the shards, jsonl (the default) or json (one
 * run's document: the CLI's default, as for an unsharded export).
 */
export async function exportShard(root: string, opts: Omit<ExportOptions, 'format' | 'shardEnvelope'> & ShardRunOptions & { format?: 'json' | 'jsonl' }) {
  const { exportSidecars } = await import('../ops/export.js');
  const h = await header('export', root, { ...opts, format: opts.format ?? 'jsonl' } as ShardRunOptions);
  let items = 0;
  return exportSidecars(root, {
    ...opts,
    format: 'jsonl',
    shardEnvelope: {
      begin: headerLine(h),
      end: (t) => {
        items = t.exported;
        const summary: ExportShardSummary = t;
        return trailerLine(items, summary);
      },
    },
  });
}
