// A worker thread of the engine where every file-system call counts as a round trip (a file
// server: its batches read ahead); with SLOW_READ_MS in its environment, each async fs.read
// answers that much later (a slow server: descriptors stay open meanwhile).
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { setRoundTripMsForTests } from '../../src/fs/identity.js';

setRoundTripMsForTests(-1);
const slow = Number(process.env.SLOW_READ_MS ?? 0);
if (slow > 0) {
  const read = fs.read;
  (fs as unknown as Record<string, unknown>).read = (...a: unknown[]) => {
    const done = a[a.length - 1] as (...r: unknown[]) => void;
    a[a.length - 1] = (...r: unknown[]) => setTimeout(() => done(...r), slow);
    return (read as unknown as (...x: unknown[]) => unknown)(...a);
  };
  syncBuiltinESMExports();
}
await import('../../src/engine/worker.js');
