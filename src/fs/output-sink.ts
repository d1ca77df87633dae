/**
 * The one atomic streaming sink (issue 12): every report, listing and export goes through it.
 * A file target appears only complete (a temp file beside it → fsync → rename → the directory
 * fsynced by the one policy in dir-sync.ts), so a reader never sees half a report and a killed run
 * leaves the previous file. Small pieces are gathered into ~64 KiB writes; a big piece (a 60 MB
 * sidecar's exported text, as bytes) goes out as it is. A stream target waits for 'drain' and
 * fails on 'error' or an early 'close' (EPIPE) instead of buffering without end.
 */
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { errors } from '../errors.js';
import { fsyncDirs } from './dir-sync.js';
import { removeStaleTempFiles, tempNameFor } from './temp-files.js';
import { RUNNING_AS_ROOT, writeTarget } from './atomic-write.js';
import { isStdoutName } from './stdout-name.js';

/** Entries are small; gather them into chunks of about this many UTF-16 units per write. */
const CHUNK = 64 * 1024;

export interface OutputSink {
  /** '-' for a stream (stdout), else the absolute path of the file being written. */
  readonly target: string;
  /** Buffer a piece; a promise when the caller should wait (a full chunk went downstream: back-pressure). */
  write(piece: string | Uint8Array): Promise<void> | undefined;
  /** Flush everything and make it final: a file's temp copy is fsynced and renamed into place. */
  close(): Promise<void>;
  /** Drop a partial output (never leaves a temp file behind; a stream gets nothing more). */
  abort(): Promise<void>;
  /**
   * A regular file's sink only: write everything buffered, then `bytes` over what was written at
   * `position` (a header whose counts are known at the end: export's .npy matrix).
   */
  writeAt?(position: number, bytes: Uint8Array): Promise<void>;
  /**
   * A regular file's sink only: `close` in two steps, for outputs of several files published
   * together (export's matrix and its rows): `ready` writes everything and fsyncs the temp copy;
   * `publish` renames it into place (and fsyncs the folder). `replaced` is the file it replaces
   * (the target, or the file its symlink names).
   */
  ready?(): Promise<void>;
  publish?(): Promise<void>;
  readonly replaced?: string;
}

/** `-o FILE` (null or a name of standard output, fs/stdout-name.ts: `stdout`), or a caller's stream. */
export async function openOutputSink(output: string | null | NodeJS.WritableStream, stdout: NodeJS.WritableStream): Promise<OutputSink> {
  if (output === null || (typeof output === 'string' && isStdoutName(output))) return new StreamSink(stdout);
  if (typeof output === 'string') return openFileTarget(resolve(output));
  return new StreamSink(output);
}

/**
 * A path: a regular file (or a new one) is replaced atomically; a device, FIFO or socket
 * (`-o /dev/null`, `-o /dev/stdout`) is written in place — renaming a temp file over it replaced
 * the device node itself (as root, /dev/null became a regular file); a folder is refused before
 * anything is written. As with every atomic write (atomic-write.ts), an existing file keeps its
 * mode (and, as root, its owner) and a symlink to a file is written through, never replaced: a
 * `-o export.jsonl` the user made 0600 for decrypted face embeddings stays 0600.
 */
async function openFileTarget(path: string): Promise<OutputSink> {
  let target: { dest: string; st: Stats | null };
  try {
    target = await writeTarget(path);
  } catch (e) {
    throw errors.fromFs(e, path);
  }
  const { dest, st } = target;
  if (st === null || st.isFile()) return FileSink.create(path, dest, st);
  if (st.isDirectory()) throw errors.fromFs(Object.assign(new Error('is a directory'), { code: 'EISDIR' }), path);
  return SpecialFileSink.create(path);
}


abstract class BufferedSink implements OutputSink {
  abstract readonly target: string;
  private buf = '';
  protected abstract send(chunk: string | Uint8Array): Promise<void>;
  abstract close(): Promise<void>;
  abstract abort(): Promise<void>;

  write(s: string | Uint8Array): Promise<void> | undefined {
    if (typeof s !== 'string' || s.length >= CHUNK) {
      // A big entry goes out as it is: appending it to the buffer would only copy it once more.
      return this.flush().then(() => this.send(s));
    }
    this.buf += s;
    if (this.buf.length < CHUNK) return undefined;
    return this.flush();
  }

  protected flush(): Promise<void> {
    if (this.buf.length === 0) return Promise.resolve();
    const chunk = this.buf;
    this.buf = '';
    return this.send(chunk);
  }
}

/** A temp file beside the file written (`dest`: the target, or the file its symlink names), renamed over it on commit. */
class FileSink extends BufferedSink {
  private closed = false;
  private constructor(
    readonly target: string,
    readonly replaced: string,
    private readonly tmp: string,
    private readonly fh: FileHandle,
  ) {
    super();
  }

  /** `existing`: the file being replaced, whose mode (and, as root, owner) the new one keeps. */
  static async create(path: string, dest: string, existing: Stats | null): Promise<FileSink> {
    // A run killed while writing this target (a pod evicted, then retried) left its temp file:
    // abandoned ones go now, as a save sweeps its sidecar's (temp-files.ts: dead writers of this
    // host at once, any writer's after an hour), so retries do not pile up copies of an export.
    await removeStaleTempFiles(dirname(dest), { targetPrefixes: [basename(dest)] }).catch(() => undefined);
    const tmp = join(dirname(dest), tempNameFor(basename(dest)));
    let fh: FileHandle;
    try {
      fh = await open(tmp, 'wx', existing ? existing.mode & 0o7777 : 0o666);
    } catch (e) {
      throw errors.fromFs(e, path);
    }
    try {
      if (existing) {
        // open's mode is filtered by the umask: set the old file's exactly.
        await fh.chmod(existing.mode & 0o7777);
        if (RUNNING_AS_ROOT) await fh.chown(existing.uid, existing.gid);
      }
    } catch (e) {
      await fh.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw errors.fromFs(e, path);
    }
    return new FileSink(path, dest, tmp, fh);
  }

  protected async send(chunk: string | Uint8Array): Promise<void> {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let off = 0;
    while (off < bytes.length) off += (await this.fh.write(bytes, off, bytes.length - off)).bytesWritten;
  }

  async writeAt(position: number, bytes: Uint8Array): Promise<void> {
    await this.flush();
    let off = 0;
    while (off < bytes.length) off += (await this.fh.write(bytes, off, bytes.length - off, position + off)).bytesWritten;
  }

  async close(): Promise<void> {
    await this.ready();
    await this.publish();
  }

  async ready(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
      await this.fh.sync();
      this.closed = true;
      await this.fh.close();
    } catch (e) {
      await this.abort();
      throw errors.fromFs(e, this.target);
    }
  }

  async publish(): Promise<void> {
    await this.ready();
    try {
      await rename(this.tmp, this.replaced);
    } catch (e) {
      await this.abort(); // never leave the temp file behind (a folder made in the target's place meanwhile)
      throw errors.fromFs(e, this.target);
    }
    await fsyncDirs([dirname(this.replaced)]);
  }

  async abort(): Promise<void> {
    if (!this.closed) await this.fh.close().catch(() => undefined);
    this.closed = true;
    await unlink(this.tmp).catch(() => undefined);
  }
}

/** A device, FIFO or socket path: written through one descriptor, as a shell's `>` would. */
class SpecialFileSink extends BufferedSink {
  private closed = false;
  private constructor(
    readonly target: string,
    private readonly fh: FileHandle,
  ) {
    super();
  }

  static async create(path: string): Promise<SpecialFileSink> {
    try {
      return new SpecialFileSink(path, await open(path, 'w'));
    } catch (e) {
      throw errors.fromFs(e, path);
    }
  }

  protected async send(chunk: string | Uint8Array): Promise<void> {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let off = 0;
    try {
      while (off < bytes.length) off += (await this.fh.write(bytes, off, bytes.length - off)).bytesWritten;
    } catch (e) {
      throw errors.fromFs(e, this.target);
    }
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.abort();
    }
  }

  async abort(): Promise<void> {
    if (!this.closed) await this.fh.close().catch(() => undefined);
    this.closed = true;
  }
}

/** A caller's stream: wait for 'drain' when write() says so; fail on 'error' or an early 'close'. */
class StreamSink extends BufferedSink {
  readonly target = '-';
  private failure: unknown = null;
  private waiter: { resolve: () => void; reject: (e: unknown) => void } | null = null;
  private readonly onError = (e: unknown) => this.fail(e);
  private readonly onClose = () => this.fail(errors.fromFs(Object.assign(new Error('output stream closed early'), { code: 'EPIPE' })));
  private readonly onDrain = () => {
    const w = this.waiter;
    this.waiter = null;
    w?.resolve();
  };

  constructor(private readonly stream: NodeJS.WritableStream) {
    super();
    stream.on('error', this.onError);
    stream.on('close', this.onClose);
    stream.on('drain', this.onDrain);
  }

  private fail(e: unknown): void {
    if (this.failure === null) this.failure = e ?? new Error('stream error');
    const w = this.waiter;
    this.waiter = null;
    w?.reject(this.failure);
  }

  protected send(chunk: string | Uint8Array): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.stream.write(chunk)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  async close(): Promise<void> {
    try {
      await this.flush();
      if (this.failure !== null) throw this.failure;
    } finally {
      this.detach();
    }
  }

  async abort(): Promise<void> {
    this.detach();
  }

  private detach(): void {
    this.stream.removeListener('error', this.onError);
    this.stream.removeListener('close', this.onClose);
    this.stream.removeListener('drain', this.onDrain);
  }
}
