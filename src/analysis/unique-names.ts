/**
 * Names in the order first met, each once: a summary's operations, an image record's operation
 * lists. Looked up in the list itself while it is short (a few names are found faster there), in a
 * Set past LIST_MAX: `includes` over the list made a sidecar of 20,000 operations quadratic
 * (2·10^8 comparisons, 6 s of a 10 s `stats`).
 */
const LIST_MAX = 16;

export class UniqueNames {
  private set: Set<string> | null = null;

  /** `list`: the array the names are appended to (kept by the caller: it is the result). */
  constructor(readonly list: string[] = []) {}

  has(name: string): boolean {
    if (this.set === null && this.list.length > LIST_MAX) this.set = new Set(this.list);
    return this.set === null ? this.list.includes(name) : this.set.has(name);
  }

  /** Append `name` unless it is there; true when it was appended. */
  add(name: string): boolean {
    if (this.has(name)) return false;
    this.list.push(name);
    this.set?.add(name);
    return true;
  }
}
