/**
 * What `export`, its shards and `merge` share: the filter flags, the dataset flags, and how a
 * dataset export's findings and outcome are printed (cmd-export.ts, cmd-shard.ts, cmd-merge.ts).
 */
import { EXIT_CLEAN, EXIT_FINDINGS, errors } from '../errors.js';
import type { DatasetExportReport, DatasetFinding } from '../ops/datasets.js';
import { note, optString, type CommandContext } from './context.js';
import { exportMessage } from '../messages.js';
import { DATASET_INCLUDES, isOneOf } from '../vocabulary.js';
import { dirname, sep } from 'node:path';

/**
 * A finding's message with its path in front, unless the message names it first: as it is, or (a
 * name that is not UTF-8, docs/BYTE-NAMES.md) as a path of the same folder with its bytes as `\xHH`.
 */
export function withPath(path: string, message: string): string {
  const named = message.startsWith(path) || (path.includes('\uFFFD') && message.startsWith(dirname(path) + sep));
  return named ? message : `${path}: ${message}`;
}

/** `--operation-type` or its other spelling `--operation` (both given: they must agree). */
export function exportOperation(ctx: CommandContext): string | undefined {
  const a = optString(ctx, 'operationType');
  const b = optString(ctx, 'operation');
  if (a !== undefined && b !== undefined && a !== b) throw errors.usage(`--operation-type ${a} and --operation ${b} disagree: give one`);
  return a ?? b;
}

/** The dataset flags (`--include`, `--dim`, `--copy-images`), refused with a format they do not apply to. */
export function datasetFlags(ctx: CommandContext, format: string): { faces?: boolean; dim?: number; copyImages?: boolean } {
  const out: { faces?: boolean; dim?: number; copyImages?: boolean } = {};
  const include = optString(ctx, 'include');
  if (include !== undefined) {
    const kinds = include.split(',').map((k) => k.trim()).filter((k) => k !== '');
    for (const k of kinds) if (!isOneOf(DATASET_INCLUDES, k)) throw errors.usage(`--include: unknown kind "${k}" (expected ${DATASET_INCLUDES.join(', ')})`);
    if (format !== 'coco' && format !== 'yolo') throw errors.usage('--include is for --format coco and yolo');
    if (kinds.includes('faces')) out.faces = true;
  }
  if (ctx.opts.dim !== undefined) {
    if (format !== 'embeddings') throw errors.usage('--dim is for --format embeddings');
    out.dim = ctx.opts.dim;
  }
  if (ctx.opts.copyImages === true) {
    if (format !== 'yolo') throw errors.usage('--copy-images is for --format yolo');
    out.copyImages = true;
  }
  return out;
}

/**
 * Findings as notes on stderr, each as it comes: one line per sidecar left out, never cut short
 * (only export names the boxes it could not convert: validate does not check them).
 */
export function findingsNotes(ctx: CommandContext, progress?: { clear(): void }): { add: (f: DatasetFinding) => void } {
  return {
    add: (f) => {
      progress?.clear();
      note(ctx, `${f.kind === 'dataset' ? 'not in the dataset' : `not exported (${f.kind})`}: ${withPath(f.path, f.message)}`);
    },
  };
}

/** What a dataset export (or its merge) prints, and its exit code. */
export function datasetOutcome(ctx: CommandContext, report: DatasetExportReport): number {
  const where = report.output ?? 'stdout';
  const message = exportMessage(report.images, where);
  if (report.output !== null) ctx.io.stdout.write(ctx.opts.json ? `${JSON.stringify({ message, ...report })}\n` : `${message}\n`);
  else note(ctx, message);
  const what =
    report.format === 'embeddings'
      ? `${report.rows} vectors of ${report.dim} floats; ${report.no_encoding} faces without an encoding${Object.keys(report.other_dims).length > 0 ? `, other lengths left out: ${Object.entries(report.other_dims).map(([k, v]) => `${v} of ${k}`).join(', ')}` : ''}`
      : `${report.annotations} boxes in ${report.categories.length} categories; ${report.without_detections} sidecars without a detection left out`;
  if (!ctx.opts.json) note(ctx, what);
  if (report.problems > 0) note(ctx, `warning: ${report.problems} corrupt or unreadable sidecar(s) left out (see \`image-sidecar validate\`)`);
  if (report.findings > 0) note(ctx, `warning: ${report.findings} sidecar(s) whose results could not be read with certainty (see docs/EXPORT.md)`);
  if (!report.complete) note(ctx, 'warning: the scan was incomplete (some paths could not be read); those sidecars are not in the dataset');
  return report.complete && report.problems === 0 && report.findings === 0 ? EXIT_CLEAN : EXIT_FINDINGS;
}
