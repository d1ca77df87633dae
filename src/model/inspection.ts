/**
 * One file's inspection: what the engine is asked (InspectItem, InspectOptions) and what comes back
 * (FileInspection), shared by the per-file task (tasks/inspect.ts), the scan, the index and the
 * operations. Types only, on the ground floor, so that none of them reaches up to another.
 */
import type { ErrorCode } from '../errors.js';
import type { JsonObject, Keyring, SidecarFormat } from '../types.js';
import type { EntryBlock, EntryOptions, IndexEntryOut } from './index-entry.js';
import type { SidecarBrief, SidecarProbe, SidecarSummary } from './summary.js';
import type { DatasetRequest, DatasetRows } from './dataset.js';

export interface Problem {
  /** RFC 6901 JSON pointer, e.g. "/face_detection/faces/0/confidence" ('' is the whole file). */
  pointer: string;
  message: string;
  severity: 'error' | 'warning';
}

export interface ResolvedLink {
  target?: string;
  broken: boolean;
  reason?: string;
}


export interface InspectOptions {
  maxFileSize?: number;
  maxDepth?: number;
  /** Compute the per-sidecar summary (operations, faces, objects, grade...). */
  summarize?: boolean;
  /** With summarize: also each operation's size in bin encoding (only stats prints it). Default true. */
  sizes?: boolean;
  /**
   * Without summarize: only the summary fields a validate result prints (`brief`), computed by the
   * same summary; the rest of the summary is dropped in the thread that made it.
   */
  brief?: boolean;
  /** Run the built-in structural rules. */
  validate?: boolean;
  /** A user JSON Schema (plain object: functions cannot cross threads). */
  schema?: unknown;
  /** Return the decoded data (convert planning, tests). */
  keepData?: boolean;
  /**
   * Return the decoded data as JSON text (JSON.stringify) instead: export needs only the text, and
   * one flat string crosses a thread far more cheaply than the object graph (no graph on main).
   */
  dataJson?: boolean;
  /** export's coco / yolo / embeddings: each sidecar's dataset rows (analysis/dataset.ts). */
  dataset?: DatasetRequest;
  /** Keys for encrypted sidecars (KeyObjects: they clone to workers and never print). */
  keyring?: Keyring;
  /**
   * Operation outcomes and the image record and name only (todo, stale, relink). Alone, it
   * skim-decodes: JSON arrays are validated but not built (src/formats/skim.ts), same acceptance as
   * a full decode.
   */
  probe?: boolean;
  /**
   * Use the WebAssembly scanner for JSON sidecars when it can vouch for a file (src/accel/), and
   * stand-ins for a bin file's float blocks (formats/cbor.ts withFloatBlocks). Default true; the
   * CLI and server set false for IMAGE_SIDECAR_ACCEL=off. It never changes a result: the reference
   * decoder takes every file the scanner defers, and every file with a problem.
   */
  accel?: boolean;
  /**
   * The scan's incremental index (tasks/index-entry.ts): each result that may be stored gets its
   * entry (`indexEntry`), made from the stat of the descriptor the file was read through. Not part
   * of what shapes a result (incremental/key.ts).
   */
  indexEntries?: EntryOptions;
  /**
   * Each read's stat of its descriptor through Node's own binding (fs/stat-binding.ts; the index's
   * identities too). True: asked for (Options.fastStat); else fs.fstatSync only. Never changes a
   * result; not part of what shapes one.
   */
  fastStat?: boolean;
  /**
   * A batch's files read many at once where a read takes a round trip (a file server:
   * fs/read-ahead.ts). Default true; false reads one at a time (the CLI: IMAGE_SIDECAR_STAT_AHEAD=off).
   * Never changes a result; not part of what shapes one.
   */
  readAhead?: boolean;
}

export interface InspectItem {
  path: string;
  /** On-disk file name (report names are recognised by it). */
  name: string;
  /** Size seen before sending (bounds a batch by bytes when the data is kept). */
  size?: number;
  /**
   * Not a sidecar: a symlinked image of the walked folder `dirRel` (under the root's real path
   * `rootReal`) to resolve by the scan's rule (discovery/resolve-link.ts); the result's `link`
   * says where it leads. A scan sends these for todo (ScanOptions.inRootLinkRecords).
   */
  resolveLink?: LinkAt;
  /**
   * Its record holds several images (a RAW+JPEG pair sharing this sidecar): export reads which one
   * the sidecar records (DatasetRows.namedImage). Unset: a record of one image, where the name is
   * never used, and not read (a tape walk of every file's sidecar_info for nothing).
   */
  namesImage?: true;
}

/** Where a link item sits: its scan (`scan`: one resolver per scan), the root's real path, its folder. */
export interface LinkAt {
  /** Unique per scan in this process: folders' real paths are kept for one scan, never into the next. */
  scan: number;
  rootReal: string;
  dirRel: string;
}

/**
 * 'unchecked': a symlinked image's sidecar next to its target inside the root. It is inspected once,
 * in the target's own record; the link's record only notes that it is there.
 */
export type InspectStatus = 'ok' | 'corrupt' | 'unreadable' | 'unchecked' | 'encrypted';

export interface FileInspection {
  path: string;
  size: number;
  status: InspectStatus;
  format: SidecarFormat | null;
  /** Key id of an encrypted sidecar (decrypted when status is 'ok'; status 'encrypted' without a key; 'corrupt' when the keys given are others). */
  encryptedKeyId?: string;
  error?: { code: ErrorCode; message: string };
  notes: string[];
  /** What the decoded content looks like: a per-image sidecar, a directory report, or other JSON. */
  shape: 'sidecar' | 'report' | 'other' | null;
  summary?: SidecarSummary;
  /** With `brief` (and no summarize): what validate prints of the summary. */
  brief?: SidecarBrief;
  problems?: Problem[];
  data?: JsonObject;
  /** The data as typed JSON; UTF-8 bytes when big, so that a worker hands it over without a copy. */
  dataJson?: string | Uint8Array;
  /** With `dataset`: the sidecar's rows (a sidecar-shaped file that decoded). */
  dataset?: DatasetRows;
  probe?: SidecarProbe;
  /** For an item with `resolveLink`: the link's resolution (nothing was read or decoded). */
  link?: ResolvedLink;
  /**
   * Which decode produced this result when the accelerator was on: 'wasm' (decided on the
   * scanner's tape or its skeleton: no problem found) or 'deferred' (the reference decoder ran).
   * Absent when the accelerator was off or unavailable.
   */
  accel?: 'wasm' | 'deferred';
  elapsedMs: number;
  /** With `indexEntries`: this result's index entry; the scan takes it off (tasks/index-entry.ts takeEntry) before anyone sees the result. */
  indexEntry?: IndexEntryOut;
  /** With a first run's `indexEntries`: the batch's entries as one block, on its first result that has one (tasks/index-entry.ts EntryBlock); the scan takes it off (takeEntryBlock). */
  indexEntries?: EntryBlock;
}
