/**
 * The one way we write a timestamp: UTC, microseconds, explicit offset —
 * "2024-07-03T04:24:40.825347+00:00", the Python pipeline's `datetime.now(timezone.utc).isoformat()`
 * style. Python 3.9's `datetime.fromisoformat` (used by the pipeline) rejects the "Z" suffix that
 * `Date.toISOString()` writes, so nothing we write uses that.
 */

/** `d` (default: now) as "YYYY-MM-DDTHH:MM:SS.ffffff+00:00"; a Date carries milliseconds, so the last three digits are 0. */
export function isoTimestamp(d: Date = new Date()): string {
  const iso = d.toISOString(); // "2024-07-03T04:24:40.825Z" (or ±YYYYYY-… outside years 0–9999)
  return `${iso.slice(0, -1)}000+00:00`;
}
