import { errors } from '../errors.js';
import type { SidecarExt, SidecarNaming } from '../types.js';

/**
 * Image extensions recognised by default (lower case, matched case-insensitively): still images,
 * camera RAW formats and video, so that no sidecar of a photo or clip is taken for an orphan.
 * Add more with `imageExtensions` / `--image-ext` / `.image-sidecar.json` (docs/PAIRING.md).
 */
export const DEFAULT_IMAGE_EXTENSIONS: readonly string[] = [
  // still images
  'jpg', 'jpeg', 'jpe', 'jfif', 'png', 'apng', 'gif', 'tif', 'tiff', 'bmp', 'dib', 'webp',
  'heic', 'heif', 'hif', 'avif', 'jxl', 'jp2', 'j2k', 'jpf', 'jpx', 'psd', 'exr', 'hdr', 'tga', 'ico', 'svg',
  // camera RAW
  '3fr', 'ari', 'arw', 'bay', 'cr2', 'cr3', 'crw', 'dcr', 'dcs', 'dng', 'erf', 'fff', 'gpr', 'iiq', 'k25', 'kdc',
  'mef', 'mos', 'mrw', 'nef', 'nrw', 'orf', 'pef', 'ptx', 'raf', 'raw', 'rw2', 'rwl', 'sr2', 'srf', 'srw', 'x3f',
  // video
  '3gp', 'avi', 'insv', 'lrv', 'm2ts', 'm4v', 'mkv', 'mov', 'mp4', 'mpeg', 'mpg', 'mts', 'mxf', 'webm', 'wmv',
];

/** Sidecar extensions in the earlier tool's read preference order (the rule lives in pair.ts). */
export const SIDECAR_EXTS: readonly SidecarExt[] = ['bin', 'rkyv', 'json'];

/** Directory-level report files: never sidecars of an image (SHAPES.md). */
export const REPORT_FILE_NAMES: readonly string[] = ['game_detection.json', 'game_detection_report.json'];

export interface SplitName {
  /** Name without the last extension ("IMG_1" for "IMG_1.JPG"); the whole name when there is none. */
  stem: string;
  /** Last extension in lower case, without the dot ("jpg"), or "" */
  ext: string;
}

/**
 * Where a file name's extension starts: its last dot, or -1 when it has none (no dot, a leading
 * dot as in ".hidden", or a trailing one). Hot loops use it to avoid `splitName`'s object.
 */
export function extensionDot(name: string): number {
  const dot = name.lastIndexOf('.');
  return dot <= 0 || dot === name.length - 1 ? -1 : dot;
}

/** Split a file name at its last dot. A leading dot (".hidden") is not an extension. */
export function splitName(name: string): SplitName {
  const dot = extensionDot(name);
  if (dot === -1) return { stem: name, ext: '' };
  return { stem: name.slice(0, dot), ext: name.slice(dot + 1).toLowerCase() };
}

/** Build the extension set once, outside hot loops. */
export function imageExtensionSet(exts: readonly string[] = DEFAULT_IMAGE_EXTENSIONS): ReadonlySet<string> {
  return new Set(exts.map(normalizeImageExt));
}

let defaultSet: ReadonlySet<string> | null = null;
let lastSet: { list: readonly string[]; set: ReadonlySet<string> } | null = null;
/**
 * `imageExtensionSet`, kept for the last list given (by identity) and the default: for per-image
 * calls (locate, read), which a tree command makes once per image of a pair (about 7 µs a set).
 */
export function cachedImageExtensionSet(list: readonly string[] | undefined): ReadonlySet<string> {
  if (list === undefined) return (defaultSet ??= imageExtensionSet());
  if (lastSet?.list !== list) lastSet = { list, set: imageExtensionSet(list) };
  return lastSet.set;
}

/** `.PNG` → `png`; a sidecar extension or an empty/dotted one is a usage error. */
export function normalizeImageExt(e: string): string {
  const ext = String(e).trim().replace(/^\./, '').toLowerCase();
  if (ext === '' || ext.includes('.') || ext.includes('/') || ext.includes('\\')) throw errors.usage(`invalid image extension "${e}"`);
  if (isSidecarExt(ext)) throw errors.usage(`"${e}" is a sidecar extension and cannot be an image extension`);
  return ext;
}

/** The default set plus `extra` (what --image-ext and the config file add). */
export function withExtraImageExtensions(extra: readonly string[] | undefined, base: readonly string[] = DEFAULT_IMAGE_EXTENSIONS): string[] {
  const out = [...base];
  for (const e of extra ?? []) {
    const ext = normalizeImageExt(e);
    if (!out.includes(ext)) out.push(ext);
  }
  return out;
}

export function isSidecarExt(ext: string): ext is SidecarExt {
  return ext === 'json' || ext === 'bin' || ext === 'rkyv';
}

/** ASCII only: its own NFC form, the same name on every file system. */
export function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Names are compared after Unicode NFC normalisation; reports keep the on-disk name. */
export function nfc(name: string): string {
  return isAscii(name) ? name : name.normalize('NFC');
}

/**
 * The sidecar file name for an image name.
 * stem:     IMG_1.JPG -> IMG_1.<ext>
 * name-ext: IMG_1.JPG -> IMG_1.JPG.<ext>
 */
export function sidecarNameFor(imageName: string, ext: SidecarExt, naming: SidecarNaming = 'stem'): string {
  if (naming === 'name-ext') return `${imageName}.${ext}`;
  return `${splitName(imageName).stem}.${ext}`;
}
