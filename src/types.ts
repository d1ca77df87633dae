/** Types shared across modules. Keep this file free of runtime code (the word lists live in vocabulary.ts). */
import type { KeyObject } from 'node:crypto';
import type { ENGINE_KINDS, FORMAT_NAMES, SIDECAR_EXTS, SIDECAR_FORMATS } from './vocabulary.js';
import type { IndexOptions } from './model/index-options.js';

export type JsonPrimitive = null | boolean | number | string;
export type JsonValue = JsonPrimitive | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** Content formats (what the bytes are), independent of the file extension. */
export type SidecarFormat = (typeof SIDECAR_FORMATS)[number];
/** Format names callers may pass (`binary` is the earlier tool's alias for `bin`). */
export type FormatName = (typeof FORMAT_NAMES)[number];
/** Sidecar file extensions we recognise, in the earlier tool's read preference order. */
export type SidecarExt = (typeof SIDECAR_EXTS)[number];
/** `stem`: IMG_1.jpg -> IMG_1.json ; `name-ext`: IMG_1.jpg -> IMG_1.jpg.json */
export type SidecarNaming = 'stem' | 'name-ext';

/** What a decoder says about the bytes besides the data (e.g. "UTF-8 BOM removed"). */
export interface DecodeResult {
  data: JsonObject;
  format: SidecarFormat;
  notes: string[];
}

/** Scan categories. Every scanned file belongs to exactly one record, every record to one category. */
export type Category =
  | 'ok' // an image and its one valid effective sidecar
  | 'orphan' // a sidecar-shaped file whose directory holds no image it belongs to
  | 'unknown-image' // like orphan, but another file of its folder has its stem or name (an image type we do not know): never removed
  | 'missing' // an image without any sidecar
  | 'ambiguous' // several candidate sidecars, or several images claiming one sidecar
  | 'corrupt' // the only candidate sidecar (or an unpaired sidecar-named file) cannot be decoded
  | 'unrelated' // a .json/.bin/.rkyv that pairs with no image and is not a sidecar (reports, other JSON)
  | 'unreadable' // permission / I/O error, or a name we cannot address
  | 'broken-symlink' // an image symlink whose target does not exist
  | 'encrypted'; // the sidecar is encrypted and no key was given (not corrupt)

export const CATEGORIES: readonly Category[] = [
  'ok',
  'orphan',
  'unknown-image',
  'missing',
  'ambiguous',
  'corrupt',
  'unrelated',
  'unreadable',
  'broken-symlink',
  'encrypted',
];

export interface Options {
  /** Image extensions (lower case, no dot). Default: see DEFAULT_IMAGE_EXTENSIONS. */
  imageExtensions?: readonly string[];
  /** Naming convention for new sidecars. Default 'stem'. */
  naming?: SidecarNaming;
  /** Files larger than this are rejected as TOO_LARGE. Default 64 MiB. */
  maxFileSize?: number;
  /** Nesting deeper than this is rejected as TOO_DEEP. Default 512. */
  maxDepth?: number;
  /** Worker count for tree operations. Default: available parallelism (the CLI: IMAGE_SIDECAR_WORKERS). */
  workers?: number;
  /** 'auto' | 'threads' | 'inline'. Default: 'auto' (the CLI: IMAGE_SIDECAR_ENGINE). */
  engine?: EngineKind;
  /**
   * With threads: the calling thread is one of the `workers` — it runs a batch itself whenever
   * every worker thread holds all it may (so `workers: 2` starts one thread). Default false: `npm
   * run bench` compares the two (validate.json.caller-runs / caller-idle); the server never sets it
   * (its thread answers requests).
   */
  callerRuns?: boolean;
  /**
   * The WebAssembly scanner for JSON sidecars (src/accel/): true (default) uses it where it can
   * vouch for a file, false decodes every file with the JavaScript reference. Results are the same
   * either way. The CLI and the server set false for IMAGE_SIDECAR_ACCEL=off.
   */
  accel?: boolean;
  /**
   * Node's own fs binding for the per-file stat calls (fs/stat-binding.ts): each read's fstat and,
   * with the index, the warm checks' stat (a warm run's CPU ~8 % less). True uses it where Node
   * has it, once it gave what fs.fstatSync / fs.statSync give on a first file, and never under
   * --pending-deprecation (process.binding would warn there); false or unset (default: a library
   * calls no internal binding of its host's unless asked) uses those only. Results are the same
   * either way. The CLI and the server set true, unless IMAGE_SIDECAR_FAST_STAT=off.
   */
  fastStat?: boolean;
  /**
   * On a file server (a read that takes a round trip), each batch's sidecars read many at once
   * (default true; false reads one at a time: the CLI's IMAGE_SIDECAR_STAT_AHEAD=off). Results are
   * the same either way.
   */
  readAhead?: boolean;
  /**
   * Progress of long operations: `done` files (never more than the files seen), `total` when the
   * operation knows it, `bytes` of sidecar data read so far when it counts them.
   */
  onProgress?: (done: number, total?: number, bytes?: number) => void;
  /** Abort a long operation. */
  signal?: AbortSignal;
  /**
   * Keys for encrypted sidecars (`loadKeyFile`, `passphraseKeyring`): reads decrypt with them;
   * new sidecars are encrypted with its encryption key. Without it an encrypted file is ENCRYPTED.
   */
  keyring?: Keyring;
  /**
   * Work on one shard of the tree only (docs/SCALE.md): image groups whose partition key hashes to
   * `index` mod `count`; the sidecars of other shards are never opened or stat'ed.
   */
  shard?: { index: number; count: number };
  /**
   * The incremental index (docs/INDEX.md): stored results of unchanged sidecars skip the read.
   * Off unless given; used by the inspecting operations (validate, stats, format-stats, export
   * without data, find, todo, stale, report). The CLI turns it on (`--no-index` off).
   */
  index?: IndexOptions | false;
}

export type EngineKind = (typeof ENGINE_KINDS)[number];

/** How a key was made; stored (without secrets) in every file encrypted under it. */
export type KeyDescriptor = { kind: 'file' } | { kind: 'scrypt'; logN: number; r: number; p: number; salt: string /* hex */ };

export interface SidecarKey {
  /** Hex key id (16 hex digits). */
  id: string;
  key: KeyObject;
  descriptor: KeyDescriptor;
}

/**
 * The keys an operation may use. Plain data (clones to worker threads). `encryptWith` is the key
 * new encryptions use (index into `keys`); `passphrase` lets readers derive keys for files written
 * under other salts.
 */
export interface Keyring {
  keys: SidecarKey[];
  encryptWith?: number;
  passphrase?: KeyObject;
}
