/**
 * JSON output without building one giant string: large arrays (stats --list on 10^6 sidecars)
 * are written element by element. The bytes are exactly those of JSON.stringify(value, null, 2)
 * followed by a newline.
 */
import { stringifyTyped } from '../formats/json.js';
import { hasNumberNotes } from '../formats/numbers.js';
import type { JsonValue } from '../types.js';
import type { Sink } from './sink.js';

/** Arrays longer than this are streamed; shorter values are stringified in one go. */
const STREAM_ARRAY_MIN = 256;

const pads: string[] = [''];
function pad(depth: number): string {
  while (pads.length <= depth) pads.push(pads[pads.length - 1] + '  ');
  return pads[depth];
}

/** Does any array below this value need streaming? (Objects are walked, leaves are not.) */
function hasLargeArray(v: unknown, depth = 0): boolean {
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
export async function writeJson(sink: Sink, value: unknown): Promise<void> {
  // Sidecar data whose numbers need typed text (formats/numbers.ts: 25.0, big ints) is written in one piece.
  if (hasNumberNotes(value as JsonValue)) {
    await sink.write(stringifyTyped(value as JsonValue, '  ', '', undefined) + '\n');
    return;
  }
  await writeValue(sink, value, 0);
  await sink.write('\n');
}
