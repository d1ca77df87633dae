import { normalizeOperationName } from '../analysis/operations.js';
import { compileQuery } from '../analysis/query.js';
import { sidecarFilesOf, type ScanRecord, type ScanSidecar } from '../scan/records.js';
import { setOwn } from '../analysis/own-record.js';

/**
 * The sidecars a tree operation should look at once each: every candidate sidecar that lives in
 * the scanned tree ('local'), plus targets of symlinked images outside the root (seen nowhere else).
 * Files that are not sidecars (directory reports, unrelated JSON) are left out.
 */
export function sidecarsOf(rec: ScanRecord): ScanSidecar[] {
  return sidecarFilesOf(rec);
}

/** The effective sidecar when it is counted by this record (not by the link target's own record). */
export function ownEffective(rec: ScanRecord): ScanSidecar | null {
  const e = rec.effective;
  if (!e || rec.category === 'unrelated') return null;
  if (e.side === 'local') return e;
  return rec.images.some((i) => i.outsideRoot) ? e : null;
}

/** `--operation-type` filter: does this sidecar contain the operation (any spelling)? */
export function operationFilter(op: string | undefined): ((s: ScanSidecar) => boolean) | null {
  if (!op) return null;
  const want = normalizeOperationName(op);
  return (s) => s.inspection.summary?.operations.includes(want) ?? false;
}

/** `--where EXPR` filter (docs/QUERY.md): compiled once; false for a sidecar without a summary. */
export function whereFilter(expr: string | undefined): ((s: ScanSidecar) => boolean) | null {
  if (expr === undefined) return null;
  const predicate = compileQuery(expr);
  return (s) => {
    const ins = s.inspection;
    return ins.summary !== undefined && predicate({ summary: ins.summary, format: ins.format, size: ins.size });
  };
}

/** Both filters (either may be absent). */
export function sidecarFilter(operationType: string | undefined, where: string | undefined): ((s: ScanSidecar) => boolean) | null {
  const a = operationFilter(operationType);
  const b = whereFilter(where);
  if (a && b) return (s) => a(s) && b(s);
  return a ?? b;
}

/** Sort object keys recursively, so JSON output is byte-identical across runs. */
export function sortKeysDeep<T>(v: T): T {
  if (Array.isArray(v)) return v.map(sortKeysDeep) as T;
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) setOwn(out, k, sortKeysDeep((v as Record<string, unknown>)[k]));
    return out as T;
  }
  return v;
}

/** Round for output so that tiny float noise never changes bytes. */
export function round(n: number, digits = 6): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
