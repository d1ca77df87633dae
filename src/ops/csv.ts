/**
 * RFC 4180 CSV output: records end with CRLF; a field is quoted when it holds a comma, a double
 * quote, CR or LF, and quotes inside it are doubled. So file names with commas, quotes or even
 * newlines survive a round trip through any conforming reader.
 */

export type CsvValue = string | number | boolean | null | undefined;

/** Record separator (RFC 4180 section 2.1). */
export const CSV_EOL = '\r\n';

/** One field, quoted only when it must be. null / undefined become an empty field. */
export function csvField(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  const s = typeof value === 'string' ? value : String(value);
  if (!needsQuotes(s)) return s;
  return `"${s.replaceAll('"', '""')}"`;
}

/** One record, with its CRLF terminator. */
export function csvRow(values: readonly CsvValue[]): string {
  let out = '';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    out += csvField(values[i]);
  }
  return out + CSV_EOL;
}

function needsQuotes(s: string): boolean {
  // A plain loop: no regex allocation per field on the hot path.
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 44 /* , */ || c === 34 /* " */ || c === 10 /* LF */ || c === 13 /* CR */) return true;
  }
  return false;
}
