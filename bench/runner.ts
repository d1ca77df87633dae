/**
 * Child-process entry: `node runner.js '<OpSpec JSON>'` runs one operation and prints one JSON
 * line (OpSample) on stdout: its wall time, its own peak RSS and details. Logs go to stderr.
 */
import { runOp } from './ops.js';
import type { OpSample, OpSpec } from './protocol.js';
import { errors } from '../src/errors.js';
import { tuneHost } from '../src/engine/host.js';

// The CLI's tuning, so that figures are what a user's process gets.
tuneHost(process.execArgv, process.env.NODE_OPTIONS);

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? 'null') as OpSpec | null;
  if (!spec || typeof spec.op !== 'string') throw errors.usage('usage: runner.js <OpSpec JSON>');
  const r = await runOp(spec);
  const sample: OpSample = {
    ms: r.ms,
    maxRssKB: r.maxRssKB ?? (r.rssMeaningful === false ? null : process.resourceUsage().maxRSS),
    detail: r.detail,
  };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
}

main().catch((e: unknown) => {
  // the stack for a reader, then the message alone on the last line (the parent reports that line)
  if (e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  process.stderr.write(`runner: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 2;
});
