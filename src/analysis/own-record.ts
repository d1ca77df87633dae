/**
 * Records keyed by names that come from files (operation names, object classes): own keys only.
 * An operation named `constructor` or `__proto__` is a key like any other: a plain `record[key]`
 * reads Object.prototype's members for the first (stats counted "function Object() {…}1") and
 * sets the prototype for the second (the count was lost).
 */

/** Set a record entry, `__proto__` included. */
export function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
  else record[key] = value;
}

/** The record's own entry, or undefined (never an inherited member). */
export function getOwn<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Add `v` to a count (0 when absent). */
export function addOwn(record: Record<string, number>, key: string, v = 1): void {
  setOwn(record, key, (getOwn(record, key) ?? 0) + v);
}
