/**
 * One image path → its symlink chain, the file it finally is, and the sidecar files that exist
 * for it. Sidecars live next to the link's TARGET (the earlier tool's rule); files next to the
 * link are reported too, after the target's, so nothing written by other tools goes unseen.
 *
 * File-system calls are synchronous: a handful of stat/lstat calls per image, each a few µs,
 * where the promise API costs a thread-pool round trip each (per-image latency matters for the
 * stdio server and for save loops).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errors } from '../errors.js';
import type { SidecarExt, SidecarNaming } from '../types.js';
import { NAME_EXT_SIDECAR_EXTS, SIDECAR_EXTS, nfc, sidecarNameFor, splitName } from './extensions.js';

export interface SidecarCandidate {
  path: string;
  ext: SidecarExt;
  naming: SidecarNaming;
  side: 'target' | 'link';
}

export interface SidecarLocation {
  /** As given, resolved to an absolute path. */
  imagePath: string;
  isSymlink: boolean;
  /** Each symlink of the chain in order, starting with imagePath; empty when not a link. */
  chain: string[];
  /** Final target (realpath); equals imagePath when not a link. For a broken link, where it points. */
  targetPath: string;
  /** The link chain ends at a missing file, or loops (ELOOP). */
  broken: boolean;
  /** Directory, file name and stem of the TARGET: where sidecars live. */
  dir: string;
  name: string;
  stem: string;
  /** Existing sidecar files in preference order: target side (bin, rkyv, json, name.bin, name.json), then link side. */
  candidates: SidecarCandidate[];
}

/** Linux gives up after 40 links; so do we when recording a chain. */
const MAX_LINKS = 40;

interface Wanted {
  name: string;
  ext: SidecarExt;
  naming: SidecarNaming;
}

/** The candidate names for one image name, in preference order, without duplicates. */
function wantedNames(imageName: string): Wanted[] {
  const out: Wanted[] = [];
  const seen = new Set<string>();
  const add = (ext: SidecarExt, naming: SidecarNaming) => {
    const name = sidecarNameFor(imageName, ext, naming);
    if (name === imageName || seen.has(name)) return; // an extension-less image "X" must not be its own sidecar
    seen.add(name);
    out.push({ name, ext, naming });
  };
  for (const ext of SIDECAR_EXTS) add(ext, 'stem');
  for (const ext of NAME_EXT_SIDECAR_EXTS) add(ext, 'name-ext');
  return out;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

/** Is `p` an existing regular file (following a symlinked sidecar)? Missing → false; other errors throw. */
function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch (e) {
    const c = code(e);
    if (c === 'ENOENT' || c === 'ENOTDIR' || c === 'ELOOP') return false;
    throw errors.fromFs(e, p);
  }
}

/**
 * Existing sidecars for `imageName` in `dir`. ASCII names: a stat per wanted name (cheaper than
 * listing a folder of thousands). Other names: one listing compared in NFC, because a file copied
 * from macOS may carry the same name in NFD.
 */
function findCandidates(dir: string, imageName: string, side: 'target' | 'link', out: SidecarCandidate[]): void {
  const wanted = wantedNames(imageName);
  if (isAscii(imageName)) {
    const exists = wanted.map((w) => isFile(path.join(dir, w.name)));
    for (let i = 0; i < wanted.length; i++) {
      if (exists[i]) out.push({ path: path.join(dir, wanted[i].name), ext: wanted[i].ext, naming: wanted[i].naming, side });
    }
    return;
  }
  let entries: import('node:fs').Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if (code(e) === 'ENOENT' || code(e) === 'ENOTDIR') return;
    throw errors.fromFs(e, dir);
  }
  const byNfc = new Map<string, number>();
  wanted.forEach((w, i) => byNfc.set(nfc(w.name), i));
  const found: { i: number; name: string }[] = [];
  for (const d of entries) {
    const i = byNfc.get(nfc(d.name));
    if (i === undefined) continue;
    if (d.isFile() || (d.isSymbolicLink() && isFile(path.join(dir, d.name)))) found.push({ i, name: d.name });
  }
  // Preference order first; two spellings of one name (NFC and NFD both on disk) keep a stable order.
  found.sort((a, b) => a.i - b.i || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const f of found) out.push({ path: path.join(dir, f.name), ext: wanted[f.i].ext, naming: wanted[f.i].naming, side });
}

/** lstat `p`; if it is missing and its name is not ASCII, look for the same name in another normalisation. */
function lstatImage(p: string): { path: string; isLink: boolean } {
  try {
    const st = fs.lstatSync(p);
    if (st.isDirectory()) throw errors.usage(`not an image file but a directory: ${p}`);
    return { path: p, isLink: st.isSymbolicLink() };
  } catch (e) {
    if (code(e) !== 'ENOENT') throw errors.fromFs(e, p);
    const name = path.basename(p);
    if (!isAscii(name)) {
      const dir = path.dirname(p);
      const want = nfc(name);
      let names: string[] = [];
      try {
        names = fs.readdirSync(dir);
      } catch {
        /* the directory itself is missing: not found */
      }
      const match = names.find((n) => n !== name && nfc(n) === want);
      if (match !== undefined) return lstatImage(path.join(dir, match));
    }
    throw errors.notFound(p, 'image');
  }
}

/** Follow the chain link by link (for the record); the kernel's answer (realpath) decides the target. */
function followChain(first: string): { chain: string[]; last: string; loops: boolean } {
  const chain: string[] = [];
  let cur = first;
  for (let hops = 0; hops < MAX_LINKS; hops++) {
    let isLink = false;
    try {
      isLink = fs.lstatSync(cur).isSymbolicLink();
    } catch (e) {
      const c = code(e);
      if (c === 'ENOENT' || c === 'ENOTDIR') return { chain, last: cur, loops: false };
      throw errors.fromFs(e, cur);
    }
    if (!isLink) return { chain, last: cur, loops: false };
    chain.push(cur);
    let text: string;
    try {
      text = fs.readlinkSync(cur);
    } catch (e) {
      throw errors.fromFs(e, cur);
    }
    cur = path.resolve(path.dirname(cur), text);
  }
  return { chain, last: cur, loops: true };
}

export async function locateSidecar(imagePath: string): Promise<SidecarLocation> {
  const given = path.resolve(imagePath);
  const image = lstatImage(given);

  let chain: string[] = [];
  let targetPath = image.path;
  let broken = false;
  let loops = false;
  if (image.isLink) {
    const followed = followChain(image.path);
    chain = followed.chain;
    loops = followed.loops;
    try {
      targetPath = fs.realpathSync(image.path);
    } catch (e) {
      const c = code(e);
      if (c !== 'ENOENT' && c !== 'ELOOP' && c !== 'ENOTDIR') throw errors.fromFs(e, image.path);
      broken = true;
      loops ||= c === 'ELOOP';
      targetPath = followed.last;
    }
  }

  const dir = path.dirname(targetPath);
  const name = path.basename(targetPath);
  const candidates: SidecarCandidate[] = [];
  // A looping chain has no target, so no target side; a missing target may still have sidecars beside it.
  if (!loops) findCandidates(dir, name, 'target', candidates);
  if (image.isLink) {
    const linkDir = path.dirname(image.path);
    const linkName = path.basename(image.path);
    if (loops || linkDir !== dir || linkName !== name) {
      const linkSide: SidecarCandidate[] = [];
      findCandidates(linkDir, linkName, 'link', linkSide);
      for (const c of linkSide) if (!candidates.some((t) => t.path === c.path)) candidates.push(c);
    }
  }

  return {
    imagePath: given,
    isSymlink: image.isLink,
    chain,
    targetPath,
    broken,
    dir,
    name,
    stem: splitName(name).stem,
    candidates,
  };
}

/** Where a sidecar of this extension and naming goes: next to the target. */
export function sidecarPathFor(loc: SidecarLocation, ext: SidecarExt, naming: SidecarNaming): string {
  return path.join(loc.dir, sidecarNameFor(loc.name, ext, naming));
}
