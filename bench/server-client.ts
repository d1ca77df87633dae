/**
 * A minimal JSON-lines client for `image-sidecar serve --stdio`, made for measuring the server:
 * it reads only the head of each response line (id, result or error) and never parses result
 * bodies, so the figures are the server's and the pipe's, not the client's JSON.parse.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { errors } from '../src/errors.js';

const HEAD_BYTES = 48;
const HEAD_RE = /^\{"id":(\d+),"(result|error)"/;

export interface Reply {
  ok: boolean;
  /** The start of the response line (enough to show an error code). */
  head: string;
}

export interface ServerClientOptions {
  /** Node options before the CLI (e.g. `--expose-gc`, `--import` of a probe). */
  nodeArgs?: readonly string[];
  /** Each line the server writes on stderr; absent: stderr is inherited. */
  onStderrLine?: (line: string) => void;
}

export class ServerClient {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private nextId = 1;
  private head: Buffer[] = [];
  private headLen = 0;
  private exited: Promise<number | null>;
  private dead = false;

  constructor(cli: string, opts: ServerClientOptions = {}) {
    const onStderrLine = opts.onStderrLine;
    this.child = spawn(process.execPath, [...(opts.nodeArgs ?? []), cli, 'serve', '--stdio'], { stdio: ['pipe', 'pipe', onStderrLine ? 'pipe' : 'inherit'] });
    if (onStderrLine) {
      let rest = '';
      this.child.stderr!.setEncoding('utf8').on('data', (c: string) => {
        const lines = (rest + c).split('\n');
        rest = lines.pop()!;
        for (const l of lines) onStderrLine(l);
      });
    }
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code) => resolve(this.onExit(code)));
      this.child.on('error', () => resolve(this.onExit(null)));
    });
    this.child.stdout!.on('data', (chunk: Buffer) => this.onData(chunk));
    this.child.stdin!.on('error', () => undefined); // EPIPE after a crash: reported through 'exit'
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** A server that dies must not leave calls waiting for ever. */
  private onExit(code: number | null): number | null {
    this.dead = true;
    for (const done of this.waiting.values()) done({ ok: false, head: `server exited with ${code}` });
    this.waiting.clear();
    return code;
  }

  private onData(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      if (this.headLen < HEAD_BYTES && end > start) {
        const piece = chunk.subarray(start, Math.min(end, start + HEAD_BYTES - this.headLen));
        this.head.push(Buffer.from(piece));
        this.headLen += piece.length;
      }
      if (nl === -1) return;
      this.onLine(Buffer.concat(this.head).toString('utf8'));
      this.head = [];
      this.headLen = 0;
      start = nl + 1;
    }
  }

  private onLine(head: string): void {
    const m = HEAD_RE.exec(head);
    if (!m) throw errors.internal(`unexpected response line: ${head}`);
    const id = Number(m[1]);
    const done = this.waiting.get(id);
    if (!done) throw errors.internal(`response for unknown id ${id}`);
    this.waiting.delete(id);
    done({ ok: m[2] === 'result', head });
  }

  /** Send one request; resolves with its reply. */
  call(method: string, params: Record<string, unknown>): Promise<Reply> {
    return this.callRaw(method, JSON.stringify(params));
  }

  /** Send one request whose params are already JSON text (a soak sends the same big params many times). */
  callRaw(method: string, paramsJson: string): Promise<Reply> {
    const id = this.nextId++;
    if (this.dead) return Promise.resolve({ ok: false, head: 'server is not running' });
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.stdin!.write(`{"id":${id},"method":${JSON.stringify(method)},"params":${paramsJson}}\n`);
    });
  }

  /** Resolves with the server's exit code once it has exited. */
  whenExited(): Promise<number | null> {
    return this.exited;
  }

  /** Send the server a signal (the heap probe's SIGUSR2); false when it is gone. */
  signal(sig: NodeJS.Signals): boolean {
    return !this.dead && this.child.kill(sig);
  }

  /** The server's peak RSS so far (KiB), from /proc (Linux); null elsewhere. */
  peakRssKB(): number | null {
    return this.procStatusKB('VmHWM');
  }

  /** The server's resident set now (KiB), from /proc (Linux); null elsewhere. */
  rssKB(): number | null {
    return this.procStatusKB('VmRSS');
  }

  private procStatusKB(field: string): number | null {
    try {
      const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      return m ? Number(m[1]) : null;
    } catch {
      return null;
    }
  }

  /** End the input and wait for the server to exit. */
  async close(): Promise<number | null> {
    this.child.stdin!.end();
    return this.exited;
  }
}
