/**
 * Key order (docs/FORMAT.md: a map's keys in insertion order). A JavaScript object lists keys
 * that look like array indices ("0", "32": canonical integers below 2^32 − 1) first, ascending,
 * whatever order they were written in: `{"person": 2, "32": 1, "0": 5}` read into an object
 * enumerates as "0", "32", "person". Decoders that meet such a key note the order they read on
 * the object (a non-enumerable, symbol-keyed note, as numbers.ts notes number types), and every
 * encoder writes keys in `orderedKeys` order, so a file read and written again keeps its order.
 *
 * A note counts only for the keys the object still has; keys added since follow in enumeration
 * order. Objects without index-like keys never get one (their enumeration order is insertion order).
 */

/** Symbol under which an object keeps the order its keys were read in. */
export const KEY_ORDER: unique symbol = Symbol('image-sidecar.keyOrder');

/** A key JavaScript enumerates before the others: a canonical integer below 2^32 − 1. */
export function isIndexKey(k: string): boolean {
  const n = k.length;
  if (n === 0 || n > 10) return false;
  const c0 = k.charCodeAt(0);
  if (c0 < 0x30 || c0 > 0x39 || (c0 === 0x30 && n > 1)) return false;
  for (let i = 1; i < n; i++) {
    const c = k.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return n < 10 || Number(k) < 4294967295;
}

/** The order noted on `obj`, if any. */
export function keyOrderOf(obj: object): readonly string[] | undefined {
  return (obj as { [KEY_ORDER]?: string[] })[KEY_ORDER];
}

/** Note that `obj`'s keys are in `order` (all of its keys), unless that is already how it enumerates them. */
export function noteKeyOrder(obj: object, order: string[]): void {
  const keys = Object.keys(obj);
  let same = keys.length === order.length;
  for (let i = 0; same && i < keys.length; i++) same = keys[i] === order[i];
  if (same) {
    if (keyOrderOf(obj) !== undefined) delete (obj as { [KEY_ORDER]?: string[] })[KEY_ORDER];
    return;
  }
  Object.defineProperty(obj, KEY_ORDER, { value: order, writable: true, configurable: true, enumerable: false });
}

/** `obj`'s keys in the order to write them: the noted order of the keys it still has, then the others. */
export function orderedKeys(obj: object): string[] {
  const keys = Object.keys(obj);
  const order = keyOrderOf(obj);
  if (order === undefined) return keys;
  const out: string[] = [];
  const taken = new Set<string>();
  for (const k of order) if (!taken.has(k) && Object.hasOwn(obj, k)) (out.push(k), taken.add(k));
  for (const k of keys) if (!taken.has(k)) out.push(k);
  return out;
}

/**
 * Before `obj[key] = …` adds `key`: where key order needs a note (an index-like key, or an object
 * that holds one or has a note), the order with `key` last; call `noteKeyOrder(obj, order)` once it
 * is set. Null when enumeration order will be insertion order.
 */
export function orderAdding(obj: object, key: string): string[] | null {
  if (Object.hasOwn(obj, key)) return null;
  const first = Object.keys(obj)[0];
  if (keyOrderOf(obj) === undefined && !isIndexKey(key) && (first === undefined || !isIndexKey(first))) return null;
  const order = orderedKeys(obj);
  order.push(key);
  return order;
}

/** Copy `from`'s order note to `to` (a copy with the same keys). */
export function copyKeyOrder(from: object, to: object): void {
  const order = keyOrderOf(from);
  if (order !== undefined) Object.defineProperty(to, KEY_ORDER, { value: [...order], writable: true, configurable: true, enumerable: false });
}

/** Do `a` and `b` (JSON values of the same shape) list every object's keys in the same order? Iterative. */
export function sameKeyOrders(a: unknown, b: unknown): boolean {
  const left: unknown[] = [a];
  const right: unknown[] = [b];
  while (left.length > 0) {
    const x = left.pop();
    const y = right.pop();
    if (x === null || y === null || typeof x !== 'object' || typeof y !== 'object') continue;
    if (Array.isArray(x) || Array.isArray(y)) {
      if (!Array.isArray(x) || !Array.isArray(y)) return false;
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        left.push(x[i]);
        right.push(y[i]);
      }
      continue;
    }
    const xk = orderedKeys(x);
    const yk = orderedKeys(y);
    if (xk.length !== yk.length) return false;
    for (let i = 0; i < xk.length; i++) {
      if (xk[i] !== yk[i]) return false;
      left.push((x as Record<string, unknown>)[xk[i]]);
      right.push((y as Record<string, unknown>)[yk[i]]);
    }
  }
  return true;
}
