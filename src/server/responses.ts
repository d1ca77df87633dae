/**
 * Writes JSON-lines responses with back-pressure: `ready()` tells the reader to stop taking
 * requests while the output is full, and `flushed()` resolves once every response has been
 * handed to the OS. A dead output (EPIPE: the client went away) is logged once, and later
 * responses are dropped instead of crashing the process.
 */
import { asSidecarError } from '../errors.js';

/** A number id written back as the request wrote it: `9007199254740993`, `25.0` and `-0.0` stay as sent (JSON.stringify rounded or retyped them). */
export class ExactId {
  constructor(readonly json: string) {}
}

export type RequestId = string | number | ExactId | null;

/** The id's JSON text in a response. */
export function idJson(id: RequestId): string {
  return id instanceof ExactId ? id.json : JSON.stringify(id);
}

export interface ErrorBody {
  code: string;
  message: string;
  path?: string;
  details?: Record<string, unknown>;
}

/** Any thrown value → the error body of a response, coded as the CLI codes it (errors.ts asSidecarError). */
export function errorBody(e: unknown): ErrorBody {
  return asSidecarError(e).toJSON();
}

/**
 * A result already written as JSON text, for data whose numbers need more than JSON.stringify
 * (formats/numbers.ts: `25.0`, big ints): one text or its parts in order, strings or UTF-8
 * bytes (a sidecar's own bytes go out without a round trip through a string). No line breaks.
 */
export class RawJsonResult {
  readonly parts: readonly (string | Buffer)[];
  constructor(text: string | Buffer | readonly (string | Buffer)[]) {
    this.parts = typeof text === 'string' || Buffer.isBuffer(text) ? [text] : text;
  }
}

export class ResponseWriter {
  private pending = 0;
  private drained: Promise<void> | null = null;
  private idleWaiters: (() => void)[] = [];
  private failed = false;
  private readonly closeListeners = new Set<() => void>();

  constructor(
    private readonly output: NodeJS.WritableStream,
    private readonly log: (msg: string) => void,
  ) {
    output.on('error', (e: Error) => this.fail(e));
  }

  /** True once the output has failed; nothing more can be delivered. */
  get closed(): boolean {
    return this.failed;
  }

  result(id: RequestId, result: unknown): void {
    let out: string | Buffer;
    try {
      const head = `{"id":${idJson(id)},"result":`;
      if (result instanceof RawJsonResult && result.parts.some((p) => typeof p !== 'string')) {
        out = Buffer.concat([head, ...result.parts, '}\n'].map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
      } else {
        // `undefined` (a handler without a value) must still give a valid response.
        const body = result instanceof RawJsonResult ? result.parts.join('') : JSON.stringify(result);
        out = `${head}${body ?? 'null'}}\n`;
      }
    } catch (e) {
      this.error(id, { code: 'INTERNAL', message: `result could not be serialised: ${(e as Error).message}` });
      return;
    }
    this.send(out);
  }

  error(id: RequestId, body: ErrorBody): void {
    let text: string;
    try {
      text = `{"id":${idJson(id)},"error":${JSON.stringify(body)}}\n`;
    } catch {
      text = `{"id":${idJson(id)},"error":${JSON.stringify({ code: body.code, message: body.message })}}\n`;
    }
    this.send(text);
  }

  /** null when the output can take more; otherwise a promise for its 'drain'. */
  ready(): Promise<void> | null {
    return this.failed ? null : this.drained;
  }

  /**
   * Call `fn` once the output fails (at once if it has); returns the call that takes it back.
   * A listener, not a promise: a wait taken back when what it raced settles leaves nothing behind,
   * where a promise pending for the server's life would keep one reaction per wait (stdio.ts).
   */
  onClose(fn: () => void): () => void {
    if (this.failed) {
      fn();
      return () => undefined;
    }
    this.closeListeners.add(fn);
    return () => void this.closeListeners.delete(fn);
  }

  /** Resolves when every response written so far has been flushed (or the output failed). */
  flushed(): Promise<void> {
    if (this.pending === 0 || this.failed) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private send(text: string | Buffer): void {
    if (this.failed) return;
    this.pending++;
    const ok = this.output.write(text, (err?: Error | null) => {
      if (err) this.fail(err);
      this.pending--;
      if (this.pending === 0) this.wakeIdle();
    });
    if (!ok && !this.drained) {
      this.drained = new Promise<void>((resolve) => {
        const done = () => {
          this.output.removeListener('drain', done);
          this.output.removeListener('error', done);
          this.drained = null;
          resolve();
        };
        this.output.on('drain', done);
        this.output.on('error', done);
      });
    }
  }

  private fail(e: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.log(`output closed, responses are dropped from now on: ${e.message}`);
    this.wakeIdle();
    const listeners = [...this.closeListeners];
    this.closeListeners.clear();
    for (const l of listeners) l();
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
