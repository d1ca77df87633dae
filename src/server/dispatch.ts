/**
 * Turns request lines into method calls and responses. Requests run concurrently, ordered only
 * where it matters: a save waits for earlier saves to the same image, a read waits for earlier
 * saves to its image (so a pipelined save-then-read sees the save), and tree operations run one
 * at a time. Every request gets exactly one response, whatever happens.
 */
import * as path from 'node:path';
import { errors, isSidecarError } from '../errors.js';
import { parseJsonText } from '../formats/json.js';
import { DEFAULT_MAX_DEPTH } from '../formats/value.js';
import type { MethodSpec } from './methods.js';
import type { Params } from './params.js';
import { ExactId, idJson, type RequestId, type ResponseWriter, errorBody } from './responses.js';
import { numberJson, numberNoteOf } from '../formats/numbers.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const lenientUtf8 = new TextDecoder('utf-8');
/** Request nesting: a sidecar's data (default limit) inside {"params": {"data": ...}}, plus room. */
const REQUEST_MAX_DEPTH = DEFAULT_MAX_DEPTH + 8;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isValidId(v: unknown): v is string | number {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

/** `{"id": <number or string>,` at the start of a line, as every client writes its requests. */
const LEADING_ID = /^\s*\{\s*"id"\s*:\s*(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\\u0000-\u001f]|\\.)*")\s*,/;

/**
 * The id of a line that cannot be parsed whole (nesting too deep, a number out of range, too long)
 * but starts with it: the error goes to that request, whose caller would otherwise wait for its
 * answer forever (the Python client's save of data nested 600 deep hung). Null when there is none.
 */
export function leadingId(text: string): RequestId {
  const m = LEADING_ID.exec(text);
  if (m === null) return null;
  const v: unknown = JSON.parse(m[1]);
  if (!isValidId(v)) return null;
  return typeof v === 'number' ? new ExactId(m[1]) : v;
}

export class Dispatcher {
  private inFlightCount = 0;
  /** Tail of the saves queued per resolved image path. */
  private readonly imageTails = new Map<string, Promise<unknown>>();
  private treeTail: Promise<unknown> = Promise.resolve();
  private waiters: (() => void)[] = [];

  constructor(
    private readonly methods: ReadonlyMap<string, MethodSpec>,
    private readonly out: ResponseWriter,
    private readonly log: (msg: string) => void,
    private readonly maxInFlight: number,
  ) {}

  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Resolves when fewer than maxInFlight requests are running (at once if already so). */
  belowLimit(): Promise<void> {
    if (this.inFlightCount < this.maxInFlight) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Resolves when no request is running. */
  async idle(): Promise<void> {
    while (this.inFlightCount > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** A request line that was too long to keep (`head`: its first bytes, for its id). */
  overlong(bytes: number, limit: number, head = ''): void {
    this.out.error(leadingId(head), errorBody(errors.tooLarge(bytes, limit, undefined, 'request line')));
  }

  /** Parse one line and start its request; the response is written when it completes. */
  dispatch(bytes: Uint8Array): void {
    let text: string;
    let req: unknown;
    try {
      text = utf8.decode(bytes);
    } catch {
      // Its id, when the line starts with one (a Latin-1 file name further on): its caller waits for it.
      const id = leadingId(lenientUtf8.decode(bytes.subarray(0, 4096)));
      this.out.error(typeof id === 'string' && id.includes('\ufffd') ? null : id, { code: 'USAGE', message: 'request line is not valid UTF-8' });
      return;
    }
    if (text.trim().length === 0) return; // blank lines are keep-alives, not requests
    try {
      // The number model (formats/numbers.ts): Python's 10.0 stays a float, big ints stay exact;
      // a duplicate key is refused rather than silently resolved.
      req = parseJsonText(text, { maxDepth: REQUEST_MAX_DEPTH });
    } catch (e) {
      // Data nested too deep is TOO_DEEP, as the same data is to `write --data` and saveSidecar
      // (a client must not see another code because its data made the whole line too deep).
      const code = isSidecarError(e) && e.code === 'TOO_DEEP' ? 'TOO_DEEP' : 'USAGE';
      this.out.error(leadingId(text), { code, message: `request line is not valid JSON: ${(e as Error).message}` });
      return;
    }
    if (!isObject(req)) {
      this.out.error(null, { code: 'USAGE', message: 'a request must be a JSON object {"id", "method", "params"}' });
      return;
    }
    const id = !isValidId(req.id) ? null : typeof req.id === 'number' ? new ExactId(numberJson(req.id, numberNoteOf(req, 'id'))) : req.id;
    if (id === null) {
      this.out.error(null, { code: 'USAGE', message: 'request has no "id" (a string or a number)' });
      return;
    }
    if (typeof req.method !== 'string') {
      this.out.error(id, { code: 'USAGE', message: 'request has no "method" (a string)' });
      return;
    }
    const spec = this.methods.get(req.method);
    if (spec === undefined) {
      this.out.error(id, { code: 'USAGE', message: `unknown method "${req.method}" (known: ${[...this.methods.keys()].join(', ')})` });
      return;
    }
    const params = req.params === undefined || req.params === null ? {} : req.params;
    if (!isObject(params)) {
      this.out.error(id, { code: 'USAGE', message: '"params" must be a JSON object' });
      return;
    }
    this.start(id, spec, params);
  }

  private start(id: RequestId, spec: MethodSpec, params: Params): void {
    this.inFlightCount++;
    this.schedule(spec, params)
      .then(
        (result) => this.out.result(id, result),
        (e: unknown) => {
          const body = errorBody(e);
          if (body.code === 'INTERNAL') this.log(`request ${idJson(id)} failed: ${(e as Error)?.stack ?? String(e)}`);
          this.out.error(id, body);
        },
      )
      .finally(() => {
        this.inFlightCount--;
        const waiters = this.waiters;
        this.waiters = [];
        for (const w of waiters) w();
      });
  }

  private schedule(spec: MethodSpec, params: Params): Promise<unknown> {
    // async: a handler that throws synchronously (bad params) still yields a rejected promise.
    const run = async () => spec.handle(params);
    switch (spec.scheduling) {
      case 'free':
        return run();
      case 'tree': {
        const p = this.treeTail.then(run, run);
        this.treeTail = p.catch(() => undefined);
        return p;
      }
      case 'image-read':
      case 'image-write': {
        // An invalid `image` param is reported by the handler itself; it needs no ordering.
        const image = params.image;
        if (typeof image !== 'string' || image.length === 0) return run();
        const key = path.resolve(image);
        const tail = this.imageTails.get(key);
        if (spec.scheduling === 'image-read') return tail ? tail.then(run, run) : run();
        const p = tail ? tail.then(run, run) : run();
        const settled = p.catch(() => undefined);
        this.imageTails.set(key, settled);
        // Forget the image once its last queued save is done, so the map stays small.
        void settled.then(() => {
          if (this.imageTails.get(key) === settled) this.imageTails.delete(key);
        });
        return p;
      }
    }
  }
}
