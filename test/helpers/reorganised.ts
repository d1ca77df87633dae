/**
 * A library reorganised behind its sidecars' backs, for relink's tests and bench: of its images,
 * some were moved to other folders, some renamed, some moved and copied (two images, one sidecar),
 * some deleted; decoys sit among them (same size and time but other bytes; the same name in another
 * folder). Returns what a correct relink does with each orphan.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from './mulberry32.js';

export interface Reorganised {
  root: string;
  /** Orphan rel → the image rel it must go to. */
  movable: Map<string, string>;
  /** Orphans ambiguous whatever the evidence: their image exists twice (moved and copied), or beside a decoy when no sha256 was recorded. */
  ambiguous: Set<string>;
  /** Orphans of moved images beside a same-size, same-time decoy: ambiguous unless --hash-images. */
  decoyed: Set<string>;
  /** Orphans whose image is gone. */
  gone: Set<string>;
  images: number;
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** `images` images in `folders` folders (≥ 4), each with a JSON sidecar recording its identity (sha256 on every other one). */
export function reorganisedLibrary(root: string, images: number, folders = 8, seed = 7): Reorganised {
  const rnd = mulberry32(seed);
  const out: Reorganised = { root, movable: new Map(), ambiguous: new Set(), decoyed: new Set(), gone: new Set(), images };
  const rels: string[] = [];
  for (let f = 0; f < folders; f++) fs.mkdirSync(join(root, `game_${f}`), { recursive: true });
  for (let i = 0; i < images; i++) {
    const rel = `game_${i % folders}/IMG_${String(i).padStart(5, '0')}.jpg`;
    const body = Buffer.alloc(2000 + 3 * i + Math.floor(rnd() * 3)); // sizes apart: only the decoys below tie
    for (let k = 0; k < body.length; k += 64) body[k] = Math.floor(rnd() * 256);
    body.writeUInt32LE(i, 0);
    const p = join(root, rel);
    fs.writeFileSync(p, body);
    const st = fs.statSync(p, { bigint: true });
    const image: Record<string, unknown> = { size: Number(st.size), mtime_ns: st.mtimeNs.toString(), operations: ['face_detection'] };
    if (i % 2 === 0) image.sha256 = sha256(body);
    const name = rel.slice(rel.indexOf('/') + 1);
    const sidecar = {
      sidecar_info: { image_path: p, operation_type: 'face_detection', image },
      face_detection: { success: true, faces: [{ bbox: { x: 0.1, y: 0.2, width: 0.3, height: 0.4 }, confidence: 0.9 }] },
    };
    fs.writeFileSync(join(root, rel.replace(/\.jpg$/, '.json')), JSON.stringify(sidecar, null, 2));
    rels.push(rel);
    void name;
  }
  const n = (pct: number) => Math.max(1, Math.floor((images * pct) / 100));
  let next = 0;
  const take = (k: number) => rels.slice(next, (next += k));
  const other = (rel: string, step = 1) => {
    const f = Number(rel.slice(5, rel.indexOf('/')));
    return `game_${(f + step) % folders}`;
  };
  const orphanOf = (rel: string) => rel.replace(/\.jpg$/, '.json');
  // 10 % moved to another folder (same name)
  for (const rel of take(n(10))) {
    const to = `${other(rel)}/${rel.slice(rel.indexOf('/') + 1)}`;
    fs.renameSync(join(root, rel), join(root, to));
    out.movable.set(orphanOf(rel), to);
  }
  // 5 % renamed (some in their folder, some into another)
  take(n(5)).forEach((rel, k) => {
    const to = `${k % 2 === 0 ? rel.slice(0, rel.indexOf('/')) : other(rel, 2)}/renamed_${k}.jpg`;
    fs.renameSync(join(root, rel), join(root, to));
    out.movable.set(orphanOf(rel), to);
  });
  // 2 % moved and copied with their times (`cp -p`): two images, one sidecar
  for (const rel of take(n(2))) {
    const to = `${other(rel)}/${rel.slice(rel.indexOf('/') + 1)}`;
    fs.renameSync(join(root, rel), join(root, to));
    cp(join(root, to), join(root, `${other(rel, 2)}/${rel.slice(rel.indexOf('/') + 1)}`)); // the same name: nothing tells the two apart
    out.ambiguous.add(orphanOf(rel));
  }
  // Decoys of moved images: the same name, size and time in a third folder, other bytes (only a recorded sha256 tells them apart).
  for (const rel of take(n(2))) {
    const to = `${other(rel)}/${rel.slice(rel.indexOf('/') + 1)}`;
    fs.renameSync(join(root, rel), join(root, to));
    const decoy = join(root, `${other(rel, 3)}/${rel.slice(rel.indexOf('/') + 1)}`);
    const body = fs.readFileSync(join(root, to));
    body[body.length - 1] ^= 0xff;
    fs.writeFileSync(decoy, body);
    touchAs(join(root, to), decoy);
    const idx = Number(rel.slice(rel.lastIndexOf('_') + 1, -4));
    if (idx % 2 === 0) out.decoyed.add(orphanOf(rel)), out.movable.set(orphanOf(rel), to);
    else out.ambiguous.add(orphanOf(rel)); // no sha256 recorded: ambiguous even with --hash-images
  }
  // 1 % deleted, and a decoy with the same name (another size) in another folder
  for (const rel of take(n(1))) {
    const name = rel.slice(rel.indexOf('/') + 1);
    fs.rmSync(join(root, rel));
    fs.writeFileSync(join(root, `${other(rel)}/${name}`), Buffer.from('same name, another image'));
    out.gone.add(orphanOf(rel));
  }
  return out;
}

/** `cp -p`: a copy with the same nanosecond times (Node cannot set them). */
function cp(from: string, to: string): void {
  const r = spawnSync('cp', ['-p', from, to]);
  if (r.status !== 0) throw new Error(`cp -p failed: ${r.stderr}`);
}

function touchAs(ref: string, p: string): void {
  const r = spawnSync('touch', ['-r', ref, p]);
  if (r.status !== 0) throw new Error(`touch -r failed: ${r.stderr}`);
}
