/**
 * The shape of each command's end-line summary (shard/run.ts writes them, merge adds them up). A
 * merge checks every shard's summary against its command's shape before it adds anything: a summary
 * missing, null, with a count written as text or a key left out was added as it came (a TypeError,
 * "Exported NaN images", "1819" for 18 + 19).
 */
import type { ShardCommand } from './format.js';

type Shape =
  | 'count' // a non-negative safe integer
  | 'position' // a safe integer from -1 (a tree position: a folder's own problem is at -1 in it)
  | 'number' // a finite number
  | 'boolean'
  | 'string'
  | 'null'
  | { map: Shape } // a plain object of such values (keys from files: any)
  | { list: Shape }
  | { fields: Record<string, Shape>; optional?: Record<string, Shape> };

const counts: Shape = { map: 'count' };

const SHAPES: Record<ShardCommand | 'export-dataset', Shape> = {
  stats: {
    fields: {
      root: 'string',
      opCounts: counts,
      timeSum: { map: { list: 'number' } },
      timeN: counts,
      succ: counts,
      succN: counts,
      sizeSum: { map: 'number' },
      grades: counts,
      formats: counts,
      facesHist: counts,
      objectsHist: counts,
      faces: 'count',
      withEmbedding: 'count',
      objects: 'count',
      sidecarsCounted: 'count',
      imagesWithSidecar: 'count',
      sidecarFiles: 'count',
      identity: { fields: { current: 'count', stale: 'count', unknown: 'count' } },
      images: 'count',
      imageSymlinks: 'count',
      brokenSymlinks: 'count',
      counts,
      complete: 'boolean',
      problemCount: 'count',
    },
    optional: { keptCopies: 'count' },
  },
  'format-stats': {
    fields: {
      directory: 'string',
      format_distribution: { fields: { Json: 'count', Binary: 'count', Rkyv: 'count', Legacy: 'count', Encrypted: 'count', Corrupt: 'count', Unreadable: 'count' } },
      extension_distribution: counts,
      total_files: 'count',
      scan_complete: 'boolean',
    },
    optional: { kept_copies: 'count', generated_at: 'null' },
  },
  hash: {
    fields: { version: 'string', all_files: 'boolean', files: 'count', bytes: 'count' },
    optional: { undecodable: { list: 'string' }, unreadable: { list: { fields: { path: 'string', code: 'string', message: 'string' } } }, unreadable_count: 'count' },
  },
  validate: {
    fields: {
      total_files: 'count',
      valid_files: 'count',
      invalid_files: 'count',
      complete: 'boolean',
      problem_count: 'count',
      problems: { list: { fields: { seq: { list: 'position' }, path: 'string', code: 'string', message: 'string' } } },
      engine: { fields: { kind: 'string', workers: 'count' } },
    },
    optional: { kept_newer: 'count' },
  },
  export: { fields: { exported: 'count', problems: 'count', complete: 'boolean' } },
  'export-dataset': {
    fields: {
      items: 'count',
      problems: 'count',
      findings: 'count',
      without_detections: 'count',
      no_encoding: 'count',
      other_dims: counts,
      complete: 'boolean',
      sidecar_files: 'count',
    },
  },
};

/** Where `v` departs from `shape` (a path and what is there), or null when it has the shape. */
function departure(v: unknown, shape: Shape, at: string): string | null {
  if (v === undefined) return `${at} is missing`;
  const what = () => `${at} is ${v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'string' ? `text (${JSON.stringify(v).slice(0, 40)})` : typeof v === 'object' ? 'an object' : String(v)}`;
  if (shape === 'count') return Number.isSafeInteger(v) && (v as number) >= 0 ? null : `${what()}, not a count`;
  if (shape === 'position') return Number.isSafeInteger(v) && (v as number) >= -1 ? null : `${what()}, not a tree position`;
  if (shape === 'number') return typeof v === 'number' && Number.isFinite(v) ? null : `${what()}, not a number`;
  if (shape === 'boolean') return typeof v === 'boolean' ? null : `${what()}, not true or false`;
  if (shape === 'string') return typeof v === 'string' ? null : `${what()}, not text`;
  if (shape === 'null') return v === null ? null : `${what()}, not null`;
  if ('list' in shape) {
    if (!Array.isArray(v)) return `${what()}, not a list`;
    for (let i = 0; i < v.length; i++) {
      const d = departure(v[i], shape.list, `${at}[${i}]`);
      if (d !== null) return d;
    }
    return null;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return `${what()}, not an object`;
  const o = v as Record<string, unknown>;
  if ('map' in shape) {
    for (const k of Object.keys(o)) {
      const d = departure(o[k], shape.map, `${at}.${k}`);
      if (d !== null) return d;
    }
    return null;
  }
  for (const [k, s] of Object.entries(shape.fields)) {
    if (!Object.hasOwn(o, k)) return `${at}.${k} is missing`;
    const d = departure(o[k], s, `${at}.${k}`);
    if (d !== null) return d;
  }
  for (const [k, s] of Object.entries(shape.optional ?? {})) {
    if (!Object.hasOwn(o, k)) continue;
    const d = departure(o[k], s, `${at}.${k}`);
    if (d !== null) return d;
  }
  // A member no writer makes (`format_distribution.constructor`) was added as it came.
  for (const k of Object.keys(o)) if (!Object.hasOwn(shape.fields, k) && !Object.hasOwn(shape.optional ?? {}, k)) return `${at}.${k} is no member of it`;
  return null;
}

/** Why a shard's end line cannot be merged (`items` and the summary of its command), or null. */
export function endLineDeparture(command: ShardCommand | 'export-dataset', trailer: { items?: unknown; summary?: unknown }): string | null {
  if (!Number.isSafeInteger(trailer.items) || (trailer.items as number) < 0) return `its end line's item count is ${JSON.stringify(trailer.items) ?? 'missing'}, not a count`;
  // stats and format-stats write no item line: their end line says 0.
  if ((command === 'stats' || command === 'format-stats') && trailer.items !== 0) return `its end line counts ${String(trailer.items)} items, and a ${command} shard writes none`;
  const d = departure(trailer.summary, SHAPES[command], 'summary');
  if (d !== null) return d;
  // The counts a writer takes from its items (an export's images are its lines).
  const s = trailer.summary as { exported?: number; items?: number };
  const counted = command === 'export' ? s.exported : command === 'export-dataset' ? s.items : undefined;
  if (counted !== undefined && counted !== trailer.items) return `its summary counts ${counted} images, its end line ${String(trailer.items)} items`;
  return null;
}
