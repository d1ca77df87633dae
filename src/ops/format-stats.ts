import { scan, type MemoCommand, type ScanRecord, type ScanSummary } from '../discovery/scan.js';
import type { Options } from '../types.js';
import { sidecarsOf, sortKeysDeep } from './common.js';

/** Earlier tool's names for formats, by content. */
const FORMAT_LABEL = { json: 'Json', bin: 'Binary', rkyv: 'Rkyv', legacy: 'Legacy' } as const;

export interface FormatStats {
  directory: string;
  /** `Encrypted`: encrypted bin files (counted there whether or not a key was given; not in Binary). */
  format_distribution: { Json: number; Binary: number; Rkyv: number; Legacy: number; Encrypted: number; Corrupt: number; Unreadable: number };
  /** By file extension, for comparison with the content-based figures. */
  extension_distribution: Record<string, number>;
  total_files: number;
  /**
   * Older copies kept beside an image's sidecar (docs/PAIRING.md §4: the JSON a migration to .bin
   * left, a `convert --keep-source` source), also counted by format above; `resolve --prefer
   * current` quarantines those whose results the image's sidecar holds.
   */
  kept_copies: number;
  scan_complete: boolean;
  /**
   * The earlier tool's key, kept for callers that read it (as export's `exported_at`), always null:
   * a timestamp would make runs differ.
   */
  generated_at?: null;
}

/** Count sidecar files by what their bytes are, not by their extension. */
export async function formatStats(root: string, opts: Options = {}): Promise<FormatStats> {
  const session = scan(root, opts);
  const memo = session.memo('format-stats', null, FORMAT_STATS_MEMO);
  const hit = memo ? await memo.load() : null;
  if (hit) return hit.output;
  // Counted as they come (memory does not grow with the tree; the memo keeps its own rows, bounded).
  const counts = new FormatCounts();
  for await (const batch of session.batches()) {
    for (const rec of batch) {
      const row = formatRowOf(rec);
      memo?.row(rec, row);
      counts.add(row);
    }
  }
  const out = counts.finish(session.summary);
  memo?.store(out);
  return out;
}

/** A record's sidecar files: [extension, label] each, and a 1 after a kept older copy's. */
type FormatRow = ([string, FormatLabel] | [string, FormatLabel, 1])[];
type FormatLabel = keyof FormatStats['format_distribution'];

function formatRowOf(rec: ScanRecord): FormatRow {
  const row: FormatRow = [];
  for (const sc of sidecarsOf(rec)) {
    const ins = sc.inspection;
    const label: FormatLabel =
      ins.status === 'unreadable' ? 'Unreadable'
      : ins.status === 'encrypted' || (ins.status === 'ok' && ins.encryptedKeyId !== undefined) ? 'Encrypted'
      : ins.status === 'corrupt' || !ins.format ? 'Corrupt'
      : FORMAT_LABEL[ins.format];
    row.push(rec.category === 'ok' && rec.effective !== null && sc !== rec.effective ? [sc.ext, label, 1] : [sc.ext, label]);
  }
  return row;
}

class FormatCounts {
  private readonly dist = { Json: 0, Binary: 0, Rkyv: 0, Legacy: 0, Encrypted: 0, Corrupt: 0, Unreadable: 0 };
  private readonly byExt: Record<string, number> = {};
  private total = 0;
  private kept = 0;

  add(row: FormatRow): void {
    for (const [ext, label, kept] of row) {
      this.total++;
      if (kept === 1) this.kept++;
      this.byExt[ext] = (this.byExt[ext] ?? 0) + 1;
      this.dist[label]++;
    }
  }

  finish(summary: ScanSummary): FormatStats {
    const out: FormatStats = { directory: summary.root, format_distribution: this.dist, extension_distribution: this.byExt, total_files: this.total, kept_copies: this.kept, scan_complete: summary.complete, generated_at: null };
    return sortKeysDeep(out);
  }
}

/** Every record's row counted (a tree memo's patch: rows read from the memo may be anything; one not shaped as formatRowOf makes it is a TypeError, a miss). */
function formatStatsOf(rows: readonly FormatRow[], summary: ScanSummary): FormatStats {
  const counts = new FormatCounts();
  for (const row of rows) {
    if (!isRow(row)) throw new TypeError('not a format-stats row');
    counts.add(row);
  }
  return counts.finish(summary);
}

const LABELS: readonly FormatLabel[] = ['Json', 'Binary', 'Rkyv', 'Legacy', 'Encrypted', 'Corrupt', 'Unreadable'];
/** A sidecar file's extension (pair.ts sidecarExtOf): the keys of extension_distribution. */
const EXTS: readonly string[] = ['json', 'bin', 'rkyv'];
const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
const isRow = (row: unknown): row is FormatRow =>
  Array.isArray(row) && row.every((f) => Array.isArray(f) && (f.length === 2 || (f.length === 3 && f[2] === 1)) && EXTS.includes(f[0]) && LABELS.includes(f[1]));
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/**
 * The stored output with the changed records' rows taken out and their new rows put in (what
 * counting every row gives: an extension whose count falls to 0 is gone, as never counted), or
 * null when the stored output or a row is not shaped as this file makes them.
 */
function patchFormatStats(stored: FormatStats, removed: readonly FormatRow[], added: readonly FormatRow[], summary: ScanSummary): FormatStats | null {
  const dist = stored.format_distribution as Record<string, unknown> | null;
  const byExt = stored.extension_distribution as Record<string, unknown> | null;
  if (typeof dist !== 'object' || dist === null || !LABELS.every((l) => isCount(dist[l])) || Object.keys(dist).length !== LABELS.length) return null;
  if (typeof byExt !== 'object' || byExt === null || !Object.values(byExt).every(isCount) || !isCount(stored.total_files) || !isCount(stored.kept_copies) || stored.kept_copies > stored.total_files) return null;
  // As counting makes them: an extension of a sidecar file counted at least once, each file once by
  // its extension and once by its format (a crafted key at 0 or total that is not theirs: not patched).
  const n = stored.total_files;
  if (!Object.entries(byExt).every(([e, c]) => EXTS.includes(e) && (c as number) >= 1) || sum(Object.values(byExt) as number[]) !== n || sum(LABELS.map((l) => dist[l] as number)) !== n) return null;
  const counts = { ...(dist as FormatStats['format_distribution']) };
  const exts = new Map(Object.entries(byExt as Record<string, number>));
  let total = stored.total_files;
  let kept = stored.kept_copies;
  for (const row of removed) {
    if (!isRow(row)) return null;
    for (const [ext, label, k] of row) {
      const n = exts.get(ext);
      if (n === undefined || counts[label] < 1 || total < 1) return null;
      if (k === 1 && kept-- < 1) return null;
      if (n === 1) exts.delete(ext);
      else exts.set(ext, n - 1);
      counts[label]--;
      total--;
    }
  }
  for (const row of added) {
    for (const [ext, label, k] of row) {
      if (k === 1) kept++;
      exts.set(ext, (exts.get(ext) ?? 0) + 1);
      counts[label]++;
      total++;
    }
  }
  const out: FormatStats = { directory: summary.root, format_distribution: counts, extension_distribution: Object.fromEntries(exts), total_files: total, kept_copies: kept, scan_complete: summary.complete, generated_at: null };
  return sortKeysDeep(out);
}

/** format-stats' tree memo (scan.ts MemoCommand): the output kept (a patch changes its counts), the rows for a patch. */
const FORMAT_STATS_MEMO: MemoCommand<FormatRow, FormatStats> = {
  rowOf: formatRowOf,
  finish: formatStatsOf,
  outputStored: true,
  encodeRows: (rows) => rows,
  decodeRows: (stored) => stored as FormatRow[],
  patchOutput: patchFormatStats,
};
