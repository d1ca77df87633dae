/**
 * Canonical JSON for content hashes and cross-format equality: RFC 8785 (JCS) — object keys
 * sorted by UTF-16 code units, no whitespace, strings as JSON.stringify writes them, floats in
 * ECMAScript shortest round-trip form — with numbers typed by the number model (numbers.ts),
 * so that data differing only in a number's type hashes differently: an int is written as its
 * exact digits (also beyond 2^53, where JCS would round), a whole float as `25.0` and -0 as
 * `-0.0` (JCS writes `25` and `0`). For data without whole floats, -0 or ints beyond 2^53 the
 * output is exactly JCS. Iterative: any depth.
 */
import { errors } from '../errors.js';
import type { JsonObject, JsonValue } from '../types.js';
import { needsTypedText, notesOf, numberJson, validNote, type NumberNote, type NumberNotes } from './numbers.js';
import { findPointer } from './value.js';

function unrepresentable(root: JsonValue, bad: (x: unknown) => boolean, what: string) {
  const p = findPointer(root, bad);
  return errors.unrepresentable('canonical JSON', `${what} at ${p || '/'}`);
}

/** Finite numbers, none -0 and no notes: JSON.stringify writes them as we do. */
function isPlainNumberArray(a: readonly unknown[]): boolean {
  const notes = notesOf(a);
  if (notes !== undefined && notes.size > 0) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (typeof x !== 'number' || x - x !== 0 || (x === 0 && 1 / x < 0)) return false;
  }
  return true;
}

function noteAt(notes: NumberNotes | undefined, key: string | number, v: unknown): NumberNote | undefined {
  return notes !== undefined && typeof v === 'number' ? validNote(notes, key, v) : undefined;
}

export function canonicalJson(value: JsonValue): string {
  return writeCanonical(value, undefined);
}

/** Text is handed to `sink` in pieces of about this many UTF-16 units. */
const CHUNK_UNITS = 1 << 20;

/**
 * The canonical JSON of `value` in pieces, in order (their concatenation is canonicalJson(value)):
 * a hash of a 60 MB sidecar never holds the whole text, let alone its flattened copy.
 */
export function canonicalJsonChunks(value: JsonValue, sink: (piece: string) => void): void {
  writeCanonical(value, sink);
}

function writeCanonical(value: JsonValue, sink: ((piece: string) => void) | undefined): string {
  let out = '';
  // Open containers: the container, its sorted keys (objects) or null (arrays), next index.
  const containers: (JsonValue[] | JsonObject)[] = [];
  const keyLists: (string[] | null)[] = [];
  const indexes: number[] = [];
  const noteLists: (NumberNotes | undefined)[] = [];
  let v: unknown = value;
  let note: NumberNote | undefined;
  for (;;) {
    if (sink !== undefined && out.length >= CHUNK_UNITS) {
      sink(out);
      out = '';
    }
    // Emit v (opening it when it is a non-empty container).
    switch (typeof v) {
      case 'string':
        out += JSON.stringify(v);
        break;
      case 'number':
        if (v - v !== 0 && typeof note !== 'bigint') {
          throw unrepresentable(value, (x) => typeof x === 'number' && !Number.isFinite(x), 'non-finite number');
        }
        out += needsTypedText(v, note) ? numberJson(v, note) : JSON.stringify(v);
        break;
      case 'boolean':
        out += v ? 'true' : 'false';
        break;
      case 'object': {
        if (v === null) {
          out += 'null';
          break;
        }
        if (Array.isArray(v)) {
          if (v.length === 0) {
            out += '[]';
            break;
          }
          if (isPlainNumberArray(v)) {
            // Embeddings, landmarks: we and JSON.stringify write such numbers identically, and
            // one native call is far faster.
            out += JSON.stringify(v);
            break;
          }
          out += '[';
          const notes = notesOf(v);
          containers.push(v);
          keyLists.push(null);
          indexes.push(0);
          noteLists.push(notes);
          note = noteAt(notes, 0, v[0]);
          v = v[0];
          continue;
        }
        const keys = Object.keys(v).sort();
        if (keys.length === 0) {
          out += '{}';
          break;
        }
        out += '{' + JSON.stringify(keys[0]) + ':';
        const notes = notesOf(v);
        containers.push(v as JsonObject);
        keyLists.push(keys);
        indexes.push(0);
        noteLists.push(notes);
        v = (v as JsonObject)[keys[0]];
        note = noteAt(notes, keys[0], v);
        continue;
      }
      default: {
        const bad = v;
        throw unrepresentable(value, (x) => x === bad, `value of type ${typeof bad} (not JSON)`);
      }
    }
    // Advance to the next sibling, closing finished containers.
    for (;;) {
      const top = containers.length - 1;
      if (top < 0) {
        if (sink === undefined) return out;
        if (out.length > 0) sink(out);
        return '';
      }
      const c = containers[top];
      const keys = keyLists[top];
      const i = ++indexes[top];
      if (keys === null) {
        const arr = c as JsonValue[];
        if (i < arr.length) {
          out += ',';
          v = arr[i];
          note = noteAt(noteLists[top], i, v);
          break;
        }
        out += ']';
      } else {
        if (i < keys.length) {
          out += ',' + JSON.stringify(keys[i]) + ':';
          v = (c as JsonObject)[keys[i]];
          note = noteAt(noteLists[top], keys[i], v);
          break;
        }
        out += '}';
      }
      containers.pop();
      keyLists.pop();
      indexes.pop();
      noteLists.pop();
    }
  }
}
