/**
 * The host's byte order, and typed-array columns as little-endian text: what we store is
 * little-endian on every host (typed arrays are in host order; a big-endian host swaps).
 */
export const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

type Column = Float64Array | Int32Array | Uint32Array | Uint8Array;
type ColumnType<T extends Column> = { new (length: number): T; readonly BYTES_PER_ELEMENT: number };

/** A column's values as base64 text of their little-endian bytes (a JSON string: parsed at once, no number token per value). */
export function columnText(a: Column): string {
  const bytes = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  if (LITTLE_ENDIAN_HOST || a.BYTES_PER_ELEMENT === 1) return bytes.toString('base64');
  const swapped = Buffer.from(bytes);
  if (a.BYTES_PER_ELEMENT === 8) swapped.swap64();
  else swapped.swap32();
  return swapped.toString('base64');
}

/** The column `columnText` wrote, as a `Type` array; null when `text` is not one (not a string, not whole values). */
export function columnOf<T extends Column>(text: unknown, Type: ColumnType<T>): T | null {
  if (typeof text !== 'string') return null;
  const bytes = Buffer.from(text, 'base64');
  const size = Type.BYTES_PER_ELEMENT;
  // base64 decoding skips what is not base64: a text it would not give back is not a column.
  if (bytes.length % size !== 0 || bytes.toString('base64') !== text) return null;
  const out = new Type(bytes.length / size);
  const view = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  bytes.copy(view);
  if (!LITTLE_ENDIAN_HOST && size === 8) view.swap64();
  else if (!LITTLE_ENDIAN_HOST && size === 4) view.swap32();
  return out;
}
