/** `doctor`: what this installation runs with (version, engine, workers, limits). */
import { EXIT_CLEAN } from '../errors.js';
import { engineFromEnv } from '../settings.js';
import type { CommandContext } from './context.js';
import { emit } from './emit.js';
import { doctorSummary } from './summaries.js';

export async function run(ctx: CommandContext): Promise<number> {
  const { performanceInfo } = await import('../ops/performance.js');
  const { keySource } = await import('./keys.js');
  // Which key a command would use: its source and public id only, never key material.
  let encryption: ReturnType<typeof keySource> | { error: string };
  try {
    encryption = keySource(ctx);
  } catch (e) {
    encryption = { error: (e as Error).message }; // a broken key setup is reported, not fatal here
  }
  // The engine options a command would run with (IMAGE_SIDECAR_ACCEL, IMAGE_SIDECAR_FAST_STAT read where every command reads them).
  const info = { ...performanceInfo(engineFromEnv(ctx.io.env)), encryption };
  const keyLine = !encryption ? 'no key configured' : 'error' in encryption ? `key error: ${encryption.error}` : `${encryption.source}: ${[...encryption.key_ids.map((id) => `key id ${id}`), ...(encryption.passphrase_id ? [`passphrase id ${encryption.passphrase_id}`] : [])].join(', ')}`;
  await emit(ctx, { result: info, what: 'performance information', human: (style) => [...doctorSummary(info, style), `  encryption    ${keyLine}`] });
  return EXIT_CLEAN;
}
