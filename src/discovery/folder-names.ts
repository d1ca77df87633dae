/**
 * One folder's names as pairing sees them (NFC), indexed for the questions a move asks before it
 * adds files there: is a name taken, which images would claim a stem-form sidecar, which sidecars
 * are there under a base name. `mv`/`cp` and `relink` add the names they plan, so the next unit into
 * the same folder sees them.
 */
import { readdirSync } from 'node:fs';
import { nfc, splitName } from './extensions.js';
import { isImageName, isSidecarName } from './pair.js';

export interface FolderNames {
  /** NFC names in the folder (and those a plan adds). */
  names: Set<string>;
  /** NFC stem → the images with it. */
  imagesByStem: Map<string, string[]>;
  /** NFC base (a sidecar's name without `.json`/`.bin`/`.rkyv`) → the sidecars with it. */
  sidecarsByBase: Map<string, string[]>;
  /** NFC name → its spellings on disk when one differs from it (NFD, U+212A for K...), as read. */
  spellings: Map<string, string[]>;
}

export function readFolderNames(dir: string, exts: ReadonlySet<string>): FolderNames {
  const f: FolderNames = { names: new Set(), imagesByStem: new Map(), sidecarsByBase: new Map(), spellings: new Map() };
  for (const name of readdirSync(dir)) {
    const n = nfc(name);
    addFolderName(f, n, exts);
    if (n !== name) push(f.spellings, n, name);
  }
  return f;
}

/** Count `name` (NFC) as in the folder. */
export function addFolderName(f: FolderNames, name: string, exts: ReadonlySet<string>): void {
  f.names.add(name);
  if (isSidecarName(name)) push(f.sidecarsByBase, name.slice(0, name.lastIndexOf('.')), name);
  else if (isImageName(name, exts)) push(f.imagesByStem, nfc(splitName(name).stem), name);
}

/**
 * The images of the folder a stem-form sidecar `<stem>.<ext>` claims (docs/PAIRING.md §2): those
 * with that stem, and the one named exactly `<stem>` (`IMG_1.jpg` for `IMG_1.jpg.json`, by its
 * name-ext form).
 */
export function stemClaimants(f: FolderNames, stem: string, exts: ReadonlySet<string>): string[] {
  const out = [...(f.imagesByStem.get(stem) ?? [])];
  if (f.names.has(stem) && isImageName(stem, exts) && !out.includes(stem)) out.push(stem);
  return out;
}

function push(m: Map<string, string[]>, k: string, v: string): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}
