import { closeSync, createReadStream, fstatSync, openSync, readSync, type BigIntStats } from 'node:fs';
import { errors } from '../errors.js';
import { DEFAULT_MAX_FILE_SIZE } from '../formats/value.js';
import { READ_FLAGS } from './regular-file.js';
import { regularFileSize } from './stat-binding.js';

/** Default size limit for one sidecar file (one constant, shared with the decoders). */
export { DEFAULT_MAX_FILE_SIZE };

/**
 * All of an input a user names (--data, --schema): a file, a FIFO, /dev/stdin or a stream, read
 * as it comes and refused past `maxSize` bytes (TOO_LARGE). A whole-file read of `--data
 * /dev/zero` grew without end (14 GB in 30 s): a device or pipe has no size to check first.
 */
export async function readInputLimited(source: string | NodeJS.ReadableStream, maxSize: number, name = typeof source === 'string' ? source : 'stdin'): Promise<Buffer> {
  const stream = typeof source === 'string' ? createReadStream(source) : source;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const c of stream) {
      const chunk = typeof c === 'string' ? Buffer.from(c, 'utf8') : (c as Buffer);
      size += chunk.length;
      if (size > maxSize) throw errors.inputTooLarge(maxSize, name);
      chunks.push(chunk);
    }
  } catch (e) {
    throw errors.fromFs(e, name);
  } finally {
    if (typeof source === 'string') (stream as ReturnType<typeof createReadStream>).destroy();
  }
  return Buffer.concat(chunks, size);
}

/** How a read learns what it opened: the size of a regular file, -1 for anything else. */
export type SizeOfOpen = (fd: number) => number;

const pureRegularFileSize: SizeOfOpen = (fd) => regularFileSize(fd, false);

/**
 * Read a whole file synchronously, refusing files above `maxSize` before allocating for them and
 * anything that is not a regular file. Same syscalls as readFileSync (open, fstat, read, close).
 * With `into`, the bytes go where it says (when it gives room for them) instead of a new Buffer.
 * `fastStat: true`: the descriptor's stat through Node's binding once trusted (stat-binding.ts);
 * the default is fs.fstatSync only, so that a read whose caller did not pass its options'
 * `fastStat` on never takes the binding under `fastStat: false` / IMAGE_SIDECAR_FAST_STAT=off.
 */
export function readFileLimitedSync(path: string, maxSize: number = DEFAULT_MAX_FILE_SIZE, into?: (size: number) => Buffer | null, fastStat = false): Buffer {
  return readFileSizedSync(path, maxSize, into, fastStat ? regularFileSize : pureRegularFileSize);
}

/**
 * `readFileLimitedSync`, and the file's stat (bigint: ns times) taken through the same descriptor
 * before the read: the identity of exactly the bytes returned.
 */
export function readFileWithStatSync(path: string, maxSize: number = DEFAULT_MAX_FILE_SIZE, into?: (size: number) => Buffer | null): { bytes: Buffer; stat: BigIntStats } {
  let stat: BigIntStats | undefined;
  const bytes = readFileSizedSync(path, maxSize, into, (fd) => {
    const st = fstatSync(fd, { bigint: true });
    stat = st;
    return st.isFile() ? Number(st.size) : -1;
  });
  return { bytes, stat: stat! };
}

/**
 * `readFileLimitedSync` with the caller's stat of the descriptor (`sizeOf`: the size of a regular
 * file, -1 for anything else), taken before the read: the index's entries read the identity of
 * exactly the bytes returned, kept by item for the batch's entries (identity.ts BatchStats.sizeOf).
 */
export function readFileSizedSync(path: string, maxSize: number, into: ((size: number) => Buffer | null) | undefined, sizeOf: SizeOfOpen): Buffer {
  let fd: number;
  try {
    fd = openSync(path, READ_FLAGS); // a FIFO swapped in opens at once and is refused below
  } catch (e) {
    throw errors.fromFs(e, path);
  }
  try {
    const size = sizeOf(fd);
    if (size < 0) throw errors.notRegularFile(path);
    if (size > maxSize) throw errors.tooLarge(size, maxSize, path);
    // `into` may lend memory for the bytes (the scanner's input): exactly `size` bytes, or null.
    const buf = (size > 0 ? into?.(size) : null) ?? Buffer.allocUnsafe(size);
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
