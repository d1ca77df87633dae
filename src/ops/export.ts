/**
 * export: stream every image's effective sidecar to one JSON, JSON-lines or CSV file.
 *
 * Entries come in scan order (files of a folder before its subfolders, names by UTF-16 code
 * unit) and each is written as soon as its record arrives; the output is never held in memory
 * as a whole. No clock is read, so two runs over the same tree give byte-identical output.
 * One entry per image record that owns an effective sidecar (`ownEffective`): a symlinked image
 * whose target is inside the root is exported once, by the target's own record; corrupt or
 * missing sidecars are not exported. For a record with several images (ambiguous: a RAW+JPEG pair
 * sharing its stem file) `image` is the one the sidecar records, else the first of them; when
 * the pair's images each have a sidecar of their own, each is exported with it
 * (common.ts imageSidecars).
 *
 * json — the earlier tool's object, with `total_sidecars` AFTER the array because the count is
 *   only known at the end (key order does not matter to JSON parsers); `exported_at` is kept for
 *   callers that read the key, but is always null (a timestamp would make runs differ):
 *     {
 *       "exported_at": null,
 *       "source_directory": "/abs/root",
 *       "sidecars": [
 *         {"image":"a/IMG_1.jpg","sidecar":"a/IMG_1.json","format":"json","data":{...}},   ← one per line
 *         ...
 *       ],
 *       "total_sidecars": 2
 *     }
 * jsonl — one {"image","sidecar","format","data"} object per line (LF).
 * csv — RFC 4180 (CRLF, quoting as in csv.ts), a header row, then one row per entry:
 *     image          image path relative to the root (POSIX)
 *     sidecar        sidecar path relative to the root (may start with ../ for a link target outside)
 *     format         content format: json | bin | rkyv | legacy
 *     operations     operation names (snake_case) joined with ';'
 *     faces          faces over all operations
 *     objects        detected objects over all operations
 *     embeddings     faces carrying a face embedding
 *     quality_grade  quality.grade (A..F) or empty
 *     quality_score  quality.overall_score or empty
 *     size_bytes     sidecar file size in bytes
 *     category       scan category of the image (ok, ambiguous, broken-symlink...)
 *
 * A path output is written to a temp file next to it (fsync'd) and renamed over the final name
 * at the end: a failed or interrupted export never leaves a partial file under that name.
 * A stream output is written with back-pressure and is not ended (the caller owns it).
 */
import { resolve } from 'node:path';
import { assertOutputNotManaged } from '../analysis/output-guard.js';
import { errors } from '../errors.js';
import { scan } from './scan.js';
import { type ScanImage, type ScanRecord, type ScanSidecar } from '../scan/records.js';
import { readSidecarRecord } from '../analysis/image-identity.js';
import type { Options } from '../types.js';
import { imageSidecars, recordedImageOf, sidecarFilter } from './common.js';
import { csvRow, type CsvOptions } from './csv.js';
import { SIDECAR_EXPORT_FORMATS } from '../vocabulary.js';
import { openOutputSink } from '../fs/output-sink.js';
import { isStdoutName } from '../fs/stdout-name.js';
import { lockedDataError } from '../integrity/tree-hash.js';

export type ExportFormat = (typeof SIDECAR_EXPORT_FORMATS)[number];

export interface ExportOptions extends Options {
  format: ExportFormat;
  /** A path (written atomically), or a stream. '-' means process.stdout. */
  output: NodeJS.WritableStream | string;
  /** Only sidecars that contain this operation (any spelling). */
  operationType?: string;
  /** Only sidecars matching this filter expression (docs/QUERY.md). */
  where?: string;
  /** CSV: write text cells as they are, without the formula-injection guard (csv.ts). */
  csvRaw?: boolean;
  /** Called for every corrupt or unreadable sidecar (not exported): the caller reports them. */
  onProblem?: (problem: ExportProblem) => void;
  /**
   * Write a shard output (src/shard/format.ts) instead: `begin` first, each jsonl entry as an
   * item with its tree position, then `end(...)` with the totals. Only with format jsonl.
   */
  shardEnvelope?: { begin: string; end: (totals: { exported: number; problems: number; complete: boolean }) => string };
}

/** A sidecar the export had to leave out because it could not be read or decoded. */
export interface ExportProblem {
  path: string;
  category: 'corrupt' | 'unreadable';
  code: string;
  message: string;
}

export interface ExportReport {
  exported: number;
  /** The file written, or null for a stream. */
  output: string | null;
  format: string;
  /** False when the scan could not read part of the tree (those files are missing from the export). */
  complete: boolean;
  /** Corrupt or unreadable sidecars left out (each also passed to `onProblem`). */
  problems: number;
  /** Sidecar files of the tree (README "Categories"; the count stats, validate, cleanup... report). `exported` counts images. */
  sidecar_files: number;
}

export const CSV_COLUMNS = [
  'image',
  'sidecar',
  'format',
  'operations',
  'faces',
  'objects',
  'embeddings',
  'quality_grade',
  'quality_score',
  'size_bytes',
  'category',
] as const;

const FORMATS: ReadonlySet<string> = new Set(SIDECAR_EXPORT_FORMATS);

export async function exportSidecars(root: string, opts: ExportOptions): Promise<ExportReport> {
  const { format, output, operationType, where, onProblem, csvRaw, shardEnvelope, ...scanOpts } = opts;
  if (!FORMATS.has(format)) throw errors.usage(`unknown export format "${String(format)}" (expected ${SIDECAR_EXPORT_FORMATS.join(', ')}; coco, yolo and embeddings: exportDataset)`);
  if (shardEnvelope && format !== 'jsonl') throw errors.usage('a shard of export writes JSON lines: use --format jsonl (merge gives the tree-ordered jsonl)');
  if (output === undefined || output === null || output === '') throw errors.usage('export needs an output path or stream');
  const rootAbs = resolve(root);
  if (typeof output === 'string' && !isStdoutName(output)) assertOutputNotManaged(output, 'export', scanOpts.imageExtensions);
  const filter = sidecarFilter(operationType, where);
  const session = scan(rootAbs, { ...scanOpts, inspect: { summarize: true, sizes: false, dataJson: format !== 'csv' } });
  const writer = shardEnvelope ? shardWriter(shardEnvelope.begin) : format === 'csv' ? csvWriter({ raw: csvRaw === true }) : WRITERS[format];

  const sink = await openOutputSink(output, process.stdout);
  let exported = 0;
  let problems = 0;
  try {
    await sink.write(writer.begin(rootAbs));
    for await (const rec of session) {
      if (rec.category === 'corrupt' || rec.category === 'unreadable') {
        for (const p of recordProblems(rec)) {
          problems++;
          onProblem?.(p);
        }
      }
      if (rec.images.length === 0) continue;
      // Without a key an encrypted sidecar's data is unknown: fail rather than leave it out
      // silently, or give an older plaintext candidate's data for it.
      const locked = lockedDataError(rec);
      if (locked) throw locked;
      // (A RAW+JPEG pair whose images each have their own sidecar: an entry for each; a readable
      // sidecar of the folder neither takes alone is exported too, under the image entryImage
      // names: a data export leaves nothing out, and each entry names its sidecar. Not the files a
      // link's read leaves beside its target outside the root: those are other images' (the RAW of
      // the pair a linked JPEG is in) or older copies, none of this tree's; they were written under
      // the link's name, once per link. datasets names them as left out.)
      const taken = await imageSidecars(rec, scanOpts);
      const leftOut = taken.leftOut.filter((sc) => sc.side === 'local');
      for (const { image, sidecar: sc } of [...taken.entries, ...leftOut.map((sidecar) => ({ image: undefined, sidecar }))]) {
        if (filter && !filter(sc)) continue;
        const pieces = writer.entry((image ?? entryImage(rec, sc, scanOpts)).rel, rec, sc, exported === 0);
        exported++;
        // Pieces, not one string: a big sidecar's text is written as it came from the worker.
        if (typeof pieces === 'string') await sink.write(pieces);
        else for (const piece of pieces) await sink.write(piece);
      }
    }
    await sink.write(shardEnvelope ? shardEnvelope.end({ exported, problems, complete: session.summary.complete }) : writer.end(exported));
    await sink.close();
  } catch (e) {
    await sink.abort();
    throw errors.fromFs(e, typeof output === 'string' ? output : undefined);
  }
  return { exported, output: sink.target === '-' ? null : sink.target, format, complete: session.summary.complete, problems, sidecar_files: session.summary.sidecarFiles };
}

/** The files of a corrupt / unreadable record, with the decoder's or the file system's reason. */
export function recordProblems(rec: ScanRecord): ExportProblem[] {
  const category = rec.category as ExportProblem['category'];
  const bad = rec.sidecars.filter((s) => s.inspection.error !== undefined);
  if (bad.length > 0) return bad.map((s) => ({ path: s.path, category, code: s.inspection.error!.code, message: s.inspection.error!.message }));
  const f = rec.findings[0];
  return [{ path: f?.paths[0] ?? rec.images[0]?.path ?? rec.dir, category, code: category === 'corrupt' ? 'CORRUPT' : 'IO', message: f?.message ?? category }];
}

// ---------------------------------------------------------------------------------------------
// formats
// ---------------------------------------------------------------------------------------------

/**
 * The image an entry names: the record's only one; of several (a RAW+JPEG pair whose shared stem
 * file holds the JPEG's results), the one the sidecar records (read here: such records are rare),
 * else the first. Named by its first image, the JPEG's faces went out as the RAW's.
 */
function entryImage(rec: ScanRecord, sc: ScanSidecar, opts: Options): ScanImage {
  return recordedImageOf(rec, () => readSidecarRecord(sc.path, opts.keyring, { maxFileSize: opts.maxFileSize, maxDepth: opts.maxDepth })?.name ?? null) ?? rec.images[0];
}

interface FormatWriter {
  begin(root: string): string;
  entry(image: string, rec: ScanRecord, sc: ScanSidecar, first: boolean): string | (string | Uint8Array)[];
  end(count: number): string;
}

/** Exactly JSON.stringify({ image, sidecar, format, data }) in pieces, the data's text made in the worker. */
function entryJson(image: string, sc: ScanSidecar, before: string, after: string): (string | Uint8Array)[] {
  const head = JSON.stringify({ image, sidecar: sc.rel, format: sc.inspection.format });
  return [`${before}${head.slice(0, -1)},"data":`, sc.inspection.dataJson ?? 'null', `}${after}`];
}

/** jsonl entries as shard-output items: {"seq":[a,b],"item":<entry>} (the item text as jsonl has it). */
function shardWriter(begin: string): FormatWriter {
  return {
    begin: () => begin,
    entry: (image, rec, sc) => entryJson(image, sc, `{"seq":[${rec.seq[0]},${rec.seq[1]}],"item":`, '}\n'),
    end: () => '',
  };
}

/** The json document's text around its entries (merge writes a json export's shards with it too). */
export const JSON_DOCUMENT = {
  begin: (root: string) => `{\n  "exported_at": null,\n  "source_directory": ${JSON.stringify(root)},\n  "sidecars": [`,
  /** Before entry number `i` (from 0). */
  before: (i: number) => (i === 0 ? '\n    ' : ',\n    '),
  end: (count: number) => `${count > 0 ? '\n  ' : ''}],\n  "total_sidecars": ${count}\n}\n`,
};

const WRITERS: Record<ExportFormat, FormatWriter> = {
  json: {
    begin: (root) => JSON_DOCUMENT.begin(root),
    entry: (image, _rec, sc, first) => entryJson(image, sc, JSON_DOCUMENT.before(first ? 0 : 1), ''),
    end: (count) => JSON_DOCUMENT.end(count),
  },
  jsonl: {
    begin: () => '',
    entry: (image, _rec, sc) => entryJson(image, sc, '', '\n'),
    end: () => '',
  },
  csv: csvWriter({}),
};

function csvWriter(csv: CsvOptions): FormatWriter {
  return {
    begin: () => csvRow(CSV_COLUMNS, csv),
    entry: (image, rec, sc) => {
      const s = sc.inspection.summary;
      return csvRow([
        image,
        sc.rel,
        sc.inspection.format,
        s ? s.operations.join(';') : '',
        s?.faces ?? 0,
        s?.objects ?? 0,
        s?.embeddings ?? 0,
        s?.qualityGrade ?? null,
        s?.qualityScore ?? null,
        sc.inspection.size,
        rec.category,
      ], csv);
    },
    end: () => '',
  };
}
