/**
 * The host's byte order, and typed-array columns as little-endian bytes: what we store is
 * little-endian on every host (typed arrays are in host order; a big-endian host swaps).
 */
export const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

type Column = Float64Array | Int32Array | Uint32Array | Uint8Array;
type ColumnType<T extends Column> = { new (length: number): T; readonly BYTES_PER_ELEMENT: number };

/** A column's values as their little-endian bytes (a copy: validate's tree memo keeps them as a byte string, incremental/frame-json.ts). */
export function columnBytes(a: Column): Buffer {
  const bytes = Buffer.from(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  if (!LITTLE_ENDIAN_HOST && a.BYTES_PER_ELEMENT === 8) bytes.swap64();
  else if (!LITTLE_ENDIAN_HOST && a.BYTES_PER_ELEMENT === 4) bytes.swap32();
  return bytes;
}

/**
 * The column `columnBytes` wrote, as a `Type` array; null when `bytes` is not one (not bytes, not
 * whole values). A view of `bytes` where it can be (a little-endian host, bytes at a multiple of
 * the type's size: a tree memo's, read whole into a buffer of its own), else a copy: the caller
 * does not write to `bytes` while it reads the column.
 */
export function columnOf<T extends Column>(bytes: unknown, Type: ColumnType<T> & { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T }): T | null {
  if (!(bytes instanceof Uint8Array)) return null;
  const size = Type.BYTES_PER_ELEMENT;
  if (bytes.byteLength % size !== 0) return null;
  if ((LITTLE_ENDIAN_HOST || size === 1) && bytes.byteOffset % size === 0) return new Type(bytes.buffer, bytes.byteOffset, bytes.byteLength / size);
  const out = new Type(bytes.byteLength / size);
  const view = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  view.set(bytes);
  if (!LITTLE_ENDIAN_HOST && size === 8) view.swap64();
  else if (!LITTLE_ENDIAN_HOST && size === 4) view.swap32();
  return out;
}
