/**
 * Huge but valid sidecars for the memory tests: `count` images whose JSON sidecars are about
 * `bytes` long each (faces with 512-float embeddings, as the pipeline writes them), made in
 * well under a second by repeating one face.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FAKE_JPEG } from './tree.js';

export function writeBigSidecars(dir: string, count: number, bytes: number): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const embedding = Array.from({ length: 512 }, (_, i) => Math.sin(i + 0.5) * 0.123456789);
  const face = JSON.stringify({ bbox: [0.1, 0.2, 0.3, 0.4], confidence: 0.987654321, embedding });
  const head = '{"face_detection":{"success":true,"processing_time":1.25,"faces":[';
  const tail = ']},"sidecar_info":{"created_at":"2025-09-20T14:30:22Z"}}\n';
  const n = Math.max(1, Math.floor((bytes - head.length - tail.length) / (face.length + 1)));
  const text = head + new Array<string>(n).fill(face).join(',') + tail;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const stem = `BIG_${i}`;
    fs.writeFileSync(path.join(dir, `${stem}.jpg`), FAKE_JPEG);
    const p = path.join(dir, `${stem}.json`);
    fs.writeFileSync(p, text);
    out.push(p);
  }
  return out;
}
