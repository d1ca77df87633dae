/**
 * What shapes an inspection result besides the file's bytes, as one short key: the inspect options
 * (summary, sizes, rules, schema digest, probe, size and depth limits, key ids), the tool version
 * and a digest of the compiled code that inspects (formats, analysis, tasks, crypto), so a rule
 * changed without a version bump still invalidates. Results are stored per key: a schema change
 * invalidates the validate results made with the old schema and nothing else.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { canonicalJson } from '../formats/canonical.js';
import type { InspectOptions } from '../tasks/inspect.js';
import type { JsonValue } from '../types.js';
import { packageVersion } from '../version.js';

/** Bumped when the meaning of a stored result changes in a way the code digest cannot see. */
export const RESULT_VERSION = 1;

/** The folders (siblings of this one, compiled) whose code decides an inspection's result. */
const CODE_DIRS = ['formats', 'analysis', 'tasks', 'crypto'];

let codeDigestCache: string | undefined;

/** sha256 over the compiled modules that inspect (read once per process, ~30 small files). */
export function codeDigest(): string {
  if (codeDigestCache !== undefined) return codeDigestCache;
  const h = createHash('sha256');
  for (const dir of CODE_DIRS) {
    const url = new URL(`../${dir}/`, import.meta.url);
    let names: string[];
    try {
      names = readdirSync(fileURLToPath(url)).filter((n) => n.endsWith('.js')).sort();
    } catch {
      names = [];
    }
    for (const n of names) {
      h.update(`${dir}/${n}\0`);
      h.update(readFileSync(new URL(n, url)));
    }
  }
  return (codeDigestCache = h.digest('hex'));
}

/** This build: tool version, result version and code digest (keys of other builds are dropped on write). */
export function buildId(): string {
  return `${packageVersion()}/${RESULT_VERSION}/${codeDigest().slice(0, 16)}`;
}

/** Inspections that can be stored: no decoded data kept (convert, JSON export read every file). */
export function isCacheable(opts: InspectOptions): boolean {
  return !opts.keepData && !opts.dataJson;
}

/** The key of results made with these options (hex, 32 chars). */
export function optionsKey(opts: InspectOptions): string {
  const shape: Record<string, JsonValue> = {
    v: RESULT_VERSION,
    tool: packageVersion(),
    code: codeDigest(),
    summarize: opts.summarize === true,
    sizes: opts.summarize === true ? opts.sizes !== false : false,
    brief: opts.summarize !== true && opts.brief === true,
    validate: opts.validate === true,
    schema: opts.schema === undefined ? null : createHash('sha256').update(canonicalJson(opts.schema as JsonValue)).digest('hex'),
    probe: opts.probe === true,
    maxFileSize: opts.maxFileSize ?? null,
    maxDepth: opts.maxDepth ?? null,
    keys: opts.keyring ? opts.keyring.keys.map((k) => k.id).sort() : [],
    passphrase: opts.keyring?.passphrase !== undefined,
  };
  return createHash('sha256').update(canonicalJson(shape)).digest('hex').slice(0, 32);
}
