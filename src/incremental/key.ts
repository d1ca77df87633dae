/**
 * What shapes an inspection result besides the file's bytes, as one short key: the inspect options
 * (summary, sizes, rules, schema digest, probe, size and depth limits, key ids), the tool version
 * and a digest of the compiled code that makes what the index stores (inspection results and the
 * scan's folder records), so a rule changed without a version bump still invalidates. Results are
 * stored per key: a schema change invalidates the validate results made with the old schema and
 * nothing else.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { canonicalJson } from '../formats/canonical.js';
import { keyringIds } from '../crypto/keys.js';
import { schemaEngineVersion } from '../analysis/schema.js';
import type { InspectOptions } from '../tasks/inspect.js';
import type { JsonValue } from '../types.js';
import { packageVersion } from '../version.js';

/** Bumped when the meaning of a stored result changes in a way the code digest cannot see. */
export const RESULT_VERSION = 1;

/**
 * The folders (siblings of this one, compiled) whose code decides an inspection's result or a
 * folder record: decoding (the accelerated path too, its wasm included), analysis, the task, keys,
 * reading files, and pairing, categories and link resolution (discovery: folder records hold their
 * output). Left out: the engine (runs tasks, shapes nothing) and incremental/ (its stored forms
 * carry their own versions). test/index-attack3.test.ts checks every module the inspecting task and
 * the scan import is covered.
 */
const CODE_DIRS = ['formats', 'analysis', 'tasks', 'crypto', 'accel', 'discovery', 'fs'];

/** Modules of the top folder that results carry: error messages, categories, format names. */
const CODE_FILES = ['errors.js', 'types.js', 'vocabulary.js'];

/** Compiled code: modules and the accelerated scanner's WebAssembly. */
const isCode = (n: string) => n.endsWith('.js') || n.endsWith('.wasm');

let codeDigestCache: string | undefined;

/** The compiled files the code digest covers, relative to the compiled tree's top (`formats/json.js`). */
export function codeDigestFiles(): string[] {
  const files: string[] = [];
  for (const dir of CODE_DIRS) {
    try {
      for (const n of readdirSync(fileURLToPath(new URL(`../${dir}/`, import.meta.url))).filter(isCode).sort()) files.push(`${dir}/${n}`);
    } catch {
      /* not there: nothing to cover */
    }
  }
  return [...files, ...CODE_FILES];
}

/** sha256 over the compiled modules that make what the index stores (read once per process, ~50 small files). */
export function codeDigest(): string {
  if (codeDigestCache !== undefined) return codeDigestCache;
  const h = createHash('sha256');
  for (const f of codeDigestFiles()) {
    h.update(`${f}\0`);
    try {
      h.update(readFileSync(new URL(`../${f}`, import.meta.url)));
    } catch {
      /* a missing top-level module changes nothing here: its name alone is hashed */
    }
  }
  return (codeDigestCache = h.digest('hex'));
}

let memoDigestCache: string | undefined;

/**
 * The code a tree memo's output also depends on (incremental/tree-memo.ts): what the index's results
 * do (`codeDigest`), plus the operations that make a command's output of its records and the index
 * that decides a record is still as stored. A memo of another build is never served.
 */
export function memoCodeDigest(): string {
  if (memoDigestCache !== undefined) return memoDigestCache;
  const h = createHash('sha256').update(codeDigest());
  for (const dir of ['ops', 'incremental']) {
    let names: string[] = [];
    try {
      names = readdirSync(fileURLToPath(new URL(`../${dir}/`, import.meta.url))).filter(isCode).sort();
    } catch {
      /* not there: nothing to cover */
    }
    for (const n of names) {
      h.update(`${dir}/${n}\0`);
      try {
        h.update(readFileSync(new URL(`../${dir}/${n}`, import.meta.url)));
      } catch {
        /* its name alone */
      }
    }
  }
  return (memoDigestCache = h.digest('hex'));
}

/** This build: tool version, result version, Node's version and code digest (keys of other builds are dropped on write). */
export function buildId(): string {
  return `${packageVersion()}/${RESULT_VERSION}/node-${process.versions.node}/${codeDigest().slice(0, 16)}`;
}

/** Inspections that can be stored: no decoded data kept (convert, JSON export read every file). */
export function isCacheable(opts: InspectOptions): boolean {
  return !opts.keepData && !opts.dataJson;
}

/**
 * The key of results made with these options (hex, 32 chars). A schema's results also depend on
 * the schema engine's version (`schemaEngine`: the installed ajv's unless given).
 */
export function optionsKey(opts: InspectOptions, schemaEngine?: string, nodeVersion: string = process.versions.node): string {
  const shape: Record<string, JsonValue> = {
    v: RESULT_VERSION,
    tool: packageVersion(),
    code: codeDigest(),
    // Node's own part of a result: V8's JSON.parse messages in `cannot decode`, fs error texts, ICU's
    // NFC and case folding (pairing). An upgraded Node reads everything once again.
    node: nodeVersion,
    summarize: opts.summarize === true,
    sizes: opts.summarize === true ? opts.sizes !== false : false,
    brief: opts.summarize !== true && opts.brief === true,
    validate: opts.validate === true,
    // The schema as written, key order included (not canonical JSON): ajv reports a schema's
    // problems in the order of its keys (`properties` a, b → problems a, b), as each thread's
    // compile cache (tasks/inspect.ts) tells schemas apart.
    schema: opts.schema === undefined ? null : `${createHash('sha256').update(JSON.stringify(opts.schema)).digest('hex')} ${schemaEngine ?? schemaEngineVersion()}`,
    probe: opts.probe === true,
    maxFileSize: opts.maxFileSize ?? null,
    maxDepth: opts.maxDepth ?? null,
    // Which keys can decrypt (ids the same in every run: a passphrase keyring's own salt is random).
    ...(opts.keyring ? keyringIds(opts.keyring) : { keys: [], passphrase: null }),
  };
  return createHash('sha256').update(canonicalJson(shape)).digest('hex').slice(0, 32);
}
