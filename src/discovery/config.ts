/**
 * The library's configuration file and the image-extension list it feeds.
 *
 *   `.image-sidecar.json` in the library folder (or any folder above it; the nearest one wins),
 *   or the file given with `--config FILE`:
 *       { "imageExtensions": ["xyz", "arq"] }
 *   adds image extensions to the default set (DEFAULT_IMAGE_EXTENSIONS), as `--image-ext xyz,arq`
 *   does on the command line (both add up). Unknown keys are a usage error, so a typo is never
 *   silently ignored.
 */
import { statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { errors } from '../errors.js';
import { DEFAULT_FORMAT_NAMES } from '../vocabulary.js';
import { readFileLimitedSync } from '../fs/read-file.js';
import { withExtraImageExtensions } from './extensions.js';

export const CONFIG_FILE_NAME = '.image-sidecar.json';

/** A config is a few lines; anything bigger is not one (and is never read whole). */
const CONFIG_MAX_BYTES = 1 << 20;

export interface LibraryConfig {
  /** Image extensions added to the default set (no dot, any case). */
  imageExtensions?: string[];
  /** The format saves write when the caller names none (json, bin, binary, rkyv): see docs/PAIRING.md §9. */
  defaultFormat?: string;
}

const KNOWN_KEYS = new Set(['imageExtensions', 'defaultFormat', '$schema']);
const DEFAULT_FORMATS: ReadonlySet<string> = new Set(DEFAULT_FORMAT_NAMES);

/**
 * Read and check a config file. Missing → NOT_FOUND; a FIFO, device or directory, or over 1 MiB →
 * IO (refused at once, never waited on or read whole: fs/read-file.ts); malformed → USAGE naming the file.
 */
export function readConfigFile(path: string): LibraryConfig {
  const text = readFileLimitedSync(path, CONFIG_MAX_BYTES).toString('utf8');
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw errors.usage(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw errors.usage(`${path}: expected a JSON object like {"imageExtensions": ["xyz"]}`);
  for (const k of Object.keys(o)) if (!KNOWN_KEYS.has(k)) throw errors.usage(`${path}: unknown key "${k}" (known: imageExtensions, defaultFormat)`);
  const exts = (o as LibraryConfig).imageExtensions;
  if (exts !== undefined && (!Array.isArray(exts) || exts.some((e) => typeof e !== 'string'))) {
    throw errors.usage(`${path}: "imageExtensions" must be an array of strings`);
  }
  const defaultFormat = (o as LibraryConfig).defaultFormat;
  if (defaultFormat !== undefined && (typeof defaultFormat !== 'string' || !DEFAULT_FORMATS.has(defaultFormat))) {
    throw errors.usage(`${path}: "defaultFormat" must be one of ${[...DEFAULT_FORMATS].join(', ')}`);
  }
  return { imageExtensions: exts, defaultFormat };
}

/**
 * The `defaultFormat` of the nearest configuration file above `startDir`, or undefined. Read on
 * every save (a few stats up the tree; a save's fsync costs far more), so an edit applies at once.
 */
export function configuredDefaultFormat(startDir: string): string | undefined {
  const p = findConfigFile(startDir);
  return p === null ? undefined : readConfigFile(p).defaultFormat;
}

/**
 * The nearest `.image-sidecar.json` in `startDir` or a folder above it, or null. A name that is
 * there but cannot be read as a config (unreadable, a FIFO...) is found all the same, and reading it
 * fails with the reason: skipping it would drop its image extensions without a word, and
 * cleanup would then take those images' sidecars for orphans. A directory of that name is passed over.
 */
export function findConfigFile(startDir: string): string | null {
  let dir = resolve(startDir);
  for (;;) {
    const p = join(dir, CONFIG_FILE_NAME);
    let isDir: boolean | undefined;
    try {
      isDir = statSync(p, { throwIfNoEntry: false })?.isDirectory();
    } catch (e) {
      // Not there when a folder on the way is not one; there but not to be stat'ed (a looping
      // link, EACCES): reading it says why.
      isDir = (e as NodeJS.ErrnoException).code === 'ENOTDIR' ? undefined : false;
    }
    if (isDir === false) return p;
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** `a,b .c` → ['a', 'b', 'c'] (what --image-ext accepts). */
export function splitExtList(v: string | readonly string[] | undefined): string[] {
  if (v === undefined) return [];
  const parts = (typeof v === 'string' ? [v] : v).flatMap((s) => s.split(/[\s,]+/));
  return parts.filter((s) => s !== '');
}

/**
 * The image-extension list for a run: defaults + config file + `--image-ext`, or undefined when
 * neither adds anything (the library's default then applies).
 */
export function resolveImageExtensions(o: { cliExtra?: string | readonly string[]; configPath?: string; startDir: string }): string[] | undefined {
  const configPath = o.configPath ?? findConfigFile(o.startDir);
  const fromConfig = configPath ? (readConfigFile(configPath).imageExtensions ?? []) : [];
  const extra = [...fromConfig, ...splitExtList(o.cliExtra)];
  return extra.length > 0 ? withExtraImageExtensions(extra) : undefined;
}

