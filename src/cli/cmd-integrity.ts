/** `hash DIR` (tree digest, optional manifest) and `verify --manifest FILE DIR` (exit 1 on any difference). */
import { errors, EXIT_CLEAN, EXIT_FINDINGS, undecodableFiles } from '../errors.js';
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
  const { hashTree } = await import('../integrity/tree-hash.js');
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
    return undecodableFinding(ctx, e);
  } finally {
    progress.finish();
  }
  const r = h;
  await emit(ctx, { result: r, what: 'tree digest', human: (style) => hashSummary(r, manifest, style) });
  return EXIT_CLEAN;
}

/**
 * Sidecars that cannot be decoded: a canonical digest without them would vouch for data it never
 * saw. A finding (exit 1) that lists them, not a crash; no digest, no manifest. (Any other error
 * goes on.) The merge of hash shards gives the same.
 */
export async function undecodableFinding(ctx: CommandContext, e: unknown): Promise<number> {
  const files = undecodableFiles(e);
  if (files === undefined) throw e;
  const failed = { ok: false, digest: null, error: { code: 'CORRUPT', message: (e as Error).message }, undecodable: files };
  await emit(ctx, { result: failed, what: 'tree digest', human: () => ['no digest: these sidecars cannot be decoded', ...failed.undecodable.map((f) => `  ${f}`)] });
  return EXIT_FINDINGS;
}

async function runVerify(ctx: CommandContext): Promise<number> {
  const dir = await inputDirectory(ctx);
  const manifest = optString(ctx, 'manifest');
  if (!manifest) throw errors.usage('verify needs --manifest FILE (written by `image-sidecar hash --manifest FILE`)');
  const { verifyTree } = await import('../integrity/verify.js');
  const progress = progressFor(ctx, 'verifying');
  let v;
  try {
    v = await verifyTree(dir, manifest, { ...engineOptions(ctx), onProgress: progress.update });
  } finally {
    progress.finish();
  }
  const r = v;
  await emit(ctx, { result: r, what: 'verification report', human: (style) => verifySummary(r, style) });
  return r.ok ? EXIT_CLEAN : EXIT_FINDINGS;
}
