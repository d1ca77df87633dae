/**
 * Child-process script for test/concurrent-save.test.ts: saves `count` operations named
 * op_p<worker>_<k> into one image's sidecar, one after another, as a separate process would.
 *
 *   node save-worker.js <imagePath> <worker> <count> [format]
 *
 * Prints one JSON line {worker, saved} and exits 0, or prints the error and exits 1.
 */
import { saveSidecar } from '../../src/ops/save.js';

async function main(): Promise<void> {
  const [imagePath, workerArg, countArg, format] = process.argv.slice(2);
  const worker = Number(workerArg);
  const count = Number(countArg);
  if (!imagePath || !Number.isInteger(worker) || !Number.isInteger(count)) {
    throw new Error('usage: save-worker <imagePath> <worker> <count> [format]');
  }
  let saved = 0;
  for (let k = 0; k < count; k++) {
    await saveSidecar(
      imagePath,
      `op_p${worker}_${k}`,
      { worker, k, values: [k / 3, 1e-7 * worker, 0.22490839660167694] },
      { format: (format as 'json' | 'bin' | undefined) ?? 'bin', lockTimeoutMs: 30_000 },
    );
    saved++;
  }
  process.stdout.write(`${JSON.stringify({ worker, saved })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`save-worker failed: ${e instanceof Error ? `${e.name} ${(e as { code?: string }).code ?? ''} ${e.message}` : String(e)}\n`);
  process.exit(1);
});
