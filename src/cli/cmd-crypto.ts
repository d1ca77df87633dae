/**
 * `keygen -o FILE`: a new random key file (mode 0600, never overwrites, never stdout).
 * `rekey DIR --new-key-file FILE`: re-encrypt every encrypted sidecar under the new key — the
 * convert pipeline (lock, encrypt in memory, atomic write, read back, verify), so a kill at any
 * moment leaves each file under the old key or the new one, never lost or in plaintext.
 */
import { existsSync } from 'node:fs';
import { errors, EXIT_CLEAN, EXIT_FINDINGS } from '../errors.js';
import type { ConvertItem } from '../ops/convert.js';
import { engineOptions, inputDirectory, note, optString, type CommandContext } from './context.js';
import { emit } from './emit.js';
import { progressFor } from './progress.js';
import { aligned } from './style.js';
import { keyringFromCli } from './keys.js';

export async function run(ctx: CommandContext): Promise<number> {
  return ctx.command === 'keygen' ? runKeygen(ctx) : runRekey(ctx);
}

async function runKeygen(ctx: CommandContext): Promise<number> {
  const out = optString(ctx, 'output');
  if (!out || out === '-') throw errors.usage('keygen needs -o FILE (a key is never written to stdout)');
  const { generateKeyFile } = await import('../crypto/keys.js');
  const { keyId } = generateKeyFile(out);
  // Not through emit(): there -o is where the *result* goes, and here it is the key itself.
  const message = `Wrote a new key to ${out} (key id ${keyId}); keep a copy: without it encrypted sidecars cannot be read`;
  const human = ctx.io.stdoutIsTTY && !ctx.opts.json;
  ctx.io.stdout.write(human ? `${message}\n` : `${JSON.stringify({ message, path: out, key_id: keyId, mode: '0600' })}\n`);
  return EXIT_CLEAN;
}

const KEPT_PROBLEMS = 1000;

async function runRekey(ctx: CommandContext): Promise<number> {
  const newKeyFile = optString(ctx, 'newKeyFile');
  if (!newKeyFile) throw errors.usage('rekey needs --new-key-file FILE (make one with `image-sidecar keygen -o FILE`)');
  const dir = await inputDirectory(ctx);
  const { mergeKeyrings } = await import('../crypto/keys.js');
  const eng = engineOptions(ctx);
  if (!eng.keyring) throw errors.usage('rekey needs the current key: --key-file, IMAGE_SIDECAR_KEY_FILE or IMAGE_SIDECAR_PASSPHRASE');
  if (!existsSync(newKeyFile)) throw errors.usage('--new-key-file: no such key file (make one with `image-sidecar keygen -o FILE`)');
  const keyring = mergeKeyrings(keyringFromCli(ctx, 'newKeyFile')!, eng.keyring);
  const { convert } = await import('../ops/convert.js');
  const dryRun = ctx.opts.dryRun === true;
  const problems: ConvertItem[] = [];
  let problemCount = 0;
  const progress = progressFor(ctx, dryRun ? 'planning' : 're-encrypting');
  let r;
  try {
    r = await convert(dir, 'bin', {
      ...eng,
      keyring,
      encryption: 'rekey',
      dryRun,
      onProgress: progress.update,
      onItem: (item) => {
        if (item.ok && item.action !== 'conflict') return;
        problemCount++;
        if (problems.length < KEPT_PROBLEMS) problems.push(item);
      },
    });
  } finally {
    progress.finish();
  }
  const report = r;
  const keyId = keyring.keys[0].id;
  const message = `${dryRun ? 'Would re-encrypt' : 'Re-encrypted'} ${report.converted} sidecar${report.converted === 1 ? '' : 's'} under key id ${keyId}`;
  await emit(ctx, {
    result: { ...report, key_id: keyId, problems, problems_truncated: problemCount > problems.length },
    message,
    what: 'rekey report',
    human: (style) => {
      const lines = aligned([
        ['skipped', report.skipped],
        ['failed', report.failed > 0 ? style.red(String(report.failed)) : '0'],
        ...((report.quarantinedFiles ?? 0) > 0 ? ([['in the quarantine, under the old key', style.yellow(String(report.quarantinedFiles))]] as [string, string][]) : []),
      ], '  ');
      for (const p of problems.slice(0, 20)) lines.push(`  ${p.source}: ${p.error?.message ?? p.action}`);
      return lines;
    },
  });
  if (!report.scanComplete) note(ctx, 'warning: the scan was incomplete (some paths could not be read)');
  const quarantined = report.quarantinedFiles ?? 0;
  const list = await import('./convert-list.js');
  if (quarantined > 0) note(ctx, list.quarantinedWarning(quarantined, 'rekey'));
  if (report.quarantineUnchecked !== undefined) note(ctx, list.quarantineUncheckedWarning(report.quarantineUnchecked));
  // Files left under the retired key in the quarantine are findings: a rotation scripted as
  // `rekey && rm old.key` would throw away the only key of files restore can still put back.
  return report.failed > 0 || report.conflicts > 0 || quarantined > 0 || report.quarantineUnchecked !== undefined || !report.scanComplete ? EXIT_FINDINGS : EXIT_CLEAN;
}
