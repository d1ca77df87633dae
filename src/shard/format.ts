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
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { errors } from '../errors.js';
import { READ_FLAGS } from '../fs/regular-file.js';
import { canonicalJson } from '../formats/canonical.js';
import { PARTITION } from '../discovery/shard.js';
import type { TreeSeq } from '../discovery/scan.js';
import type { JsonValue } from '../types.js';

export const SHARD_FORMAT_VERSION = 1;

/** Commands whose shard outputs `merge` combines. */
export const MERGEABLE_COMMANDS = ['stats', 'validate', 'format-stats', 'hash', 'export'] as const;
export type ShardCommand = (typeof MERGEABLE_COMMANDS)[number];

export interface ShardHeader {
  image_sidecar_shard: typeof SHARD_FORMAT_VERSION;
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
  raw: string;
}

export interface ShardFile<S = unknown> {
  path: string;
  header: ShardHeader;
  trailer: ShardTrailer<S>;
  /** Items in file order (read as a stream). */
  items(): AsyncGenerator<ShardItem>;
}

const ITEM_HEAD = /^\{"seq":\[(-?\d+),(-?\d+)\],"item":/;
/** Trailers are small (summaries); reading this much of the end finds one. */
const TAIL_BYTES = 4 * 1024 * 1024;

/**
 * Open a shard output: header and trailer are read and checked now (so a merge refuses before it
 * writes anything); items are streamed later.
 */
export async function openShardFile(path: string): Promise<ShardFile> {
  let fh;
  try {
    // A FIFO given as a shard output opens at once (fs/regular-file.ts) and is refused below.
    fh = await open(path, READ_FLAGS);
  } catch (e) {
    throw errors.fromFs(e, path);
  }
  let head: string;
  let tail: string;
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw errors.notShardOutput(path, 'not a regular file');
    const headBuf = Buffer.alloc(Math.min(st.size, 64 * 1024));
    await fh.read(headBuf, 0, headBuf.length, 0);
    head = headBuf.toString('utf8');
    const tailLen = Math.min(st.size, TAIL_BYTES);
    const tailBuf = Buffer.alloc(tailLen);
    await fh.read(tailBuf, 0, tailLen, st.size - tailLen);
    tail = tailBuf.toString('utf8');
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
  if (header?.image_sidecar_shard !== SHARD_FORMAT_VERSION) {
    throw errors.notShardOutput(path, header?.image_sidecar_shard === undefined ? 'the first line is not a shard header (was it written with --shard?)' : `shard format ${String(header.image_sidecar_shard)}, this version reads ${SHARD_FORMAT_VERSION}`);
  }
  if (!tail.endsWith('\n')) throw errors.notShardOutput(path, 'the file does not end with a complete line (cut short?)');
  const lastStart = tail.lastIndexOf('\n', tail.length - 2) + 1;
  let trailer: ShardTrailer;
  try {
    trailer = JSON.parse(tail.slice(lastStart, -1)) as ShardTrailer;
  } catch {
    throw errors.notShardOutput(path, 'no end line (the shard did not finish)');
  }
  if (trailer?.end !== true) throw errors.notShardOutput(path, 'no end line (the shard did not finish)');
  return {
    path,
    header,
    trailer,
    items: () => readItems(path, trailer.items),
  };
}

async function* readItems(path: string, expected: number): AsyncGenerator<ShardItem> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  let first = true;
  for await (const line of lines) {
    if (first) {
      first = false;
      continue;
    }
    const m = ITEM_HEAD.exec(line);
    if (!m) {
      if (line.startsWith('{"end":')) break;
      throw errors.notShardOutput(path, `line ${n + 2} is neither an item nor the end line`);
    }
    n++;
    yield { seq: [Number(m[1]), Number(m[2])], raw: line.slice(m[0].length, -1) };
  }
  if (n !== expected) throw errors.notShardOutput(path, `${n} items, the end line says ${expected}`);
}

/** Tree order of two positions. */
export function compareSeq(a: TreeSeq, b: TreeSeq): number {
  return a[0] - b[0] || a[1] - b[1];
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
