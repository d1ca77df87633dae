/**
 * Preloaded (`node --expose-gc --import heap-probe.js`) into a server under a soak (server-soak.ts):
 * on SIGUSR2 it collects garbage and writes one line to stderr,
 * `ISC_HEAP {"heapUsed":…,"arrayBuffers":…,"external":…,"rss":…}` (bytes), so the soak reads what
 * the process keeps alive, not only a resident set that moves with the collector's mood.
 */
import { writeSync } from 'node:fs';

export const HEAP_LINE_PREFIX = 'ISC_HEAP ';

process.on('SIGUSR2', () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  const m = process.memoryUsage();
  const line = { heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, external: m.external, rss: m.rss, gc: gc !== undefined };
  writeSync(2, `\n${HEAP_LINE_PREFIX}${JSON.stringify(line)}\n`);
});
