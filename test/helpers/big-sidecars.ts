/**
 * Huge but valid sidecars for the memory tests, made in well under a second by repeating one
 * element: `writeBigSidecars`, faces with 512-float embeddings as the pipeline writes them, and
 * `writeObjectSidecars`, one array of tiny objects.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FAKE_JPEG } from './tree.js';

/** `count` images whose JSON sidecars are about `bytes` long each, faces with embeddings. */
export function writeBigSidecars(dir: string, count: number, bytes: number): string[] {
  const embedding = Array.from({ length: 512 }, (_, i) => Math.sin(i + 0.5) * 0.123456789);
  const face = JSON.stringify({ bbox: [0.1, 0.2, 0.3, 0.4], confidence: 0.987654321, embedding });
  return writeRepeated(dir, 'BIG', count, bytes, '{"face_detection":{"success":true,"processing_time":1.25,"faces":[', face);
}

/**
 * `count` images whose JSON sidecars are about `bytes` long each, of small objects: what costs the
 * decode most heap per byte of file. `{"a":1}` (a million per 8 MiB: ~300 MB of peak RSS for 16
 * MiB) is quick to decode; `{}` costs more (8.7 million in 25 MiB: 1.3 GB) and decodes 4× slower.
 * Named `OBJ_<i>`: in a folder, before `writeSmallSidecars`' files.
 */
export function writeObjectSidecars(dir: string, count: number, bytes: number, object = '{"a":1}'): string[] {
  return writeRepeated(dir, 'OBJ', count, bytes, '{"object_detection":{"success":true,"objects":[', object);
}

/** `count` small sidecars (~1 KB, 100 objects) named `small_<i>`. */
export function writeSmallSidecars(dir: string, count: number): string[] {
  return writeRepeated(dir, 'small', count, 1024, '{"object_detection":{"success":true,"objects":[', '{"a":1}');
}

function writeRepeated(dir: string, prefix: string, count: number, bytes: number, head: string, element: string): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const tail = ']},"sidecar_info":{"created_at":"2025-09-20T14:30:22Z"}}\n';
  const n = Math.max(1, Math.floor((bytes - head.length - tail.length) / (element.length + 1)));
  const text = head + new Array<string>(n).fill(element).join(',') + tail;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const stem = `${prefix}_${i}`;
    fs.writeFileSync(path.join(dir, `${stem}.jpg`), FAKE_JPEG);
    const p = path.join(dir, `${stem}.json`);
    fs.writeFileSync(p, text);
    out.push(p);
  }
  return out;
}
