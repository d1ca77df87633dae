/**
 * RFC 4180 CSV output: records end with CRLF; a field is quoted when it holds a comma, a double
 * quote, CR or LF, and quotes inside it are doubled. So file names with commas, quotes or even
 * newlines survive a round trip through any conforming reader.
 *
 * Text cells are neutralised against CSV (formula) injection as OWASP recommends: a text that
 * starts with `=`, `+`, `-`, `@`, tab or CR gets a leading `'`, so a spreadsheet shows it as text
 * instead of running it (a file named `=HYPERLINK(…).jpg` is data, not a formula). Numbers are
 * never touched (-0.5 stays a number). `{ raw: true }` (the CLI's `--csv-raw`) writes text as is.
 */

export type CsvValue = string | number | boolean | null | undefined;

/** Record separator (RFC 4180 section 2.1). */
export const CSV_EOL = '\r\n';

export interface CsvOptions {
  /** Write text cells exactly as they are (no formula-injection guard). Default false. */
  raw?: boolean;
}

/** One field, quoted only when it must be. null / undefined become an empty field. */
export function csvField(value: CsvValue, opts?: CsvOptions): string {
  if (value === null || value === undefined) return '';
  let s: string;
  if (typeof value === 'string') s = opts?.raw === true ? value : neutralizeFormula(value);
  else s = String(value);
  if (!needsQuotes(s)) return s;
  return `"${s.replaceAll('"', '""')}"`;
}

/** One record, with its CRLF terminator. */
export function csvRow(values: readonly CsvValue[], opts?: CsvOptions): string {
  let out = '';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    out += csvField(values[i], opts);
  }
  return out + CSV_EOL;
}

/** `=SUM(A1)` → `'=SUM(A1)`: text a spreadsheet would evaluate gets a leading apostrophe (OWASP). */
export function neutralizeFormula(s: string): string {
  if (s.length === 0) return s;
  const c = s.charCodeAt(0);
  // = + - @ TAB CR
  return c === 61 || c === 43 || c === 45 || c === 64 || c === 9 || c === 13 ? `'${s}` : s;
}

function needsQuotes(s: string): boolean {
  // A plain loop: no regex allocation per field on the hot path.
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 44 /* , */ || c === 34 /* " */ || c === 10 /* LF */ || c === 13 /* CR */) return true;
  }
  return false;
}
