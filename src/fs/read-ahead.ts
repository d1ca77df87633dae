/**
 * Whole files read many at once, for a file server where each call is a round trip: a reading
 * thread that opens, `fstat`s and reads one file after another waits on each call in turn (on the
 * bench's mount: 2.3 ms a file, every call a round trip). Each file here goes as
 * `readFileSizedSync` reads it, through one descriptor (open, `fstat`, read, close), on libuv's
 * threads. A file that is not a regular file, is bigger than `maxBytes`, would take the reads past
 * `totalBytes`, or fails any call, is left out (null): its reader reads it at its turn, which gives
 * it the same bytes, or the same error, as ever.
 * In a worker thread the calls are begun and ended on its word (calls-in-flight.ts): the pool
 * never ends the thread while they are in flight, and when it asks them to stop, no new one is
 * made and the read gives up (null) once those in flight are back and closed.
 */
import { close, fstat, open, read, type BigIntStats } from 'node:fs';
import { beginCalls, callsStopAsked, endCalls } from './calls-in-flight.js';
import { manyAtOnce } from './many-at-once.js';
import { READ_FLAGS } from './regular-file.js';

/** A file read ahead: its bytes, and the stat of the descriptor they were read through (taken before the read). */
export interface ReadAhead {
  bytes: Buffer;
  stat: BigIntStats;
}

/**
 * `paths` read at once (null: none to read there); resolves with each one's read, or null (read it
 * at its turn); or null as a whole: the thread is being ended, or was asked to stop (its batch is
 * given up). Never rejects.
 */
export function readAhead(paths: readonly (string | null)[], maxBytes: number, totalBytes: number): Promise<(ReadAhead | null)[] | null> {
  if (!beginCalls()) return Promise.resolve(null);
  const out: (ReadAhead | null)[] = new Array(paths.length).fill(null);
  let reserved = 0;
  const inputs: string[] = [];
  for (let i = 0; i < paths.length; i++) if (paths[i] !== null) inputs.push(String(i));
  const one = (input: string, done: (r: ReadAhead | null) => void) => {
    if (callsStopAsked()) return done(null);
    const path = paths[Number(input)]!;
    open(path, READ_FLAGS, (err, fd) => {
      if (err) return done(null);
      const finish = (r: ReadAhead | null) => close(fd, () => done(r));
      fstat(fd, { bigint: true }, (e, stat) => {
        if (e || callsStopAsked() || !stat.isFile()) return finish(null);
        const size = Number(stat.size);
        if (!(size <= maxBytes)) return finish(null);
        if (reserved + size > totalBytes) return finish(null);
        reserved += size;
        const bytes = Buffer.allocUnsafe(size);
        const more = (off: number): void => {
          if (off === size) return finish({ bytes, stat });
          read(fd, bytes, off, size - off, off, (e2, n) => {
            if (e2) return finish(null);
            // The file shrank while read: what is there, as readFileSizedSync gives it.
            if (n === 0) return finish({ bytes: bytes.subarray(0, off), stat });
            more(off + n);
          });
        };
        more(0);
      });
    });
  };
  return manyAtOnce<ReadAhead | null>(inputs, one, null, (input, r) => void (out[Number(input)] = r)).then(() => {
    const stopped = callsStopAsked();
    endCalls();
    return stopped ? null : out;
  });
}
