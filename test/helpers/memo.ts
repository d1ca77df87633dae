/**
 * What the tree-memo attack tests share: the commands they compare with `index: false`, and the
 * rewriting of a memo's or a delta's JSON parts with a CRC-32 to match (bytes only someone
 * crafting them by hand would write; layouts: src/incremental/tree-memo.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { formatStats, stats, validate, type IndexOptions, type IndexRunStats, type ValidationResult } from '../../src/index.js';

export const noTimes = (v: unknown) => JSON.stringify(v).replace(/"processing_time":[-0-9.e+]+/g, '"processing_time":0');

/** How a run was answered: the memo whole, patched, or not at all. */
export type How = 'whole' | 'patched' | 'none';

/** Every command with the index (`w`) or without, as text; each run with the index says how it was answered into `runs`. */
export function memoCommands(root: string, indexPath: string, runs: How[], racyMarginMs = 0) {
  const index: IndexOptions = { path: indexPath, racyMarginMs, onStats: (s: IndexRunStats) => runs.push(s.memo ? (s.memoPatched ? 'patched' : 'whole') : 'none') };
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

/** A memo's first JSON part as a run writes it. */
export interface MemoMain {
  head: { lazyBytes: number };
  payload: Record<string, unknown>;
}

/**
 * Rewrite a memo file's two JSON parts: `change` gets the first (head and payload: it may change it
 * in place or return another value to write) and the lazy one (what a patch reads).
 */
export function craftMemo(file: string, change: (main: MemoMain, lazy: Record<string, unknown>) => unknown): void {
  const buf = readFileSync(file);
  const magicLen = buf.indexOf(0x0a) + 1;
  const jsonLen = buf.readUInt32LE(magicLen);
  const body = magicLen + 8;
  const main = JSON.parse(buf.toString('utf8', body, body + jsonLen)) as MemoMain;
  const lazyEnd = body + jsonLen + main.head.lazyBytes;
  const lazy = JSON.parse(buf.toString('utf8', body + jsonLen, lazyEnd)) as Record<string, unknown>;
  const replaced = change(main, lazy);
  const lazyBytes = Buffer.from(JSON.stringify(lazy));
  main.head.lazyBytes = lazyBytes.length;
  const mainBytes = Buffer.from(JSON.stringify(replaced === undefined ? main : replaced));
  const out = Buffer.concat([buf.subarray(0, magicLen), Buffer.alloc(8), mainBytes, lazyBytes, buf.subarray(lazyEnd)]);
  out.writeUInt32LE(mainBytes.length, magicLen);
  out.writeUInt32LE(crc32(out.subarray(body)) >>> 0, magicLen + 4);
  writeFileSync(file, out);
}

/**
 * Rewrite a memo's rows (what a patch of a command that keeps its output reads, a row at a time:
 * u32 count, u32 ends, the JSON texts): `change` gets the region and returns the one to write.
 */
export function craftRows(file: string, change: (region: Buffer) => Buffer): void {
  const buf = readFileSync(file);
  const magicLen = buf.indexOf(0x0a) + 1;
  const jsonLen = buf.readUInt32LE(magicLen);
  const body = magicLen + 8;
  const main = JSON.parse(buf.toString('utf8', body, body + jsonLen)) as MemoMain & { head: { rowBytes: number } };
  const rowsAt = body + jsonLen + main.head.lazyBytes;
  const region = change(Buffer.from(buf.subarray(rowsAt, rowsAt + main.head.rowBytes)));
  main.head.rowBytes = region.length;
  const mainBytes = Buffer.from(JSON.stringify(main));
  const out = Buffer.concat([buf.subarray(0, magicLen), Buffer.alloc(8), mainBytes, buf.subarray(body + jsonLen, rowsAt), region, buf.subarray(rowsAt + JSON.parse(buf.toString('utf8', body, body + jsonLen)).head.rowBytes)]);
  out.writeUInt32LE(mainBytes.length, magicLen);
  out.writeUInt32LE(crc32(out.subarray(body)) >>> 0, magicLen + 4);
  writeFileSync(file, out);
}

/** Rewrite a delta's body (its JSON part is { key, gen, body }). */
export function craftDelta(file: string, change: (body: Record<string, unknown>) => void): void {
  const b = readFileSync(file);
  const magicLen = b.indexOf(0x0a) + 1;
  const jsonLen = b.readUInt32LE(magicLen);
  const at = magicLen + 8;
  const parsed = JSON.parse(b.toString('utf8', at, at + jsonLen)) as { body: Record<string, unknown> };
  change(parsed.body);
  const json = Buffer.from(JSON.stringify(parsed));
  const out = Buffer.concat([b.subarray(0, magicLen), Buffer.alloc(8), json, b.subarray(at + jsonLen)]);
  out.writeUInt32LE(json.length, magicLen);
  out.writeUInt32LE(crc32(out.subarray(at)) >>> 0, magicLen + 4);
  writeFileSync(file, out);
}
