/**
 * Manifests: the per-file (bytes mode) or per-image (canonical mode) digests of a tree, sorted
 * by the UTF-8 bytes of the path, byte-identical for the same tree.
 *
 *   *.jsonl   {"path":"a/IMG_1.json","digest":"<hex>"} one per line
 *   other     {"version":"isc-tree-v1","root_digest":"<hex>","all_files":false,"files":{"<path>":"<hex>",...}}
 *
 * The JSON object is written by hand rather than with JSON.stringify(object): an object would put
 * integer-like keys ("2024") first and break the sorted order.
 */
import { readRegularFile } from '../fs/regular-file.js';
import { errors } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { CANON_VERSION, TREE_VERSION, type KeyedHex, type TreeVersion } from './digest.js';

export interface ManifestData {
  version: TreeVersion;
  rootDigest: string;
  allFiles: boolean;
  /** Sorted by the UTF-8 bytes of `key`. */
  entries: readonly KeyedHex[];
}

export interface LoadedManifest {
  /** Absent in JSONL manifests (the caller's options say the mode). */
  version?: TreeVersion;
  rootDigest?: string;
  allFiles?: boolean;
  /** path → hex digest, in file order. */
  files: Map<string, string>;
}

const HEX64 = /^[0-9a-f]{64}$/;

export function isJsonlPath(path: string): boolean {
  return path.toLowerCase().endsWith('.jsonl');
}

/** The manifest's text (ends with a newline). */
export function manifestText(m: ManifestData, jsonl: boolean): string {
  const parts: string[] = [];
  if (jsonl) {
    for (const e of m.entries) parts.push(`{"path":${JSON.stringify(e.key)},"digest":"${e.hex}"}\n`);
    return parts.join('');
  }
  parts.push(`{\n  "version": "${m.version}",\n  "root_digest": "${m.rootDigest}",\n  "all_files": ${m.allFiles},\n  "files": {`);
  for (let i = 0; i < m.entries.length; i++) {
    const e = m.entries[i];
    parts.push(`${i === 0 ? '' : ','}\n    ${JSON.stringify(e.key)}: "${e.hex}"`);
  }
  parts.push(m.entries.length === 0 ? '}\n}\n' : '\n  }\n}\n');
  return parts.join('');
}

/** Write the manifest atomically (temp file, fsync, rename). */
export async function writeManifest(path: string, m: ManifestData): Promise<void> {
  await writeFileAtomic(path, Buffer.from(manifestText(m, isJsonlPath(path)), 'utf8'), { skipIfSame: true });
}

/** Read a manifest written by writeManifest (either form). Throws CORRUPT when it is not one. */
export async function readManifest(path: string): Promise<LoadedManifest> {
  let text: string;
  try {
    text = (await readRegularFile(path)).toString('utf8'); // a FIFO planted there is refused, never waited on
  } catch (e) {
    const err = errors.fromFs(e, path);
    throw err.code === 'NOT_FOUND' ? errors.notFound(path, 'manifest') : err;
  }
  const files = new Map<string, string>();
  const add = (p: unknown, d: unknown, where: string) => {
    if (typeof p !== 'string' || typeof d !== 'string' || !HEX64.test(d)) throw errors.corrupt(`not a manifest entry at ${where}`, path);
    if (files.has(p)) throw errors.corrupt(`duplicate path ${JSON.stringify(p)} at ${where}`, path);
    files.set(p, d);
  };
  if (isJsonlPath(path)) {
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].trim();
      if (line === '') continue;
      const o = parse(line, path, `line ${i + 1}`) as { path?: unknown; digest?: unknown } | null;
      add(o?.path, o?.digest, `line ${i + 1}`);
    }
    return { files };
  }
  const o = parse(text, path, 'top level') as Record<string, unknown> | null;
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw errors.corrupt('a manifest must be a JSON object', path);
  const { version, root_digest: rootDigest, all_files: allFiles, files: entries } = o;
  if (version !== TREE_VERSION && version !== CANON_VERSION) throw errors.corrupt(`unknown manifest version ${JSON.stringify(version)}`, path);
  if (typeof rootDigest !== 'string' || !HEX64.test(rootDigest)) throw errors.corrupt('root_digest must be 64 hex digits', path);
  if (allFiles !== undefined && typeof allFiles !== 'boolean') throw errors.corrupt('all_files must be a boolean', path);
  if (!entries || typeof entries !== 'object' || Array.isArray(entries)) throw errors.corrupt('files must be an object', path);
  for (const [p, d] of Object.entries(entries)) add(p, d, `files[${JSON.stringify(p)}]`);
  return { version, rootDigest, allFiles, files };
}

function parse(text: string, path: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw errors.corrupt(`manifest is not valid JSON (${where}): ${(e as Error).message}`, path, e);
  }
}
