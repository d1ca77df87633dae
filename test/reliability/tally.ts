/**
 * One row of the reliability report, and the loss accounting every harness shares: a check
 * that finds user data missing or changed adds the records (sidecar operations or files) and
 * their bytes to `recordsLost` / `bytesLost`; anything else wrong goes into `failures`.
 */
import { deepEqualJson } from '../../src/formats/codec.js';
import type { JsonObject, JsonValue } from '../../src/types.js';

export interface ReliabilityRow {
  /** Section of the report: crash, concurrency, fuzz, hostile. */
  area: string;
  name: string;
  /** How many kills, saves, cases... were run. */
  count: number;
  unit: string;
  bytesLost: number;
  recordsLost: number;
  /** What went wrong, one line each (empty when the row passes). */
  failures: string[];
  /** Set when the case could not run on this machine, with the reason. */
  skipped?: string;
  notes: string[];
  ms: number;
}

export function newRow(area: string, name: string, unit: string): ReliabilityRow {
  return { area, name, count: 0, unit, bytesLost: 0, recordsLost: 0, failures: [], notes: [], ms: 0 };
}

export function rowPassed(r: ReliabilityRow): boolean {
  return r.skipped !== undefined || (r.failures.length === 0 && r.bytesLost === 0 && r.recordsLost === 0);
}

/** Size of a JSON value as compact JSON text: the unit of "bytes lost" for sidecar data. */
export function jsonBytes(v: JsonValue | undefined): number {
  return v === undefined ? 0 : Buffer.byteLength(JSON.stringify(v) ?? '', 'utf8');
}

/** Keys of a sidecar that carry user data (everything but the bookkeeping block). */
export function operationKeys(data: JsonObject): string[] {
  return Object.keys(data).filter((k) => k !== 'sidecar_info');
}

export interface OperationLoss {
  records: number;
  bytes: number;
  missing: string[];
  changed: string[];
  unexpected: string[];
}

/**
 * Compare the operations of `actual` with `expected` (sidecar_info is checked by callers):
 * a missing or changed operation is a lost record; an operation nobody wrote is reported too.
 */
export function compareOperations(expected: JsonObject, actual: JsonObject | null): OperationLoss {
  const loss: OperationLoss = { records: 0, bytes: 0, missing: [], changed: [], unexpected: [] };
  for (const k of operationKeys(expected)) {
    const has = actual !== null && Object.prototype.hasOwnProperty.call(actual, k);
    if (has && deepEqualJson(actual![k], expected[k])) continue;
    loss.records++;
    loss.bytes += jsonBytes(expected[k]);
    (has ? loss.changed : loss.missing).push(k);
  }
  if (actual !== null) {
    for (const k of operationKeys(actual)) if (!Object.prototype.hasOwnProperty.call(expected, k)) loss.unexpected.push(k);
  }
  return loss;
}

export function addLoss(row: ReliabilityRow, loss: { records: number; bytes: number }): void {
  row.recordsLost += loss.records;
  row.bytesLost += loss.bytes;
}

/** Keep the report readable: at most `max` failure lines per row, then a count. */
export function fail(row: ReliabilityRow, message: string, max = 20): void {
  if (row.failures.length < max) row.failures.push(message);
  else if (row.failures.length === max) row.failures.push('… more failures not listed');
}

/** Run `fn`, timing it into `row.ms`; an exception becomes a failure line (never lost silently). */
export async function timed(row: ReliabilityRow, fn: () => Promise<void>): Promise<ReliabilityRow> {
  const t0 = performance.now();
  try {
    await fn();
  } catch (e) {
    fail(row, `harness error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  } finally {
    row.ms = Math.round(performance.now() - t0);
  }
  return row;
}

/** A readable message for assertion output. */
export function describeRow(r: ReliabilityRow): string {
  const head = `${r.area}/${r.name}: ${r.count} ${r.unit}, ${r.recordsLost} records / ${r.bytesLost} bytes lost`;
  return [head, ...r.failures.map((f) => `  - ${f}`), ...r.notes.map((n) => `  note: ${n}`)].join('\n');
}
