/**
 * Whole files read many at once, for a file server where each call is a round trip: a reading
 * thread that opens, `fstat`s and reads one file after another waits on each call in turn (on the
 * bench's mount, where each call waits 200 µs besides FUSE's own cost, 2.3 ms a file read so;
 * a profile of its reading threads). Each file here goes as
 * `readFileSizedSync` reads it, through one descriptor (open, `fstat`, read, close), on libuv's
 * threads. A file that is not a regular file, is bigger than `maxBytes`, would take the reads past
 * `totalBytes`, or fails any call, is left out (null): its reader reads it at its turn, which gives
 * it the same bytes, or the same error, as ever.
 */
import { close, fstat, open, read, type BigIntStats } from 'node:fs';
import { manyAtOnce } from './many-at-once.js';
import { READ_FLAGS } from './regular-file.js';
import { FILES_OPEN_AHEAD } from '../tuning.js';

/** A file read ahead: its bytes, and the stat of the descriptor they were read through (taken before the read). */
export interface ReadAhead {
  bytes: Buffer;
  stat: BigIntStats;
}

/**
 * `paths` read at once (null: none to read there); resolves with each one's read, or null (read it
 * at its turn). Once `stop.aborted`, no call is made but the closes of those open; it resolves
 * when every call made is back. Never rejects.
 */
export function readAhead(paths: readonly (string | null)[], maxBytes: number, totalBytes: number, stop: { readonly aborted: boolean }): Promise<(ReadAhead | null)[]> {
  const out: (ReadAhead | null)[] = new Array(paths.length).fill(null);
  let reserved = 0;
  const inputs: string[] = [];
  for (let i = 0; i < paths.length; i++) if (paths[i] !== null) inputs.push(String(i));
  const one = (input: string, done: (r: ReadAhead | null) => void) => {
    const path = paths[Number(input)]!;
    open(path, READ_FLAGS, (err, fd) => {
      if (err) return done(null);
      const finish = (r: ReadAhead | null) => close(fd, () => done(r));
      fstat(fd, { bigint: true }, (e, stat) => {
        if (e || stop.aborted || !stat.isFile()) return finish(null);
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
  return manyAtOnce<ReadAhead | null>(inputs, one, null, (input, r) => void (out[Number(input)] = r), stop, FILES_OPEN_AHEAD).then(() => out);
}
