/**
 * JSON output without building one giant string: large arrays (stats --list on 10^6 sidecars)
 * are written element by element. The bytes are exactly those of JSON.stringify(value, null, 2)
 * followed by a newline.
 */
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stringifyTyped } from '../formats/json.js';
import { needsTypedJson, type NumberNote } from '../formats/numbers.js';
import type { JsonValue } from '../types.js';
import type { Sink } from './sink.js';

/** Arrays longer than this are streamed; shorter values are stringified in one go. */
const STREAM_ARRAY_MIN = 256;
/** Spool write size. */
const CHUNK = 64 * 1024;

const pads: string[] = [''];
function pad(depth: number): string {
  while (pads.length <= depth) pads.push(pads[pads.length - 1] + '  ');
  return pads[depth];
}

/** Does any array below this value need streaming? (Objects are walked, leaves are not.) */
function hasLargeArray(v: unknown, depth = 0): boolean {
  if (v instanceof SpooledArray) return true;
  if (Array.isArray(v)) return v.length >= STREAM_ARRAY_MIN || v.some((x) => hasLargeArray(x, depth + 1));
  if (v !== null && typeof v === 'object' && depth < 4) return Object.values(v).some((x) => hasLargeArray(x, depth + 1));
  return false;
}

/** JSON.stringify at a nesting depth: its inner newlines get the outer indentation. */
function stringifyAt(v: unknown, depth: number): string {
  const s = JSON.stringify(v, null, 2) ?? 'null';
  return depth === 0 ? s : s.replaceAll('\n', '\n' + pad(depth));
}

async function writeValue(sink: Sink, v: unknown, depth: number): Promise<void> {
  if (v instanceof SpooledArray) {
    await v.writeTo(sink, depth);
    return;
  }
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') v = (v as { toJSON: () => unknown }).toJSON();
  if (!hasLargeArray(v)) {
    await sink.write(stringifyAt(v, depth));
    return;
  }
  const inner = pad(depth + 1);
  if (Array.isArray(v)) {
    await sink.write('[');
    for (let i = 0; i < v.length; i++) {
      // Await only on backpressure: 10^6 elements should not cost 10^6 extra microtasks.
      const sep = sink.write(i === 0 ? `\n${inner}` : `,\n${inner}`);
      if (sep) await sep;
      const el = v[i];
      // JSON.stringify writes null for array holes, undefined and functions.
      if (el === undefined || typeof el === 'function' || typeof el === 'symbol') sink.write('null');
      else await writeValue(sink, el, depth + 1);
    }
    await sink.write(`\n${pad(depth)}]`);
    return;
  }
  const obj = v as Record<string, unknown>;
  let first = true;
  await sink.write('{');
  for (const key of Object.keys(obj)) {
    const el = obj[key];
    if (el === undefined || typeof el === 'function' || typeof el === 'symbol') continue;
    await sink.write(`${first ? '' : ','}\n${inner}${JSON.stringify(key)}: `);
    first = false;
    await writeValue(sink, el, depth + 1);
  }
  await sink.write(first ? '}' : `\n${pad(depth)}}`);
}

/** Write `value` as 2-space indented JSON plus a newline. */
export async function writeJson(sink: Sink, value: unknown, note?: NumberNote): Promise<void> {
  // Sidecar data whose numbers need typed text (formats/numbers.ts: 25.0, big ints, -0.0) is written
  // in one piece; a bare number by its note (`note`: it has no container to carry one).
  if (needsTypedJson(value) || (note !== undefined && typeof value === 'number')) {
    await sink.write(stringifyTyped(value as JsonValue, '  ', '', note) + '\n');
    return;
  }
  await writeValue(sink, value, 0);
  await sink.write('\n');
}

/**
 * A JSON array too long to keep in memory (`convert --list --json` on 10^6 files) whose place in
 * the document comes before the end of the run: each element is stringified when it arrives and
 * appended to a temp file; `writeJson` copies it into the output where the array stands. The
 * bytes are those JSON.stringify(value, null, 2) gives for the array (elements are stored at
 * depth 0 and re-indented while copied: raw newlines only occur between tokens).
 */
export class SpooledArray {
  #fd: number | null = null;
  #path: string | null = null;
  #parts: string[] = [];
  #size = 0;
  #length = 0;

  /** `dir`: where the temp folder goes (default: the system's temp folder). */
  readonly #dir: string;
  constructor(dir: string = tmpdir()) {
    this.#dir = dir;
  }

  get length(): number {
    return this.#length;
  }

  /** Add one element (stringified now; nothing of it is kept in memory beyond the write buffer). */
  push(value: unknown): void {
    const text = value === undefined || typeof value === 'function' || typeof value === 'symbol' ? 'null' : (JSON.stringify(value, null, 2) ?? 'null');
    this.#parts.push(this.#length === 0 ? text : `,\n${text}`);
    this.#length++;
    this.#size += text.length + 2;
    if (this.#size >= CHUNK) this.#flush();
  }

  #flush(): void {
    if (this.#parts.length === 0) return;
    if (this.#fd === null) {
      const dir = mkdtempSync(join(this.#dir, 'isc-spool-'));
      this.#path = join(dir, 'array.json');
      this.#fd = openSync(this.#path, 'wx', 0o600);
    }
    writeSync(this.#fd, this.#parts.join(''));
    this.#parts = [];
    this.#size = 0;
  }

  /** Write the array at `depth` (the indentation of the line it starts on). */
  async writeTo(sink: Sink, depth: number): Promise<void> {
    if (this.#length === 0) {
      await sink.write('[]');
      return;
    }
    const inner = pad(depth + 1);
    const reindent = (s: string) => s.replaceAll('\n', `\n${inner}`);
    await sink.write(`[\n${inner}`);
    if (this.#fd !== null) {
      this.#flush();
      const stream = createReadStream(this.#path!, { encoding: 'utf8', highWaterMark: CHUNK });
      for await (const chunk of stream) {
        const p = sink.write(reindent(chunk as string));
        if (p) await p;
      }
    } else {
      await sink.write(reindent(this.#parts.join('')));
    }
    await sink.write(`\n${pad(depth)}]`);
  }

  /** Remove the temp file (always call, also after a failure). */
  dispose(): void {
    this.#parts = [];
    if (this.#fd !== null) {
      closeSync(this.#fd);
      this.#fd = null;
    }
    if (this.#path !== null) {
      rmSync(dirname(this.#path), { recursive: true, force: true });
      this.#path = null;
    }
  }
}
