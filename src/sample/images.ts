/**
 * Tiny fake image files: the right magic bytes for their type and a few hundred
 * deterministic filler bytes. Nothing reads pixels; discovery only needs names and files.
 */
import type { Rng } from './prng.js';

const JPEG_HEAD = [0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00];
const JPEG_TAIL = [0xff, 0xd9];
const PNG_HEAD = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52];
const PNG_TAIL = [0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82];
const HEIC_HEAD = [0x00, 0x00, 0x00, 0x18, 0x66, 0x74, 0x79, 0x70, 0x68, 0x65, 0x69, 0x63, 0x00, 0x00, 0x00, 0x00, 0x6d, 0x69, 0x66, 0x31, 0x68, 0x65, 0x69, 0x63];
const CR2_HEAD = [0x49, 0x49, 0x2a, 0x00, 0x10, 0x00, 0x00, 0x00, 0x43, 0x52, 0x02, 0x00];
const NO_TAIL: number[] = [];

function framed(rng: Rng, head: readonly number[], tail: readonly number[], min: number, max: number): Buffer {
  const body = rng.int(min, max);
  const out = Buffer.allocUnsafe(head.length + body + tail.length);
  for (let i = 0; i < head.length; i++) out[i] = head[i];
  rng.bytes(out.subarray(head.length, head.length + body));
  for (let i = 0; i < tail.length; i++) out[head.length + body + i] = tail[i];
  return out;
}

/** Bytes for an image named with extension `ext` (any case). */
export function fakeImageBytes(rng: Rng, ext: string): Buffer {
  switch (ext.toLowerCase()) {
    case 'png':
      return framed(rng, PNG_HEAD, PNG_TAIL, 150, 400);
    case 'heic':
      return framed(rng, HEIC_HEAD, NO_TAIL, 200, 500);
    case 'cr2':
      return framed(rng, CR2_HEAD, NO_TAIL, 400, 900);
    default:
      return framed(rng, JPEG_HEAD, JPEG_TAIL, 200, 500);
  }
}
