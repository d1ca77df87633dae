/**
 * export --format coco | yolo | embeddings: datasets made from the sidecars' results in one scan
 * (docs/EXPORT.md). The scan's threads read each sidecar and make its rows there
 * (analysis/dataset.ts: boxes converted, embeddings as float32); this file picks each record's
 * image, numbers images, annotations and categories in tree order, and writes the outputs:
 *
 *   coco        one COCO detection JSON: images (width/height when the sidecar gives them),
 *               annotations (bbox [x, y, w, h] in pixels), categories
 *   yolo        a folder in Ultralytics' layout: labels/<image path>.txt (class cx cy w h, 0–1),
 *               images/<image path> (a symlink to the image, or a copy), data.yaml
 *   embeddings  an N × dim float32 .npy matrix and <name>.jsonl beside it, one row per vector
 *
 * Ids are positions: images and annotations 1, 2, … in tree order, categories (YOLO classes from 0)
 * in the order they first appear; so the same tree and options give the same bytes, and `merge` of
 * shard outputs gives what one run gives. Every output appears complete or not at all (a file: a
 * temp file renamed over it; the folder: a temp folder renamed into place).
 */
import { copyFileSync, existsSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync, lstatSync, type Stats } from 'node:fs';
import { mkdir, open, rename, rm, rmdir, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { errors } from '../errors.js';
import { LITTLE_ENDIAN_HOST } from '../byte-order.js';
import { DATASET_FORMATS, DEFAULT_EMBEDDING_DIM, isOneOf } from '../vocabulary.js';
import type { Options } from '../types.js';
import type { DatasetBox, DatasetRequest, DatasetRows } from '../model/dataset.js';
import { normalizeOperationName } from '../analysis/operations.js';
import { assertOutputNotManaged } from '../analysis/output-guard.js';
import { nfc, splitName } from '../discovery/extensions.js';
import { imageRecordedAmong } from '../analysis/image-identity.js';
import { openOutputSink, type OutputSink } from '../fs/output-sink.js';
import { makeFoldersSync } from '../fs/make-folders.js';
import { isStdoutName } from '../fs/stdout-name.js';
import { leadsToRegularFile } from '../fs/regular-file.js';
import { fsyncDirs } from '../fs/dir-sync.js';
import { assertLockHeld, withSidecarLock } from '../fs/lock.js';
import { processState, tempNameFor, tempNameWriter } from '../fs/temp-files.js';
import { lockedDataError } from '../integrity/tree-hash.js';
import type { ScanImage, ScanRecord, TreeSeq } from '../scan/records.js';
import { imageSidecars, sidecarFilter } from './common.js';
import { recordProblems } from './export.js';
import { scan } from './scan.js';

export type DatasetFormat = (typeof DATASET_FORMATS)[number];

export interface DatasetExportOptions extends Options {
  format: DatasetFormat;
  /**
   * coco: a file path, '-' (stdout) or a stream; yolo: a folder (new, empty, or an earlier yolo
   * export, which is replaced); embeddings: the .npy file (the rows go beside it, `.npy` → `.jsonl`).
   */
  output: string | NodeJS.WritableStream;
  /** coco / yolo: face boxes too, as the category `face` (objects always). */
  faces?: boolean;
  /** embeddings: floats per vector (default 512); encodings of another length are counted, never mixed in. */
  dim?: number;
  /** yolo: copy the images into images/ (default: symlinks to them). */
  copyImages?: boolean;
  /** Only sidecars holding this operation (any spelling), and only its results. */
  operationType?: string;
  /** Only sidecars matching this filter expression (docs/QUERY.md). */
  where?: string;
  /** Every sidecar left out or only partly exported, once each (the caller reports them). */
  onFinding?: (finding: DatasetFinding) => void;
  /** Write a shard output instead (src/shard/format.ts): `begin`, one item per image, `end(...)`. */
  shardEnvelope?: { begin: string; end: (summary: DatasetShardSummary) => string };
}

/** A sidecar the dataset could not take whole: undecodable, or results not readable with certainty. */
export interface DatasetFinding {
  path: string;
  kind: 'corrupt' | 'unreadable' | 'dataset';
  message: string;
}

/** What a run counts besides what it writes (a shard output's end line holds it; merge adds them up). */
export interface DatasetCounts {
  /** Corrupt or unreadable sidecar files (each a finding). */
  problems: number;
  /** Sidecars whose results could not be read with certainty (each a finding). */
  findings: number;
  /** coco / yolo: sidecars with no successful result of an exported kind (their images are not in the dataset). */
  without_detections: number;
  /** embeddings: faces without an encoding (null or absent). */
  no_encoding: number;
  /** embeddings: faces whose encoding has another length (length → faces). */
  other_dims: Record<string, number>;
  complete: boolean;
  sidecar_files: number;
}

export interface DatasetShardSummary extends DatasetCounts {
  /** Items (images) in the shard output. */
  items: number;
}

export interface DatasetExportReport extends DatasetCounts {
  format: DatasetFormat;
  /** The file or folder written (for embeddings the .npy), null for a stream. */
  output: string | null;
  /** Every file or folder written. */
  files: string[];
  /** Images in the dataset (embeddings: images with at least one vector). */
  images: number;
  /** coco / yolo: boxes written. */
  annotations: number;
  /** coco / yolo: category names, in id order. */
  categories: string[];
  /** embeddings: vectors (matrix rows) and their length. */
  rows: number;
  dim: number | null;
}

/** One image of a dataset, as a run or a merge hands it to a writer. */
export interface DatasetEntry {
  /** Image and sidecar paths relative to the root (POSIX). */
  image: string;
  sidecar: string;
  width: number | null;
  height: number | null;
  boxes: readonly DatasetBox[];
  rows: readonly string[];
  vectors: Float32Array | null;
}

/** What the writers need besides the entries. */
export interface DatasetWriteOptions {
  format: DatasetFormat;
  output: string | NodeJS.WritableStream;
  /** The tree's root (absolute): yolo links or copies the images from there; coco names it. */
  root: string;
  dim: number;
  copyImages: boolean;
}

/** Written at offset 0 of the .npy file: 128 bytes (a multiple of 64, so the matrix is aligned for memory mapping). */
const NPY_HEADER_BYTES = 128;
/** Formats a trainer decodes (Ultralytics' image formats): preferred when a sidecar belongs to several images. */
const TRAINABLE_EXTS: ReadonlySet<string> = new Set(['jpg', 'jpeg', 'png', 'bmp', 'tif', 'tiff', 'webp', 'dng', 'mpo', 'heic', 'pfm']);
/** At most this many reasons in one finding's message (the rest are counted). */
const REASONS_SHOWN = 3;
const YOLO_MARK = '# image-sidecar export --format yolo';
/** What data.yaml says of images/ when the images were copied (an earlier export's images/ then holds regular files). */
const COPIES_NOTE = 'copies of the images';

export function isDatasetFormat(f: unknown): f is DatasetFormat {
  return isOneOf(DATASET_FORMATS, f);
}

/** The rows file beside an embeddings matrix: `faces.npy` → `faces.jsonl`. */
export function embeddingRowsPath(npy: string): string {
  return (npy.toLowerCase().endsWith('.npy') ? npy.slice(0, -4) : npy) + '.jsonl';
}

function checkOptions(opts: DatasetExportOptions): void {
  const { format, output } = opts;
  if (!isDatasetFormat(format)) throw errors.usage(`unknown dataset format "${String(format)}" (expected ${DATASET_FORMATS.join(', ')})`);
  if (output === undefined || output === null || output === '') throw errors.usage(`export --format ${format} needs an output (-o)`);
  if (opts.dim !== undefined && (format !== 'embeddings' || !Number.isSafeInteger(opts.dim) || opts.dim < 1)) {
    throw errors.usage(format !== 'embeddings' ? '--dim is for --format embeddings' : `--dim needs a positive integer (got ${opts.dim})`);
  }
  if (opts.faces && format === 'embeddings') throw errors.usage('--include is for --format coco and yolo (embeddings are faces anyway)');
  if (opts.copyImages && format !== 'yolo') throw errors.usage('--copy-images is for --format yolo');
  if (opts.shardEnvelope) return;
  if ((format === 'yolo' || format === 'embeddings') && (typeof output !== 'string' || isStdoutName(output))) {
    throw errors.usage(`export --format ${format} writes ${format === 'yolo' ? 'a folder' : 'a file and its rows beside it'}: give a path with -o, not stdout`);
  }
}

/** Export one dataset of the tree under `root`. */
export async function exportDataset(root: string, opts: DatasetExportOptions): Promise<DatasetExportReport> {
  checkOptions(opts);
  const { format, output, faces, dim, copyImages, operationType, where, onFinding, shardEnvelope, ...scanOpts } = opts;
  const rootAbs = resolve(root);
  const write: DatasetWriteOptions = { format, output, root: rootAbs, dim: dim ?? DEFAULT_EMBEDDING_DIM, copyImages: copyImages === true };
  const req: DatasetRequest = { format };
  if (faces) req.faces = true;
  if (format === 'embeddings') req.dim = write.dim;
  if (operationType) req.operation = normalizeOperationName(operationType);
  // embeddings: the operation is the request's own (req.operation: a sidecar without it gives no
  // row, no count and no finding), so no summary is needed to filter by it, and a plain bin
  // sidecar can be read on the scanner's tape. coco and yolo count a sidecar without it.
  const filter = sidecarFilter(format === 'embeddings' ? undefined : operationType, where);
  const counts: DatasetCounts = { problems: 0, findings: 0, without_detections: 0, no_encoding: 0, other_dims: {}, complete: true, sidecar_files: 0 };
  // Files named as a sidecar's problem: the scan's own problem list names some of them again (a name that is not UTF-8).
  const named = new Set<string>();
  const finding = (f: DatasetFinding) => {
    if (f.kind === 'dataset') counts.findings++;
    else {
      counts.problems++;
      named.add(f.path);
    }
    onFinding?.(f);
  };
  // Outputs are checked and opened before the scan: a refused one costs nothing.
  const writer = shardEnvelope ? await shardItemsWriter(output, shardEnvelope.begin, scanOpts.imageExtensions) : await openDatasetWriter(write, scanOpts.imageExtensions);
  const session = scan(rootAbs, { ...scanOpts, inspect: { summarize: filter !== null, sizes: false, dataset: req } });
  try {
    // A batch at a time (session.ts batches): an async step per record costs more than an entry.
    for await (const batch of session.batches()) for (const rec of batch) {
      if (rec.category === 'corrupt' || rec.category === 'unreadable') {
        for (const p of recordProblems(rec)) finding({ path: p.path, kind: p.category, message: p.message });
      } else {
        // A damaged file beside the one the record reads (a JPEG's own corrupt IMG_1.JPG.json, the
        // stem file read instead): its results are not in the dataset either; named, as validate names it.
        // So is one beside a link's target outside the root (no record of this tree names it).
        const outside = rec.images.some((i) => i.outsideRoot === true);
        for (const s of rec.sidecars) {
          if ((s.side === 'local' || outside) && s.inspection.error !== undefined) finding({ path: s.path, kind: s.inspection.error.code === 'CORRUPT' ? 'corrupt' : 'unreadable', message: s.inspection.error.message });
        }
      }
      if (rec.images.length === 0) continue;
      // Without a key an encrypted sidecar's results are unknown: fail rather than leave them out silently.
      const locked = lockedDataError(rec);
      if (locked) throw locked;
      // (A RAW+JPEG pair whose images each have their own sidecar: an entry for each.)
      const taken = await imageSidecars(rec, scanOpts);
      for (const sc of taken.leftOut) {
        const ds = sc.inspection.dataset;
        if ((filter && !filter(sc)) || ds === undefined || !contributes(ds, format)) continue;
        const names = rec.images.map((i) => i.name).join(' and ');
        finding({ path: sc.path, kind: 'dataset', message: `left out: no image of ${names} takes it alone (each reads another sidecar, or finds it shared and recording none of them: docs/PAIRING.md §3); whose results these are cannot be told` });
      }
      for (const { image, sidecar: sc } of taken.entries) {
        if (filter && !filter(sc)) continue;
        const ds = sc.inspection.dataset;
        if (ds === undefined) continue;
        const entry = entryOf(rec, sc.rel, ds, format, counts, image);
        if (ds.problems.length > 0) finding({ path: sc.path, kind: 'dataset', message: problemMessage(format, ds.problems) });
        if (entry === null) continue;
        if (typeof entry === 'string') {
          finding({ path: sc.path, kind: 'dataset', message: entry });
          continue;
        }
        const refused = await writer.add(entry, rec.seq);
        if (refused !== null) finding({ path: refused.sidecar === sc.rel ? sc.path : join(rootAbs, refused.sidecar), kind: 'dataset', message: refused.message });
      }
    }
    counts.complete = session.summary.complete;
    counts.sidecar_files = session.summary.sidecarFiles;
    // What made the scan incomplete (a folder not read, a name not UTF-8), named: not counted as a
    // sidecar's problem (the incomplete scan is the finding: a shard walks others' folders too).
    for (const p of session.summary.problems) if (!named.has(p.path)) onFinding?.({ path: p.path, kind: 'unreadable', message: p.message });
    const written = await writer.close(counts, shardEnvelope);
    return { format, ...written, ...counts };
  } catch (e) {
    await writer.abort();
    throw errors.fromFs(e, typeof output === 'string' ? output : undefined);
  }
}

/** Whether a sidecar's rows would add to the dataset (a vector, or a complete set of boxes of a detection). */
function contributes(ds: DatasetRows, format: DatasetFormat): boolean {
  return format === 'embeddings' ? ds.rows.length > 0 : ds.detected && ds.problems.length === 0;
}

/** The entry of a record's sidecar (of `given`, else of the image datasetImage names), null when it adds nothing (counted in `counts`), or why its image is left out. */
function entryOf(rec: ScanRecord, sidecar: string, ds: DatasetRows, format: DatasetFormat, counts: DatasetCounts, given?: ScanImage): DatasetEntry | string | null {
  if (format === 'embeddings') {
    counts.no_encoding += ds.noEncoding;
    for (const [len, n] of Object.entries(ds.otherDims)) counts.other_dims[len] = (counts.other_dims[len] ?? 0) + n;
    if (ds.rows.length === 0) return null;
  } else {
    // A partly labelled image would teach its missing boxes as background: the whole image stays out.
    if (ds.problems.length > 0) return null;
    if (!ds.detected) {
      counts.without_detections++;
      return null;
    }
  }
  // A symlinked image whose target is gone names no photo a trainer (or a viewer of a face) could
  // open; the results are that image's, never given to a sibling (a RAW+JPEG pair's other file).
  const image = given ?? datasetImage(rec.images, ds.namedImage);
  if (image.broken) {
    const what = format === 'embeddings' ? `${ds.rows.length} face embedding(s)` : 'the image';
    return `${what} left out: ${image.rel} is a broken symlink (it leads to no image file: its target is gone, a loop, or not a regular file)`;
  }
  return { image: image.rel, sidecar, width: ds.width, height: ds.height, boxes: ds.boxes, rows: ds.rows, vectors: ds.vectors };
}

/**
 * The image a dataset names for a record: its only one; of several (a RAW+JPEG pair sharing one
 * sidecar), the one the sidecar says it was saved for, else the first a trainer decodes, else the first.
 */
function datasetImage(images: readonly ScanImage[], named: string | null): ScanImage {
  if (images.length === 1) return images[0];
  const recorded = imageRecordedAmong(named, images);
  if (recorded !== undefined) return recorded;
  return images.find((i) => TRAINABLE_EXTS.has(splitName(i.name).ext.toLowerCase())) ?? images[0];
}

function problemMessage(format: DatasetFormat, problems: readonly string[]): string {
  const head = format === 'embeddings' ? `face embeddings left out at ${problems.length} place(s)` : `image left out: boxes not readable with certainty at ${problems.length} place(s)`;
  const more = problems.length > REASONS_SHOWN ? `; … and ${problems.length - REASONS_SHOWN} more` : '';
  return `${head}: ${problems.slice(0, REASONS_SHOWN).join('; ')}${more}`;
}

// ---------------------------------------------------------------------------------------------
// writers
// ---------------------------------------------------------------------------------------------

/** An image a writer left out: its sidecar (relative to the root, as in the entry) and why. */
export interface Refusal {
  sidecar: string;
  message: string;
}

/** What a writer wrote. */
type Written = Pick<DatasetExportReport, 'output' | 'files' | 'images' | 'annotations' | 'categories' | 'rows' | 'dim'>;

export interface DatasetWriter {
  /** Add one image (tree order); returns the image it left out (this one, or one added before it) and why (a finding), or null. */
  add(e: DatasetEntry, seq: TreeSeq): Promise<Refusal | null>;
  /** Finish: the outputs appear complete. A shard writer writes its end line with `counts`. */
  close(counts: DatasetCounts, shard?: DatasetExportOptions['shardEnvelope']): Promise<Written>;
  /** Drop everything written (no temp file or folder is left). */
  abort(): Promise<void>;
}

/** Categories (COCO ids from 1, YOLO classes from 0) in the order they first appear. */
class Categories {
  readonly names: string[] = [];
  private readonly ids = new Map<string, number>();
  index(name: string): number {
    let i = this.ids.get(name);
    if (i === undefined) {
      i = this.names.length;
      this.names.push(name);
      this.ids.set(name, i);
    }
    return i;
  }
}

/** The writer of a dataset's final outputs (a run without shards, or merge). */
export async function openDatasetWriter(o: DatasetWriteOptions, imageExtensions?: readonly string[]): Promise<DatasetWriter> {
  switch (o.format) {
    case 'coco':
      return CocoWriter.open(o, imageExtensions);
    case 'yolo':
      return YoloWriter.open(o, imageExtensions);
    case 'embeddings':
      return EmbeddingsWriter.open(o, imageExtensions);
  }
}

/** A file output, checked against managed files (output-guard.ts) unless it is a stream. */
async function fileSink(output: string | NodeJS.WritableStream, what: string, imageExtensions?: readonly string[]): Promise<OutputSink> {
  if (typeof output === 'string' && !isStdoutName(output)) assertOutputNotManaged(output, what, imageExtensions);
  return openOutputSink(output, process.stdout);
}

/**
 * A shard output: the caller's header line, one item per image at its tree position, the end line.
 * An item holds the entry's text pieces as JSON strings (merge writes them as they are: a score
 * keeps its type) and embeddings as base64 of little-endian float32.
 */
async function shardItemsWriter(output: string | NodeJS.WritableStream, begin: string, imageExtensions?: readonly string[]): Promise<DatasetWriter> {
  const sink = await fileSink(output, 'export', imageExtensions);
  await sink.write(begin);
  let items = 0;
  return {
    async add(e, seq) {
      items++;
      await sink.write(`{"seq":[${seq[0]},${seq[1]}],"item":${entryItem(e)}}\n`);
      return null;
    },
    async close(counts, shard) {
      await sink.write(shard!.end({ items, ...counts }));
      await sink.close();
      return { output: sink.target === '-' ? null : sink.target, files: sink.target === '-' ? [] : [sink.target], images: items, annotations: 0, categories: [], rows: 0, dim: null };
    },
    abort: () => sink.abort(),
  };
}

function entryItem(e: DatasetEntry): string {
  const head = `{"image":${JSON.stringify(e.image)},"sidecar":${JSON.stringify(e.sidecar)},"width":${e.width},"height":${e.height}`;
  if (e.vectors !== null) return `${head},"rows":${JSON.stringify(e.rows)},"vectors":"${littleEndianBytes(e.vectors).toString('base64')}"}`;
  return `${head},"boxes":${JSON.stringify(e.boxes.map((b) => [b.category, b.box, b.score, b.source]))}}`;
}

/** A shard item back into an entry (merge). */
export function entryOfItem(text: string): DatasetEntry {
  const o = JSON.parse(text) as { image: string; sidecar: string; width: number | null; height: number | null; rows?: string[]; vectors?: string; boxes?: [string, string, string, string][] };
  let vectors: Float32Array | null = null;
  if (typeof o.vectors === 'string') {
    const bytes = Buffer.from(o.vectors, 'base64');
    vectors = new Float32Array(bytes.length / 4);
    new Uint8Array(vectors.buffer).set(bytes);
    if (!LITTLE_ENDIAN_HOST) swap32(new Uint8Array(vectors.buffer));
  }
  const boxes = (o.boxes ?? []).map(([category, box, score, source]) => ({ category, box, score, source }));
  return { image: o.image, sidecar: o.sidecar, width: o.width, height: o.height, boxes, rows: o.rows ?? [], vectors };
}

function littleEndianBytes(v: Float32Array): Buffer {
  const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (LITTLE_ENDIAN_HOST) return b;
  const copy = Buffer.from(b);
  swap32(copy);
  return copy;
}

function swap32(b: Uint8Array): void {
  for (let i = 0; i + 3 < b.length; i += 4) {
    const t0 = b[i];
    const t1 = b[i + 1];
    b[i] = b[i + 3];
    b[i + 1] = b[i + 2];
    b[i + 2] = t1;
    b[i + 3] = t0;
  }
}

/**
 * A temp file written in order, then copied into an output (COCO's annotations: JSON arrays cannot
 * interleave). Removed from its folder as soon as it is open (the descriptor keeps it): a run that
 * ends any way at all — killed, a broken pipe, a full disk — leaves nothing behind. It lives beside
 * a file output (the output's disk has room for it), else (stdout, a device) in the temp folder.
 */
class Spill {
  private buf = '';
  private constructor(private readonly fh: FileHandle) {}

  static async open(dir: string, base: string): Promise<Spill> {
    const path = join(dir, tempNameFor(base));
    let fh: FileHandle;
    try {
      fh = await open(path, 'wx+', 0o600);
    } catch (e) {
      throw errors.fromFs(e, path);
    }
    await unlink(path).catch(() => undefined);
    return new Spill(fh);
  }

  async write(s: string): Promise<void> {
    this.buf += s;
    if (this.buf.length >= 1 << 16) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.buf.length === 0) return;
    const b = Buffer.from(this.buf, 'utf8');
    this.buf = '';
    let off = 0;
    while (off < b.length) off += (await this.fh.write(b, off, b.length - off)).bytesWritten;
  }

  /** Everything written, into `sink`, in pieces. */
  async copyTo(sink: OutputSink): Promise<void> {
    await this.flush();
    const piece = Buffer.allocUnsafe(1 << 20);
    for (let pos = 0; ; ) {
      const { bytesRead } = await this.fh.read(piece, 0, piece.length, pos);
      if (bytesRead === 0) return;
      pos += bytesRead;
      // The sink sends a buffer as it is and is awaited before the piece is read into again.
      await sink.write(Buffer.from(piece.subarray(0, bytesRead)));
    }
  }

  async remove(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}

class CocoWriter implements DatasetWriter {
  private images = 0;
  private annotations = 0;
  private readonly categories = new Categories();
  private readonly kinds = new Map<string, string>();
  private constructor(
    private readonly sink: OutputSink,
    private readonly spill: Spill,
  ) {}

  static async open(o: DatasetWriteOptions, imageExtensions?: readonly string[]): Promise<CocoWriter> {
    const sink = await fileSink(o.output, 'export', imageExtensions);
    let spill: Spill;
    try {
      spill = await Spill.open(sink.replaced !== undefined ? dirname(sink.replaced) : tmpdir(), `${sink.target === '-' ? 'coco' : basename(sink.target)}.annotations`);
    } catch (e) {
      await sink.abort();
      throw e;
    }
    const w = new CocoWriter(sink, spill);
    await sink.write(`{"info":{"description":${JSON.stringify(`image-sidecar export --format coco of ${o.root}`)},"version":"1.0"},"licenses":[],"images":[`);
    return w;
  }

  async add(e: DatasetEntry): Promise<Refusal | null> {
    const id = ++this.images;
    const size = e.width !== null && e.height !== null ? `,"width":${e.width},"height":${e.height}` : '';
    await this.sink.write(`${id === 1 ? '' : ','}\n{"id":${id},"file_name":${JSON.stringify(e.image)}${size},"sidecar":${JSON.stringify(e.sidecar)}}`);
    let text = '';
    for (const b of e.boxes) {
      const cat = this.categories.index(b.category) + 1;
      if (!this.kinds.has(b.category)) this.kinds.set(b.category, JSON.parse(b.source).list === 'faces' ? 'face' : 'object');
      const ann = ++this.annotations;
      text += `${ann === 1 ? '' : ','}\n{"id":${ann},"image_id":${id},"category_id":${cat},${b.box},"iscrowd":0,"score":${b.score},"source":${b.source}}`;
    }
    if (text !== '') await this.spill.write(text);
    return null;
  }

  async close(): Promise<Written> {
    try {
      await this.sink.write('\n],"annotations":[');
      await this.spill.copyTo(this.sink);
      const cats = this.categories.names.map((name, i) => `\n{"id":${i + 1},"name":${JSON.stringify(name)},"supercategory":"${this.kinds.get(name)}"}`).join(',');
      await this.sink.write(`\n],"categories":[${cats}\n]}\n`);
      await this.sink.close();
    } finally {
      await this.spill.remove();
    }
    const output = this.sink.target === '-' ? null : this.sink.target;
    return { output, files: output ? [output] : [], images: this.images, annotations: this.annotations, categories: this.categories.names, rows: 0, dim: null };
  }

  async abort(): Promise<void> {
    await this.spill.remove();
    await this.sink.abort();
  }
}

/** `npy` header of a C-order float32 matrix (NumPy format 1.0), NPY_HEADER_BYTES long. */
export function npyHeader(rows: number, dim: number): Buffer {
  const dict = `{'descr': '${LITTLE_ENDIAN_HOST ? '<' : '>'}f4', 'fortran_order': False, 'shape': (${rows}, ${dim}), }`;
  const len = NPY_HEADER_BYTES - 10;
  const out = Buffer.alloc(NPY_HEADER_BYTES, 0x20);
  out.write('\x93NUMPY', 0, 'latin1');
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(len, 8);
  out.write(dict, 10, 'latin1');
  out[NPY_HEADER_BYTES - 1] = 0x0a;
  return out;
}

class EmbeddingsWriter implements DatasetWriter {
  private rows = 0;
  private images = 0;
  /** Vectors are gathered into writes of this buffer's size (one entry's vectors are a few KiB). */
  private readonly stage = Buffer.allocUnsafe(1 << 20);
  private staged = 0;
  private constructor(
    private readonly matrix: OutputSink,
    private readonly lines: OutputSink,
    private readonly dim: number,
  ) {}

  static async open(o: DatasetWriteOptions, imageExtensions?: readonly string[]): Promise<EmbeddingsWriter> {
    const npy = o.output as string;
    const rowsPath = embeddingRowsPath(npy);
    assertOutputNotManaged(rowsPath, 'export', imageExtensions);
    const matrix = await fileSink(npy, 'export', imageExtensions);
    if (matrix.writeAt === undefined) {
      await matrix.abort();
      throw errors.usage(`export --format embeddings writes a regular file; ${npy} is not one`);
    }
    let lines: OutputSink;
    try {
      assertRowsNotLinkedAway(rowsPath, matrix.replaced!);
      lines = await openOutputSink(rowsPath, process.stdout);
    } catch (e) {
      await matrix.abort();
      throw e;
    }
    await matrix.write(npyHeader(0, o.dim));
    return new EmbeddingsWriter(matrix, lines, o.dim);
  }

  async add(e: DatasetEntry): Promise<Refusal | null> {
    const v = e.vectors;
    if (v === null || e.rows.length === 0) return null;
    if (v.length !== e.rows.length * this.dim) throw errors.internal(`${e.sidecar}: ${e.rows.length} rows with ${v.length} floats (dim ${this.dim})`);
    this.images++;
    this.rows += e.rows.length;
    const head = `{"image":${JSON.stringify(e.image)},"sidecar":${JSON.stringify(e.sidecar)},`;
    let text = '';
    for (const r of e.rows) text += `${head}${r}}\n`;
    const w = this.lines.write(text);
    if (w) await w;
    const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    if (this.staged + bytes.length > this.stage.length) await this.flush();
    if (bytes.length > this.stage.length) await this.matrix.write(Buffer.from(bytes));
    else {
      this.stage.set(bytes, this.staged);
      this.staged += bytes.length;
    }
    return null;
  }

  private async flush(): Promise<void> {
    if (this.staged === 0) return;
    const n = this.staged;
    this.staged = 0;
    // The sink sends a buffer as it is and is awaited: the stage is free again after it.
    await this.matrix.write(this.stage.subarray(0, n));
  }

  async close(): Promise<Written> {
    await this.flush();
    await this.matrix.writeAt!(0, npyHeader(this.rows, this.dim));
    await publishPair(this.matrix, this.lines);
    return { output: this.matrix.target, files: [this.matrix.target, this.lines.target], images: this.images, annotations: 0, categories: [], rows: this.rows, dim: this.dim };
  }

  async abort(): Promise<void> {
    await this.lines.abort();
    await this.matrix.abort();
  }
}

/**
 * The rows file is a name the user did not give: written through a symlink only when that link
 * leads to the rows' place beside the matrix's file (both linked to another disk, say). A link
 * planted there to anything else (`faces.jsonl` → someone's file) would have had the export
 * replace that file.
 */
function assertRowsNotLinkedAway(rowsPath: string, matrixFile: string): void {
  let st: Stats;
  try {
    st = lstatSync(rowsPath);
  } catch {
    return; // absent: made here
  }
  // A FIFO or a device there (a name never given) would be written in place: a FIFO waits forever.
  if (!st.isSymbolicLink() && !st.isFile()) throw errors.usage(`refusing to write the embeddings' rows to ${rowsPath}: it is not a regular file; remove it or choose another -o`);
  if (!st.isSymbolicLink()) return;
  const beside = embeddingRowsPath(join(realOr(dirname(matrixFile)), basename(matrixFile)));
  let real: string | null = null;
  try {
    real = realpathSync(rowsPath);
  } catch {
    real = null; // a link to nothing: where would it write?
  }
  if (real !== beside) throw errors.usage(`refusing to write the embeddings' rows to ${rowsPath}: it is a symlink to ${real ?? 'nothing'}, not to the rows' place beside the matrix (${beside}); remove it or choose another -o`);
}

/**
 * The matrix and its rows appear as one output: never one run's rows beside another run's matrix
 * (two exports to one path, or a run killed between the two renames, left such a pair, which
 * `load_embeddings` took for one). Both are written and fsynced first; then, under a lock on the
 * matrix's name (an export to the same path waits), the old matrix is moved aside (back if the rows
 * cannot be published), the rows are renamed into place, then the matrix. Killed in between, the
 * new rows stand without a matrix: a reader fails for want of it instead of pairing rows with other
 * vectors (the old matrix is left under a temp name, swept later).
 */
async function publishPair(matrix: OutputSink, rows: OutputSink): Promise<void> {
  if (!matrix.ready || !matrix.publish || matrix.replaced === undefined) throw errors.internal('the matrix is written to a regular file');
  await matrix.ready();
  if (!rows.ready || !rows.publish) {
    // Rows to a device or FIFO (no file to replace): written as they came; the matrix alone is published.
    await rows.close();
    await matrix.publish();
    return;
  }
  await rows.ready();
  const replaced = matrix.replaced;
  await withSidecarLock(
    replaced,
    async (signal) => {
      assertLockHeld(signal);
      // The old matrix is moved aside (made durable before the rows appear), and put back if the
      // rows cannot be published; removed once the new matrix is in place.
      const aside = join(dirname(replaced), tempNameFor(basename(replaced)));
      let moved = true;
      await rename(replaced, aside).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw errors.fromFs(e, replaced);
        moved = false;
      });
      try {
        if (moved && dirname(replaced) !== dirname(rows.replaced ?? replaced)) await fsyncDirs([dirname(replaced)]);
        await rows.publish!();
      } catch (e) {
        if (moved) await rename(aside, replaced).catch(() => undefined);
        throw e;
      }
      try {
        exportPublishProbe.betweenRenames?.();
        await matrix.publish!();
      } finally {
        // The new rows are in place: the old matrix never goes back beside them.
        if (moved) await unlink(aside).catch(() => undefined);
      }
    },
    { timeoutMs: PUBLISH_LOCK_TIMEOUT_MS },
  );
}

/** Tests only: called between the rows' rename and the matrix's (where a killed run stops). */
export const exportPublishProbe: { betweenRenames?: () => void } = {};

/** How long an export waits for another export publishing to the same matrix path (it renames two files). */
const PUBLISH_LOCK_TIMEOUT_MS = 60_000;

/** `a` is `b` or inside it. */
function within(a: string, b: string): boolean {
  const r = relative(b, a);
  return r === '' || !(r === '..' || r.startsWith(`..${sep}`) || isAbsolute(r));
}

function realOr(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/**
 * A YAML double-quoted scalar holding exactly `s`: JSON's escapes (all of them YAML's too), and
 * `\uXXXX` for what JSON leaves raw but YAML does not read back as itself: DEL and the C1 controls
 * (a YAML reader refuses them), NEL, U+2028 and U+2029 (line breaks to YAML 1.1: folded into a
 * space), the BOM and the non-characters U+FFFE, U+FFFF.
 */
export function yamlString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Why `dir` is not a folder an earlier `export --format yolo` wrote, or null when it is one:
 * exactly what an export writes there — a data.yaml of ours (a regular file starting with our
 * mark, not a link to one or a copy beside other things), `images/` holding links to the images
 * (or regular files when that data.yaml says they were copied), `labels/` holding one label per
 * image (`<its stem>.txt` in the same folder), and the caches Ultralytics writes beside a labels
 * folder (`labels.cache`, `labels/<folder>.cache`). Such a folder is replaced whole; one holding
 * anything else (someone's code, notes, a label of their own, a photo added to images/) is refused.
 */
function notYoloExport(dir: string): string | null {
  const yaml = join(dir, 'data.yaml');
  let text: string;
  try {
    if (!lstatSync(yaml).isFile()) return 'its data.yaml is not a regular file';
    text = readFileSync(yaml, 'utf8');
  } catch {
    return 'no data.yaml of ours';
  }
  if (!text.startsWith(YOLO_MARK)) return 'no data.yaml of ours';
  const copies = text.includes(COPIES_NOTE);
  const unexpected = (rel: string) => `it holds ${rel}, which an export does not write`;
  const entries = (rel: string) => readdirSync(join(dir, rel), { withFileTypes: true });
  for (const e of entries('.')) {
    if (e.name === 'data.yaml' || (e.name === 'labels.cache' && e.isFile())) continue;
    if ((e.name === 'labels' || e.name === 'images') && e.isDirectory()) continue;
    return unexpected(e.name);
  }
  // images/: folder → the stems of its images (a label is named after one).
  const stems = new Map<string, Set<string>>();
  const walkImages = (rel: string): string | null => {
    const here = new Set<string>();
    stems.set(rel, here);
    for (const e of entries(join('images', rel))) {
      const sub = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        const why = walkImages(sub);
        if (why !== null) return why;
      } else if (copies ? e.isFile() : e.isSymbolicLink()) here.add(splitName(e.name).stem);
      else return unexpected(`images/${sub}`);
    }
    return null;
  };
  const walkLabels = (rel: string): string | null => {
    const list = entries(join('labels', rel));
    const folders = new Set(list.filter((e) => e.isDirectory()).map((e) => e.name));
    for (const e of list) {
      const sub = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        const why = walkLabels(sub);
        if (why !== null) return why;
      } else if (e.isFile() && e.name.endsWith('.cache') && folders.has(e.name.slice(0, -6))) continue;
      else if (!(e.isFile() && e.name.endsWith('.txt') && stems.get(rel)?.has(e.name.slice(0, -4)) === true)) return unexpected(`labels/${sub}`);
    }
    return null;
  };
  try {
    return (existsSync(join(dir, 'images')) ? walkImages('') : null) ?? (existsSync(join(dir, 'labels')) ? walkLabels('') : null);
  } catch {
    return 'it cannot be read whole';
  }
}

/**
 * YOLO's folder, made beside the target under a temp name and renamed into place at the end. The
 * target may be absent, an empty folder, or an earlier yolo export (moved aside, then removed);
 * anything else is refused before the scan starts. Label files are fsynced before the rename: an
 * empty label after a crash would read as "no objects".
 */
class YoloWriter implements DatasetWriter {
  private images = 0;
  private annotations = 0;
  private readonly categories = new Categories();
  /** Label paths taken (YOLO names a label after the image without its extension: IMG_1.jpg and IMG_1.png would share one). */
  private readonly labels = new Map<string, { image: string; sidecar: string; trainable: boolean; imagePath: string; boxes: number }>();
  private readonly madeDirs = new Set<string>();
  private unsynced: string[] = [];
  private constructor(
    private readonly target: string,
    private readonly tmp: string,
    private readonly o: DatasetWriteOptions,
  ) {}

  static async open(o: DatasetWriteOptions, imageExtensions?: readonly string[]): Promise<YoloWriter> {
    const target = resolve(o.output as string);
    assertOutputNotManaged(target, 'export', imageExtensions);
    const real = join(realOr(dirname(target)), basename(target));
    const rootReal = realOr(o.root);
    if (within(real, rootReal) || within(rootReal, real)) throw errors.usage(`refusing to write the yolo folder ${target}: it would be inside the library ${o.root} (or hold it); choose a folder outside`);
    YoloWriter.checkTarget(target);
    await YoloWriter.removeAbandoned(target);
    const tmp = join(dirname(target), tempNameFor(basename(target)));
    try {
      await mkdir(tmp);
      await mkdir(join(tmp, 'labels'));
      await mkdir(join(tmp, 'images'));
    } catch (e) {
      await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      throw errors.fromFs(e, target);
    }
    return new YoloWriter(target, tmp, o);
  }

  /** Absent, an empty folder or an earlier yolo export: else refused. */
  private static checkTarget(target: string): void {
    let st: Stats;
    try {
      st = lstatSync(target);
    } catch {
      return;
    }
    if (!st.isDirectory()) throw errors.usage(`refusing to write the yolo folder ${target}: something else is there`);
    if (readdirSync(target).length === 0) return;
    const why = notYoloExport(target);
    if (why !== null) throw errors.usage(`refusing to write the yolo folder ${target}: it is not empty and not an earlier yolo export (${why}); give a new or empty folder`);
  }

  /** Temp folders of this target that a dead writer of this host left. */
  private static async removeAbandoned(target: string): Promise<void> {
    const dir = dirname(target);
    const prefix = `.${basename(target)}`;
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (!name.startsWith(prefix)) continue;
      const w = tempNameWriter(name);
      // Only a dead writer's of this host: another host's export may still be filling its folder.
      if (w === null || processState(w.host, w.pid) !== 'dead') continue;
      await rm(join(dir, name), { recursive: true, force: true }).catch(() => undefined);
    }
  }

  private mkdirs(dir: string): void {
    if (this.madeDirs.has(dir)) return;
    makeFoldersSync(dir);
    this.madeDirs.add(dir);
  }

  async add(e: DatasetEntry): Promise<Refusal | null> {
    // Ultralytics finds a label by replacing the LAST `/images/` of the image's path with `/labels/`:
    // a library folder named `images` is renamed `images_` in the dataset, so that last one is ours.
    const rel = e.image.split('/').map((c, i, all) => (i < all.length - 1 && c === 'images' ? 'images_' : c)).join('/');
    const slash = rel.lastIndexOf('/');
    const label = `labels/${rel.slice(0, slash + 1)}${splitName(rel.slice(slash + 1)).stem}.txt`;
    const source = join(this.o.root, e.image);
    // A FIFO or a device in an image's name: copying it would wait forever, and no trainer reads it.
    if (!leadsToRegularFile(source)) return { sidecar: e.sidecar, message: `image ${e.image} left out: it is not a regular file (a FIFO, a device or a folder), which no trainer reads` };
    const trainable = TRAINABLE_EXTS.has(splitName(rel.slice(slash + 1)).ext.toLowerCase());
    const taken = this.labels.get(nfc(label));
    let displaced: Refusal | null = null;
    if (taken !== undefined) {
      // Two images of one folder and stem, or (folders apart) one under a folder named `images`, renamed `images_`, and one under `images_`.
      const sameFolder = e.image.slice(0, e.image.lastIndexOf('/') + 1) === taken.image.slice(0, taken.image.lastIndexOf('/') + 1);
      const why = sameFolder ? `(YOLO names a label after the image without its extension)` : `(a library folder named images is images_ in the dataset, where Ultralytics takes the last /images/ of a path for its own; another folder is named images_ already)`;
      // A RAW+JPEG pair with a sidecar each: the label goes to the image a trainer decodes, whichever comes first.
      if (!trainable || taken.trainable) return { sidecar: e.sidecar, message: `image ${e.image} left out: its YOLO label ${label} is already ${taken.image}'s ${why}` };
      rmSync(taken.imagePath, { force: true });
      this.unsynced = this.unsynced.filter((f) => f !== taken.imagePath);
      this.annotations -= taken.boxes;
      this.images--;
      displaced = { sidecar: taken.sidecar, message: `image ${taken.image} left out: its YOLO label ${label} went to ${e.image}, which a trainer decodes ${why}` };
    }
    let text = '';
    for (const b of e.boxes) text += `${this.categories.index(b.category)} ${b.box}\n`;
    const labelPath = join(this.tmp, label);
    const imagePath = join(this.tmp, 'images', rel);
    this.labels.set(nfc(label), { image: e.image, sidecar: e.sidecar, trainable, imagePath, boxes: e.boxes.length });
    this.mkdirs(dirname(labelPath));
    this.mkdirs(dirname(imagePath));
    writeFileSync(labelPath, text);
    if (this.o.copyImages) {
      copyFileSync(source, imagePath);
      this.unsynced.push(imagePath);
    } else symlinkSync(source, imagePath);
    this.unsynced.push(labelPath);
    this.images++;
    this.annotations += e.boxes.length;
    if (this.unsynced.length >= 256) await this.sync();
    return displaced;
  }

  /** fsync the files written since the last call (several in flight). */
  private async sync(): Promise<void> {
    const files = this.unsynced;
    this.unsynced = [];
    for (let i = 0; i < files.length; i += 32) {
      await Promise.all(
        files.slice(i, i + 32).map(async (f) => {
          const fh = await open(f, 'r');
          try {
            await fh.sync();
          } finally {
            await fh.close();
          }
        }),
      );
    }
  }

  async close(): Promise<Written> {
    const names = this.categories.names.map((n, i) => `  ${i}: ${yamlString(n)}\n`).join('');
    const yaml =
      `${YOLO_MARK} of ${yamlString(this.o.root)} (docs/EXPORT.md)\n` +
      '# labels/: one file per image (class cx cy w h, 0-1); images/: ' +
      `${this.o.copyImages ? COPIES_NOTE : 'symlinks to the images'}.\n` +
      '# No split: train and val both list every image. Moving this folder: change path.\n' +
      `path: ${yamlString(this.target)}\ntrain: images\nval: images\nnames:${names === '' ? ' {}\n' : `\n${names}`}`;
    writeFileSync(join(this.tmp, 'data.yaml'), yaml);
    this.unsynced.push(join(this.tmp, 'data.yaml'));
    await this.sync();
    await fsyncDirs([...this.madeDirs, join(this.tmp, 'labels'), join(this.tmp, 'images'), this.tmp]);
    await this.commit();
    await fsyncDirs([dirname(this.target)]);
    return { output: this.target, files: [this.target], images: this.images, annotations: this.annotations, categories: this.categories.names, rows: 0, dim: null };
  }

  /** The temp folder into the target's place (an earlier export there is moved aside, then removed). */
  private async commit(): Promise<void> {
    let st: Stats | null = null;
    try {
      st = lstatSync(this.target);
    } catch {
      /* absent */
    }
    try {
      if (st === null) await rename(this.tmp, this.target);
      else {
        YoloWriter.checkTarget(this.target);
        if (readdirSync(this.target).length === 0) {
          await rmdir(this.target);
          await rename(this.tmp, this.target);
        } else {
          const aside = join(dirname(this.target), tempNameFor(basename(this.target)));
          await rename(this.target, aside);
          await rename(this.tmp, this.target);
          await rm(aside, { recursive: true, force: true });
        }
      }
    } catch (e) {
      await this.abort();
      throw errors.fromFs(e, this.target);
    }
  }

  async abort(): Promise<void> {
    await rm(this.tmp, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * Shard items (tree order) into the final outputs, as one run writes them (merge). Returns what was
 * written; `onRefused` hears of each image a writer left out (a YOLO label name taken twice).
 */
export async function writeDatasetItems(o: DatasetWriteOptions, items: AsyncIterable<string>, onRefused: (message: string, sidecar: string) => void, imageExtensions?: readonly string[]): Promise<Written> {
  const writer = await openDatasetWriter(o, imageExtensions);
  try {
    for await (const text of items) {
      const e = entryOfItem(text);
      const refused = await writer.add(e, [0, 0]);
      if (refused !== null) onRefused(refused.message, refused.sidecar);
    }
    return await writer.close({ problems: 0, findings: 0, without_detections: 0, no_encoding: 0, other_dims: {}, complete: true, sidecar_files: 0 });
  } catch (e) {
    await writer.abort();
    throw e;
  }
}
