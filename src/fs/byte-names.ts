/**
 * File names that are not valid UTF-8 (`IMG_\xff.jpg`: Latin-1 names from old cameras, Windows
 * shares, restored archives). Paths are bytes on Linux, but this library takes paths as strings,
 * and every way a string reaches the file system replaces such bytes:
 * - Node decodes argv and readdir names as UTF-8, each invalid byte becoming U+FFFD;
 * - Node encodes a string path as UTF-8, each lone surrogate (how Python holds an undecodable byte,
 *   U+DC80..U+DCFF, and what a JSON `"\udcff"` escape parses to) becoming U+FFFD.
 * Either way the name given turns into ANOTHER file's name (`IMG_\uFFFD.jpg`, a twin that may
 * exist), so such a name is refused where it enters (a USAGE error naming it with its bytes
 * escaped), never used: docs/BYTE-NAMES.md.
 */
import { isUtf8 } from 'node:buffer';
import * as fs from 'node:fs';
import { errors, type SidecarError } from '../errors.js';
import { isWellFormed } from '../formats/value.js';

/**
 * `s` for a message: printable as is, each lone surrogate U+DC80..U+DCFF (an undecodable byte as
 * Python holds it) as `\xHH`, any other lone surrogate as `\uHHHH`.
 */
export function showName(s: string): string {
  if (isWellFormed(s)) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out += s[i] + s[i + 1];
        i++;
        continue;
      }
    }
    if (c >= 0xdc80 && c <= 0xdcff) out += `\\x${(c - 0xdc00).toString(16).padStart(2, '0')}`;
    else if (c >= 0xd800 && c <= 0xdfff) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += s[i];
  }
  return out;
}

/** Raw bytes for a message: valid UTF-8 runs as text, every other byte as `\xHH`. */
export function showBytes(b: Uint8Array): string {
  let out = '';
  let i = 0;
  while (i < b.length) {
    const n = utf8SeqLength(b, i);
    if (n > 0) {
      out += Buffer.from(b.subarray(i, i + n)).toString('utf8');
      i += n;
    } else {
      out += `\\x${b[i].toString(16).padStart(2, '0')}`;
      i++;
    }
  }
  return out;
}

/** Length of the valid UTF-8 sequence starting at `i`, or 0 when the byte there starts none. */
function utf8SeqLength(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c < 0x80) return 1;
  const n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (n === 0 || i + n > b.length) return 0;
  return isUtf8(b.subarray(i, i + n)) ? n : 0;
}

const HOW =
  'paths are bytes, and this one would be replaced by another name (each such byte becoming U+FFFD), which may be another image\'s; ' +
  'rename the file to a UTF-8 name (e.g. convmv -f latin1 -t utf8)';

/** The error for a path (param, argument or library call) holding a name that is not UTF-8. */
export function notUtf8Name(p: string, where: string): SidecarError {
  return errors.notUtf8(`${where} holds a name that is not valid UTF-8: ${showName(p)}; ${HOW}`, { shown: showName(p) }, p);
}

/** Refuse a path string with a lone surrogate: the file system would be given another name. */
export function assertUtf8Path(p: string, where = 'the path'): void {
  if (!isWellFormed(p)) throw notUtf8Name(p, where);
}

/**
 * The process's arguments after the script (process.argv.slice(2)) as the bytes it was given, from
 * /proc/self/cmdline (Linux); null when that cannot be read or does not line up with process.argv.
 */
export function rawArgs(argv: readonly string[] = process.argv, cmdlinePath = '/proc/self/cmdline'): Buffer[] | null {
  let raw: Buffer;
  try {
    raw = fs.readFileSync(cmdlinePath);
  } catch {
    return null;
  }
  const parts = nulSeparated(raw);
  const args = argv.slice(2);
  if (parts.length < args.length) return null;
  const tail = parts.slice(parts.length - args.length);
  // Each must decode (lossily, as Node did) to its process.argv string, else the two do not line up.
  for (let i = 0; i < args.length; i++) if (tail[i].toString('utf8') !== args[i]) return null;
  return tail;
}

/**
 * Refuse a command line holding an argument that is not valid UTF-8: Node has already replaced its
 * bytes, so any path in it now names another file. Without /proc/self/cmdline the bytes cannot be
 * told from a real U+FFFD, so an argument holding U+FFFD is refused then.
 */
export function assertUtf8Args(argv: readonly string[] = process.argv, cmdlinePath?: string): void {
  const args = argv.slice(2);
  if (!args.some((a) => a.includes('\uFFFD'))) return;
  const raw = rawArgs(argv, cmdlinePath);
  for (let i = 0; i < args.length; i++) {
    if (!args[i].includes('\uFFFD')) continue;
    if (raw !== null && isUtf8(raw[i])) continue; // a name that really holds U+FFFD
    const shown = raw !== null ? showBytes(raw[i]) : args[i];
    const why = raw !== null ? 'is not valid UTF-8' : 'holds U+FFFD and cannot be told from a name that is not valid UTF-8 (its bytes cannot be checked without /proc/self/cmdline)';
    throw errors.notUtf8(`argument ${i + 1} ${why}: ${shown}; ${HOW}`, { argument: i + 1, shown });
  }
}

/**
 * The bytes of the environment variable `name` as the process was given them, from
 * /proc/self/environ (Linux): null when the variable was not in it (set since the process began),
 * undefined when that file cannot be read.
 */
export function rawEnvValue(name: string, environPath = '/proc/self/environ'): Buffer | null | undefined {
  let raw: Buffer;
  try {
    raw = fs.readFileSync(environPath);
  } catch {
    return undefined;
  }
  const prefix = Buffer.from(`${name}=`);
  for (const part of nulSeparated(raw)) if (part.subarray(0, prefix.length).equals(prefix)) return part.subarray(prefix.length);
  return null;
}

/** The parts of a /proc file whose strings each end with NUL (cmdline, environ); a last one without its NUL counts too. */
function nulSeparated(raw: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0) {
      parts.push(raw.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < raw.length) parts.push(raw.subarray(start));
  return parts;
}

/**
 * Refuse an environment variable of `env` whose value is not valid UTF-8: Node has already replaced
 * each such byte by U+FFFD, so different passphrases gave one key, and a key file's path named
 * another file. Only the process's own environment came as bytes: a value holding U+FFFD is checked
 * against /proc/self/environ (a value set since the process began, or that really holds U+FFFD,
 * passes), and refused where those bytes cannot be read (no /proc: it cannot be told).
 */
export function assertUtf8Env(env: NodeJS.ProcessEnv, name: string, opts: { secret?: boolean; environPath?: string } = {}): void {
  const value = env[name];
  if (value === undefined || !value.includes('\uFFFD') || env !== process.env) return;
  const raw = rawEnvValue(name, opts.environPath);
  if (raw === null) return; // set since the process began: a string, not bytes
  if (raw !== undefined && (isUtf8(raw) || raw.toString('utf8') !== value)) return;
  if (raw === undefined) {
    throw errors.notUtf8(`${name} holds U+FFFD, which cannot be told from a value that is not valid UTF-8 here (its bytes cannot be read without /proc/self/environ); give it without U+FFFD`, { variable: name });
  }
  const shown = opts.secret !== true ? `: ${showBytes(raw)}` : '';
  const how = opts.secret === true ? 'give it as UTF-8 (to open files encrypted with it before: write U+FFFD, as UTF-8, in place of each such byte)' : 'give a UTF-8 name (rename the file)';
  throw errors.notUtf8(`${name} is not valid UTF-8${shown} (Node turns each such byte into U+FFFD, so other values would act the same); ${how}`, { variable: name });
}

/**
 * The error for a symlinked image whose chain passes through, or ends at, a name that is not UTF-8:
 * Node would give that name back with U+FFFD in it, another file's (its sidecars the twin's).
 */
export function notUtf8Target(link: string, target: Uint8Array): SidecarError {
  const shown = showBytes(target);
  return errors.notUtf8(`${link} is a symlink to a name that is not valid UTF-8: ${shown}; ${HOW}`, { shown, link }, link);
}
