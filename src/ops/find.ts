/**
 * find: the images whose sidecar matches a `--where` expression (docs/QUERY.md), in tree order.
 *
 * One entry per image record that owns an effective sidecar (as export): a symlinked image whose
 * target is inside the root is found once, through the target; RAW+JPEG images sharing a sidecar
 * are each listed. Sidecars without an image (orphans) are not matched; an image whose sidecar cannot
 * be read (corrupt, unreadable, encrypted under a key not given) is a problem, as todo's.
 */
import { scan } from './scan.js';
import { type ScanSummary } from '../scan/records.js';
import { errors } from '../errors.js';
import type { Options, SidecarFormat } from '../types.js';
import { ListProblems, ownGroupTargetOf, sidecarFilter, type ListProblem } from './common.js';
import type { SidecarSummary } from '../model/summary.js';

export interface FindOptions extends Options {
  where: string;
  /** Also require this operation (any spelling), like --operation-type elsewhere. */
  operationType?: string;
  onEntry?: (e: FindEntry) => void | Promise<void>;
}

export interface FindEntry {
  /** Image path (absolute) and relative to the root (POSIX). */
  path: string;
  rel: string;
  sidecar: string;
  format: SidecarFormat | null;
  size: number;
  summary: SidecarSummary;
}

export interface FindReport {
  entries?: FindEntry[];
  matched: number;
  /** Sidecars the expression was evaluated on. */
  examined: number;
  /** Images whose sidecar cannot be read (corrupt, unreadable, encrypted under a key not given): not matched nor passed over silently (the first 1,000). */
  problems: ListProblem[];
  problemCount: number;
  scan: ScanSummary;
}

export async function find(root: string, opts: FindOptions): Promise<FindReport> {
  const { where, operationType, onEntry, ...scanOpts } = opts;
  if (typeof where !== 'string' || where.trim() === '') throw errors.usage('find needs --where EXPR (e.g. --where "faces >= 3")');
  const filter = sidecarFilter(operationType, where)!;
  const session = scan(root, { ...scanOpts, inspect: { summarize: true, sizes: false } }); // find prints no bin sizes
  const problems = new ListProblems();
  const report: FindReport = { matched: 0, examined: 0, problems: problems.problems, problemCount: 0, scan: session.summary };
  if (!onEntry) report.entries = [];
  for await (const rec of session) {
    if (rec.images.length === 0) continue;
    // Each image by the sidecar its read takes (a RAW+JPEG pair's own files: common.ts imageSidecars).
    const entries = await problems.judged(rec, scanOpts);
    if (entries === null) continue;
    for (const { image, sidecar: sc } of entries) {
      if (sc.inspection.summary === undefined) continue;
      report.examined++;
      if (!filter(sc)) continue;
      for (const img of image ? [image] : rec.images) {
        if (img.broken || (image === undefined && ownGroupTargetOf(rec, img) !== undefined)) continue;
        const e: FindEntry = { path: img.path, rel: img.rel, sidecar: sc.rel, format: sc.inspection.format, size: sc.inspection.size, summary: sc.inspection.summary };
        report.matched++;
        if (onEntry) await onEntry(e);
        else report.entries!.push(e);
      }
    }
  }
  report.problemCount = problems.count;
  return report;
}
