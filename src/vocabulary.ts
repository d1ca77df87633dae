/**
 * The words callers may use, each list written once. The CLI derives commander's choices from
 * these, the stdio server its parameter checks, and the library its types and validation, so the
 * three can no longer drift apart. Tiny and import-free: the CLI's start-up path loads it.
 */

/** Content formats (what the bytes are), independent of the file extension. */
export const SIDECAR_FORMATS = ['json', 'bin', 'rkyv', 'legacy'] as const;

/** The earlier tool's names for our formats. */
export const FORMAT_ALIASES = { binary: 'bin' } as const;

/** Every format name a caller may pass: the formats and their aliases (`binary` → `bin`). */
export const FORMAT_NAMES = [...SIDECAR_FORMATS, ...(Object.keys(FORMAT_ALIASES) as (keyof typeof FORMAT_ALIASES)[])] as const;

/** Sidecar file extensions, in the earlier tool's read preference order. */
export const SIDECAR_EXTS = ['bin', 'rkyv', 'json'] as const;

/** `export` output formats of whole sidecars. */
export const SIDECAR_EXPORT_FORMATS = ['json', 'jsonl', 'csv'] as const;

/** `export` output formats of datasets made from the sidecars' results (docs/EXPORT.md). */
export const DATASET_FORMATS = ['coco', 'yolo', 'embeddings'] as const;

/** Every `export` output format. */
export const EXPORT_FORMATS = [...SIDECAR_EXPORT_FORMATS, ...DATASET_FORMATS] as const;

/** Floats per face embedding an embeddings export takes unless told (`--dim`): today's encodings; the oldest form's have 128. */
export const DEFAULT_EMBEDDING_DIM = 512;

/** Boxes a coco / yolo export may add to the objects (`--include`). */
export const DATASET_INCLUDES = ['objects', 'faces'] as const;

/** Where per-file work runs. */
export const ENGINE_KINDS = ['auto', 'threads', 'inline'] as const;

/** How a save merges its payload: under its operation key, or as a whole document (keys merged). */
export const SAVE_MERGE_MODES = ['operation', 'document'] as const;

/** How `resolve` chooses the one file to keep per image. */
export const RESOLVE_PREFERENCES = ['newest', 'current', 'bin', 'rkyv', 'json'] as const;

/** Is `v` one of `list` (narrowing `v` to the list's type)? */
export function isOneOf<T extends string>(list: readonly T[], v: unknown): v is T {
  return typeof v === 'string' && (list as readonly string[]).includes(v);
}

/** The formats a default may name (`.image-sidecar.json` `defaultFormat`, IMAGE_SIDECAR_FORMAT): not `legacy`, which is read only. */
export const DEFAULT_FORMAT_NAMES = ['json', 'bin', 'binary', 'rkyv'] as const;
