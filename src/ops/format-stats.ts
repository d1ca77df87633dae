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
  for await (const rec of session) {
    const row = formatRowOf(rec);
    memo?.row(rec, row);
    counts.add(row);
  }
  const out = counts.finish(session.summary);
  memo?.store(out);
  return out;
}

/** A record's sidecar files: [extension, label] each. */
type FormatRow = [string, FormatLabel][];
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
    row.push([sc.ext, label]);
  }
  return row;
}

class FormatCounts {
  private readonly dist = { Json: 0, Binary: 0, Rkyv: 0, Legacy: 0, Encrypted: 0, Corrupt: 0, Unreadable: 0 };
  private readonly byExt: Record<string, number> = {};
  private total = 0;

  add(row: FormatRow): void {
    for (const [ext, label] of row) {
      this.total++;
      this.byExt[ext] = (this.byExt[ext] ?? 0) + 1;
      this.dist[label]++;
    }
  }

  finish(summary: ScanSummary): FormatStats {
    const out: FormatStats = { directory: summary.root, format_distribution: this.dist, extension_distribution: this.byExt, total_files: this.total, scan_complete: summary.complete, generated_at: null };
    return sortKeysDeep(out);
  }
}

function formatStatsOf(rows: readonly FormatRow[], summary: ScanSummary): FormatStats {
  const counts = new FormatCounts();
  for (const row of rows) counts.add(row);
  return counts.finish(summary);
}

/** format-stats' tree memo (scan.ts MemoCommand): the output kept, the rows for a patch. */
const FORMAT_STATS_MEMO: MemoCommand<FormatRow, FormatStats> = {
  rowOf: formatRowOf,
  finish: formatStatsOf,
  outputStored: true,
  encodeRows: (rows) => rows,
  decodeRows: (stored) => stored as FormatRow[],
};
