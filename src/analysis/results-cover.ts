/**
 * Whether one sidecar's results are in another's: what `resolve` decides a copy may go by, and what
 * ranks an image's older stem copy after its own name-ext file (docs/PAIRING.md §4). Operation
 * keys compared by presence, a map of backend results backend by backend; values compared with
 * their types (the number model: 25.0 is not 25) where the older file was written to since.
 */
import { canonicalJson } from '../formats/canonical.js';
import { carryNote } from '../formats/numbers.js';
import type { JsonObject, JsonValue } from '../types.js';
import { isPlainObject } from './operations.js';

/**
 * A map of backend results (`{insightface: {...}, face_recognition: {...}}`): a non-empty object
 * whose every value is an object. A detector's own result always holds a flag, a list or a number
 * (`success`, `faces`, `objects`), so it is never taken for one.
 */
export function isBackendMap(v: JsonValue | undefined): v is JsonObject {
  if (!isPlainObject(v)) return false;
  const keys = Object.keys(v);
  return keys.length > 0 && keys.every((k) => isPlainObject(v[k]));
}

/** Same value and type (numbers by the number model: 25.0 is not 25). */
export function sameEntry(a: JsonObject, aKey: string, b: JsonObject, bKey: string): boolean {
  // Each value with its own note (looked up under its own key: under 'v' every note was missed, so
  // 25 sent over a kept 25.0, or one exact int beyond 2^53 over another, counted as unchanged).
  const x: JsonObject = { v: a[aKey] };
  const y: JsonObject = { v: b[bKey] };
  carryNote(a, aKey, x, 'v');
  carryNote(b, bKey, y, 'v');
  return canonicalJson(x) === canonicalJson(y);
}

/**
 * Is every result of `older` in `current`: each operation key (sidecar_info aside) present, and for
 * a map of backend results, each backend present? A later save replaces a result, so presence, not
 * equality, says the older copy has nothing the current file lacks.
 */
export function resultsCovered(older: JsonObject, current: JsonObject, olderIsNewer = false): boolean {
  for (const key of Object.keys(older)) {
    if (key === 'sidecar_info') continue;
    if (!Object.hasOwn(current, key)) return false;
    const o = older[key];
    const c = current[key];
    if (isBackendMap(o) && isPlainObject(c)) {
      for (const b of Object.keys(o)) if (!Object.hasOwn(c, b) || (olderIsNewer && !sameEntry(o, b, c, b))) return false;
    } else if (olderIsNewer && !sameEntry(older, key, current, key)) {
      return false;
    }
  }
  return true;
}
