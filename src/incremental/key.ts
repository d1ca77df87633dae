/**
 * What shapes an inspection result besides the file's bytes, as one short key: the inspect options
 * (summary, sizes, rules, schema digest, probe, size and depth limits, key ids), the tool version
 * and a digest of the compiled code that makes what the index stores (inspection results and the
 * scan's folder records), so a rule changed without a version bump still invalidates. Results are
 * stored per key: a schema change invalidates the validate results made with the old schema and
 * nothing else.
 */
import { inExecutable, shippedFile } from '../shipped.js';
import { createHash, type Hash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { canonicalJson } from '../formats/canonical.js';
import { keyringIds } from '../crypto/keys.js';
import { schemaEngineVersion } from '../analysis/schema.js';
import type { JsonValue } from '../types.js';
import { packageVersion } from '../version.js';
import type { InspectOptions } from '../model/inspection.js';

/** Bumped when the meaning of a stored result changes in a way the code digest cannot see. */
export const RESULT_VERSION = 1;

/**
 * The folders (siblings of this one, compiled) whose code decides an inspection's result or a
 * folder record: decoding (the accelerated path too, its wasm included), analysis, the task, keys,
 * reading files, pairing and link resolution (discovery), the scan's records and categories
 * (scan: folder records hold their output), and a stored result's bytes (tasks/entry-format.ts,
 * index-entry.ts, inspect-wire.ts, entries.wasm: the task makes them). Left out: the engine (runs
 * tasks, shapes nothing) and incremental/ (its stored forms carry their own versions).
 * test/index-keys.test.ts checks every module the inspecting task and the scan import is covered.
 */
const CODE_DIRS = ['formats', 'analysis', 'tasks', 'crypto', 'accel', 'discovery', 'scan', 'fs'];

/** Modules of the top folder that results carry: error messages, categories, format names; stored columns' byte order. */
const CODE_FILES = ['errors.js', 'temp-name.js', 'types.js', 'vocabulary.js', 'byte-order.js'];

/** The compiled tree's top, as a path ending in '/' (a URL per file costs ~30 µs: ~100 files a run). */
const COMPILED_TOP = fileURLToPath(new URL('../', import.meta.url));

/** Compiled code: modules and the accelerated scanner's WebAssembly. */
const isCode = (n: string) => n.endsWith('.js') || n.endsWith('.wasm');

/** The compiled code files of these folders (siblings of this one), sorted per folder, relative to the compiled tree's top. */
function compiledFiles(dirs: readonly string[]): string[] {
  const files: string[] = [];
  for (const dir of dirs) {
    try {
      for (const n of readdirSync(COMPILED_TOP + dir).filter(isCode).sort()) files.push(`${dir}/${n}`);
    } catch {
      /* not there: nothing to cover */
    }
  }
  return files;
}

/** Each file's name and bytes into `h` (a file not there: its name alone). */
function hashFiles(h: Hash, files: readonly string[]): Hash {
  for (const f of files) {
    h.update(`${f}\0`);
    try {
      h.update(readFileSync(COMPILED_TOP + f));
    } catch {
      /* a missing top-level module changes nothing here: its name alone is hashed */
    }
  }
  return h;
}

/** The compiled files the code digest covers, relative to the compiled tree's top (`formats/json.js`). */
export function codeDigestFiles(): string[] {
  return [...compiledFiles(CODE_DIRS), ...CODE_FILES];
}

/** sha256 over the compiled modules that make what the index stores (~50 small files: ~5 ms; codeDigest reads the build's manifest instead). */
export function computeCodeDigest(): string {
  return hashFiles(createHash('sha256'), codeDigestFiles()).digest('hex');
}

/** Where a build keeps its digests (scripts/code-digest.mjs writes it after the build, beside this module). */
export const DIGEST_MANIFEST_URL = new URL('./code-digest.json', import.meta.url);

/** A build's code digest, and each file it covers with the size and mtime (ns) it had then (-1, '': none there). */
export interface DigestManifest {
  files: [string, number, string][];
  code: string;
}

/** The size and mtime (ns) of a compiled file now (relative to the compiled tree's top), or null: none there. */
function fileStamp(rel: string): [number, string] | null {
  const st = statSync(COMPILED_TOP + rel, { bigint: true, throwIfNoEntry: false });
  return st ? [Number(st.size), String(st.mtimeNs)] : null;
}

/** This build's manifest, made now (what scripts/code-digest.mjs writes). */
export function digestManifest(): DigestManifest {
  const code = computeCodeDigest();
  const files = codeDigestFiles().map((f): [string, number, string] => {
    const stamp = fileStamp(f);
    return [f, stamp?.[0] ?? -1, stamp?.[1] ?? ''];
  });
  return { files, code };
}

/**
 * The manifest's digest when it lists exactly the files covered now (`files`), each with the size
 * and mtime it has now (`stampOf`); else null: a file changed, came or went since the build wrote
 * it (or it is not a manifest), and the digest is computed again. A stat of each file (~0.5 ms)
 * instead of reading and hashing them (~8 ms of every run with the index).
 */
export function manifestDigests(manifest: unknown, files: readonly string[], stampOf: (rel: string) => [number, string] | null): { code: string } | null {
  const m = manifest as DigestManifest;
  if (typeof m !== 'object' || m === null || typeof m.code !== 'string' || !Array.isArray(m.files) || m.files.length !== files.length) return null;
  for (let i = 0; i < files.length; i++) {
    const e = m.files[i];
    if (!Array.isArray(e) || e[0] !== files[i]) return null;
    const now = stampOf(files[i]);
    if (now === null ? e[1] !== -1 || e[2] !== '' : e[1] !== now[0] || e[2] !== now[1]) return null;
  }
  return { code: m.code };
}

let codeDigestCache: string | undefined;

/** The build manifest's digest (null: none, or it no longer holds); read by codeDigest, once per process. */
function digestsOfBuild(): { code: string } | null {
  let manifest: unknown;
  try {
    manifest = JSON.parse(shippedFile('code-digest.json', DIGEST_MANIFEST_URL).toString('utf8'));
  } catch {
    return null;
  }
  // The executable's files are embedded in it: the digest of the build it was made from, as it is.
  if (inExecutable()) return typeof (manifest as DigestManifest | null)?.code === 'string' ? { code: (manifest as DigestManifest).code } : null;
  return manifestDigests(manifest, codeDigestFiles(), fileStamp);
}

/** sha256 over the compiled modules that make what the index stores (the build's manifest while it holds, else computed; once per process). */
export function codeDigest(): string {
  if (codeDigestCache === undefined) {
    codeDigestCache = digestsOfBuild()?.code ?? computeCodeDigest();
  }
  return codeDigestCache;
}

/** This build: tool version, result version, Node's version and code digest (keys of other builds are dropped on write). */
export function buildId(): string {
  return `${packageVersion()}/${RESULT_VERSION}/node-${process.versions.node}/${codeDigest().slice(0, 16)}`;
}

/** Inspections that can be stored: no decoded data kept or read (convert, export read every file). */
export function isCacheable(opts: InspectOptions): boolean {
  return !opts.keepData && !opts.dataJson && opts.dataset === undefined;
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

/**
 * Whose read access the index's results reflect: the process's effective user and its groups
 * ("uid:g1,g2", the effective group among them), undefined where the platform has none (Windows:
 * there the index is served to every user, as before). A file or folder another user cannot read or
 * list gave its stored result, or its stored listing, to that user: the index serves only runs of
 * the identity that wrote it (scan-index.ts).
 */
export function accessIdentity(): string | undefined {
  // The effective ids decide access; the group among the groups (whether the list holds it or not).
  if (typeof process.geteuid !== 'function' || typeof process.getegid !== 'function') return undefined;
  const gid = process.getegid();
  const groups = [...new Set([gid, ...(typeof process.getgroups === 'function' ? process.getgroups() : [])])].sort((a, b) => a - b);
  return `${process.geteuid()}:${groups.join(',')}`;
}
