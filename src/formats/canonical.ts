/**
 * RFC 8785 (JCS) canonical JSON: object keys sorted by UTF-16 code units, no whitespace,
 * numbers in ECMAScript shortest round-trip form (-0 becomes "0"), strings as JSON.stringify
 * writes them. Used for content hashes and cross-format equality. Iterative: any depth.
 */
import { errors } from '../errors.js';
import type { JsonObject, JsonValue } from '../types.js';
import { findPointer } from './value.js';

function unrepresentable(root: JsonValue, bad: (x: unknown) => boolean, what: string) {
  const p = findPointer(root, bad);
  return errors.unrepresentable('canonical JSON', `${what} at ${p || '/'}`);
}

function isFiniteNumberArray(a: readonly unknown[]): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (typeof x !== 'number' || x - x !== 0) return false;
  }
  return true;
}

export function canonicalJson(value: JsonValue): string {
  let out = '';
  // Open containers: the container, its sorted keys (objects) or null (arrays), next index.
  const containers: (JsonValue[] | JsonObject)[] = [];
  const keyLists: (string[] | null)[] = [];
  const indexes: number[] = [];
  let v: unknown = value;
  for (;;) {
    // Emit v (opening it when it is a non-empty container).
    switch (typeof v) {
      case 'string':
        out += JSON.stringify(v);
        break;
      case 'number':
        if (v - v !== 0) {
          throw unrepresentable(value, (x) => typeof x === 'number' && !Number.isFinite(x), 'non-finite number');
        }
        out += JSON.stringify(v);
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
          if (isFiniteNumberArray(v)) {
            // Embeddings, landmarks: JCS and JSON.stringify write finite numbers identically
            // (ECMAScript shortest form, -0 as 0), and one native call is far faster.
            out += JSON.stringify(v);
            break;
          }
          out += '[';
          containers.push(v);
          keyLists.push(null);
          indexes.push(0);
          v = v[0];
          continue;
        }
        const keys = Object.keys(v).sort();
        if (keys.length === 0) {
          out += '{}';
          break;
        }
        out += '{' + JSON.stringify(keys[0]) + ':';
        containers.push(v as JsonObject);
        keyLists.push(keys);
        indexes.push(0);
        v = (v as JsonObject)[keys[0]];
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
      if (top < 0) return out;
      const c = containers[top];
      const keys = keyLists[top];
      const i = ++indexes[top];
      if (keys === null) {
        const arr = c as JsonValue[];
        if (i < arr.length) {
          out += ',';
          v = arr[i];
          break;
        }
        out += ']';
      } else {
        if (i < keys.length) {
          out += ',' + JSON.stringify(keys[i]) + ':';
          v = (c as JsonObject)[keys[i]];
          break;
        }
        out += '}';
      }
      containers.pop();
      keyLists.pop();
      indexes.pop();
    }
  }
}
