/**
 * Measures the largest allocation a decoder ASKS for while it runs, to show that no length
 * read from untrusted bytes drives an allocation beyond the input's size.
 *
 * How: for the duration of one call, the global constructors the decoders use (Array, ArrayBuffer,
 * the typed arrays) are replaced by Proxies that record the requested size, and Buffer's alloc
 * functions are wrapped. Library code looks these globals up at call time, so it goes through
 * the probes; Node's internals use their own captured copies and are unaffected. Everything is
 * restored in `finally`. Test-only instrumentation — never use around concurrent work.
 */

export interface AllocationReport {
  /** Largest single request, in bytes (typed arrays, ArrayBuffers, Buffers). */
  maxBytes: number;
  /** Largest `new Array(n)` / `Array(n)` length requested. */
  maxArrayLength: number;
  /** What the largest request was, for messages. */
  largest: string;
}

type TypedCtor = { new (...args: unknown[]): unknown; BYTES_PER_ELEMENT: number };
const TYPED_NAMES = [
  'Uint8Array',
  'Int8Array',
  'Uint8ClampedArray',
  'Uint16Array',
  'Int16Array',
  'Uint32Array',
  'Int32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
] as const;
const BUFFER_ALLOCS = ['alloc', 'allocUnsafe', 'allocUnsafeSlow'] as const;

function requestedLength(arg: unknown): number {
  if (typeof arg === 'number') return arg;
  // Copying from an array-like allocates its length; a view over an ArrayBuffer allocates nothing.
  if (arg !== null && typeof arg === 'object' && !(arg instanceof ArrayBuffer) && 'length' in arg) {
    const n = (arg as { length: unknown }).length;
    return typeof n === 'number' ? n : 0;
  }
  return 0;
}

/** Run `fn` with allocation probes installed. Exceptions from `fn` are returned, not thrown. */
export function probeAllocations<T>(fn: () => T): { value?: T; error?: unknown; threw: boolean; alloc: AllocationReport } {
  const report: AllocationReport = { maxBytes: 0, maxArrayLength: 0, largest: '' };
  const g = globalThis as unknown as Record<string, unknown>;
  const saved = new Map<string, unknown>();
  const savedBuffer = new Map<string, unknown>();
  const noteBytes = (what: string, bytes: number) => {
    if (bytes > report.maxBytes) {
      report.maxBytes = bytes;
      report.largest = `${what}(${bytes} bytes)`;
    }
  };

  for (const name of TYPED_NAMES) {
    const ctor = g[name] as TypedCtor;
    saved.set(name, ctor);
    g[name] = new Proxy(ctor, {
      construct(target, args, newTarget) {
        noteBytes(name, requestedLength(args[0]) * target.BYTES_PER_ELEMENT);
        return Reflect.construct(target, args, newTarget === g[name] ? target : newTarget);
      },
    });
  }
  saved.set('ArrayBuffer', g.ArrayBuffer);
  g.ArrayBuffer = new Proxy(ArrayBuffer, {
    construct(target, args, newTarget) {
      noteBytes('ArrayBuffer', typeof args[0] === 'number' ? args[0] : 0);
      return Reflect.construct(target, args, newTarget === g.ArrayBuffer ? target : newTarget);
    },
  });
  saved.set('Array', g.Array);
  const noteArray = (args: unknown[]) => {
    if (args.length === 1 && typeof args[0] === 'number' && args[0] > report.maxArrayLength) report.maxArrayLength = args[0];
  };
  g.Array = new Proxy(Array, {
    construct(target, args, newTarget) {
      noteArray(args);
      return Reflect.construct(target, args, newTarget === g.Array ? target : newTarget);
    },
    apply(target, thisArg, args) {
      noteArray(args);
      return Reflect.apply(target, thisArg, args);
    },
  });
  const B = Buffer as unknown as Record<string, (size: number, ...rest: unknown[]) => Buffer>;
  for (const name of BUFFER_ALLOCS) {
    const orig = B[name];
    savedBuffer.set(name, orig);
    B[name] = (size: number, ...rest: unknown[]) => {
      noteBytes(`Buffer.${name}`, size);
      return orig.call(Buffer, size, ...rest);
    };
  }

  try {
    return { value: fn(), threw: false, alloc: report };
  } catch (e) {
    return { error: e, threw: true, alloc: report };
  } finally {
    for (const [name, v] of saved) g[name] = v;
    for (const [name, v] of savedBuffer) B[name] = v as (size: number) => Buffer;
  }
}
