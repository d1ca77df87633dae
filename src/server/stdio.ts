/**
 * `image-sidecar serve --stdio`: a long-lived JSON-lines server, so that callers (the Python
 * pipelines) pay one process start instead of one per image.
 *
 *   request   {"id": 1, "method": "read", "params": {"image": "/p/IMG_1.jpg"}}
 *   response  {"id": 1, "result": {...}}   or   {"id": 1, "error": {"code": "NOT_FOUND", "message": "..."}}
 *
 * Responses carry their request's id and may come out of order. stdout carries responses only;
 * logs go to stderr. Input is read only as fast as responses can be written and as long as fewer
 * than `maxInFlight` requests are running, so neither side can make the other buffer without bound.
 */
import { errors } from '../errors.js';
import { Dispatcher } from './dispatch.js';
import { ByteLineSplitter, type RawLine } from '../fs/line-reader.js';
import { METHODS, useKeyring } from './methods.js';
import { ResponseWriter } from './responses.js';
import type { Keyring } from '../types.js';

export interface ServeStdioOptions {
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  log?: (msg: string) => void;
  /** Requests running at once before input is paused. Default 64. */
  maxInFlight?: number;
  /** Longest request line accepted. Default 256 MiB (a sidecar may be up to 64 MiB). */
  maxLineBytes?: number;
  /** Keys for encrypted sidecars, used by every method of this server. */
  keyring?: Keyring;
  /** The key files those keys came from: no request's output (export, a hash manifest) is one of them. */
  keyFiles?: readonly string[];
  /**
   * The keys as they are now, asked at each request (given, `keyring` is not used): a server outlives a key
   * rotation (rekey, then the new key file renamed over the old), and one holding the old key saved
   * new sidecars under it, which the rotated key file no longer opens. A throw fails the request.
   */
  keys?: () => Keyring | undefined;
}

export const DEFAULT_MAX_IN_FLIGHT = 64;
const CLOSED: unique symbol = Symbol('output closed');
export const DEFAULT_MAX_LINE_BYTES = 256 * 1024 * 1024;

function defaultLog(msg: string): void {
  process.stderr.write(`image-sidecar serve: ${msg}\n`);
}

/** The first bytes of an overlong request line kept, enough for its id. */
const OVERLONG_HEAD_BYTES = 256;

/**
 * `p`'s value, or CLOSED if the output fails first. The wait on the output is taken back as soon
 * as `p` settles. Not `Promise.race([p, closed])` with one `closed` promise for the server's life:
 * each race adds a reaction to `closed` that lives as long as it does, and that reaction holds the
 * race's promise and so the value it settled with — every chunk of request bytes ever read (RSS
 * grew ~1:1 with the bytes received: 145 MiB after 5,000 saves of a 512-float embedding, heap
 * flat at 7.5 MiB once fixed; test/long/server-soak.test.ts).
 */
function orClosed<T>(out: ResponseWriter, p: Promise<T>): Promise<T | typeof CLOSED> {
  return new Promise<T | typeof CLOSED>((resolve, reject) => {
    const off = out.onClose(() => resolve(CLOSED));
    p.then(
      (v) => {
        off();
        resolve(v);
      },
      (e: unknown) => {
        off();
        reject(e);
      },
    );
  });
}

/** Serve until the input ends; resolves once every request has been answered and flushed. */

export async function serveStdio(opts: ServeStdioOptions = {}): Promise<void> {
  const input = opts.input ?? process.stdin;
  const output = opts.output ?? process.stdout;
  const log = opts.log ?? defaultLog;
  const maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  useKeyring(opts.keyring, opts.keyFiles, opts.keys);

  const out = new ResponseWriter(output, log);
  const dispatcher = new Dispatcher(METHODS, out, log, Math.max(1, opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT));
  // The one bounded line reader (fs/line-reader.ts): an overlong line is counted through, never
  // held, so a runaway client cannot exhaust memory. A stream's chunks are never reused: no copies.
  const splitter = new ByteLineSplitter({ maxLineBytes, headBytes: OVERLONG_HEAD_BYTES, copyChunks: false });
  const onLine = (e: RawLine) => {
    // Once nobody can read the answers (EPIPE: the client went away), start no new work.
    if (out.closed) return;
    if (!e.tooLong) dispatcher.dispatch(e.data);
    else dispatcher.overlong(e.bytes, maxLineBytes, e.head);
  };

  // Read until the input ends or the output fails, whichever comes first: a client that died
  // may leave its end of stdin open, and we must not wait for it to finish the saves it started.
  const chunks = (input as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  let inputError: unknown;
  try {
    for (;;) {
      const next = await orClosed(out, chunks.next());
      if (next === CLOSED) break;
      if (next.done) {
        const last = splitter.end();
        if (last) onLine(last);
        break;
      }
      for (const line of splitter.push(next.value)) onLine(line);
      if (out.closed) break;
      if ((await orClosed(out, dispatcher.belowLimit())) === CLOSED) break;
      const drained = out.ready();
      if (drained) await drained;
    }
  } catch (e) {
    if (!out.closed) {
      inputError = e;
      log(`reading requests failed: ${(e as Error)?.message ?? String(e)}`);
    }
  }
  if (out.closed) {
    // Stop reading (without waiting for the client) and let the running requests finish:
    // each save completes its atomic write and releases its lock.
    void Promise.resolve(chunks.return?.()).catch(() => undefined);
  }

  await dispatcher.idle();
  await out.flushed();
  if (inputError !== undefined) throw errors.fromFs(inputError);
}
