/**
 * Checking request params of the stdio server. Requests come from other programs, so every
 * field is checked before it reaches the library; a wrong one is a USAGE error for that request.
 */
import { errors } from '../errors.js';
import { assertUtf8Path } from '../fs/byte-names.js';
import { assertOneFolder } from '../fs/physical-path.js';

export type Params = Record<string, unknown>;

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

/** A required non-empty string. */
export function requireString(p: Params, name: string): string {
  const v = p[name];
  if (typeof v !== 'string' || v.length === 0) {
    throw errors.usage(`param "${name}" must be a non-empty string (got ${describe(v)})`);
  }
  return v;
}

export function optionalString(p: Params, name: string): string | undefined {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw errors.usage(`param "${name}" must be a non-empty string (got ${describe(v)})`);
  return v;
}

export function optionalBoolean(p: Params, name: string, fallback: boolean): boolean {
  const v = p[name];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw errors.usage(`param "${name}" must be true or false (got ${describe(v)})`);
  return v;
}

/** A JSON object (not an array, not null). */
export function optionalObject(p: Params, name: string): Record<string, unknown> | undefined {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw errors.usage(`param "${name}" must be an object (got ${describe(v)})`);
  return v as Record<string, unknown>;
}

/** A positive integer (worker counts). */
export function optionalPositiveInt(p: Params, name: string): number | undefined {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw errors.usage(`param "${name}" must be a positive integer (got ${JSON.stringify(v) ?? describe(v)})`);
  }
  return v;
}

/** One of a fixed set of strings. */
export function optionalChoice<T extends string>(p: Params, name: string, choices: readonly T[]): T | undefined {
  const v = optionalString(p, name);
  if (v === undefined) return undefined;
  if (!(choices as readonly string[]).includes(v)) throw errors.usage(`param "${name}" must be one of ${choices.join(', ')} (got "${v}")`);
  return v as T;
}

export function requireChoice<T extends string>(p: Params, name: string, choices: readonly T[]): T {
  const v = optionalChoice(p, name, choices);
  if (v === undefined) throw errors.usage(`param "${name}" is required (one of ${choices.join(', ')})`);
  return v;
}

/** Extensions as the CLI's `--image-ext` takes them: "a,b" or ["a", "b"]. */
export function optionalStringList(p: Params, name: string): string | string[] | undefined {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw errors.usage(`param "${name}" must be a string or an array of strings (got ${describe(v)})`);
}

/**
 * A required path. JSON cannot hold bytes: a name that is not UTF-8 arrives as lone surrogates
 * (Python's surrogate escapes, `"\udcff"`), which the file system would be given as U+FFFD, another
 * file's name; it is refused (fs/byte-names.ts).
 */
export function requirePath(p: Params, name: string): string {
  const v = requireString(p, name);
  assertPathParam(v, name);
  return v;
}

/** A path param holds a name a file can have: UTF-8 (above), and no NUL (Node's own error named no param). */
function assertPathParam(v: string, name: string): void {
  assertUtf8Path(v, `param "${name}"`);
  if (v.includes('\0')) throw errors.usage(`param "${name}" holds a NUL character: no file is named so`);
}

/** A tree method's folder: a path (above) that names one folder as text and to the file system (fs/physical-path.ts). */
export function requireDir(p: Params): string {
  const dir = requirePath(p, 'dir');
  assertOneFolder(dir);
  return dir;
}

export function optionalPath(p: Params, name: string): string | undefined {
  const v = optionalString(p, name);
  if (v !== undefined) assertPathParam(v, name);
  return v;
}
