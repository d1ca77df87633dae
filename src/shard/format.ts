/**
 * The shard-output file (docs/SCALE.md): JSON lines, so that a shard of 10^6 results is written
 * and merged as a stream.
 *
 *   {"image_sidecar_shard":1,"command":"validate","root":"/abs","partition":"isc-shard-v1",
 *    "shard":{"index":0,"count":8,"source":"argument"},"tool_version":"…","options":{…},"options_digest":"<sha256>"}
 *   {"seq":[3,0],"item":<one result, raw JSON>}          ← in tree order (hash: in key order)
 *   …
 *   {"end":true,"items":N,"summary":{…}}                  ← the mergeable totals; proves the file complete
 *
 * Items are copied by `merge` as raw text, never through JSON.parse (export data keeps 25.0 and
 * 19-digit integers). The file is written through a temp file and renamed (fs/output-sink.ts), so a
 * killed job leaves no half file under the name.
 *
 * Reading is bounded whatever the file holds (fs/line-reader.ts): a line up to TEXT_LINE_BYTES
 * comes as a string; a longer one is never held whole. An export item has no length limit (the
 * writer streams a sidecar's data text as bytes, so an item may be longer than any JS string): its
 * text is read again by position, in pieces, when it is copied. A validate or hash item is parsed,
 * so it must fit one string: a longer line is refused (a shard never writes one). A line that is
 * not an item is refused from its first bytes, however long it is.
 */
import { createHash } from 'node:crypto';
import { constants as bufferConstants } from 'node:buffer';
import { open, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { errors } from '../errors.js';
import { fileChunks, lineBatches } from '../fs/line-reader.js';
import { READ_FLAGS } from '../fs/regular-file.js';
import { identityOf, sameIdentity, type FileIdentity } from '../fs/identity.js';
import { canonicalJson } from '../formats/canonical.js';
import { PARTITION } from '../discovery/shard.js';
import { compareSeq, type TreeSeq } from '../scan/records.js';
import type { JsonValue } from '../types.js';

export const SHARD_FORMAT_VERSION = 1;
/**
 * The version of a hash shard that names the paths it could not read and (canonical) the sidecars
 * it could not decode instead of its entries (its summary's `unreadable`, `undecodable`): a merge
 * that reads only version 1 refuses it, where it gave the digest of a tree without those files.
 * This version reads both.
 */
export const SHARD_FORMAT_NOT_DIGESTED = 2;

/** Commands whose shard outputs `merge` combines. */
export const MERGEABLE_COMMANDS = ['stats', 'validate', 'format-stats', 'hash', 'export'] as const;
export type ShardCommand = (typeof MERGEABLE_COMMANDS)[number];

export interface ShardHeader {
  image_sidecar_shard: typeof SHARD_FORMAT_VERSION | typeof SHARD_FORMAT_NOT_DIGESTED;
  command: ShardCommand;
  /** Absolute path of the tree. */
  root: string;
  partition: string;
  shard: { index: number; count: number; source: string };
  tool_version: string;
  /** Every option that changes the result (never engine or workers; key ids, never keys). */
  options: Record<string, JsonValue>;
  /** sha256 of the canonical JSON of `options`. */
  options_digest: string;
}

export interface ShardTrailer<S = unknown> {
  end: true;
  items: number;
  summary: S;
}

export function makeHeader(command: ShardCommand, root: string, shard: { index: number; count: number; source?: string }, toolVersion: string, options: Record<string, JsonValue | undefined>): ShardHeader {
  const clean: Record<string, JsonValue> = {};
  for (const k of Object.keys(options).sort()) if (options[k] !== undefined) clean[k] = options[k]!;
  return {
    image_sidecar_shard: SHARD_FORMAT_VERSION,
    command,
    root,
    partition: PARTITION,
    shard: { index: shard.index, count: shard.count, source: shard.source ?? 'argument' },
    tool_version: toolVersion,
    options: clean,
    options_digest: createHash('sha256').update(canonicalJson(clean), 'utf8').digest('hex'),
  };
}

export const headerLine = (h: ShardHeader) => `${JSON.stringify(h)}\n`;
/** `raw` is one JSON value's text without a newline. */
export const itemLine = (seq: TreeSeq, raw: string) => `{"seq":[${seq[0]},${seq[1]}],"item":${raw}}\n`;
export const trailerLine = (items: number, summary: unknown) => `${JSON.stringify({ end: true, items, summary })}\n`;

export interface ShardItem {
  seq: TreeSeq;
  /** Where it is: its file and line (for the message of an item that does not parse). */
  path: string;
  lineNo: number;
  /** The item's raw JSON text; null when its line is longer than TEXT_LINE_BYTES (then `text()` / `pieces()`). */
  raw: string | null;
  /** Length of the item's text in bytes. */
  bytes: number;
  /** The whole text (`raw`, or read by position); refused beyond what one string holds. */
  text(): Promise<string>;
  /** The text in pieces of at most PIECE_BYTES, read by position: memory does not grow with the item. */
  pieces(): AsyncGenerator<string>;
}

export interface ShardFile<S = unknown> {
  path: string;
  header: ShardHeader;
  trailer: ShardTrailer<S>;
  /**
   * Items in file order (read as a stream). An item's `text()` / `pieces()` read the file by
   * position: call them before the generator is finished (it closes the file).
   */
  items(): AsyncGenerator<ShardItem>;
}

const ITEM_HEAD = /^\{"seq":\[(-?\d+),(-?\d+)\],"item":/;
/** The end line is looked for in this much of the file's end, then in twice as much, and so on. */
const TAIL_BYTES = 4 * 1024 * 1024;
/**
 * The longest end line read. A summary grows with the distinct keys it counts (a stats shard of a
 * tree whose sidecars hold tens of thousands of operation names writes megabytes); the shard held
 * it as one string, so it is one here too.
 */
const MAX_END_LINE_BYTES = 256 * 1024 * 1024;
/** Lines up to this many bytes are read as strings as they stream by; longer ones by position. */
export const TEXT_LINE_BYTES = 1 << 20;
/** A longer item cannot be one JS string (V8's limit, ~512 Mi UTF-16 units: each takes at least a byte). */
const MAX_ITEM_TEXT_BYTES = bufferConstants.MAX_STRING_LENGTH;
const PIECE_BYTES = 1 << 20;

export interface ShardReadOptions {
  /** Longest line read as a string while streaming (default TEXT_LINE_BYTES; tests make it small). */
  textLineBytes?: number;
}

/**
 * Open a shard output: header and trailer are read and checked now (so a merge refuses before it
 * writes anything); items are streamed later.
 */
export async function openShardFile(path: string, opts: ShardReadOptions = {}): Promise<ShardFile> {
  let fh;
  try {
    // A FIFO given as a shard output opens at once (fs/regular-file.ts) and is refused below.
    fh = await open(path, READ_FLAGS);
  } catch (e) {
    throw errors.fromFs(e, path);
  }
  let head: string;
  let tail: string | null;
  let identity: FileIdentity;
  try {
    const st = await fh.stat({ bigint: true });
    identity = identityOf(st);
    if (!st.isFile()) throw errors.notShardOutput(path, 'not a regular file');
    const size = Number(st.size);
    const headBuf = Buffer.alloc(Math.min(size, 64 * 1024));
    await fh.read(headBuf, 0, headBuf.length, 0);
    head = headBuf.toString('utf8');
    tail = await lastLine(fh, size, path);
  } finally {
    await fh.close();
  }
  const nl = head.indexOf('\n');
  let header: ShardHeader;
  try {
    header = JSON.parse(nl < 0 ? head : head.slice(0, nl)) as ShardHeader;
  } catch {
    throw errors.notShardOutput(path, 'the first line is not a shard header (was it written with --shard?)');
  }
  if (header?.image_sidecar_shard !== SHARD_FORMAT_VERSION && header?.image_sidecar_shard !== SHARD_FORMAT_NOT_DIGESTED) {
    throw errors.notShardOutput(path, header?.image_sidecar_shard === undefined ? 'the first line is not a shard header (was it written with --shard?)' : `shard format ${String(header.image_sidecar_shard)}, this version reads ${SHARD_FORMAT_VERSION}`);
  }
  if (tail === null) throw errors.notShardOutput(path, 'the file does not end with a complete line (cut short?)');
  let trailer: ShardTrailer;
  try {
    trailer = JSON.parse(tail) as ShardTrailer;
  } catch {
    throw errors.notShardOutput(path, 'no end line (the shard did not finish)');
  }
  if (trailer?.end !== true) throw errors.notShardOutput(path, 'no end line (the shard did not finish)');
  return {
    path,
    header,
    trailer,
    items: () => readItems(path, identity, trailer.items, opts.textLineBytes ?? TEXT_LINE_BYTES),
  };
}

/** The file's last line without its LF, however long (looked for backwards from the end); null when the file does not end with LF. */
async function lastLine(fh: FileHandle, size: number, path: string): Promise<string | null> {
  if (size === 0) return null;
  let window = Math.min(size, TAIL_BYTES);
  for (;;) {
    const buf = Buffer.alloc(window);
    await fh.read(buf, 0, window, size - window);
    if (buf[window - 1] !== 0x0a) return null;
    const nl = window >= 2 ? buf.lastIndexOf(0x0a, window - 2) : -1;
    if (nl >= 0 || window === size) return buf.toString('utf8', nl + 1, window - 1);
    if (window >= MAX_END_LINE_BYTES) throw errors.notShardOutput(path, `its last line is longer than ${MAX_END_LINE_BYTES} bytes`);
    window = Math.min(size, window * 2, MAX_END_LINE_BYTES);
  }
}

/**
 * Items are read through a new descriptor, after the checks of openShardFile: the file must still
 * be the one checked (fs/identity.ts), or a shard rerun meanwhile (its -o renamed over
 * this path) would give the merge the new run's items under the old run's end line and totals.
 */
async function* readItems(path: string, identity: FileIdentity, expected: number, textLineBytes: number): AsyncGenerator<ShardItem> {
  let fh: FileHandle;
  try {
    fh = await open(path, READ_FLAGS);
  } catch (e) {
    throw errors.fromFs(e, path);
  }
  try {
    if (!sameIdentity(identityOf(await fh.stat({ bigint: true })), identity)) {
      throw errors.notShardOutput(path, 'the file changed since it was checked (was the shard run again during the merge?); merge again');
    }
    let n = 0;
    let ended = false;
    // 128 bytes of a long line hold its item head ({"seq":[a,b],"item":) or show it is none.
    for await (const batch of lineBatches(fileChunks(fh), { maxLineBytes: textLineBytes, headBytes: 128 })) {
      for (const line of batch) {
        if (line.lineNo === 1) continue; // the header, checked by openShardFile
        const start = line.tooLong ? line.head : line.text;
        const m = ITEM_HEAD.exec(start);
        if (!m) {
          if (start.startsWith('{"end":')) {
            ended = true;
            break;
          }
          throw errors.notShardOutput(path, `line ${line.lineNo} is neither an item nor the end line${line.tooLong ? ` (${line.bytes} bytes)` : ''}`);
        }
        n++;
        // An item is an object and its line ends with the item line's `}`: a line cut short, or an
        // item that is no object (`"item":null`), is the file's damage, named, never merged.
        const last = line.tooLong ? null : line.text[line.text.length - 1];
        if (last !== null && last !== '}') throw errors.notShardOutput(path, `line ${line.lineNo} is an item line cut short or damaged (it does not end with "}")`);
        if (start[m[0].length] !== '{') throw errors.notShardOutput(path, `line ${line.lineNo} holds an item that is not an object`);
        const seq: TreeSeq = [Number(m[1]), Number(m[2])];
        // The item is the line between its head and the closing brace; the head is ASCII (bytes = chars).
        const offset = line.offset + m[0].length;
        const bytes = line.bytes - m[0].length - 1;
        if (!line.tooLong) {
          const raw = line.text.slice(m[0].length, -1);
          yield { seq, path, lineNo: line.lineNo, raw, bytes, text: () => Promise.resolve(raw), pieces: async function* () { yield raw; } };
        } else {
          const lineNo = line.lineNo;
          yield {
            seq,
            path,
            lineNo,
            raw: null,
            bytes,
            pieces: () => readPieces(fh, path, offset, bytes),
            text: async () => {
              if (bytes > MAX_ITEM_TEXT_BYTES) throw errors.notShardOutput(path, `line ${lineNo} is ${bytes} bytes, longer than one item can be`);
              const parts: string[] = [];
              for await (const p of readPieces(fh, path, offset, bytes)) parts.push(p);
              try {
                return parts.join('');
              } catch {
                // RangeError: more UTF-16 units than one string holds (non-ASCII text near the limit).
                throw errors.notShardOutput(path, `line ${lineNo} is ${bytes} bytes, longer than one item can be`);
              }
            },
          };
        }
      }
      if (ended) break;
    }
    if (n !== expected) throw errors.notShardOutput(path, `${n} items, the end line says ${expected}`);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** `bytes` bytes of the file from `offset`, decoded as UTF-8 in pieces (a sequence cut between two reads is kept whole). */
async function* readPieces(fh: FileHandle, path: string, offset: number, bytes: number): AsyncGenerator<string> {
  const buf = Buffer.allocUnsafe(Math.min(PIECE_BYTES, Math.max(1, bytes)));
  const decoder = new StringDecoder('utf8');
  let done = 0;
  while (done < bytes) {
    let got: number;
    try {
      got = (await fh.read(buf, 0, Math.min(buf.length, bytes - done), offset + done)).bytesRead;
    } catch (e) {
      throw errors.fromFs(e, path);
    }
    if (got === 0) throw errors.notShardOutput(path, 'the file got shorter while it was read');
    done += got;
    const s = decoder.write(buf.subarray(0, got));
    if (s.length > 0) yield s;
  }
  const rest = decoder.end();
  if (rest.length > 0) yield rest;
}

/** An item's value (hash entries, validate results: plain values); a line that does not parse is the file's damage, named. */
export async function parsedItem<T>(it: ShardItem): Promise<T> {
  const text = it.raw ?? (await it.text());
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw errors.notShardOutput(it.path, `line ${it.lineNo} is an item that does not parse (${(e as Error).message}): the file was damaged`);
  }
}

/** An item's text, checked to parse (items copied as text: export's entries, a dataset's images). */
export async function checkedItemText(it: ShardItem): Promise<string> {
  await parsedItem(it);
  return it.raw ?? (await it.text());
}

/**
 * Items of several shards in tree order (each file is in order; a record lives in one shard, so
 * equal positions come from one file and keep its order).
 */
export async function* mergeBySeq(files: readonly ShardFile[]): AsyncGenerator<ShardItem> {
  const its = files.map((f) => f.items());
  const heads: (ShardItem | null)[] = [];
  for (const it of its) {
    const r = await it.next();
    heads.push(r.done ? null : r.value);
  }
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i];
      if (h && (best < 0 || compareSeq(h.seq, heads[best]!.seq) < 0)) best = i;
    }
    if (best < 0) return;
    const item = heads[best]!;
    yield item;
    const r = await its[best].next();
    if (!r.done && compareSeq(r.value.seq, item.seq) < 0) throw errors.notShardOutput(files[best].path, 'items out of tree order');
    heads[best] = r.done ? null : r.value;
  }
}
