/**
 * Human summaries: a few aligned lines per command for a person at a terminal. Machines get the
 * JSON instead (see emit.ts), so these lines may change wording freely — except the sentences the
 * earlier tool's wrappers match (`Removed N`, `Exported N`, `Converted N`), built in messages.ts.
 */
import type { TreeStats } from '../ops/stats.js';
import type { FormatStats } from '../ops/format-stats.js';
import type { ValidationReport, ValidationResult } from '../ops/validate.js';
import type { CleanupReport } from '../ops/cleanup.js';
import type { RestoreReport } from '../ops/restore.js';
import type { TreeHash } from '../integrity/tree-hash.js';
import type { VerifyResult } from '../integrity/verify.js';
import type { SampleReport } from '../sample/generate.js';
import type { PerformanceInfo } from '../ops/performance.js';
import { aligned, bytes, counts, type Style } from './style.js';

/** Items of a list shown before "… and N more". */
const SHOWN = 20;

function more(total: number, shown: number): string[] {
  return total > shown ? [`  … and ${total - shown} more`] : [];
}

function scanLine(complete: boolean, problems: number, style: Style): string {
  return complete ? style.green('complete') : style.yellow(`incomplete: ${problems} path(s) could not be read`);
}

export function validationSummary(report: ValidationReport, invalid: readonly ValidationResult[], style: Style): string[] {
  const s = report.scan;
  const lines = [
    style.bold(`Validated ${s.root}`),
    ...aligned([
      ['sidecar files', report.total_files],
      ['valid', style.green(String(report.valid_files))],
      ['invalid', report.invalid_files > 0 ? style.red(String(report.invalid_files)) : '0'],
      ['scan', scanLine(s.complete, s.problemCount, style)],
      ['engine', `${s.engine.kind}, ${s.engine.workers} worker(s)`],
    ], '  '),
  ];
  if (invalid.length > 0) {
    lines.push(style.bold('Invalid files:'));
    for (const r of invalid) {
      // Decoder messages start with the path already; say it once.
      const err = r.error ?? 'invalid';
      const msg = err.startsWith(`${r.file_path}: `) ? err.slice(r.file_path.length + 2) : err;
      lines.push(`  ${r.file_path}: ${style.red(msg)}`);
    }
    lines.push(...more(report.invalid_files, invalid.length));
  }
  return lines;
}

export function statsSummary(st: TreeStats, style: Style): string[] {
  const rows: [string, string | number][] = [
    ['images', `${st.total_images} (${st.symlink_count} symlinks, ${st.broken_symlinks} broken)`],
    // The one headline count (README "Categories"); the statistics below are over one readable sidecar per image.
    ['sidecar files', `${st.sidecar_files} (${st.total_sidecars} read for these statistics: one per image)`],
    ['coverage', `${st.coverage_percentage}% (${st.images_with_sidecar} images with a sidecar)`],
    ['operations', counts(st.operation_counts)],
    ['faces', `${st.faces.total} (${st.faces.with_embedding} with embedding)`],
    ['objects', st.objects.total],
    ['quality grades', counts(st.quality_grades)],
    ['formats', counts(st.format_distribution)],
    ['categories', counts(st.categories)],
    ['scan', scanLine(st.scan_complete, st.scan_problems, style)],
  ];
  if (st.filter_applied) rows.splice(1, 0, ['filter', st.filter_applied]);
  return [style.bold(`Statistics for ${st.directory}`), ...aligned(rows, '  ')];
}

export function formatStatsSummary(fs: FormatStats, style: Style): string[] {
  return [
    style.bold(`Sidecar formats in ${fs.directory}`),
    ...aligned([
      ['sidecar files', fs.total_files],
      ['by content', counts(fs.format_distribution)],
      ['by extension', counts(fs.extension_distribution)],
      ['scan', scanLine(fs.scan_complete, 0, style)],
    ], '  '),
  ];
}

export function cleanupSummary(r: CleanupReport, style: Style): string[] {
  const lines = [
    ...aligned([
      ['sidecar files', r.sidecarFiles],
      ['orphans', `${r.orphans} (${Math.round(r.fraction * 1000) / 10}%)`],
      ['mode', r.dryRun ? `${r.mode} (dry run: nothing changed)` : r.mode],
      ...(r.quarantine ? ([['quarantine', r.quarantine]] as [string, string][]) : []),
    ], '  '),
  ];
  if (r.guard !== null) lines.push(style.red(`The guard would refuse: ${r.guard}`));
  if (r.actions.length > 0) {
    lines.push(style.bold(r.dryRun ? 'Would remove:' : 'Removed:'));
    for (const a of r.actions.slice(0, SHOWN)) lines.push(`  ${a.rel}`);
    lines.push(...more(r.actions.length, SHOWN));
  }
  if (r.skipped.length > 0) {
    lines.push(style.yellow('Left in place:'));
    for (const s of r.skipped.slice(0, SHOWN)) lines.push(`  ${s.rel}: ${s.reason}`);
    lines.push(...more(r.skipped.length, SHOWN));
  }
  if (r.linkRead.length > 0) {
    lines.push('Read by a sidecar link (another image\'s sidecar), left in place:');
    for (const l of r.linkRead.slice(0, SHOWN)) lines.push(`  ${l.rel} (${l.link})`);
    lines.push(...more(r.linkRead.length, SHOWN));
  }
  lines.push(...abandonedLines(r.abandonedQuarantines, r.dryRun));
  return lines;
}

export function restoreSummary(r: RestoreReport, dryRun: boolean, style: Style): string[] {
  const lines = aligned([
    ['quarantine', r.quarantine],
    [dryRun ? 'would restore' : 'restored', r.restored],
    ...(r.alreadyBack > 0 ? [['already back', r.alreadyBack] as [string, number]] : []),
    ['skipped', r.skipped.length],
  ], '  ');
  for (const s of r.skipped.slice(0, SHOWN)) lines.push(`  ${style.yellow(s.rel)}: ${s.reason}`);
  lines.push(...more(r.skipped.length, SHOWN));
  lines.push(...abandonedLines(r.abandonedQuarantines, dryRun));
  return lines;
}

/** The quarantine folders a stopped cleanup left with nothing to restore, removed by this run (or that a real one removes). */
function abandonedLines(paths: readonly string[], dryRun: boolean): string[] {
  if (paths.length === 0) return [];
  const lines = [`${dryRun ? 'would remove' : 'removed'} ${paths.length} abandoned quarantine folder(s) (a cleanup or relink stopped before it moved anything):`];
  for (const p of paths.slice(0, SHOWN)) lines.push(`  ${p}`);
  lines.push(...more(paths.length, SHOWN));
  return lines;
}

export function hashSummary(h: TreeHash, manifest: string | undefined, style: Style): string[] {
  const rows: [string, string | number][] = [
    ['digest', style.bold(h.tag)],
    ['files', h.files],
    ['bytes', `${h.bytes} (${bytes(h.bytes)})`],
  ];
  if (manifest) rows.push(['manifest', manifest]);
  return aligned(rows);
}

export function verifySummary(v: VerifyResult, style: Style): string[] {
  const differs = v.missing.length + v.changed.length + v.extra.length > 0;
  const lines = [v.ok ? style.green(`OK: ${v.checked} entries match the manifest`) : style.red(differs ? 'The tree differs from the manifest' : 'Not verified: some paths could not be read or decoded')];
  const section = (title: string, list: readonly string[]) => {
    if (list.length === 0) return;
    lines.push(`${title} (${list.length}):`);
    for (const p of list.slice(0, SHOWN)) lines.push(`  ${p}`);
    lines.push(...more(list.length, SHOWN));
  };
  section('missing', v.missing);
  section('changed', v.changed);
  section('extra', v.extra);
  section('cannot be decoded', v.undecodable ?? []);
  if (v.unreadable && v.unreadable_count) {
    lines.push(`cannot be read (${v.unreadable_count}):`);
    for (const u of v.unreadable.slice(0, SHOWN)) lines.push(`  ${u.message}`);
    lines.push(...more(v.unreadable_count, Math.min(SHOWN, v.unreadable.length)));
  }
  return lines;
}

export function sampleSummary(r: SampleReport, style: Style): string[] {
  return [
    style.bold(`Sample library in ${r.root}`),
    ...aligned([
      ['images', r.images],
      ['sidecar files', `${r.sidecars} (${bytes(r.bytes)})`],
      ['orphans', r.counts.orphans],
      ['corrupt', r.counts.corrupt],
      ['symlinks', `${r.counts.symlinks} (${r.counts.brokenSymlinks} broken)`],
      ['reports', r.counts.reports],
    ], '  '),
  ];
}

export function doctorSummary(p: PerformanceInfo, style: Style): string[] {
  return [
    style.bold(`image-sidecar ${p.version}`),
    ...aligned([
      ['node', `${p.node} (${p.platform})`],
      ['cpus', p.cpus],
      ['engine', `${p.engine.default.kind}, ${p.engine.default.workers} worker(s); threads from ${p.breakEvenFiles} files`],
      ['acceleration', p.acceleration.note],
      ['stat calls', p.index.fastStat.inUse ? "Node's own binding, reads and index checks (IMAGE_SIDECAR_FAST_STAT=off: fs.fstatSync, fs.statSync)" : !p.index.fastStat.enabled ? 'fs.fstatSync, fs.statSync (IMAGE_SIDECAR_FAST_STAT=off)' : `fs.fstatSync, fs.statSync (${p.index.fastStat.reason ?? 'fast path unavailable'})`],
      ['limits', `files up to ${bytes(p.limits.maxFileSize)}, nesting up to ${p.limits.maxDepth} levels`],
    ], '  '),
  ];
}
