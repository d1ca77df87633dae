/**
 * One-screen views of one sidecar for `read`: `--operation OP` (that operation only),
 * `--summary` (counts, quality, times, sizes, sidecar_info) and, on a terminal, JSON with long
 * number arrays (512-float embeddings) shortened. Piped JSON is never shortened: it is data.
 */
import { keyFormOf, normalizeOperationName, isPlainObject } from '../analysis/operations.js';
import { orderedKeys } from '../formats/key-order.js';
import { summarizeSidecar } from '../analysis/summary.js';
import { getOwn } from '../analysis/own-record.js';
import type { JsonObject, JsonValue } from '../types.js';
import { aligned, bytes, type Style } from './style.js';

/**
 * The key of `data` that is operation `op` in any spelling (`Face_detector` → `face_detection`),
 * or null. With several spellings in the file, the key the summary reads (operations.ts
 * forEachDecidingOperation): the one spelled as the operation's name, else the first.
 */
export function findOperationKey(data: JsonObject, op: string): string | null {
  const want = normalizeOperationName(op);
  if (want !== 'sidecar_info' && Object.hasOwn(data, want)) return want;
  for (const key of Object.keys(data)) if (key !== 'sidecar_info' && normalizeOperationName(key) === want) return key;
  return Object.hasOwn(data, op) ? op : null;
}

/**
 * Operation `op` of `data` as `holder[key]` (the holder keeps its number notes: a bare 25.0), or
 * null: a key in any spelling (findOperationKey), also in the earlier tool's layouts that stats
 * and todo read as operations (flat, wrapped: operations.ts keyFormOf).
 */
export function findOperation(data: JsonObject, op: string): { holder: JsonObject; key: string } | null {
  const doc = keyFormOf(data);
  const key = findOperationKey(doc, op);
  return key === null ? null : { holder: doc, key };
}

/** Numbers shown of a long number array before "… N numbers". */
const SHOWN_NUMBERS = 4;
/** Arrays of more numbers than this are shortened on a terminal. */
const LONG_ARRAY = 8;

/** Does `value` hold an all-number array long enough to be shortened? */
export function hasLongNumberArray(value: JsonValue): boolean {
  if (Array.isArray(value)) {
    if (value.length > LONG_ARRAY && value.every((v) => typeof v === 'number')) return true;
    return value.some(hasLongNumberArray);
  }
  if (value !== null && typeof value === 'object') return Object.values(value).some(hasLongNumberArray);
  return false;
}

/** Indented JSON text with long all-number arrays written as `[0.1, 0.2, 0.3, 0.4, … 512 numbers]`. */
export function abbreviatedJson(value: JsonValue, indent = ''): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((v) => typeof v === 'number')) {
      // Numbers on one line: a bbox pair, a landmark, or the head of an embedding.
      if (value.length <= LONG_ARRAY) return `[${value.map((v) => JSON.stringify(v)).join(', ')}]`;
      return `[${value.slice(0, SHOWN_NUMBERS).map((v) => JSON.stringify(v)).join(', ')}, … ${value.length} numbers]`;
    }
    const inner = indent + '  ';
    return `[\n${value.map((v) => inner + abbreviatedJson(v, inner)).join(',\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const keys = orderedKeys(value);
    if (keys.length === 0) return '{}';
    const inner = indent + '  ';
    return `{\n${keys.map((k) => `${inner}${JSON.stringify(k)}: ${abbreviatedJson(value[k]!, inner)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value);
}

/** What `read --summary` prints as JSON (snake_case, like the other JSON outputs). */
export interface ReadSummary {
  image: string;
  sidecar: string | null;
  format: string | null;
  operations: string[];
  operation_type: string | null;
  faces: number;
  objects: number;
  embeddings: number;
  embedding_length: number | null;
  quality_grade: string | null;
  quality_score: number | null;
  processing_times: Record<string, number>;
  success: Record<string, boolean>;
  data_sizes: Record<string, number>;
  tool_name: string | null;
  created_at: string | null;
  last_updated: string | null;
  last_operation: string | null;
}

export function readSummary(image: string, sidecar: string | null, format: string | null, data: JsonObject): ReadSummary {
  const s = summarizeSidecar(data);
  const info = isPlainObject(data.sidecar_info) ? data.sidecar_info : {};
  const str = (v: JsonValue | undefined) => (typeof v === 'string' ? v : null);
  return {
    image,
    sidecar,
    format,
    operations: s.operations,
    operation_type: s.operationType,
    faces: s.faces,
    objects: s.objects,
    embeddings: s.embeddings,
    embedding_length: s.embeddingLength,
    quality_grade: s.qualityGrade,
    quality_score: s.qualityScore,
    processing_times: s.processingTimes,
    success: s.success,
    data_sizes: s.dataSizes,
    tool_name: s.toolName,
    created_at: str(info.created_at),
    last_updated: str(info.last_updated),
    last_operation: str(info.last_operation),
  };
}

export function readSummaryLines(r: ReadSummary, style: Style): string[] {
  const ops = r.operations.map((op) => {
    const ok = getOwn(r.success, op); // own keys: an operation may be named constructor
    const parts = [ok === undefined ? '-' : ok ? style.green('ok') : style.red('failed')];
    const t = getOwn(r.processing_times, op);
    if (t !== undefined) parts.push(`${Number(t.toPrecision(3))} s`);
    const size = getOwn(r.data_sizes, op);
    if (size !== undefined) parts.push(bytes(size));
    return [`  ${op}`, parts.join(', ')] as const;
  });
  return [
    ...aligned([
      ['image', r.image],
      ['sidecar', r.sidecar === null ? style.dim('none') : `${r.sidecar} (${r.format})`],
      ['faces', `${r.faces}${r.embeddings > 0 ? ` (${r.embeddings} embeddings × ${r.embedding_length})` : ''}`],
      ['objects', r.objects],
      ['quality', r.quality_grade === null ? '-' : `${r.quality_grade}${r.quality_score !== null ? ` (${r.quality_score})` : ''}`],
      ['tool', r.tool_name ?? '-'],
      ['created', r.created_at ?? '-'],
      ['updated', r.last_updated === null ? '-' : `${r.last_updated}${r.last_operation ? ` by ${r.last_operation}` : ''}`],
      ['operations', r.operations.length === 0 ? '-' : String(r.operations.length)],
    ]),
    ...aligned(ops),
  ];
}
