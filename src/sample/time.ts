/**
 * Timestamps for generated content. Times are carried as microseconds since the epoch (UTC,
 * exact in a double until year 2255) and printed the way the Python pipeline prints
 * `datetime.isoformat()`: "2025-10-01T15:50:14.846973" (no zone, always 6 fraction digits).
 */

export const US_PER_SECOND = 1_000_000;
export const US_PER_MINUTE = 60 * US_PER_SECOND;
export const US_PER_HOUR = 60 * US_PER_MINUTE;
export const US_PER_DAY = 24 * US_PER_HOUR;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

/** "2025-10-01T15:50:14.846973" */
export function isoMicros(us: number): string {
  const wholeMs = Math.floor(us / 1000);
  const fraction = us - Math.floor(us / US_PER_SECOND) * US_PER_SECOND;
  return `${new Date(wholeMs).toISOString().slice(0, 19)}.${String(fraction).padStart(6, '0')}`;
}

/** Calendar parts of a UTC time, for names. */
export interface TimeParts {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export function timeParts(us: number): TimeParts {
  const d = new Date(Math.floor(us / 1000));
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
  };
}

/** "2025-09-20" (date folder names) */
export function dateFolderName(p: TimeParts): string {
  return `${p.year}-${pad2(p.month)}-${pad2(p.day)}`;
}

/** "20250920_143022" (camera-style file stems) */
export function compactStamp(p: TimeParts): string {
  return `${p.year}${pad2(p.month)}${pad2(p.day)}_${pad2(p.hour)}${pad2(p.minute)}${pad2(p.second)}`;
}

/** "20Sep2025" (game folder names) */
export function ddMonYYYY(p: TimeParts): string {
  return `${pad2(p.day)}${MONTHS[p.month - 1]}${p.year}`;
}

/** "143022" */
export function hhmmss(p: TimeParts): string {
  return `${pad2(p.hour)}${pad2(p.minute)}${pad2(p.second)}`;
}
