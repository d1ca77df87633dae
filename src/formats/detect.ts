/**
 * Format by content, never by extension. Cheap: looks at the first 16 bytes and the length
 * (for JSON: past an optional BOM and any leading whitespace, to the first other byte).
 */
import type { SidecarFormat } from '../types.js';
import { BIN_FLAG_ALIGNED, BIN_FLAG_ENCRYPTED, BIN_HEADER_SIZE, BIN_MAGIC, BIN_VERSION } from './bin.js';
import { isLegacy } from './legacy.js';

export function detectFormat(bytes: Uint8Array): SidecarFormat | 'unknown' {
  const len = bytes.length;
  if (len >= BIN_HEADER_SIZE && bytes[0] === BIN_MAGIC[0] && bytes[1] === BIN_MAGIC[1] && bytes[2] === BIN_MAGIC[2] && bytes[3] === BIN_MAGIC[3]) {
    if (bytes[4] !== BIN_VERSION || bytes[6] !== 0 || bytes[7] !== 0) return 'unknown';
    const flags = bytes[5];
    if (flags === 0) return 'bin';
    if (flags === BIN_FLAG_ALIGNED) return 'rkyv';
    if (flags === BIN_FLAG_ENCRYPTED) return 'bin'; // an encrypted bin (src/formats/encrypted-bin.ts)
    return 'unknown';
  }
  if (isLegacy(bytes)) return 'legacy';
  let i = 0;
  if (len >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3;
  for (; i < len; i++) {
    const c = bytes[i];
    if (c === 0x7b) return 'json';
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return 'unknown';
  }
  return 'unknown';
}
