/**
 * Parent side of test/helpers/crash-child.ts: spawn, wait for "ready", send one command, read
 * lines, SIGKILL. A child is usually spawned ahead of time so its start-up (loading the
 * library takes a few hundred ms on a busy machine) overlaps the previous step.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The compiled child script, relative to this compiled file (dist-test/test/reliability/). */
export const CHILD_SCRIPT = fileURLToPath(new URL('../helpers/crash-child.js', import.meta.url));

export interface ChildSpawnOptions {
  /** Run the child as this user and group (root only). */
  uid?: number;
  gid?: number;
  /** Command prefix, e.g. ['unshare', '-m', '--propagation', 'private']. */
  wrap?: string[];
  /** Library modules to load before "ready": save | convert | lock | all (default). */
  preload?: 'save' | 'convert' | 'lock' | 'all';
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class Child {
  readonly proc: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<ChildExit>;
  readonly ready: Promise<void>;
  private waiters: { test: (line: string) => boolean; resolve: (line: string | null) => void }[] = [];
  private ended = false;
  private partial = '';

  constructor(opts: ChildSpawnOptions = {}) {
    const argv = [...(opts.wrap ?? []), process.execPath, CHILD_SCRIPT, opts.preload ?? 'all'];
    const spawnOpts: SpawnOptions = { stdio: ['pipe', 'pipe', 'pipe'] };
    if (opts.uid !== undefined) spawnOpts.uid = opts.uid;
    if (opts.gid !== undefined) spawnOpts.gid = opts.gid;
    this.proc = spawn(argv[0], argv.slice(1), spawnOpts);
    this.proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.onData(chunk));
    this.proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.proc.stdin!.on('error', () => undefined); // EPIPE when the child is already gone
    this.exited = new Promise((resolve) => {
      this.proc.on('error', (e) => {
        this.stderr += String(e);
        this.finish();
        resolve({ code: -1, signal: null });
      });
      this.proc.on('close', (code, signal) => {
        this.finish();
        resolve({ code, signal });
      });
    });
    this.ready = this.waitFor((l) => l === 'ready').then((l) => {
      if (l === null) throw new Error(`child exited before it was ready: ${this.stderr}`);
    });
    this.ready.catch(() => undefined); // observed by whoever awaits it
  }

  private onData(chunk: string): void {
    this.partial += chunk;
    let nl: number;
    while ((nl = this.partial.indexOf('\n')) >= 0) {
      const line = this.partial.slice(0, nl);
      this.partial = this.partial.slice(nl + 1);
      this.lines.push(line);
      this.waiters = this.waiters.filter((w) => {
        if (!w.test(line)) return true;
        w.resolve(line);
        return false;
      });
    }
  }

  private finish(): void {
    this.ended = true;
    for (const w of this.waiters) w.resolve(null);
    this.waiters = [];
  }

  /** The first line (already received or future) that passes `test`; null if the child ends first. */
  waitFor(test: (line: string) => boolean, timeoutMs?: number): Promise<string | null> {
    const seen = this.lines.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const w = {
        test,
        resolve: (l: string | null) => {
          if (timer) clearTimeout(timer);
          resolve(l);
        },
      };
      this.waiters.push(w);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          resolve(null);
        }, timeoutMs);
      }
    });
  }

  send(command: object): void {
    this.proc.stdin!.write(`${JSON.stringify(command)}\n`);
  }

  /** SIGKILL (no chance to clean up) and wait until the process is gone. */
  async kill(): Promise<ChildExit> {
    if (!this.ended) this.proc.kill('SIGKILL');
    return this.exited;
  }

  /** The JSON payload of the "done {...}" line, or an error carrying the child's output. */
  async result<T>(timeoutMs?: number): Promise<T> {
    const line = await this.waitFor((l) => l.startsWith('done') || l.startsWith('error '), timeoutMs);
    if (line === null || line.startsWith('error ')) {
      if (line === null) await this.kill();
      throw new Error(`child failed: ${line ?? 'no result'}\nstdout: ${this.lines.join('\n')}\nstderr: ${this.stderr}`);
    }
    return (line.length > 5 ? JSON.parse(line.slice(5)) : undefined) as T;
  }
}

/** Spawn a child, wait until it is ready, send `command` and return its result. */
export async function runChild<T>(command: object, opts: ChildSpawnOptions = {}, timeoutMs = 60_000): Promise<T> {
  const child = new Child(opts);
  try {
    await child.ready;
    child.send(command);
    return await child.result<T>(timeoutMs);
  } finally {
    await child.kill();
  }
}
