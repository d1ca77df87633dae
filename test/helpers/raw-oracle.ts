/**
 * An independent oracle for tests that check the library's answers: the image extensions and the
 * raw sidecar reading a strict outside reader would use (no code from src/), so an expectation
 * never comes from the code under test.
 */

/** The image extensions the oracle pairs (the library's defaults that the test trees use). */
export const ORACLE_IMAGE_EXTS = new Set(['jpg', 'jpeg', 'png', 'tif', 'tiff', 'bmp', 'webp', 'heic', 'heif', 'cr2', 'cr3', 'nef', 'arw', 'dng', 'raf', 'orf', 'rw2']);

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Raw sidecar bytes → object, or null when a strict reader would refuse them. */
export function parseRawSidecar(bytes: Buffer): Record<string, any> | null {
  let body = bytes;
  // The earlier tool's layout: u64-LE length of the JSON that follows.
  if (bytes.length >= 8 && bytes.readBigUInt64LE(0) === BigInt(bytes.length - 8) && bytes[8] === 0x7b) body = bytes.subarray(8);
  else if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) body = body.subarray(3);
  try {
    const v = JSON.parse(utf8.decode(body));
    return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}
