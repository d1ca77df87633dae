import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { errors } from '../errors.js';

/** Default size limit for one sidecar file. */
export const DEFAULT_MAX_FILE_SIZE = 64 * 1024 * 1024;

/**
 * Read a whole file synchronously, refusing files above `maxSize` before allocating for them.
 * Same syscalls as readFileSync (open, fstat, read, close), plus the size check.
 */
export function readFileLimitedSync(path: string, maxSize: number = DEFAULT_MAX_FILE_SIZE): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw errors.fromFs(e, path);
  }
  try {
    const size = fstatSync(fd).size;
    if (size > maxSize) throw errors.tooLarge(size, maxSize, path);
    const buf = Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n === 0) break; // file shrank while reading: return what is there (decoders check lengths)
      off += n;
    }
    return off === size ? buf : buf.subarray(0, off);
  } catch (e) {
    throw errors.fromFs(e, path);
  } finally {
    closeSync(fd);
  }
}
