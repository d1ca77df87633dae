/**
 * What the tree-memo attack tests share: the commands they compare with `index: false`, and the
 * rewriting of a memo's or a delta's JSON parts with a CRC-32 to match (bytes only someone
 * crafting them by hand would write; layouts: src/incremental/tree-memo.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { formatStats, stats, validate, type IndexOptions, type IndexRunStats, type ValidationResult } from '../../src/index.js';
import { encodeMemoRecords, MemoRecordsView, type MemoRecordColumns } from '../../src/discovery/memo-records.js';
import { encodeFrameJson, parseFrameText, restoreBytes } from '../../src/incremental/frame-json.js';
import { FAKE_JPEG, sidecarData, type TreeNode } from './tree.js';

export const noTimes = (v: unknown) => JSON.stringify(v).replace(/"processing_time":[-0-9.e+]+/g, '"processing_time":0');

/** How a run was answered: the memo whole, patched, or not at all. */
export type How = 'whole' | 'patched' | 'none';

/** Every command with the index (`w`) or without, as text; each run with the index says how it was answered into `runs`. */
export function memoCommands(root: string, indexPath: string, runs: How[], racyMarginMs = 0) {
  return memoCommandsWith(root, { path: indexPath, racyMarginMs, onStats: (s: IndexRunStats) => runs.push(s.memo ? (s.memoPatched ? 'patched' : 'whole') : 'none') });
}

/** memoCommands with these index options (a test that reads each run's figures: its own `onStats`). */
export function memoCommandsWith(root: string, index: IndexOptions) {
  const ix = (w: boolean) => (w ? index : false);
  return {
    validate: async (w: boolean) => {
      const results: ValidationResult[] = [];
      const r = await validate(root, { index: ix(w), resultsOnly: true, onResult: (x) => void results.push(x) });
      return noTimes({ results, ...r });
    },
    'validate kept': async (w: boolean) => noTimes(await validate(root, { index: ix(w) })),
    'validate op': async (w: boolean) => noTimes(await validate(root, { index: ix(w), operationType: 'yolov8' })),
    'validate where': async (w: boolean) => noTimes(await validate(root, { index: ix(w), where: 'faces >= 2' })),
    // Without a list or folder table: a patch changes the stored counts (ops/stats.ts removeRow);
    // with one (the next two), the counts are made again of every record's row.
    stats: async (w: boolean) => noTimes(await stats(root, { index: ix(w) })),
    'stats op': async (w: boolean) => noTimes(await stats(root, { index: ix(w), operationType: 'face_detection', list: true })),
    'stats where': async (w: boolean) => noTimes(await stats(root, { index: ix(w), where: 'faces >= 2', folders: 3 })),
    'format-stats': async (w: boolean) => noTimes(await formatStats(root, { index: ix(w) })),
    // 4,500 bytes: every sidecar of the attack trees fits (one over the limit is read on every run: no memo).
    'validate max': async (w: boolean) => noTimes(await validate(root, { index: ix(w), maxFileSize: 4500, maxDepth: 6 })),
  };
}
export type MemoCommandName = keyof ReturnType<typeof memoCommands>;

/** A memo's first JSON part as a run writes it (its byte strings as Buffers: src/incremental/frame-json.ts). */
export interface MemoMain {
  head: { lazyBytes: number; lazyCrc: number; rowBytes: number; blobBytes: number };
  payload: Record<string, unknown>;
}

/**
 * A memo file's parts: its JSON part (byte strings restored, copies), the rest (paths and
 * identities: not the byte strings), its rows and its records (the lazy part, at the end) as bytes.
 */
function memoParts(file: string) {
  const buf = readFileSync(file);
  const magicLen = buf.indexOf(0x0a) + 1;
  const jsonLen = buf.readUInt32LE(magicLen);
  const body = magicLen + 8;
  const main = parseFrameText(buf, body, body + jsonLen) as MemoMain;
  const lazyAt = buf.length - main.head.lazyBytes;
  const blobsAt = lazyAt - main.head.blobBytes;
  main.payload = restoreBytes(main.payload, Buffer.from(buf.subarray(blobsAt, lazyAt))) as MemoMain['payload'];
  const rowsEnd = lazyAt + main.head.rowBytes;
  return { buf, magicLen, body, main, rows: buf.subarray(lazyAt, rowsEnd), lazy: buf.subarray(rowsEnd), rest: buf.subarray(body + jsonLen, blobsAt) };
}

/**
 * A memo file written again: `main` as its JSON part (any JSON value: a craft may write one no run
 * writes; its Buffers as byte strings after `rest`, their length in the head read), `rest` after
 * it, then `rows` and `lazy` (the records) as the lazy part; the rows' and the lazy part's lengths
 * and the lazy part's CRC-32 in the head read (`p.main`) and the file's CRC-32 made to match.
 */
function writeMemoParts(file: string, p: ReturnType<typeof memoParts>, main: unknown, lazy: Buffer, rest: Buffer = p.rest, rows: Buffer = p.rows): void {
  const lazyPart = Buffer.concat([rows, lazy]);
  p.main.head.rowBytes = rows.length;
  p.main.head.lazyBytes = lazyPart.length;
  p.main.head.lazyCrc = crc32(lazyPart) >>> 0;
  p.main.head.blobBytes = encodeFrameJson(main).bytes.length;
  const enc = encodeFrameJson(main);
  const mainBytes = Buffer.from(enc.text, 'latin1');
  const out = Buffer.concat([p.buf.subarray(0, p.magicLen), Buffer.alloc(8), mainBytes, rest, enc.bytes, lazyPart]);
  out.writeUInt32LE(mainBytes.length, p.magicLen);
  out.writeUInt32LE(crc32(out.subarray(p.body, out.length - lazyPart.length)) >>> 0, p.magicLen + 4);
  writeFileSync(file, out);
}

/**
 * Rewrite a memo file's JSON part and its records (its lazy part, what a patch reads:
 * discovery/memo-records.ts): `change` gets the first (head and payload: it may change it in place
 * or return another value to write) and the records' columns (changed in place).
 */
export function craftMemo(file: string, change: (main: MemoMain, lazy: MemoRecordColumns) => unknown): void {
  const p = memoParts(file);
  const columns = new MemoRecordsView(Buffer.from(p.lazy), Number.MAX_SAFE_INTEGER).columns();
  const replaced = change(p.main, columns);
  const lazy = encodeMemoRecords(columns);
  writeMemoParts(file, p, replaced === undefined ? p.main : replaced, lazy);
}

/** Rewrite a memo's lazy part as bytes (`change` gets them and returns the bytes to write). */
export function craftLazyBytes(file: string, change: (lazy: Buffer) => Buffer): void {
  const p = memoParts(file);
  writeMemoParts(file, p, p.main, change(Buffer.from(p.lazy)));
}

/**
 * Rewrite a memo's rows (what a patch of a command that keeps its output reads, a row at a time:
 * u32 count, u32 ends, the JSON texts; at the start of the lazy part): `change` gets the region
 * and returns the one to write.
 */
export function craftRows(file: string, change: (region: Buffer) => Buffer): void {
  const p = memoParts(file);
  const region = change(Buffer.from(p.rows));
  writeMemoParts(file, p, p.main, Buffer.from(p.lazy), p.rest, region);
}

/** Rewrite a delta's body (its JSON part is { key, gen, blobBytes, body }; the body's byte strings as Buffers, src/incremental/frame-json.ts). */
export function craftDelta(file: string, change: (body: Record<string, unknown>) => void): void {
  const b = readFileSync(file);
  const magicLen = b.indexOf(0x0a) + 1;
  const jsonLen = b.readUInt32LE(magicLen);
  const at = magicLen + 8;
  const parsed = parseFrameText(b, at, at + jsonLen) as { blobBytes: number; body: Record<string, unknown> };
  const idsAt = at + jsonLen + parsed.blobBytes;
  parsed.body = restoreBytes(parsed.body, Buffer.from(b.subarray(at + jsonLen, idsAt))) as Record<string, unknown>;
  change(parsed.body);
  parsed.blobBytes = encodeFrameJson(parsed.body).bytes.length;
  const enc = encodeFrameJson(parsed);
  const json = Buffer.from(enc.text, 'latin1');
  const out = Buffer.concat([b.subarray(0, magicLen), Buffer.alloc(8), json, enc.bytes, b.subarray(idsAt)]);
  out.writeUInt32LE(json.length, magicLen);
  out.writeUInt32LE(crc32(out.subarray(at)) >>> 0, magicLen + 4);
  writeFileSync(file, out);
}

/**
 * A tree spec of photos beside their sidecars (8-float embeddings), as the patch tests build them:
 * `photo` adds one, `fill` adds `folders` × `each` filler photos (0–2 faces) under `under`, enough
 * records that a patch of a few stays under its share (scan.ts MAX_PATCHED_SHARE).
 */
export function photoSpec() {
  const spec: Record<string, TreeNode> = {};
  const photo = (rel: string, faces = 1, img = '.jpg', side = '.json') => {
    spec[`${rel}${img}`] = FAKE_JPEG;
    spec[`${rel}${side}`] = { json: sidecarData(`${rel}${img}`, faces, 8) };
  };
  const fill = (folders: number, each = 10, under = 'fill') => {
    for (let f = 0; f < folders; f++) for (let k = 0; k < each; k++) photo(`${under}/${f}/f${k}`, k % 3);
  };
  return { spec, photo, fill };
}
