import { performance } from 'node:perf_hooks';
import { errors, isSidecarError, type ErrorCode } from '../errors.js';
import { decodeSidecar } from '../formats/codec.js';
import { encodeJsonText } from '../formats/json.js';
import { hasNumberNotes } from '../formats/numbers.js';
import { looksLikeReport, looksLikeSidecar } from '../analysis/operations.js';
import { probeSidecar, summarizeSidecar, type SidecarProbe, type SidecarSummary } from '../analysis/summary.js';
import { skimSidecar } from '../formats/skim.js';
import { checkSidecarRules, type Problem } from '../analysis/rules.js';
import { compileSchema, checkSchema, type CompiledSchema } from '../analysis/schema.js';
import type { JsonObject, SidecarFormat } from '../types.js';
import { readFileLimitedSync } from '../fs/read-file.js';
import type { Keyring } from '../crypto/keys.js';

export interface InspectOptions {
  maxFileSize?: number;
  maxDepth?: number;
  /** Compute the per-sidecar summary (operations, faces, objects, grade...). */
  summarize?: boolean;
  /** With summarize: also each operation's size in bin encoding (only stats prints it). Default true. */
  sizes?: boolean;
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
  /** Keys for encrypted sidecars (KeyObjects: they clone to workers and never print). */
  keyring?: Keyring;
  /**
   * Operation outcomes and the image record only (todo, stale). Alone, it skim-decodes: JSON
   * arrays are validated but not built (src/formats/skim.ts), same acceptance as a full decode.
   */
  probe?: boolean;
}

export interface InspectItem {
  path: string;
  /** On-disk file name (report names are recognised by it). */
  name: string;
  /** Size seen before sending (bounds a batch by bytes when the data is kept). */
  size?: number;
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
  /** Key id of an encrypted sidecar (decrypted when status is 'ok'; status 'encrypted' without a key). */
  encryptedKeyId?: string;
  error?: { code: ErrorCode; message: string };
  notes: string[];
  /** What the decoded content looks like: a per-image sidecar, a directory report, or other JSON. */
  shape: 'sidecar' | 'report' | 'other' | null;
  summary?: SidecarSummary;
  problems?: Problem[];
  data?: JsonObject;
  /** The data as typed JSON; UTF-8 bytes when big, so that a worker hands it over without a copy. */
  dataJson?: string | Uint8Array;
  probe?: SidecarProbe;
  elapsedMs: number;
}

/** Texts this long go back as bytes (moved, not cloned, from a worker thread; see worker-loop.ts). */
const TRANSFER_TEXT_UNITS = 1 << 20;

// Compiled schemas are cached per thread: compile once per run, not once per file.
const schemaCache = new Map<string, CompiledSchema>();
function schemaFor(source: unknown): CompiledSchema {
  const key = JSON.stringify(source);
  let compiled = schemaCache.get(key);
  if (!compiled) {
    compiled = compileSchema(source);
    schemaCache.set(key, compiled);
  }
  return compiled;
}

const READ_ERROR_CODES: ReadonlySet<ErrorCode> = new Set(['PERMISSION', 'IO', 'NOT_FOUND', 'NOT_A_DIRECTORY', 'READ_ONLY']);

/** Read, decode and (optionally) summarise/validate one sidecar file. Never throws for a bad file. */
export function inspectFile(item: InspectItem, opts: InspectOptions, compiled?: CompiledSchema): FileInspection {
  const start = performance.now();
  const out: FileInspection = { path: item.path, size: 0, status: 'ok', format: null, notes: [], shape: null, elapsedMs: 0 };
  let bytes: Buffer;
  try {
    bytes = readFileLimitedSync(item.path, opts.maxFileSize);
    out.size = bytes.length;
  } catch (e) {
    const err = isSidecarError(e) ? e : errors.fromFs(e, item.path);
    out.status = READ_ERROR_CODES.has(err.code) ? 'unreadable' : 'corrupt';
    out.error = { code: err.code, message: err.message };
    out.elapsedMs = performance.now() - start;
    return out;
  }
  try {
    const decodeOpts = { path: item.path, maxDepth: opts.maxDepth, maxFileSize: opts.maxFileSize, keyring: opts.keyring };
    const skim = opts.probe && !opts.summarize && !opts.validate && opts.schema === undefined && !opts.keepData;
    const decoded = skim ? skimSidecar(bytes, decodeOpts) : decodeSidecar(bytes, decodeOpts);
    out.format = decoded.format;
    if (decoded.encryption) out.encryptedKeyId = decoded.encryption.keyId;
    out.notes = decoded.notes;
    const data = decoded.data;
    out.shape = looksLikeReport(data, item.name) ? 'report' : looksLikeSidecar(data) ? 'sidecar' : 'other';
    if (opts.summarize) out.summary = summarizeSidecar(data, { sizes: opts.sizes });
    if (opts.probe) out.probe = probeSidecar(data);
    if (opts.validate || opts.schema !== undefined) {
      const problems = opts.validate ? checkSidecarRules(data) : [];
      if (opts.schema !== undefined) problems.push(...checkSchema(compiled ?? schemaFor(opts.schema), data));
      out.problems = problems;
    }
    if (opts.keepData) out.data = data;
    // Typed JSON when some number needs its type spelled out (25.0, big ints): the notes that carry
    // those types (formats/numbers.ts) do not cross to the main thread.
    if (opts.dataJson) {
      const text = hasNumberNotes(data) ? encodeJsonText(data, 0, { maxDepth: Number.MAX_SAFE_INTEGER, formatName: 'json' }) : JSON.stringify(data);
      out.dataJson = text.length >= TRANSFER_TEXT_UNITS ? Buffer.from(text, 'utf8') : text;
    }
  } catch (e) {
    const err = isSidecarError(e) ? e : errors.corrupt(`cannot decode: ${(e as Error)?.message ?? e}`, item.path, e);
    if (err.code === 'ENCRYPTED') {
      // Ours and intact, but we hold no key: a finding of its own, not corruption.
      out.status = 'encrypted';
      out.format = 'bin';
      out.shape = 'sidecar';
      out.encryptedKeyId = String(err.details?.keyId ?? '');
    } else out.status = 'corrupt';
    out.error = { code: err.code, message: err.message };
  }
  out.elapsedMs = performance.now() - start;
  return out;
}

export function inspectFiles(items: readonly InspectItem[], options: InspectOptions): FileInspection[] {
  const opts = options ?? {};
  // Compile (or fetch) the schema once per batch, not once per file.
  const compiled = opts.schema !== undefined ? schemaFor(opts.schema) : undefined;
  return items.map((item) => inspectFile(item, opts, compiled));
}
