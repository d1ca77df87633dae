/**
 * Small pieces shared by the hostile-tree cases: building trees with raw (non-UTF-8) names,
 * running a case in a fresh directory, and counting checks and losses on the row.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isSidecarError } from '../../src/errors.js';
import { encodeSidecar } from '../../src/formats/codec.js';
import { scan } from '../../src/ops/scan.js';
import { type ScanRecord, type ScanSummary } from '../../src/scan/records.js';
import type { JsonObject } from '../../src/types.js';
import { freshDir, lostFiles, removeDir, snapshotTree, type SnapshotEntry } from './fs-util.js';
import { fail, newRow, timed, type ReliabilityRow } from './tally.js';

export interface TreeCaseOptions {
  seed: number;
  /** Files in the one big folder. */
  bigFolderFiles: number;
}

export interface TreeCase {
  /** Stable id (test names, report rows). */
  id: string;
  title: string;
  /** What this simulation stands for, when it simulates something root cannot get directly. */
  standsFor?: string;
  run(row: ReliabilityRow, root: string, opts: TreeCaseOptions): Promise<void>;
}

/** Run one case in a fresh temp dir; its row collects checks, failures and losses. */
export async function runTreeCase(c: TreeCase, opts: TreeCaseOptions, afterRun?: (root: string) => void): Promise<ReliabilityRow> {
  const row = newRow('hostile trees', c.title, 'checks');
  if (c.standsFor) row.notes.push(`simulates: ${c.standsFor}`);
  const root = freshDir(c.id);
  try {
    const done = await timed(row, () => c.run(row, root, opts));
    // E.g. the accelerator's parity sweep over every file the case left (test/reliability/accel.ts).
    afterRun?.(root);
    return done;
  } finally {
    // Undo permission games before removing (root can, but be tidy for non-root runs).
    fs.chmodSync(root, 0o700);
    removeDir(root);
  }
}

export function check(row: ReliabilityRow, ok: boolean, message: string): void {
  row.count++;
  if (!ok) fail(row, message);
}

/** Count every file of `before` that is gone or changed (except what `mayChange` allows) as lost. */
export function checkNothingLost(row: ReliabilityRow, before: Map<string, SnapshotEntry>, root: string, mayChange?: (rel: string) => boolean): void {
  const lost = lostFiles(before, snapshotTree(root), mayChange);
  row.count++;
  row.bytesLost += lost.bytes;
  row.recordsLost += lost.files.length;
  for (const f of lost.files) fail(row, `${f} was changed or removed`);
}

/** A path with a raw byte sequence as its last component (names that are not valid UTF-8). */
export function rawPath(dir: string, ...parts: (string | number[])[]): Buffer {
  return Buffer.concat([Buffer.from(`${dir}/`), ...parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p)))]);
}

export const SMALL_SIDECAR: JsonObject = { face_detection: { success: true, faces: [], metadata: { faces_found: 0 } } };

/** `count` healthy image + JSON sidecar pairs (so the cleanup guard's fraction stays low). */
export function healthyPairs(dir: string, count: number, prefix = 'OK'): void {
  fs.mkdirSync(dir, { recursive: true });
  const bytes = encodeSidecar(SMALL_SIDECAR, 'json');
  for (let i = 0; i < count; i++) {
    fs.writeFileSync(path.join(dir, `${prefix}_${i}.jpg`), 'jpeg');
    fs.writeFileSync(path.join(dir, `${prefix}_${i}.json`), bytes);
  }
}

export async function scanAll(root: string, opts: Parameters<typeof scan>[1] = {}): Promise<{ records: ScanRecord[]; summary: ScanSummary }> {
  const session = scan(root, { engine: 'inline', ...opts });
  const records: ScanRecord[] = [];
  for await (const r of session) records.push(r);
  return { records, summary: session.summary };
}

/** The SidecarError code `fn` fails with, 'OK' when it succeeds, or 'FOREIGN: …' for anything else. */
export async function errorCode(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
    return 'OK';
  } catch (e) {
    return isSidecarError(e) ? e.code : `FOREIGN: ${(e as Error)?.name} ${(e as Error)?.message}`;
  }
}

/** Records mentioning `p` (image or sidecar path). */
export function recordsFor(records: ScanRecord[], p: string): ScanRecord[] {
  return records.filter((r) => r.images.some((i) => i.path === p) || r.sidecars.some((s) => s.path === p) || r.findings.some((f) => f.paths.includes(p)));
}
