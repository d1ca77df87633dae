import { scan } from '../discovery/scan.js';
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
  const memo = session.memo('format-stats', null);
  const stored = memo ? ((await memo.load()) as FormatStats | null) : null;
  if (stored) return stored;
  const dist = { Json: 0, Binary: 0, Rkyv: 0, Legacy: 0, Encrypted: 0, Corrupt: 0, Unreadable: 0 };
  const byExt: Record<string, number> = {};
  let total = 0;
  for await (const rec of session) {
    for (const sc of sidecarsOf(rec)) {
      total++;
      byExt[sc.ext] = (byExt[sc.ext] ?? 0) + 1;
      const ins = sc.inspection;
      if (ins.status === 'unreadable') dist.Unreadable++;
      else if (ins.status === 'encrypted' || (ins.status === 'ok' && ins.encryptedKeyId !== undefined)) dist.Encrypted++;
      else if (ins.status === 'corrupt' || !ins.format) dist.Corrupt++;
      else dist[FORMAT_LABEL[ins.format]]++;
    }
  }
  const out: FormatStats = { directory: session.summary.root, format_distribution: dist, extension_distribution: byExt, total_files: total, scan_complete: session.summary.complete, generated_at: null };
  const sorted = sortKeysDeep(out);
  memo?.store(sorted);
  return sorted;
}
