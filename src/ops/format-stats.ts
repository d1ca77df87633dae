import { scan } from './scan.js';
import { isLeftBehind, type ScanRecord, type ScanSummary } from '../scan/records.js';
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
  // Counted as they come (memory does not grow with the tree).
  const counts = new FormatCounts();
  for await (const batch of session.batches()) {
    for (const rec of batch) counts.add(rec);
  }
  return counts.finish(session.summary);
}

type FormatLabel = keyof FormatStats['format_distribution'];

class FormatCounts {
  private readonly dist = { Json: 0, Binary: 0, Rkyv: 0, Legacy: 0, Encrypted: 0, Corrupt: 0, Unreadable: 0 };
  private readonly byExt: Record<string, number> = {};
  private total = 0;
  private kept = 0;

  /** A record's sidecar files, by extension and by what their bytes are; its older copies kept beside the image's sidecar. */
  add(rec: ScanRecord): void {
    for (const sc of sidecarsOf(rec)) {
      const ins = sc.inspection;
      const label: FormatLabel =
        ins.status === 'unreadable' ? 'Unreadable'
        : ins.status === 'encrypted' || (ins.status === 'ok' && ins.encryptedKeyId !== undefined) ? 'Encrypted'
        : ins.status === 'corrupt' || !ins.format ? 'Corrupt'
        : FORMAT_LABEL[ins.format];
      this.total++;
      if (rec.category === 'ok' && rec.effective !== null && sc !== rec.effective && !isLeftBehind(rec, sc)) this.kept++;
      this.byExt[sc.ext] = (this.byExt[sc.ext] ?? 0) + 1;
      this.dist[label]++;
    }
  }

  finish(summary: ScanSummary): FormatStats {
    const out: FormatStats = { directory: summary.root, format_distribution: this.dist, extension_distribution: this.byExt, total_files: this.total, kept_copies: this.kept, scan_complete: summary.complete, generated_at: null };
    return sortKeysDeep(out);
  }
}
