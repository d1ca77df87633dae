/**
 * One error type for the whole library. Every failure carries a stable `code`;
 * the CLI maps codes to exit codes (see `exitCodeFor`). Create errors only through
 * the `errors` factory table so messages and codes stay consistent.
 */
import { EXIT_FATAL } from './exit-codes.js';
import { tempTargetName } from './temp-name.js';

export type ErrorCode =
  | 'USAGE' // bad arguments or options
  | 'NOT_FOUND' // a path that must exist does not
  | 'NOT_A_DIRECTORY'
  | 'CORRUPT' // a file's content cannot be decoded
  | 'ENCRYPTED' // an encrypted sidecar and no key given (not corrupt)
  | 'UNREPRESENTABLE' // a value the target format cannot carry losslessly
  | 'TOO_LARGE' // a file above the configured size limit
  | 'TOO_DEEP' // nesting beyond the configured depth limit
  | 'IO' // an I/O error (EIO, ENOSPC, EROFS, ...)
  | 'PERMISSION' // EACCES / EPERM
  | 'READ_ONLY' // EROFS: file system is read-only
  | 'LOCK_TIMEOUT' // could not get the per-sidecar lock in time
  | 'CONFLICT' // e.g. x.json and x.bin disagree
  | 'AMBIGUOUS' // several candidate sidecars for one image
  | 'VERIFY_FAILED' // a written file did not read back equal
  | 'OUTSIDE_ROOT' // an operation would touch a path outside the given root
  | 'INCOMPLETE_SCAN' // the scan hit read errors; destructive steps refused
  | 'GUARD' // a safety guard tripped (e.g. too many orphans)
  | 'SCHEMA' // a JSON Schema given by the user is invalid
  | 'INTERNAL';

export interface SidecarErrorOptions {
  path?: string;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class SidecarError extends Error {
  readonly code: ErrorCode;
  readonly path?: string;
  readonly details?: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, opts: SidecarErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SidecarError';
    this.code = code;
    if (opts.path !== undefined) this.path = opts.path;
    if (opts.details !== undefined) this.details = opts.details;
  }
  /** Plain object for JSON output, worker messages and the stdio server. */
  toJSON(): { code: ErrorCode; message: string; path?: string; details?: Record<string, unknown> } {
    const out: { code: ErrorCode; message: string; path?: string; details?: Record<string, unknown> } = {
      code: this.code,
      message: this.message,
    };
    if (this.path !== undefined) out.path = this.path;
    if (this.details !== undefined) out.details = this.details;
    return out;
  }
}

/** The errors that make a file unreadable (it could not be read at all); any other error reading and decoding it makes it corrupt. */
export const READ_ERROR_CODES: ReadonlySet<ErrorCode> = new Set(['PERMISSION', 'IO', 'NOT_FOUND', 'NOT_A_DIRECTORY', 'READ_ONLY']);

export function isSidecarError(e: unknown): e is SidecarError {
  return e instanceof SidecarError;
}

/**
 * A file encrypted under a key that was not given (`noKeyFor`: a wrong key or passphrase). CORRUPT
 * as documented, but never passed over as a damaged file is: like an encrypted one without a key,
 * its data is the image's newest and unknown, so a read stops there rather than give an older copy.
 */
export function isWrongKey(e: unknown): boolean {
  return e instanceof SidecarError && e.code === 'CORRUPT' && typeof e.details?.keyId === 'string';
}

/** A path a tree digest could not read (root-relative, POSIX), with why. */
export interface UnreadablePath {
  path: string;
  code: ErrorCode;
  message: string;
}

/** Unreadable paths a tree digest's refusal names (the rest are counted), as a scan names its problems. */
export const UNREADABLE_NAMED = 200;

/** The UNREADABLE_NAMED first of `paths` in the UTF-8 byte order of their paths (sorts `paths`). */
export function firstUnreadable(paths: UnreadablePath[]): UnreadablePath[] {
  return paths.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path))).slice(0, UNREADABLE_NAMED);
}

/** What an `errors.notDigested` error lists, or undefined for any other error. */
export function notDigestedOf(e: unknown): { undecodable: string[]; unreadable: UnreadablePath[]; unreadableCount: number } | undefined {
  const d = isSidecarError(e) ? e.details : undefined;
  if (d?.reason !== NOT_DIGESTED) return undefined;
  return { undecodable: d.files as string[], unreadable: d.unreadable as UnreadablePath[], unreadableCount: d.unreadable_count as number };
}
const NOT_DIGESTED = 'not-digested';

/** The error of JSON that parses but is not an object (errors.notAnObject): another tool's file, not a damaged sidecar. */
export function isOtherJson(e: unknown): boolean {
  return isSidecarError(e) && e.code === 'CORRUPT' && typeof e.details?.topLevel === 'string';
}

/**
 * Anything thrown, as one of ours: a file-system error (an errno code and a syscall) by what it
 * says (errors.fromFs: NOT_FOUND, PERMISSION, IO...), anything else INTERNAL. The CLI and the
 * server answer every failure through this, so they name it with the same code.
 */
export function asSidecarError(e: unknown): SidecarError {
  if (isSidecarError(e)) return e;
  const err = e as NodeJS.ErrnoException | undefined;
  if (err && typeof err.code === 'string' && typeof err.syscall === 'string') return errors.fromFs(e);
  return errors.internal(err?.message ?? String(e), e);
}

const where = (path?: string) => (path ? `${path}: ` : '');

/** The central factory table: every error the library raises is made here. */
export const errors = {
  usage: (message: string) => new SidecarError('USAGE', message),
  /** A path or argument holding a name that is not valid UTF-8 (fs/byte-names.ts): refused, never replaced by another name. */
  notUtf8: (message: string, details: Record<string, unknown>, path?: string) =>
    new SidecarError('USAGE', message, { path, details: { reason: 'not-utf8', ...details } }),
  /** A file or folder whose name is not valid UTF-8 (docs/BYTE-NAMES.md): `shown` names it with its bytes as `\xHH`, `path` is Node's decoding (U+FFFD). */
  nameNotUtf8: (path: string, shown: string, detail: string) => new SidecarError('IO', `${shown}: ${detail} (EILSEQ)`, { path }),
  notFound: (path: string, what = 'path') => new SidecarError('NOT_FOUND', `${what} does not exist: ${path}`, { path }),
  /** restore --from a quarantine folder that holds nothing to restore (quarantine-folder.ts). */
  nothingToRestore: (folder: string, detail: string) => new SidecarError('NOT_FOUND', `nothing to restore from ${folder}: ${detail}`, { path: folder }),
  notADirectory: (path: string) => new SidecarError('NOT_A_DIRECTORY', `not a directory: ${path}`, { path }),
  corrupt: (detail: string, path?: string, cause?: unknown) =>
    new SidecarError('CORRUPT', `${where(path)}${detail}`, { path, cause }),
  /**
   * JSON that parses but whose top-level value is not an object (exiftool's `-json` dump is an
   * array): not a sidecar, CORRUPT as a sidecar; where a file only has to be told apart from the
   * image's sidecar it is another tool's file (`isOtherJson`, docs/PAIRING.md §7).
   */
  notAnObject: (type: string, path?: string) =>
    new SidecarError('CORRUPT', `${where(path)}top-level value is ${type}, expected an object`, { path, details: { topLevel: type } }),
  /** An encrypted file whose key is not among those given: CORRUPT "authentication failed" (docs/FORMAT.md), its key id in the details. */
  noKeyFor: (keyId: string, detail: string, path?: string) =>
    new SidecarError('CORRUPT', `${where(path)}authentication failed: ${detail}`, { path, details: { keyId } }),
  encrypted: (keyId: string, path?: string) =>
    new SidecarError(
      'ENCRYPTED',
      `${where(path)}encrypted (key id ${keyId}); give its key with --key-file, IMAGE_SIDECAR_KEY_FILE or IMAGE_SIDECAR_PASSPHRASE`,
      { path, details: { keyId } },
    ),
  unrepresentable: (format: string, detail: string, path?: string) =>
    new SidecarError('UNREPRESENTABLE', `${where(path)}the ${format} format cannot carry this data losslessly: ${detail}`, {
      path,
      details: { format },
    }),
  tooLarge: (size: number, limit: number, path?: string, what = 'file') =>
    new SidecarError('TOO_LARGE', `${where(path)}${what} is ${size} bytes, above the limit of ${limit} bytes`, {
      path,
      details: { size, limit },
    }),
  /** A stream or file of unknown size (--data, --schema) that went on past `limit`: read no further. */
  inputTooLarge: (limit: number, path: string) =>
    new SidecarError('TOO_LARGE', `${path}: more than ${limit} bytes, above the limit`, { path, details: { limit } }),
  /** A cleanup whose quarantine manifest restore could not read (cleanup.ts MANIFEST_MAX_BYTES): refused before anything moves. */
  manifestTooLarge: (files: number, size: number, limit: number) =>
    new SidecarError('TOO_LARGE', `refusing to quarantine ${files} files at once: their manifest would be ${size} bytes, above the ${limit} bytes restore reads; nothing was moved (clean up one part of the tree at a time)`, {
      details: { files, size, limit },
    }),
  tooDeep: (limit: number, path?: string) =>
    new SidecarError('TOO_DEEP', `${where(path)}nesting deeper than ${limit} levels`, { path, details: { limit } }),
  lockTimeout: (path: string, cause?: unknown) =>
    new SidecarError('LOCK_TIMEOUT', `timed out waiting for the lock on ${path}`, { path, cause }),
  /** Another cleanup, relink or restore of the library `root` holds its quarantine lock (`path`): this one moved nothing. */
  quarantineBusy: (path: string, root: string) =>
    new SidecarError('LOCK_TIMEOUT', `another cleanup, relink or restore of ${root} is running: nothing was moved; run again once it has finished`, { path }),
  conflict: (detail: string, paths: string[]) =>
    new SidecarError('CONFLICT', `${detail}: ${paths.join(', ')}`, { path: paths[0], details: { paths } }),
  ambiguous: (paths: string[]) =>
    new SidecarError('AMBIGUOUS', `several candidate sidecars: ${paths.join(', ')}`, { path: paths[0], details: { paths } }),
  verifyFailed: (path: string, detail: string) =>
    new SidecarError('VERIFY_FAILED', `${path}: written file did not verify: ${detail}`, { path }),
  outsideRoot: (path: string, root: string) =>
    new SidecarError('OUTSIDE_ROOT', `refusing to touch ${path}: it is outside the root ${root}`, { path, details: { root } }),
  incompleteScan: (detail: string) => new SidecarError('INCOMPLETE_SCAN', `the scan was incomplete: ${detail}`),
  guard: (detail: string) => new SidecarError('GUARD', detail),
  /**
   * A whole-tree result (a tree digest) that cannot leave a file out: `details.files` the sidecars
   * that do not decode, `details.unreadable` the paths not read (the first ones, of
   * `details.unreadable_count`). CORRUPT when a file does not decode, else the first path's code.
   */
  notDigested: (files: string[], unreadable: UnreadablePath[] = [], unreadableCount = unreadable.length) => {
    const parts: string[] = [];
    if (files.length > 0) parts.push(`${files.length} sidecar file(s) cannot be decoded: ${files.slice(0, 5).join(', ')}${files.length > 5 ? ', …' : ''}`);
    if (unreadableCount > 0) parts.push(`${unreadableCount} path(s) cannot be read (first: ${unreadable[0]?.message ?? '?'})`);
    const code: ErrorCode = files.length > 0 ? 'CORRUPT' : (unreadable[0]?.code ?? 'IO');
    return new SidecarError(code, parts.join('; '), { details: { reason: NOT_DIGESTED, files, unreadable, unreadable_count: unreadableCount } });
  },
  notRegularFile: (path: string) => new SidecarError('IO', `${path}: not a regular file (FIFO, socket, device or directory)`, { path }),
  schema: (detail: string, path?: string) => new SidecarError('SCHEMA', `${where(path)}invalid JSON Schema: ${detail}`, { path }),
  /** `--shard` that is not I/N or auto/N with a usable index. */
  badShard: (text: string, detail: string) => new SidecarError('USAGE', `--shard ${text}: ${detail}`, { details: { shard: text } }),
  /** A file given to `merge` that is not a complete shard output. */
  notShardOutput: (path: string, detail: string) => new SidecarError('USAGE', `${path}: not a complete shard output: ${detail}`, { path }),
  /** Shard outputs that were not made by the same run (root, N, version, command or options differ). */
  shardMismatch: (what: string, a: { path: string; value: string }, b: { path: string; value: string }) =>
    new SidecarError('USAGE', `shard outputs disagree on ${what}: ${a.path} has ${a.value}, ${b.path} has ${b.value}; merge only the shards of one run`, {
      path: b.path,
      details: { what, values: [a.value, b.value], paths: [a.path, b.path] },
    }),
  shardMissing: (missing: number[], count: number) =>
    new SidecarError('USAGE', `missing shard${missing.length > 1 ? 's' : ''} ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ', …' : ''} of ${count}: a merge needs every shard 0 to ${count - 1} once`, {
      details: { missing, count },
    }),
  shardDuplicate: (index: number, paths: string[]) =>
    new SidecarError('USAGE', `shard ${index} given twice (${paths.join(', ')}): a merge needs every shard once`, { path: paths[1], details: { index, paths } }),
  internal: (detail: string, cause?: unknown) => new SidecarError('INTERNAL', detail, { cause }),
  /** Map a Node.js fs error (errno code) to our error type. */
  fromFs: (e: unknown, path?: string): SidecarError => {
    if (e instanceof SidecarError) return e;
    const err = e as NodeJS.ErrnoException;
    const p = withoutTempName(path ?? err?.path);
    const msg = `${where(p)}${fsDescription(err, e)}`;
    switch (err?.code) {
      case 'ENOENT':
        return new SidecarError('NOT_FOUND', msg, { path: p, cause: e });
      case 'ENOTDIR':
        return new SidecarError('NOT_A_DIRECTORY', msg, { path: p, cause: e });
      case 'EACCES':
      case 'EPERM':
        return new SidecarError('PERMISSION', msg, { path: p, cause: e });
      case 'EROFS':
        return new SidecarError('READ_ONLY', msg, { path: p, cause: e });
      default:
        return new SidecarError('IO', msg, { path: p, cause: e });
    }
  },
} as const;

/**
 * Node's fs message without what we print ourselves: "ENOENT: no such file or directory, open
 * '/x/.a.json.isc-tmp-1-a'" → "no such file or directory (ENOENT)". The code appears once and the
 * syscall's paths (temp files among them) are dropped: the caller's path says where.
 */
function fsDescription(err: NodeJS.ErrnoException | undefined, e: unknown): string {
  const code = typeof err?.code === 'string' ? err.code : undefined;
  let text = typeof err?.message === 'string' ? err.message : String(e);
  if (code !== undefined && text.startsWith(`${code}: `)) text = text.slice(code.length + 2);
  if (typeof err?.syscall === 'string') {
    const at = text.lastIndexOf(`, ${err.syscall}`);
    if (at >= 0) text = text.slice(0, at);
  }
  text = text.trim() || 'I/O error';
  return code !== undefined && !text.includes(code) ? `${text} (${code})` : text;
}

/** A path to one of our temp files names the file it was going to replace (users never see temp names). */
function withoutTempName(p: string | undefined): string | undefined {
  if (p === undefined) return undefined;
  const slash = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  const target = tempTargetName(p.slice(slash + 1));
  return target === null ? p : p.slice(0, slash + 1) + target;
}

/** Rebuild an error that crossed a thread or process boundary as a plain object. */
export function errorFromJSON(o: { code: ErrorCode; message: string; path?: string; details?: Record<string, unknown> }): SidecarError {
  return new SidecarError(o.code, o.message, { path: o.path, details: o.details });
}

/** Exit codes: 0 clean, 1 findings, 2 usage or fatal error. */
export { EXIT_CLEAN, EXIT_FINDINGS, EXIT_FATAL } from './exit-codes.js';

export function exitCodeFor(e: unknown): number {
  return EXIT_FATAL; // any error that escapes an operation is fatal; findings are results, not errors
}
