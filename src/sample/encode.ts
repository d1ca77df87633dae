/**
 * Bytes of generated sidecars in each on-disk format, and the deliberate corruptions found in
 * real libraries (truncated JSON, empty file, invalid UTF-8, `NaN`; a UTF-8 BOM, still valid).
 */
import { encodeSidecar } from '../formats/codec.js';
import type { JsonObject, JsonValue } from '../types.js';
import type { Rng } from './prng.js';

export type SampleFormat = 'json' | 'bin' | 'legacy';

/** The pipeline's style: `json.dumps(indent=2)` ≙ `JSON.stringify(x, null, 2)`, no trailing newline. */
export function pipelineJson(data: JsonObject): string {
  return JSON.stringify(data, null, 2);
}

/** Keys sorted recursively, as the earlier Rust tool's serde_json maps wrote them. */
export function sortKeysDeep(value: JsonValue): JsonValue {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    // number arrays (embeddings) hold no objects: return them as they are
    if (value.length > 0 && typeof value[0] === 'number') return value;
    return value.map(sortKeysDeep);
  }
  const out: JsonObject = {};
  for (const key of Object.keys(value).sort()) out[key] = sortKeysDeep(value[key]);
  return out;
}

/** The earlier tool's .bin/.rkyv layout: u64 little-endian byte length, then compact JSON. */
export function legacyBytes(data: JsonObject): Buffer {
  const body = Buffer.from(JSON.stringify(sortKeysDeep(data)), 'utf8');
  const out = Buffer.allocUnsafe(8 + body.length);
  out.writeBigUInt64LE(BigInt(body.length), 0);
  body.copy(out, 8);
  return out;
}

export function encodeSample(data: JsonObject, format: SampleFormat): string | Buffer {
  switch (format) {
    case 'json':
      return pipelineJson(data);
    case 'legacy':
      return legacyBytes(data);
    case 'bin':
      return encodeSidecar(data, 'bin');
  }
}

export type CorruptionKind = 'truncated' | 'empty' | 'invalid-utf8' | 'nan';
/** Handed out in this order, so a few corrupt files already cover every kind. */
export const CORRUPTION_KINDS: readonly CorruptionKind[] = ['truncated', 'empty', 'invalid-utf8', 'nan'];

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);
/** "Éq" in Latin-1: a lead byte followed by ASCII, as an old tool that wrote Latin-1 left it. */
const LATIN1_BYTES = Buffer.from([0xc9, 0x71]);
const FLOAT_FIELD = /("(?:processing_time|detection_time|detection_time_seconds|overall_score|confidence)": )-?\d[\d.e+-]*/;

export function withBom(json: string): Buffer {
  return Buffer.concat([UTF8_BOM, Buffer.from(json, 'utf8')]);
}

/** Damage a valid pipeline JSON text so that no strict decoder accepts it. */
export function corruptJson(kind: CorruptionKind, json: string, rng: Rng): Buffer {
  switch (kind) {
    case 'empty':
      return Buffer.alloc(0);
    case 'truncated': {
      // any proper prefix of an object's text is unbalanced, hence invalid
      const bytes = Buffer.from(json, 'utf8');
      const cut = Math.min(bytes.length - 2, Math.max(1, Math.floor(bytes.length * rng.range(0.2, 0.95))));
      return bytes.subarray(0, cut);
    }
    case 'nan': {
      // Python's json.dumps writes float('nan') as a bare NaN
      const replaced = json.replace(FLOAT_FIELD, '$1NaN');
      return Buffer.from(replaced !== json ? replaced : json.replace('{', '{\n  "score": NaN,'), 'utf8');
    }
    case 'invalid-utf8': {
      const bytes = Buffer.from(json, 'utf8');
      const marker = bytes.indexOf('"image_path": "');
      const at = marker >= 0 ? marker + 15 : 1;
      return Buffer.concat([bytes.subarray(0, at), LATIN1_BYTES, bytes.subarray(at)]);
    }
  }
}
