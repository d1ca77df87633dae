/**
 * Manifests: the per-file (bytes mode) or per-image (canonical mode) digests of a tree, sorted
 * by the UTF-8 bytes of the path, byte-identical for the same tree.
 *
 *   *.jsonl   {"path":"a/IMG_1.json","digest":"<hex>"} one per line
 *   other     {
 *               "version": "isc-tree-v1",
 *               "root_digest": "<hex>",
 *               "all_files": false,
 *               "files": {
 *                 "<path>": "<hex>",
 *                 ...
 *               }
 *             }
 *
 * The JSON object is written by hand rather than with JSON.stringify(object): an object would put
 * integer-like keys ("2024") first and break the sorted order.
 *
 * Neither form is ever one string (V8 caps a string at ~512 MiB: ~4.6 million entries): the writer
 * hands its pieces, an entry each, to the atomic write (fs/atomic-write.ts: temp file, fsync,
 * rename, directory fsync), and the reader takes the file line by line through the bounded line
 * reader (fs/line-reader.ts) — an entry is one line in both forms. A JSON-object manifest laid out
 * otherwise (minified, reformatted by hand) is still read, whole, up to WHOLE_READ_MAX_BYTES.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { errors } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { isStdoutName } from '../fs/stdout-name.js';
import { describeBytes, fileChunks, lineBatches, type Line } from '../fs/line-reader.js';
import { READ_FLAGS, readRegularFile } from '../fs/regular-file.js';
import { CANON_VERSION, compareUtf8, TREE_VERSION, TreeDigester, type KeyedHex, type TreeVersion } from '../formats/digest.js';

export interface ManifestData {
  version: TreeVersion;
  rootDigest: string;
  allFiles: boolean;
  /** Sorted by the UTF-8 bytes of `key`. */
  entries: readonly KeyedHex[];
}

export interface LoadedManifest {
  /** Absent in JSONL manifests (the caller's options say the mode). */
  version?: TreeVersion;
  rootDigest?: string;
  allFiles?: boolean;
  /** path → hex digest, in file order. */
  files: Map<string, string>;
  /**
   * With `rootDigest`: the tree digest of the listed entries, computed as they were read when they
   * came in UTF-8 order (as written); absent otherwise (the caller sorts and digests them).
   */
  entriesDigest?: string;
}

export interface ReadManifestOptions {
  /** Longest line taken as an entry (default MAX_LINE_BYTES). */
  maxLineBytes?: number;
  /** Largest JSON-object manifest not laid out one entry per line that is read whole (default WHOLE_READ_MAX_BYTES). */
  wholeReadMaxBytes?: number;
}

const HEX64 = /^[0-9a-f]{64}$/;
/** A line holds one path (PATH_MAX 4 KiB, JSON-escaped at most 6×) and a digest: 1 MiB is far above any. */
export const MAX_LINE_BYTES = 1 << 20;
/** A manifest in another JSON layout is parsed whole: at most this big (~600,000 entries). */
export const WHOLE_READ_MAX_BYTES = 64 << 20;

export function isJsonlPath(path: string): boolean {
  return path.toLowerCase().endsWith('.jsonl');
}

/** The manifest's text in pieces (an entry each; joined, they end with a newline). */
export function* manifestPieces(m: ManifestData, jsonl: boolean): Generator<string> {
  if (jsonl) {
    for (const e of m.entries) yield `{"path":${JSON.stringify(e.key)},"digest":"${e.hex}"}\n`;
    return;
  }
  yield `{\n  "version": "${m.version}",\n  "root_digest": "${m.rootDigest}",\n  "all_files": ${m.allFiles},\n  "files": {`;
  for (let i = 0; i < m.entries.length; i++) {
    const e = m.entries[i];
    yield `${i === 0 ? '' : ','}\n    ${JSON.stringify(e.key)}: "${e.hex}"`;
  }
  yield m.entries.length === 0 ? '}\n}\n' : '\n  }\n}\n';
}

/** Write the manifest atomically (temp file, fsync, rename, directory fsync), streamed. */
export async function writeManifest(path: string, m: ManifestData): Promise<void> {
  assertManifestFile(path);
  await writeFileAtomic(path, manifestPieces(m, isJsonlPath(path)));
}

/**
 * A manifest is a file (`verify` reads it back), never standard output by any name: written through
 * `/dev/stdout` it was renamed over the file behind it (`hash --manifest /dev/stdout >> log.txt`
 * replaced the log). Checked before the work, as other outputs are.
 */
export function assertManifestFile(path: string): void {
  if (isStdoutName(path)) throw errors.usage(`the manifest needs a file, not standard output ("${path}")`);
}

/** The entries as they are read: duplicates refused, the digest of the entries fed while they come in order. */
class Entries {
  readonly files = new Map<string, string>();
  private readonly digester = new TreeDigester();
  private last: string | null = null;
  private inOrder = true;

  constructor(private readonly path: string) {}

  add(p: unknown, d: unknown, where: string): void {
    if (typeof p !== 'string' || typeof d !== 'string' || !HEX64.test(d)) throw errors.corrupt(`not a manifest entry at ${where}`, this.path);
    if (this.files.has(p)) throw errors.corrupt(`duplicate path ${JSON.stringify(p)} at ${where}`, this.path);
    this.files.set(p, d);
    if (this.inOrder && this.last !== null && compareUtf8(this.last, p) >= 0) this.inOrder = false;
    this.last = p;
    if (this.inOrder) this.digester.add(d);
  }

  digest(): string | undefined {
    return this.inOrder ? this.digester.digest() : undefined;
  }
}

/** Read a manifest written by writeManifest (either form). Throws CORRUPT when it is not one. */
export async function readManifest(path: string, opts: ReadManifestOptions = {}): Promise<LoadedManifest> {
  const maxLineBytes = opts.maxLineBytes ?? MAX_LINE_BYTES;
  let fh: FileHandle;
  let size: number;
  try {
    fh = await open(path, READ_FLAGS); // a FIFO planted there opens at once and is refused, never waited on
  } catch (e) {
    const err = errors.fromFs(e, path);
    throw err.code === 'NOT_FOUND' ? errors.notFound(path, 'manifest') : err;
  }
  try {
    const st = await fh.stat().catch((e) => Promise.reject(errors.fromFs(e, path)));
    if (!st.isFile()) throw errors.notRegularFile(path);
    size = st.size;
    const lines = lineBatches(fileChunks(fh), { maxLineBytes, headBytes: 64 });
    if (isJsonlPath(path)) return await readJsonl(path, lines, maxLineBytes);
    const read = await readObjectLines(path, lines);
    if (read !== null) return read;
  } finally {
    await fh.close().catch(() => undefined);
  }
  return readWhole(path, size, opts.wholeReadMaxBytes ?? WHOLE_READ_MAX_BYTES);
}

function tooLong(path: string, line: Line, max: number): Error {
  return errors.corrupt(`line ${line.lineNo} is ${line.bytes} bytes, longer than a manifest entry can be (limit ${describeBytes(max)})`, path);
}

async function readJsonl(path: string, lines: AsyncIterable<Line[]>, maxLineBytes: number): Promise<LoadedManifest> {
  const entries = new Entries(path);
  for await (const batch of lines) {
    for (const line of batch) {
      if (line.tooLong) throw tooLong(path, line, maxLineBytes);
      const text = line.text.trim();
      if (text === '') continue;
      const o = parse(text, path, `line ${line.lineNo}`) as { path?: unknown; digest?: unknown } | null;
      entries.add(o?.path, o?.digest, `line ${line.lineNo}`);
    }
  }
  return { files: entries.files };
}

// The object form, a member per line: `"key": <scalar>`, `"files": {` … `}`, each line but an
// object's last ending in a comma.
const MEMBER = /^("(?:[^"\\]|\\.)*")\s*:\s*(.*?)(,?)$/;
const FILE_ENTRY = /^("(?:[^"\\]|\\.)*")\s*:\s*("[^"\\]*")\s*(,?)$/;

/**
 * The object form read line by line, in the layout writeManifest writes (and `jq .`, Python's
 * indent=2 and the like write): null when the text is laid out otherwise (the caller reads it whole).
 */
async function readObjectLines(path: string, lines: AsyncIterable<Line[]>): Promise<LoadedManifest | null> {
  const entries = new Entries(path);
  const top: Record<string, unknown> = {};
  let state: 'start' | 'top' | 'files' | 'end' = 'start';
  let sawFiles = false;
  // The previous member line's comma: true → another member must follow, false → the object closes.
  let more: boolean | null = null;
  for await (const batch of lines) {
    for (const line of batch) {
      if (line.tooLong) return null; // not one entry per line: minified, perhaps
      const t = line.text.trim();
      if (t === '') continue;
      if (state === 'start') {
        if (t !== '{') return null;
        state = 'top';
        more = null;
      } else if (state === 'top') {
        if (t === '}') {
          if (more === true) return null;
          state = 'end';
          continue;
        }
        if (more === false) return null;
        const m = MEMBER.exec(t);
        if (!m) return null;
        const key = parseKey(m[1]);
        if (key === null) return null;
        more = m[3] === ',';
        if (key === 'files') {
          if (sawFiles) return null;
          sawFiles = true;
          if (m[2] === '{') {
            state = 'files';
            more = null;
            continue;
          }
          if (m[2] !== '{}') return null;
          top.files = {};
          continue;
        }
        let value: unknown;
        try {
          value = JSON.parse(m[2]);
        } catch {
          return null; // a value over several lines, or not JSON: the whole-text parse decides
        }
        top[key] = value;
      } else if (state === 'files') {
        if (t === '}' || t === '},') {
          if (more === true) return null;
          state = 'top';
          more = t === '},';
          continue;
        }
        if (more === false) return null;
        const m = FILE_ENTRY.exec(t);
        if (!m) return null;
        const key = parseKey(m[1]);
        if (key === null) return null;
        entries.add(key, parseKey(m[2]), `files[${JSON.stringify(key)}]`);
        more = m[3] === ',';
      } else return null; // text after the closing brace
    }
  }
  if (state !== 'end') return null;
  return { ...checkedHeader(path, { ...top, files: sawFiles ? {} : undefined }), files: entries.files, entriesDigest: entries.digest() };
}

// A JSON string without escapes or control characters is its text between the quotes.
const NEEDS_PARSE = /[\\\u0000-\u001f]/;

function parseKey(quoted: string): string | null {
  if (!NEEDS_PARSE.test(quoted)) return quoted.slice(1, -1);
  try {
    return JSON.parse(quoted) as string;
  } catch {
    return null;
  }
}

/** A JSON-object manifest in another layout: parsed whole, up to a size. */
async function readWhole(path: string, size: number, maxBytes: number): Promise<LoadedManifest> {
  if (size > maxBytes) {
    throw errors.corrupt(`not laid out one entry per line as hash --manifest writes it, and too big (${size} bytes) to read whole (limit ${describeBytes(maxBytes)})`, path);
  }
  let text: string;
  try {
    text = (await readRegularFile(path, READ_FLAGS, maxBytes)).toString('utf8');
  } catch (e) {
    const err = errors.fromFs(e, path);
    throw err.code === 'NOT_FOUND' ? errors.notFound(path, 'manifest') : err;
  }
  const o = parse(text, path, 'top level') as Record<string, unknown> | null;
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw errors.corrupt('a manifest must be a JSON object', path);
  const header = checkedHeader(path, o);
  const entries = new Entries(path);
  for (const [p, d] of Object.entries(o.files as object)) entries.add(p, d, `files[${JSON.stringify(p)}]`);
  return { ...header, files: entries.files, entriesDigest: entries.digest() };
}

/** The members besides the entries, checked as one rule for both ways of reading. */
function checkedHeader(path: string, o: Record<string, unknown>): Required<Pick<LoadedManifest, 'version' | 'rootDigest'>> & Pick<LoadedManifest, 'allFiles'> {
  const { version, root_digest: rootDigest, all_files: allFiles, files } = o;
  if (version !== TREE_VERSION && version !== CANON_VERSION) throw errors.corrupt(`unknown manifest version ${JSON.stringify(version)}`, path);
  if (typeof rootDigest !== 'string' || !HEX64.test(rootDigest)) throw errors.corrupt('root_digest must be 64 hex digits', path);
  if (allFiles !== undefined && typeof allFiles !== 'boolean') throw errors.corrupt('all_files must be a boolean', path);
  if (!files || typeof files !== 'object' || Array.isArray(files)) throw errors.corrupt('files must be an object', path);
  return { version, rootDigest, allFiles };
}

function parse(text: string, path: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw errors.corrupt(`manifest is not valid JSON (${where}): ${(e as Error).message}`, path, e);
  }
}
