/**
 * File-system helpers for the harnesses: fresh temp dirs, byte-exact snapshots of a tree (names
 * that are not valid UTF-8 included, so nothing hides from the "bytes lost" count), and our own
 * leftovers (temp files, lock directories).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ASIDE_KEEP_MS, asideDue, isLockAsideName, isLockName, isTempName, tempNamePid } from '../../src/fs/temp-files.js';
import { fail, type ReliabilityRow } from './tally.js';

export function freshDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `isc-rel-${prefix}-`));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

export interface SnapshotEntry {
  kind: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  /** sha256 of a file's bytes, a link's target text; '' otherwise. */
  hash: string;
}

/** Relative path key of a raw name: UTF-8 when valid, else hex, so distinct names never collide. */
function nameKey(raw: Buffer): string {
  const s = raw.toString('utf8');
  return Buffer.from(s, 'utf8').equals(raw) ? s : `<hex:${raw.toString('hex')}>`;
}

/**
 * Every entry under `root` (not following symlinks), keyed by relative path. `skip` gets the
 * raw name and may exclude entries (and everything under a skipped directory).
 */
export function snapshotTree(root: string, skip: (name: string) => boolean = () => false): Map<string, SnapshotEntry> {
  const out = new Map<string, SnapshotEntry>();
  const walk = (dir: Buffer, rel: string) => {
    for (const d of fs.readdirSync(dir, { withFileTypes: true, encoding: 'buffer' })) {
      const raw = d.name as unknown as Buffer;
      const key = nameKey(raw);
      if (skip(key)) continue;
      const p = Buffer.concat([dir, Buffer.from('/'), raw]);
      const r = rel === '' ? key : `${rel}/${key}`;
      if (d.isDirectory()) {
        out.set(r, { kind: 'dir', size: 0, hash: '' });
        walk(p, r);
      } else if (d.isSymbolicLink()) {
        out.set(r, { kind: 'symlink', size: 0, hash: fs.readlinkSync(p).toString() });
      } else if (d.isFile()) {
        const bytes = fs.readFileSync(p);
        out.set(r, { kind: 'file', size: bytes.length, hash: createHash('sha256').update(bytes).digest('hex') });
      } else {
        out.set(r, { kind: 'other', size: 0, hash: '' });
      }
    }
  };
  walk(Buffer.from(root), '');
  return out;
}

/** Files of `before` missing or changed in `after` (those `mayChange` allows are not counted). */
export function lostFiles(
  before: Map<string, SnapshotEntry>,
  after: Map<string, SnapshotEntry>,
  mayChange: (rel: string) => boolean = () => false,
): { files: string[]; bytes: number } {
  const files: string[] = [];
  let bytes = 0;
  for (const [rel, e] of before) {
    if (mayChange(rel)) continue;
    const now = after.get(rel);
    if (now && now.kind === e.kind && now.hash === e.hash && now.size === e.size) continue;
    files.push(rel);
    bytes += e.size;
  }
  return { files, bytes };
}

export interface Leftovers {
  tempFiles: string[];
  lockDirs: string[];
  /** Stale locks taken aside: kept ASIDE_KEEP_MS by design (lock.ts takeOverIfStale), then swept. */
  asides: string[];
}

/** Our temp files and lock directories anywhere under `root`. */
export function findLeftovers(root: string): Leftovers {
  const out: Leftovers = { tempFiles: [], lockDirs: [], asides: [] };
  const walk = (dir: string) => {
    for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, d.name);
      if (isLockAsideName(d.name)) out.asides.push(p);
      else if (isLockName(d.name)) out.lockDirs.push(p);
      else if (isTempName(d.name)) out.tempFiles.push(p);
      else if (d.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}

/** Is the process that wrote this temp file still running? */
export function tempWriterAlive(tempPath: string): boolean {
  const pid = tempNamePid(path.basename(tempPath));
  if (pid === null) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * What a completed run may leave besides nothing: stale locks taken aside (kept ten minutes against
 * late takers, then swept), none older than that. A failure for each older one, a note for the row.
 */
export function checkAsides(row: ReliabilityRow, left: Leftovers, label = '', now = Date.now()): void {
  for (const p of left.asides) if (asideDue(fs.lstatSync(p), now)) fail(row, `${label}left behind past its time: ${p}`);
  if (left.asides.length > 0) row.notes.push(`${label}${left.asides.length} stale lock(s) taken over and kept aside (swept ${ASIDE_KEEP_MS / 60_000} minutes after)`);
}
