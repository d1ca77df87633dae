/**
 * The records and totals of the image lists (`todo`, `stale`, `find`) as callers see them: one
 * shape for `--jsonl` / `--json` and for the server's methods, so that a Python pipeline gets the
 * same answer over the server as from the CLI. `image` is the directory as the caller gave it
 * joined with the path inside it (what the CLI prints).
 */
import { join } from 'node:path';
import type { FindEntry, FindReport } from './find.js';
import type { StaleEntry, StaleReport, TodoEntry, TodoReport } from './todo.js';

/** The key of the list in a JSON document, per command. */
export const LIST_KEYS = { todo: 'todo', stale: 'stale', find: 'matches' } as const;

/** `dir` as given + the image's path inside it. */
export function printedPath(dir: string, rel: string): string {
  return join(dir, rel);
}

export function todoRecord(dir: string, e: TodoEntry): Record<string, unknown> {
  const rec: Record<string, unknown> = { image: printedPath(dir, e.rel), reason: e.reason, sidecar: e.sidecar };
  if (e.changes) rec.changes = e.changes;
  return rec;
}

/** Images listed by todo (every reason). */
export function todoListed(report: TodoReport): number {
  const c = report.counts;
  return c['no-sidecar'] + c['no-result'] + c.failed + c.stale;
}

export function todoTotals(dir: string, report: TodoReport): Record<string, unknown> {
  return {
    operation: report.operation,
    directory: report.scan.root,
    total: todoListed(report),
    counts: report.counts,
    identity_unknown: report.identityUnknown,
    skipped: { links: report.skipped.links, broken_links: report.skipped.brokenLinks },
    problems: problemsOf(dir, report.problems),
    problem_count: report.problemCount,
    scan_complete: report.scan.complete,
    ...scanProblems(report.scan),
  };
}

export function staleRecord(dir: string, e: StaleEntry): Record<string, unknown> {
  return { image: printedPath(dir, e.rel), sidecar: e.sidecar, changes: e.changes, operations: e.operations, recorded: e.recorded, current: e.current };
}

export function staleTotals(dir: string, report: StaleReport): Record<string, unknown> {
  return { directory: report.scan.root, counts: report.counts, problems: problemsOf(dir, report.problems), problem_count: report.problemCount, scan_complete: report.scan.complete, ...scanProblems(report.scan) };
}

export function findRecord(dir: string, e: FindEntry): Record<string, unknown> {
  const s = e.summary;
  return {
    image: printedPath(dir, e.rel),
    sidecar: e.sidecar,
    format: e.format,
    size: e.size,
    operations: s.operations,
    success: s.success,
    faces: s.faces,
    objects: s.objects,
    object_classes: s.objectClasses,
    embeddings: s.embeddings,
    quality_grade: s.qualityGrade,
    quality_score: s.qualityScore,
  };
}

export function findTotals(dir: string, report: FindReport, where: string): Record<string, unknown> {
  return { where, directory: report.scan.root, matched: report.matched, examined: report.examined, problems: problemsOf(dir, report.problems), problem_count: report.problemCount, scan_complete: report.scan.complete, ...scanProblems(report.scan) };
}

/**
 * The paths the scan could not read, when there are any: their count (`scan_problems`, as validate
 * and stats say it) and the first 200 (`scan_problem_list`: ScanSummary.problems).
 */
function scanProblems(scan: { complete: boolean; problemCount: number; problems: readonly { path: string; code: string; message: string }[] }): Record<string, unknown> {
  return scan.problemCount > 0 ? { scan_problems: scan.problemCount, scan_problem_list: scan.problems.map((p) => ({ path: p.path, code: p.code, message: p.message })) } : {};
}

/** The images a list command could not decide, as its JSON names them. */
function problemsOf(dir: string, problems: readonly { rel: string; category: string; message: string }[]): Record<string, unknown>[] {
  return problems.map((p) => ({ image: printedPath(dir, p.rel), category: p.category, message: p.message }));
}

/**
 * Findings of a list command (the CLI's exit 1): some images could not be decided (todo's
 * problems) or part of the tree could not be read. Over the server the same facts are in the
 * document (`problem_count`, `scan_complete`).
 */
export function listHasFindings(report: { scan: { complete: boolean }; problemCount?: number }): boolean {
  return (report.problemCount ?? 0) > 0 || !report.scan.complete;
}
