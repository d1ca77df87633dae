/**
 * Where a command's result goes: stdout, or a file that appears only complete (temp file in the
 * same directory → fsync → rename), so a reader never sees half a report. Small writes are
 * gathered into ~64 KiB chunks: one write per result would cost more than the result itself.
 */
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { errors } from '../errors.js';
import { tempNameFor } from '../fs/temp-files.js';

const CHUNK = 64 * 1024;

export interface Sink {
  /** '-' for stdout, else the absolute path of the file being written. */
  readonly target: string;
  /** Queue text; returns a promise only when the caller should wait (backpressure). */
  write(text: string): Promise<void> | undefined;
  /** Flush everything; for a file, make it durable and move it into place. */
  close(): Promise<void>;
  /** Give up: a file target is left untouched (the temp file is removed). */
  abort(): Promise<void>;
}

abstract class BufferedSink implements Sink {
  abstract readonly target: string;
  private parts: string[] = [];
  private size = 0;

  write(text: string): Promise<void> | undefined {
    this.parts.push(text);
    this.size += text.length;
    if (this.size < CHUNK) return undefined;
    return this.flush();
  }

  protected flush(): Promise<void> | undefined {
    if (this.parts.length === 0) return undefined;
    const chunk = this.parts.length === 1 ? this.parts[0] : this.parts.join('');
    this.parts = [];
    this.size = 0;
    return this.put(chunk);
  }

  /** Drop what is buffered and not yet written. */
  protected discard(): void {
    this.parts = [];
    this.size = 0;
  }

  protected abstract put(chunk: string): Promise<void> | undefined;
  abstract close(): Promise<void>;
  abstract abort(): Promise<void>;
}

class StreamSink extends BufferedSink {
  readonly target = '-';
  constructor(private readonly stream: NodeJS.WritableStream) {
    super();
  }
  protected put(chunk: string): Promise<void> | undefined {
    if (this.stream.write(chunk)) return undefined;
    return new Promise((res) => this.stream.once('drain', () => res()));
  }
  async close(): Promise<void> {
    await this.flush();
  }
  async abort(): Promise<void> {
    // What is already written cannot be taken back; at least add no more of a failed result.
    this.discard();
  }
}

class FileSink extends BufferedSink {
  private pending: Promise<void> = Promise.resolve();
  private failed: unknown = null;
  private constructor(
    readonly target: string,
    private readonly tempPath: string,
    private readonly fh: FileHandle,
  ) {
    super();
  }

  static async create(target: string): Promise<FileSink> {
    const abs = resolve(target);
    const temp = join(dirname(abs), tempNameFor(basename(abs)));
    try {
      return new FileSink(abs, temp, await open(temp, 'wx', 0o666));
    } catch (e) {
      throw errors.fromFs(e, abs);
    }
  }

  protected put(chunk: string): Promise<void> {
    // Writes are chained so they land in order; the caller awaits only when it wants to.
    this.pending = this.pending.then(async () => {
      if (this.failed) return;
      try {
        await this.fh.write(chunk);
      } catch (e) {
        this.failed = e;
      }
    });
    return this.pending;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.pending;
    try {
      if (this.failed) throw this.failed;
      await this.fh.sync();
      await this.fh.close();
      await rename(this.tempPath, this.target);
    } catch (e) {
      await this.fh.close().catch(() => undefined);
      await unlink(this.tempPath).catch(() => undefined);
      throw errors.fromFs(e, this.target);
    }
    await syncDir(dirname(this.target));
  }

  async abort(): Promise<void> {
    await this.pending.catch(() => undefined);
    await this.fh.close().catch(() => undefined);
    await unlink(this.tempPath).catch(() => undefined);
  }
}

/** Make the rename durable; some file systems cannot fsync a directory, which is fine. */
async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // best effort
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/** A sink for `-o FILE|-`: null or '-' is the given stream (stdout). */
export async function openSink(output: string | null, stdout: NodeJS.WritableStream): Promise<Sink> {
  return output === null || output === '-' ? new StreamSink(stdout) : FileSink.create(output);
}
