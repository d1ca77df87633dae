import type { SidecarExt, SidecarNaming } from '../types.js';

/** Image extensions recognised by default (lower case, matched case-insensitively). */
export const DEFAULT_IMAGE_EXTENSIONS: readonly string[] = [
  'jpg', 'jpeg', 'png', 'tif', 'tiff', 'bmp', 'webp', 'heic', 'heif',
  'cr2', 'cr3', 'nef', 'arw', 'dng', 'raf', 'orf', 'rw2',
];

/** Sidecar extensions in the earlier tool's read preference order. */
export const SIDECAR_EXTS: readonly SidecarExt[] = ['bin', 'rkyv', 'json'];
/** The name-ext form (`IMG_1.jpg.json`) uses the same extensions. */
export const NAME_EXT_SIDECAR_EXTS: readonly SidecarExt[] = SIDECAR_EXTS;

/** Directory-level report files: never sidecars of an image (SHAPES.md). */
export const REPORT_FILE_NAMES: readonly string[] = ['game_detection.json', 'game_detection_report.json'];

export interface SplitName {
  /** Name without the last extension ("IMG_1" for "IMG_1.JPG"); the whole name when there is none. */
  stem: string;
  /** Last extension in lower case, without the dot ("jpg"), or "" */
  ext: string;
}

/** Split a file name at its last dot. A leading dot (".hidden") is not an extension. */
export function splitName(name: string): SplitName {
  const dot = name.lastIndexOf('.');
  if (dot <= 0 || dot === name.length - 1) return { stem: name, ext: '' };
  return { stem: name.slice(0, dot), ext: name.slice(dot + 1).toLowerCase() };
}

/** Build the extension set once, outside hot loops. */
export function imageExtensionSet(exts: readonly string[] = DEFAULT_IMAGE_EXTENSIONS): ReadonlySet<string> {
  return new Set(exts.map((e) => e.replace(/^\./, '').toLowerCase()));
}

export function isSidecarExt(ext: string): ext is SidecarExt {
  return ext === 'json' || ext === 'bin' || ext === 'rkyv';
}

/** Names are compared after Unicode NFC normalisation; reports keep the on-disk name. */
export function nfc(name: string): string {
  // Fast path: pure ASCII is already NFC.
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) > 0x7f) return name.normalize('NFC');
  return name;
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
