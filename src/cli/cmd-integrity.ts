/** `hash DIR` (tree digest, optional manifest) and `verify --manifest FILE DIR` (exit 1 on any difference). */
import { errors, EXIT_CLEAN, EXIT_FINDINGS, notDigestedOf } from '../errors.js';
import { engineOptions, inputDirectory, optString, type CommandContext } from './context.js';
import { emit } from './emit.js';
import { progressFor } from './progress.js';
import { hashSummary, verifySummary } from './summaries.js';

export async function run(ctx: CommandContext): Promise<number> {
  if (ctx.command === 'verify') return runVerify(ctx);
  if (ctx.opts.shard !== undefined) return (await import('./cmd-shard.js')).runShard(ctx, 'hash');
  return runHash(ctx);
}

async function runHash(ctx: CommandContext): Promise<number> {
  const dir = await inputDirectory(ctx);
  const { hashTree } = await import('../ops/hash.js');
  const manifest = optString(ctx, 'manifest');
  const progress = progressFor(ctx, 'hashing');
  let h;
  try {
    h = await hashTree(dir, {
      ...engineOptions(ctx),
      canonical: ctx.opts.canonical === true,
      allFiles: ctx.opts.allFiles === true,
      manifest,
      onProgress: progress.update,
    });
  } catch (e) {
    return notDigestedFinding(ctx, e);
  } finally {
    progress.finish();
  }
  const r = h;
  await emit(ctx, { result: r, what: 'tree digest', human: (style) => hashSummary(r, manifest, style) });
  return EXIT_CLEAN;
}

/**
 * Files a tree digest cannot leave out (it would vouch for data it never saw): sidecars that do not
 * decode (canonical), paths that cannot be read. A finding (exit 1) that lists them all, not a stop
 * at the first; no digest, no manifest. (Any other error goes on.) The merge of hash shards gives the same.
 */
export async function notDigestedFinding(ctx: CommandContext, e: unknown): Promise<number> {
  const not = notDigestedOf(e);
  if (not === undefined) throw e;
  const err = e as { code: string; message: string };
  // Each list only when it holds something, as verify gives them.
  const failed = { ok: false, digest: null, error: { code: err.code, message: err.message } };
  if (not.undecodable.length > 0) Object.assign(failed, { undecodable: not.undecodable });
  if (not.unreadableCount > 0) Object.assign(failed, { unreadable: not.unreadable, unreadable_count: not.unreadableCount });
  const human = (): string[] => {
    const lines: string[] = [];
    if (not.undecodable.length > 0) lines.push('no digest: these sidecars cannot be decoded', ...not.undecodable.map((f) => `  ${f}`));
    if (not.unreadableCount > 0) {
      lines.push(`no digest: ${not.unreadableCount === not.unreadable.length ? 'these paths' : `${not.unreadableCount} paths (the first ${not.unreadable.length} named)`} cannot be read`);
      for (const u of not.unreadable) lines.push(`  ${u.message}`);
    }
    return lines;
  };
  await emit(ctx, { result: failed, what: 'tree digest', human });
  return EXIT_FINDINGS;
}

async function runVerify(ctx: CommandContext): Promise<number> {
  const dir = await inputDirectory(ctx);
  const manifest = optString(ctx, 'manifest');
  if (!manifest) throw errors.usage('verify needs --manifest FILE (written by `image-sidecar hash --manifest FILE`)');
  const { verifyTree } = await import('../ops/hash.js');
  const progress = progressFor(ctx, 'verifying');
  let v;
  try {
    // Given only when asked: a JSON manifest says its mode, and a flag that contradicts it is a usage error.
    const mode = { ...(ctx.opts.canonical === true ? { canonical: true } : {}), ...(ctx.opts.allFiles === true ? { allFiles: true } : {}) };
    v = await verifyTree(dir, manifest, { ...engineOptions(ctx), ...mode, onProgress: progress.update });
  } finally {
    progress.finish();
  }
  const r = v;
  await emit(ctx, { result: r, what: 'verification report', human: (style) => verifySummary(r, style) });
  return r.ok ? EXIT_CLEAN : EXIT_FINDINGS;
}
