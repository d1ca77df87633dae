/**
 * The libraries the benchmark runs on: generation, the file lists every figure shares, copies for
 * the destructive convert runs. Nothing here is timed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { errors } from '../src/errors.js';
import { imageExtensionSet, isSidecarExt, splitName } from '../src/discovery/extensions.js';
import { isLockName, isTempName } from '../src/fs/temp-files.js';
import { QUARANTINE_DIR } from '../src/discovery/own-folders.js';
import { forEachListed, ListWriter } from './lists.js';

export interface LibraryLists {
  root: string;
  /** Every regular sidecar-candidate file (.json/.bin/.rkyv, any case; reports and corrupt ones included). */
  sidecarList: string;
  sidecarFiles: number;
  sidecarBytes: number;
  /** Every image path (originals and game-folder symlinks, broken ones included). */
  imageList: string;
  images: number;
}

export interface ImageSample {
  list: string;
  images: number;
  /** Bytes of the sidecar each sampled image resolves to by name (for the reads' MB/s). */
  sidecarBytes: number;
}

const IMAGE_EXTS = imageExtensionSet();
/** Candidate names per image in the library's read preference order (stem form first). */
const candidateNames = (name: string): string[] => {
  const { stem } = splitName(name);
  return [`${stem}.bin`, `${stem}.rkyv`, `${stem}.json`, `${name}.bin`, `${name}.json`];
};

function sidecarSizeFor(imagePath: string): number {
  let target: string;
  try {
    target = fs.realpathSync(imagePath);
  } catch {
    return 0; // broken link
  }
  const dir = path.dirname(target);
  for (const c of candidateNames(path.basename(target))) {
    try {
      const st = fs.statSync(path.join(dir, c));
      if (st.isFile()) return st.size;
    } catch {
      // not this one
    }
  }
  return 0;
}

/**
 * Walk a library once and write its two lists under `listDir` (`<tag>.sidecars`, `<tag>.images`).
 * Same selection as hashTree's bytes mode: regular files only, temp/lock files and the quarantine
 * folder left out, directory symlinks not entered.
 */
export function listLibrary(root: string, listDir: string, tag: string): LibraryLists {
  const sidecars = new ListWriter(path.join(listDir, `${tag}.sidecars`));
  const images = new ListWriter(path.join(listDir, `${tag}.images`));
  let sidecarBytes = 0;
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i];
      if (e.isDirectory() && !(dir === root && e.name === QUARANTINE_DIR)) stack.push(path.join(dir, e.name));
    }
    for (const e of entries) {
      const full = path.join(dir, e.name);
      const { ext } = splitName(e.name);
      if (e.isFile() && isSidecarExt(ext) && !isTempName(e.name) && !isLockName(e.name)) {
        sidecars.add(full);
        sidecarBytes += fs.statSync(full).size;
      } else if ((e.isFile() || e.isSymbolicLink()) && IMAGE_EXTS.has(ext)) {
        images.add(full);
      }
    }
  }
  sidecars.close();
  images.close();
  return {
    root,
    sidecarList: sidecars.file,
    sidecarFiles: sidecars.count,
    sidecarBytes,
    imageList: images.file,
    images: images.count,
  };
}

/** Every k-th image (evenly spread over the sorted list, at most `want`), written to `file`. */
export function sampleImages(lib: LibraryLists, want: number, file: string): ImageSample {
  const total = lib.images;
  const out = new ListWriter(file);
  let sidecarBytes = 0;
  let i = 0;
  forEachListed(lib.imageList, (p) => {
    // take index i when the running quota floor((i+1)·want/total) steps up
    if (want >= total || Math.floor(((i + 1) * want) / total) > Math.floor((i * want) / total)) {
      out.add(p);
      sidecarBytes += sidecarSizeFor(p);
    }
    i++;
  });
  out.close();
  return { list: file, images: out.count, sidecarBytes };
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.error || r.status !== 0) throw errors.internal(`${cmd} ${args.join(' ')} failed: ${r.error?.message ?? `exit ${r.status}`}`, r.error);
}

/**
 * Copy a library (symlinks kept as links, mtimes kept) and flush it to disk, so that a timed
 * convert pays only for its own writes and fsyncs, not for write-back of the copy.
 */
export function copyLibrary(src: string, dst: string): void {
  run('cp', ['-a', src, dst]);
  relinkAbsolute(src, dst);
  run('sync', []);
}

/** Absolute symlinks into `src` would still point there after a copy: point them into `dst`. */
function relinkAbsolute(src: string, dst: string): void {
  const prefix = src.endsWith(path.sep) ? src : src + path.sep;
  const stack = [dst];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) stack.push(full);
      else if (e.isSymbolicLink()) {
        const target = fs.readlinkSync(full);
        if (!target.startsWith(prefix)) continue;
        fs.unlinkSync(full);
        fs.symlinkSync(path.join(dst, target.slice(prefix.length)), full);
      }
    }
  }
}

export function removeTree(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}
