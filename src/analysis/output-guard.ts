/**
 * Output files (every command's -o, export, hash and merge manifests, report pages, key files)
 * must never replace a file the tool manages: `stats lib -o lib/IMG_1.jpg` replaced the photo with
 * JSON and exited 0, `export lib -o lib/IMG_1.json` an image's data with the export. Refused, inside
 * the tree read or not (the library, the server and the CLI refuse the same paths):
 * - an image: a name the pairing rule takes for one (docs/PAIRING.md §1 and §6: an image extension
 *   of the set, extra ones from --image-ext / the configuration included), whether or not the file
 *   exists — a new one would be taken for a photo and claim the sidecars of its stem;
 * - a sidecar of an image of its folder (existing or not yet: the pairing rule gives it to one).
 * - the tool's own files: anything in a quarantine folder (quarantined sidecars and the manifest
 *   `restore` reads: `export -o lib/.image-sidecar-quarantine/…/manifest.json` made them
 *   unrestorable), anything directly in a folder named `.image-sidecar` (where the index is kept
 *   by default: `lib/.image-sidecar/index`; an index elsewhere, `--index PATH`, is not known here), and a
 *   configuration file (`.image-sidecar.json`: an output there changed what every command does in
 *   its folder, and made each of them fail on its unknown keys).
 * - a binary sidecar's name (.bin, .rkyv), existing or not: no output is one, and a scan would read
 *   it as a damaged sidecar (as this guard then would);
 * - a file in a sidecar's name (.json, .bin, .rkyv) that holds results: sidecar-shaped data (an
 *   orphan whose image moved, which `relink` would bring back; a sidecar of an image whose type is
 *   not in the image extensions, a copy of one), or a sidecar that no longer decodes (bytes in a
 *   binary sidecar's name, JSON whose first member is a sidecar's, crash damage; a damaged or
 *   encrypted sidecar may be all that is left of its results).
 * Each is checked on the name given and, when that is a symlink, on the file it leads to (an
 * output is written through a symlink, output-sink.ts). A report, an earlier export or another
 * tool's JSON next to no image may be replaced: the name alone does not tell (`stats.json` beside
 * `stats.txt` is as much an `unknown-image` sidecar, PAIRING.md §7, as `x.json` beside `x.xyz`),
 * the content does.
 */
import { closeSync, existsSync, openSync, readdirSync, readSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { errors } from '../errors.js';
import { CONFIG_FILE_NAME } from '../discovery/config.js';
import { imageExtensionSet, splitName } from '../discovery/extensions.js';
import { INDEX_DIR, inQuarantine } from '../discovery/own-folders.js';
import { isImageName, isSidecarName, pairDirectory } from '../discovery/pair.js';
import type { EntryKind } from '../discovery/walk.js';
import { decodeSidecar, DEFAULT_MAX_FILE_SIZE } from '../formats/codec.js';
import { readFileLimitedSync } from '../fs/read-file.js';
import { READ_FLAGS } from '../fs/regular-file.js';
import { isKnownOperationKey, SIDECAR_INFO_KEY, shapeOf } from './operations.js';

function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/** Why `dir/name` is a sidecar the tool manages, or null when it is not one. */
function sidecarRole(dir: string, name: string, exts: ReadonlySet<string>): string | null {
  if (!isSidecarName(name)) return null;
  // A sidecar is a file the pairing rule gives to an image of its folder (existing or not yet).
  let entries: { name: string; kind: EntryKind }[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true }).map((d) => ({ name: d.name, kind: d.isFile() ? 'file' : d.isSymbolicLink() ? 'symlink' : d.isDirectory() ? 'dir' : 'other' }));
  } catch {
    /* the folder does not exist yet: nothing to pair with */
  }
  if (!entries.some((e) => e.name === name)) entries.push({ name, kind: 'file' });
  const g = pairDirectory({ path: dir, entries: entries as never }, exts).groups.find((x) => x.sidecars.some((s) => s.name === name));
  return g !== undefined && g.images.length > 0 ? 'a sidecar file of an image in its folder' : null;
}

/** Bytes of a file too large to decode that are looked at (its first key). */
const HEAD_BYTES = 64 * 1024;

/** Why the file at `p` (a sidecar's name) holds results an output must not replace, or null (no such file, a report, an earlier output, another tool's JSON). */
function heldResults(p: string): string | null {
  let bytes: Buffer;
  let whole = true;
  try {
    const st = statSync(p);
    if (!st.isFile()) return null; // not a file an output replaces: the sink says so
    if (st.size > DEFAULT_MAX_FILE_SIZE) {
      whole = false;
      bytes = readHead(p);
    } else bytes = readFileLimitedSync(p);
  } catch {
    return null; // gone, or unreadable: the sink says so
  }
  if (whole) {
    try {
      const { data } = decodeSidecar(bytes, { path: p });
      return shapeOf(data, basename(p)) === 'sidecar' ? HOLDS_RESULTS : null;
    } catch {
      /* damaged, encrypted, too deep, or never a sidecar: below */
    }
  }
  // What no decode settles: a damaged or encrypted sidecar may be all that is left of its results.
  // A binary sidecar's name holding bytes that do not decode, or JSON (or crash damage: NULs) whose
  // first member is a sidecar's: refused. Anything else (an output that was never JSON, a big
  // earlier export, someone's text) may be replaced.
  if (/\.(bin|rkyv)$/i.test(p)) return 'a file in a binary sidecar\'s name that does not decode (a damaged or encrypted sidecar)';
  if (bytes.length > 0 && bytes[0] === 0) return 'a file that begins with NUL bytes (a sidecar damaged by a crash)';
  const first = /^\uFEFF?\s*\{\s*"((?:[^"\\]|\\.)*)"/.exec(bytes.toString('utf8', 0, Math.min(bytes.length, HEAD_BYTES)));
  let key: string | null = null;
  try {
    key = first ? (JSON.parse(`"${first[1]}"`) as string) : null;
  } catch {
    key = null;
  }
  if (key !== null && (key === SIDECAR_INFO_KEY || isKnownOperationKey(key))) return `a sidecar's results that do not decode (${whole ? 'damaged' : 'larger than any sidecar is read'})`;
  return null;
}

const HOLDS_RESULTS = 'a sidecar\'s results (an orphan whose image moved, the sidecar of an image of a type not in the image extensions, or a copy of one: remove it first if it is yours to replace)';

function readHead(p: string): Buffer {
  // Non-blocking (fs/regular-file.ts): a FIFO swapped in after the stat is never waited on.
  const fd = openSync(p, READ_FLAGS);
  try {
    const b = Buffer.alloc(HEAD_BYTES);
    return b.subarray(0, readSync(fd, b, 0, HEAD_BYTES, 0));
  } finally {
    closeSync(fd);
  }
}

/**
 * Throw USAGE when `output` (a file path) is, or would become, an image or a sidecar (see the
 * header). `what` names the output in the message ('output', 'export', 'manifest').
 */
export function assertOutputNotManaged(output: string, what: string, imageExtensions?: readonly string[]): void {
  const abs = resolve(output);
  const real = existsSync(abs) ? realOrSelf(abs) : join(realOrSelf(dirname(abs)), basename(abs));
  const exts = imageExtensionSet(imageExtensions);
  const refuse = (why: string, hint: string): never => {
    throw errors.usage(`refusing to write the ${what} to ${abs}: ${why} (${hint})`);
  };
  // The name given, then (a symlink written through) the file it leads to.
  const places = real === abs ? [abs] : [abs, real];
  const subject = (p: string) => (p === abs ? 'it' : `the file it leads to, ${p},`);
  for (const p of places) {
    const name = basename(p);
    if (inQuarantine(dirname(p))) refuse(`${subject(p)} is in a quarantine folder, whose files \`restore\` puts back`, 'choose a path outside it');
    if (basename(dirname(p)) === INDEX_DIR) refuse(`${subject(p)} is in the folder where image-sidecar keeps its index`, 'choose a path outside it');
    if (name === CONFIG_FILE_NAME) refuse(`${subject(p)} is a configuration file (${CONFIG_FILE_NAME}), which every command in its folder reads`, 'choose another name');
    if (isImageName(name, exts)) refuse(`${subject(p)} has an image's name (.${splitName(name).ext}), and an image is never replaced nor made by an output`, 'choose a name without an image extension');
  }
  for (const p of places) {
    const role = sidecarRole(dirname(p), basename(p), exts);
    if (role !== null) refuse(`${subject(p)} is ${role}`, 'choose a path outside it, or another name');
  }
  for (const p of places) {
    const held = isSidecarName(basename(p)) ? heldResults(p) : null;
    if (held !== null) refuse(`${subject(p)} holds ${held}, which an output never replaces`, 'choose another name');
  }
  // No output is a binary sidecar: every scan would read it as a damaged one (a finding in every
  // later run inside a library), and this guard then refused to replace it.
  for (const p of places) {
    if (/\.(bin|rkyv)$/i.test(p)) refuse(`${subject(p)} has a binary sidecar's name (.${splitName(basename(p)).ext}), which every scan reads as a sidecar`, 'choose another extension');
  }
}

/**
 * Are `a` and `b` one file: the same inode when both exist, else the same place (each path's
 * folder real: a folder link or `..` spells the same file another way)?
 */
export function sameFile(a: string, b: string): boolean {
  const id = (p: string): string | null => {
    try {
      const st = statSync(p);
      return `${st.dev}:${st.ino}`;
    } catch {
      return null;
    }
  };
  const ia = id(a);
  const ib = id(b);
  if (ia !== null || ib !== null) return ia === ib;
  const place = (p: string) => {
    const abs = resolve(p);
    return join(realOrSelf(dirname(abs)), basename(abs));
  };
  return place(a) === place(b);
}

/**
 * Throw USAGE when the output `output` is one of the files the command is also given (`given`: [how
 * it was given, its path]): `export --key-file k -o k` replaced the key with the CSV (every file
 * encrypted under it lost), `hash --manifest k --key-file k` the key with the manifest, `verify
 * --manifest m -o m` the baseline. `writes`: the given files the command writes too (else it reads
 * them); those are given as their writer takes them (`resolve`d), the others as the command reads them.
 */
export function assertNotGivenFile(output: string, what: string, given: readonly (readonly [string, string])[], writes: ReadonlySet<string> = new Set()): void {
  // The output as its writer takes it: its `..` as text (path.resolve), as every output is opened.
  const out = resolve(output);
  for (const [how, path] of given) {
    if (sameFile(out, path)) throw errors.usage(`refusing to write the ${what} to ${resolve(output)}: it is also the ${how} file, which the command ${writes.has(how) ? 'writes too' : 'reads'} (choose another name)`);
  }
}
