/**
 * `cleanup` (orphans into a quarantine folder, or deleted with --delete) and `restore` (undo).
 * The guards live in the library and fail with GUARD / INCOMPLETE_SCAN (exit 2); a completed
 * cleanup exits 0. A dry run never fails on the guard: it lists the orphans, says the guard would
 * refuse, and exits 1, so the user sees exactly what made it trip.
 */
import { EXIT_CLEAN, EXIT_FINDINGS } from '../errors.js';
import { engineOptions, inputDirectory, note, optString, type CommandContext } from './context.js';
import { emit } from './emit.js';
import { cleanupMessage, restoreMessage } from '../messages.js';
import { progressFor } from './progress.js';
import { cleanupSummary, restoreSummary } from './summaries.js';
import { bytes } from './style.js';

export async function run(ctx: CommandContext): Promise<number> {
  return ctx.command === 'restore' ? runRestore(ctx) : runCleanup(ctx);
}

async function runCleanup(ctx: CommandContext): Promise<number> {
  const dir = await inputDirectory(ctx);
  const { cleanup } = await import('../ops/cleanup.js');
  const dryRun = ctx.opts.dryRun === true;
  const progress = progressFor(ctx, 'scanning');
  let report;
  try {
    report = await cleanup(dir, {
      ...engineOptions(ctx),
      dryRun,
      delete: ctx.opts.delete === true,
      force: ctx.opts.force === true,
      maxFraction: typeof ctx.opts.maxFraction === 'number' ? ctx.opts.maxFraction : undefined,
      onProgress: progress.update,
    });
  } finally {
    progress.finish();
  }
  const r = report;
  const message = cleanupMessage(dryRun, dryRun ? r.actions.length : r.removed);
  await emit(ctx, { result: r, message, what: 'cleanup report', human: (style) => cleanupSummary(r, style) });
  if (r.skipped.length > 0) note(ctx, `warning: ${r.skipped.length} orphan(s) changed or could not be moved and were left in place (each is listed with why), the first: ${r.skipped[0].rel}: ${r.skipped[0].reason}`);
  if (r.linkRead.length > 0) note(ctx, `${r.linkRead.length} file(s) without an image left in place: a sidecar link reads each (another image's sidecar), the first: ${r.linkRead[0].rel}, read by ${r.linkRead[0].link}`);
  const relinks = r.relinkable - r.relinkUndecided;
  if (relinks > 0) note(ctx, `${relinks} orphan(s) left in place: their images moved or were renamed inside the library; put them back with: image-sidecar relink ${JSON.stringify(dir)} --dry-run`);
  if (r.relinkUndecided > 0) note(ctx, `${r.relinkUndecided} orphan(s) left in place for you to decide: an image in the library may be theirs, but relink does not re-attach them; image-sidecar relink ${JSON.stringify(dir)} --dry-run lists each with why (merge, keep or remove them)`);
  if (r.encryptedLeft > 0) note(ctx, `${r.encryptedLeft} sidecar(s) without an image are encrypted under a key not given: left in place (whose they are is inside them); run again with the key to judge them`);
  if (!dryRun && r.mode === 'quarantine' && r.removed > 0) note(ctx, `undo with: image-sidecar restore ${JSON.stringify(dir)}`);
  if (r.guard !== null) {
    // Not silenced by --quiet: it is why the exit code is 1.
    ctx.io.stderr.write(`image-sidecar: the guard would refuse this cleanup: ${r.guard}\n`);
    return EXIT_FINDINGS;
  }
  // Orphans left in place (changed since the scan, not movable) are findings, as in restore: the
  // cleanup is not complete (it once exited 0, and -q hid the warning).
  return r.skipped.length > 0 ? EXIT_FINDINGS : EXIT_CLEAN;
}

async function runRestore(ctx: CommandContext): Promise<number> {
  const dir = await inputDirectory(ctx);
  if (ctx.opts.list === true) return listQuarantineFolders(ctx, dir);
  const { restore } = await import('../ops/restore.js');
  const dryRun = ctx.opts.dryRun === true;
  const r = await restore(dir, { from: optString(ctx, 'from'), dryRun, imageExtensions: engineOptions(ctx).imageExtensions });
  const result = { dryRun, ...r };
  await emit(ctx, { result, message: restoreMessage(dryRun, r.restored), what: 'restore report', human: (style) => restoreSummary(r, dryRun, style) });
  // Files left in the quarantine are a finding: the restore is not complete.
  return r.skipped.length > 0 ? EXIT_FINDINGS : EXIT_CLEAN;
}

/** `restore --list`: the quarantine folders, oldest first; `restore` without --from takes the last one. */
async function listQuarantineFolders(ctx: CommandContext, dir: string): Promise<number> {
  const { listQuarantines } = await import('../ops/quarantines.js');
  const list = await listQuarantines(dir);
  await emit(ctx, {
    result: list,
    what: 'quarantine list',
    human: (style) => {
      const lines =
        list.folders.length === 0
          ? [`no quarantine folders in ${list.quarantine}`]
          : [style.bold(`${list.folders.length} quarantine folder(s) in ${list.quarantine} (restore takes the last one; --from NAME another):`)];
      for (const f of list.folders) {
        const what = f.problem !== null ? style.yellow(f.problem) : `${f.files} file(s), ${bytes(f.bytes)}${f.status === 'complete' ? '' : ` (${f.status})`}`;
        lines.push(`  ${f.name}  ${f.created_at ?? '-'}  ${what}`);
      }
      if (list.abandoned.length > 0) {
        lines.push(style.yellow(`${list.abandoned.length} abandoned folder(s), not restorable (the next cleanup or restore removes them):`));
        for (const a of list.abandoned) lines.push(`  ${a.name}  ${a.reason}`);
      }
      return lines;
    },
  });
  return EXIT_CLEAN;
}
