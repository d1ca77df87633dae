/**
 * Bounded asynchronous file creation for the generator: up to `limit` writes in flight, so
 * disk I/O (libuv threads) overlaps with content generation (main thread) while memory stays
 * bounded. Files are created exclusively ('wx'): the generator never overwrites anything.
 */
import * as fs from 'node:fs';
import { errors, type SidecarError } from '../errors.js';

export class BoundedWriter {
  private inFlight = 0;
  private wake: (() => void) | undefined;
  private failure: SidecarError | undefined;

  constructor(private readonly limit = 32) {}

  private readonly done = (path: string) => (err: NodeJS.ErrnoException | null) => {
    this.inFlight--;
    if (err && this.failure === undefined) this.failure = errors.fromFs(err, path);
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  };

  private async slot(): Promise<void> {
    if (this.failure) throw this.failure;
    while (this.inFlight >= this.limit) {
      await new Promise<void>((resolve) => (this.wake = resolve));
      if (this.failure) throw this.failure;
    }
    this.inFlight++;
  }

  async writeFile(path: string, data: string | Uint8Array): Promise<void> {
    await this.slot();
    fs.writeFile(path, data, { flag: 'wx' }, this.done(path));
  }

  async symlink(target: string, path: string): Promise<void> {
    await this.slot();
    fs.symlink(target, path, 'file', this.done(path));
  }

  /** Wait for every write started so far; rethrow the first failure. */
  async drain(): Promise<void> {
    while (this.inFlight > 0) await new Promise<void>((resolve) => (this.wake = resolve));
    if (this.failure) throw this.failure;
  }
}
