/**
 * NUL-separated path lists on disk. The parent writes them once per library; floors, reads and
 * sha256sum consume them, so every figure covers exactly the same files. Lists are streamed in
 * both directions so 10^6 paths never sit in memory as one string.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';

const CHUNK = 1 << 20;

/** Appends paths to a list file through a 1 MiB buffer. */
export class ListWriter {
  private readonly fd: number;
  private buf = Buffer.allocUnsafe(CHUNK);
  private used = 0;
  count = 0;

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'w');
  }

  add(path: string): void {
    const need = Buffer.byteLength(path) + 1;
    if (this.used + need > this.buf.length) this.flush();
    if (need > this.buf.length) this.buf = Buffer.allocUnsafe(need);
    this.used += this.buf.write(path, this.used);
    this.buf[this.used++] = 0;
    this.count++;
  }

  private flush(): void {
    let off = 0;
    while (off < this.used) off += fs.writeSync(this.fd, this.buf, off, this.used - off);
    this.used = 0;
  }

  close(): void {
    this.flush();
    fs.closeSync(this.fd);
  }
}

/** Call `fn` for every path in a list file, in order, reading 1 MiB at a time. */
export function forEachListed(file: string, fn: (path: string) => void): void {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    let carry: Buffer | null = null;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      let start = 0;
      for (let i = 0; i < n; i++) {
        if (buf[i] !== 0) continue;
        const part = buf.subarray(start, i);
        fn(carry ? Buffer.concat([carry, part]).toString('utf8') : part.toString('utf8'));
        carry = null;
        start = i + 1;
      }
      if (start < n) carry = carry ? Buffer.concat([carry, buf.subarray(start, n)]) : Buffer.from(buf.subarray(start, n));
    }
    if (carry && carry.length > 0) fn(carry.toString('utf8'));
  } finally {
    fs.closeSync(fd);
  }
}

/** The first `limit` paths of a list file. */
export function firstListed(file: string, limit: number): string[] {
  const out: string[] = [];
  try {
    forEachListed(file, (p) => {
      if (out.length >= limit) throw STOP;
      out.push(p);
    });
  } catch (e) {
    if (e !== STOP) throw e;
  }
  return out;
}

const STOP = Symbol('stop');

/** Every folder of the tree under `root`, itself first (listed before a floor's clock starts). */
export function foldersOf(root: string): string[] {
  const dirs: string[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    dirs.push(dir);
    for (const d of fs.readdirSync(dir, { withFileTypes: true })) if (d.isDirectory()) stack.push(join(dir, d.name));
  }
  return dirs;
}
