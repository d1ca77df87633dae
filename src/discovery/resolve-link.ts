/**
 * Image symlinks → their final target: THE resolution rule of a scan (realpath, then "is it a
 * regular file"), in implementations with the same answers (parity tests in
 * test/resolve-link.test.ts):
 *
 * - `resolveLinkNative`: realpath(3) + stat, the rule itself (the reference of the tests);
 * - `LinkResolver` (a scan without the index): readlink + lstat where that is certain to agree,
 *   else `resolveLinkNative`;
 * - `resolveLinkTraced` / `resolveFolderTraced`: the same walk done here, component by component
 *   (of a whole link, or of the folder a link's text names), reporting every lookup (a name in a
 *   directory, and the inode it named). Those lookups are all the answer depends on: an inode
 *   keeps its type, a symlink's text never changes, and a directory whose identity (dev, ino,
 *   mtime, ctime) is unchanged names the same inodes. A folder's stored records keep them
 *   (incremental/folder-records.ts); the index's link entries, tasks/link-entry.ts.
 */
import { isUtf8 } from 'node:buffer';
import { lstat, lstatSync, readlink, readlinkSync, realpathSync, statSync } from 'node:fs';
import { sep } from 'node:path';
import { LITTLE_ENDIAN_HOST } from '../byte-order.js';
import { manyAtOnce } from '../fs/many-at-once.js';
import type { ResolvedLink } from '../model/inspection.js';

/** The real path of the walk's folder `rel` under the real root `rootReal` (the root `/` included: never `//`). */
export function realUnder(rootReal: string, rel: string): string {
  return rel === '' ? rootReal : rootReal === '/' ? `/${rel}` : `${rootReal}/${rel}`;
}

/** The path `name` in the real folder `folder`. */
export function nameIn(folder: string, name: string): string {
  return folder === '/' ? `/${name}` : `${folder}/${name}`;
}

/** The real path of the link `name` in the walk's folder `rel`: the index's key of its entry (dir-cache.ts), and what a folder's records name it by. */
export function realLinkPath(rootReal: string, rel: string, name: string): string {
  return nameIn(realUnder(rootReal, rel), name);
}

/** How a scan resolves its symlinked images: LinkResolver, or the index's folders (dir-cache.ts). */
export interface LinkResolution {
  /** `linkPath` is the link `name` of the walked folder `dirRel` (relative to the root's real path). */
  resolve(linkPath: string, dirRel: string, name: string): ResolvedLink;
}

/** MAXSYMLINKS of glibc and Linux: more links than this in one resolution is a loop. */
const MAX_LINK_HOPS = 40;

function brokenBy(code: string | undefined, fallback: string): ResolvedLink {
  return { broken: true, reason: code === 'ELOOP' ? 'symlink loop' : (code ?? fallback) };
}

/**
 * A link whose target (or a folder on the way) is named with bytes that are not UTF-8: as a string
 * (U+FFFD) it would name another file, the twin's sidecars pairing with it (fs/byte-names.ts).
 */
const NOT_UTF8: ResolvedLink = { broken: true, reason: 'target name is not valid UTF-8' };

/** `r` unless its target holds U+FFFD that realpath(3)'s bytes show to be a replaced byte. */
function exactTarget(linkPath: string, r: ResolvedLink): ResolvedLink {
  if (r.target === undefined || !r.target.includes('\uFFFD')) return r;
  try {
    return isUtf8(realpathSync.native(linkPath, { encoding: 'buffer' })) ? r : NOT_UTF8;
  } catch (e) {
    return brokenBy((e as NodeJS.ErrnoException).code, String(e));
  }
}

/** realpath(3) + stat of one link: the rule itself (every other implementation here gives its answers). */
export function resolveLinkNative(p: string): ResolvedLink {
  try {
    const raw = realpathSync.native(p, { encoding: 'buffer' }); // one call; the JS realpath lstat's every component
    if (!isUtf8(raw)) return NOT_UTF8;
    const target = raw.toString('utf8');
    return statSync(target).isFile() ? { target, broken: false } : { broken: true, reason: 'target is not a file' };
  } catch (e) {
    return brokenBy((e as NodeJS.ErrnoException).code, String(e));
  }
}

/** `resolveLinkNative` of each path (the reference of the parity tests). */
export function resolveLinks(paths: readonly string[]): Map<string, ResolvedLink> {
  const out = new Map<string, ResolvedLink>();
  for (const p of paths) out.set(p, resolveLinkNative(p));
  return out;
}

/** Linux's PATH_MAX, its terminating NUL included: realpath(3) fails on a longer result. */
const PATH_MAX = 4096;

/**
 * /proc and below: magic links there (/proc/PID/cwd, /proc/self/fd/N) lead elsewhere when a
 * process moves, with no folder or inode on the way changing. A resolution that looked a name up
 * there is never trusted from one run to the next: such a folder is resolved again in each run, and
 * no folder record relies on it (tasks/link-entry.ts, incremental/dir-cache.ts).
 */
/** Longer than realpath(3) can answer: a folder's real path fits where its file's may not (ENAMETOOLONG). */
export function pastPathMax(path: string): boolean {
  return path.length * 3 >= PATH_MAX && Buffer.byteLength(path) >= PATH_MAX;
}

export function isUnderProc(dir: string): boolean {
  return dir === '/proc' || dir.startsWith('/proc/');
}

/**
 * Resolves symlinked images, with sync calls (a few µs each, where the promise API costs a
 * thread-pool round trip; game folders hold thousands of links).
 *
 * realpath(3) reads every component of the whole path (about ten syscalls a link here). Most links
 * are `../../photos/day/IMG.jpg`: `..` segments, then plain names. For those one readlink and one
 * lstat suffice: the link's folder is physically `rootReal/rel` (the walk never enters a directory
 * link), so its `..` parents are lexical; the remaining names are resolved by the kernel in the
 * lstat exactly as in following the link; and when the last name is a regular file, the target's
 * realpath is the realpath of its folder (taken once per folder) plus its name. Anything else — a
 * `..` after a name, a link to a link, a missing or non-file target, an error — takes realpath +
 * stat as before, so a target's path, and whether it lies inside the root, are the same either way.
 */
export class LinkResolver implements LinkResolution {
  private readonly realDirs = new Map<string, string | null>();
  /**
   * Links read ahead (`readAhead`), by the link's path: the target its text names where that is
   * certain (null: unreadable, or the careful way decides), and whether it is a regular file. Each answers once.
   */
  private readonly ahead = new Map<string, { lexical: string | null; isFile: boolean }>();

  constructor(private readonly rootReal: string) {}

  /**
   * `linkPath` is the link `name` of the walked folder `dirRel`. Resolved from the link's real path
   * (the root's own links are not counted against realpath's 40, as the index's traced resolution
   * counts them: a root named through a link gives the answers its real path gives).
   */
  resolve(linkPath: string, dirRel: string, name: string): ResolvedLink {
    return this.fast(linkPath, dirRel, name) ?? resolveLinkNative(realLinkPath(this.rootReal, dirRel, name));
  }

  /**
   * On a file server, where each call is a round trip: the two calls `resolve` makes per link
   * (readlink, then lstat of the target its text names) made for `links` many at once, each kept
   * for that link's resolution. An answer is the link or target as it was when read, as a call
   * made then would be. Once `stop.aborted` no call is made, and what was read is let go once the
   * calls in flight are back; never rejects.
   */
  readAhead(links: readonly { path: string; dirRel: string }[], stop: { readonly aborted: boolean }): Promise<void> {
    const dirOf = new Map(links.map((l) => [l.path, l.dirRel]));
    const lexicalOf = new Map<string, string>();
    const texts = manyAtOnce<string | null>([...dirOf.keys()], (p, done) => readlink(p, (err, text) => done(err ? null : text)), null, (p, text) => {
      const lexical = text === null ? null : this.lexicalTarget(text, dirOf.get(p)!);
      if (lexical === null) this.ahead.set(p, { lexical, isFile: false });
      else lexicalOf.set(p, lexical);
    }, stop);
    const isFile = (p: string, done: (isFile: boolean) => void) => lstat(lexicalOf.get(p)!, (err, st) => done(!err && st.isFile()));
    const targets = texts.then(() => manyAtOnce<boolean>([...lexicalOf.keys()], isFile, false, (p, file) => this.ahead.set(p, { lexical: lexicalOf.get(p)!, isFile: file }), stop));
    // Stopped: its batch is given up; a batch run again reads its links again.
    return targets.then(() => {
      if (stop.aborted) for (const p of dirOf.keys()) this.ahead.delete(p);
    });
  }

  private fast(linkPath: string, dirRel: string, name: string): ResolvedLink | null {
    if (sep !== '/') return null;
    const pre = this.ahead.size === 0 ? undefined : this.ahead.get(linkPath);
    let lexical: string | null;
    let isFile: boolean;
    if (pre !== undefined) {
      this.ahead.delete(linkPath);
      ({ lexical, isFile } = pre);
      if (lexical === null) return null;
    } else {
      try {
        lexical = this.lexicalTarget(readlinkSync(linkPath), dirRel);
        if (lexical === null) return null;
        isFile = lstatSync(lexical, { throwIfNoEntry: false })?.isFile() === true;
      } catch {
        return null;
      }
    }
    if (!isFile) return null; // missing, a directory, another link...: the careful way
    const cut = lexical.lastIndexOf('/');
    const dir = cut === 0 ? '/' : lexical.slice(0, cut);
    let real = this.realDirs.get(dir);
    if (real === undefined) {
      try {
        real = realpathSync.native(dir);
      } catch {
        real = null;
      }
      if (this.realDirs.size >= 4096) this.realDirs.clear();
      this.realDirs.set(dir, real);
    }
    // A folder link on the way (its real path is another): realpath(3) counts the links it follows,
    // the image's own included, against its 40, and how many the kernel followed is not known here.
    if (real === null || real !== dir || real.includes('\uFFFD')) return null;
    const target = lexical;
    if (pastPathMax(target)) return null;
    return { target, broken: false };
  }

  /**
   * The path a link's `text` names from the walked folder `dirRel`, where that is certain (its `..`
   * parents lexical, then plain names); null: the careful way (realpath(3)) decides.
   */
  private lexicalTarget(text: string, dirRel: string): string | null {
    // A text holding U+FFFD may be bytes that are not UTF-8: realpath's bytes decide (resolveLinkNative).
    if (text === '' || text.endsWith('/') || text.includes('\uFFFD')) return null;
    // The physical folder of the link (as components), then the link text applied to it.
    // ('' is the root: the text's components are joined after it.)
    let base = text.startsWith('/') ? '' : realUnder(this.rootReal, dirRel);
    if (base === '/') base = '';
    let named = false;
    const parts = text.split('/');
    let rest = '';
    for (const part of parts) {
      if (part === '') continue;
      // `.` or `..` after a name: that name must be a folder (the kernel says ENOTDIR for a file), or may be a folder link.
      if (part === '.' && !named) continue;
      if (part === '.') return null;
      if (part === '..') {
        if (named) return null; // `..` after a name: that name may be a directory link
        const cut = base.lastIndexOf('/');
        base = cut <= 0 ? '' : base.slice(0, cut);
        continue;
      }
      named = true;
      rest = rest === '' ? part : `${rest}/${part}`;
    }
    if (!named) return null;
    return `${base}/${rest}`;
  }
}

type Kind = 'dir' | 'file' | 'link' | 'other';

/** An entry's inode as a lookup met it: dev, ino, and birth time (ctime where the file system has none), 24 bytes. */
export type EntryStamp = Buffer;

/**
 * What a name in a folder is: its kind, a link's text (undefined for a link whose text is not
 * UTF-8: as a string it would name another path), and its inode (`EntryStamp`); or the error
 * looking it up.
 */
export type Lookup = { kind: Kind; text?: string; stamp: EntryStamp } | { code: string };

/** A link's text, or undefined when its bytes are not UTF-8. */
function linkText(path: string): string | undefined {
  const raw = readlinkSync(path, { encoding: 'buffer' });
  return isUtf8(raw) ? raw.toString('utf8') : undefined;
}

const stampWords = new BigUint64Array(3);
const stampBytes = Buffer.from(stampWords.buffer);

/** lstat of one path as a `Lookup` (a link's text read too; the stamp little-endian u64s). */
export function lookupEntry(path: string): Lookup {
  try {
    const st = lstatSync(path, { bigint: true });
    const kind: Kind = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'link' : 'other';
    // Through a typed array (a store wraps modulo 2^64 as BigInt.asUintN(64)): no BigInt arithmetic per field.
    stampWords[0] = st.dev;
    stampWords[1] = st.ino;
    // A new inode with a recycled number has another birth time; without one, ctime (it moves more often: safe).
    stampWords[2] = st.birthtimeNs > 0n ? st.birthtimeNs : st.ctimeNs;
    if (!LITTLE_ENDIAN_HOST) stampBytes.swap64();
    const stamp = Buffer.allocUnsafe(24);
    stampBytes.copy(stamp, 0, 0, 24);
    return kind === 'link' ? { kind, text: linkText(path), stamp } : { kind, stamp };
  } catch (e) {
    return { code: (e as NodeJS.ErrnoException).code ?? String(e) };
  }
}

/**
 * A copy of small bytes kept for long (a memo, a map for the run) in memory of its own: a Buffer
 * from Node's pool (allocUnsafe, Buffer.from of < 4 KiB) keeps its whole 8 KiB slab alive, so a few
 * thousand kept stamps among a run's garbage held tens of MB (10^6 images: ~50 MB per thread).
 */
export function unpooled(b: Uint8Array): Buffer {
  const c = Buffer.allocUnsafeSlow(b.length);
  c.set(b);
  return c;
}

/** Lookups a `LookupMemo` keeps (the oldest goes first): a run's memory must not grow with its links. */
export const LOOKUP_MEMO_ENTRIES = 4096;

/**
 * What a path names, for `resolveLinkTraced`; the caller may share one across a run: directories
 * and links met by many links are asked once while they are recent. Bounded: every image symlink
 * is itself a link looked up once, and keeping them all held ~300 B per symlink for the whole run
 * (10^6 images: ~200 MB of a first run's peak). A folder on the way that falls out is asked again.
 */
export class LookupMemo {
  private readonly kinds = new Map<string, Lookup>();

  constructor(private readonly limit = LOOKUP_MEMO_ENTRIES) {}

  lookup(path: string): Lookup {
    let r = this.kinds.get(path);
    if (r) return r;
    r = lookupEntry(path);
    // Files and missing names are final components, asked once: only directories and links are kept.
    if ('kind' in r && (r.kind === 'dir' || r.kind === 'link')) {
      if (this.kinds.size >= this.limit) this.kinds.delete(this.kinds.keys().next().value!);
      r = { ...r, stamp: unpooled(r.stamp) };
      this.kinds.set(path, r);
    }
    return r;
  }

  get size(): number {
    return this.kinds.size;
  }
}

const parentOf = (p: string) => {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
};

/** What a traced resolution reports: each folder before a name is looked up in it, and each lookup's answer. */
export interface ResolveTrace {
  beforeLookup(dir: string): void;
  /** `name` in `dir` named the inode `stamp` (null: it named nothing). */
  looked(dir: string, name: string, stamp: EntryStamp | null): void;
  /**
   * The caller never uses the stamp of the first lookup (the link's own name: the index vouches for
   * it by its folder's identity, dir-cache.ts). It is then read with one readlink instead of lstat +
   * readlink, and reported with UNUSED_STAMP; it is not kept in the memo.
   */
  ownStampUnused?: boolean;
  /** A link on the way has a text that is not UTF-8: the walk cannot follow it (the answer is realpath(3)'s, its lookups unknown). */
  untraceable?(): void;
}

/** What `walkComponents` answers when a link's text is not UTF-8. */
const UNTRACEABLE: ResolvedLink = { broken: true, reason: 'untraceable' };

/** The stamp reported for a link's own name when the caller does not use it (all zeros: no inode). */
export const UNUSED_STAMP: EntryStamp = Buffer.alloc(24);

/** The link's own name, when its stamp is not needed: a link is one readlink; anything else as `lookupEntry`. */
function lookupOwnLink(path: string): Lookup {
  try {
    return { kind: 'link', text: linkText(path), stamp: UNUSED_STAMP };
  } catch {
    return lookupEntry(path); // not a link (EINVAL), or an error: lstat says which, with the same codes as before
  }
}

/**
 * Resolve the symlink `name` in the real directory `dirReal` as realpath(3) does (components left
 * to right, `..` on the resolved path, at most 40 links), then require a regular file, reporting
 * every lookup to `trace`. POSIX paths only.
 */
export function resolveLinkTraced(dirReal: string, name: string, trace: ResolveTrace, memo: LookupMemo = new LookupMemo()): ResolvedLink {
  const at: WalkAt = { cur: dirReal, kind: 'dir', hops: 0 };
  const broken = walkComponents(at, [name], trace, memo, true);
  if (broken === UNTRACEABLE) {
    trace.untraceable?.();
    return resolveLinkNative(dirReal === '/' ? `/${name}` : `${dirReal}/${name}`);
  }
  if (broken !== null) return broken;
  return at.kind === 'file' ? exactTarget(dirReal === '/' ? `/${name}` : `${dirReal}/${name}`, { target: at.cur, broken: false }) : { broken: true, reason: 'target is not a file' };
}

/**
 * The real folder a link's text names before its last name (`dir`: the text up to its last slash,
 * kept; '' when the text is a name alone), resolved from the link's real folder as
 * `resolveLinkTraced` resolves those components (the link itself counted as one hop), every lookup
 * reported to `trace`. Null when it is not a folder (what the whole resolution then says is its
 * answer: the caller resolves the link whole).
 */
export function resolveFolderTraced(linkDirReal: string, dir: string, trace: ResolveTrace, memo: LookupMemo): string | null {
  const at: WalkAt = { cur: dir.startsWith('/') ? '/' : linkDirReal, kind: 'dir', hops: 1 };
  const broken = walkComponents(at, dir.split('/'), trace, memo, false);
  if (broken === UNTRACEABLE) trace.untraceable?.();
  return broken === null && at.kind === 'dir' ? at.cur : null;
}

/** Where a traced walk stands: the path resolved so far, what it names, links followed. */
interface WalkAt {
  cur: string;
  kind: Kind;
  hops: number;
}

/**
 * Walk `parts` (in order) from `at`, as realpath(3) does, updating `at`; the broken answer when a
 * lookup fails, else null. `ownFirst`: the first part is the link's own name (read with one readlink
 * when the trace does not use its stamp).
 */
function walkComponents(at: WalkAt, parts: readonly string[], trace: ResolveTrace, memo: LookupMemo, ownFirst: boolean): ResolvedLink | null {
  const pending: string[] = [];
  for (let i = parts.length - 1; i >= 0; i--) pending.push(parts[i]);
  let first = ownFirst;
  while (pending.length > 0) {
    const c = pending.pop()!;
    if (c === '') continue;
    // Anything after a non-directory (`file/..`, `file/.`, `file/x`): as realpath, ENOTDIR.
    if (at.kind !== 'dir') return brokenBy('ENOTDIR', 'ENOTDIR');
    if (c === '.') continue;
    if (c === '..') {
      at.cur = parentOf(at.cur);
      continue;
    }
    trace.beforeLookup(at.cur);
    const next = at.cur === '/' ? `/${c}` : `${at.cur}/${c}`;
    const own = first;
    first = false;
    const r = own && trace.ownStampUnused === true ? lookupOwnLink(next) : memo.lookup(next);
    trace.looked(at.cur, c, 'code' in r ? null : r.stamp);
    if ('code' in r) return brokenBy(r.code, r.code);
    if (r.kind === 'link') {
      if (r.text === undefined) return UNTRACEABLE;
      if (++at.hops > MAX_LINK_HOPS) return brokenBy('ELOOP', 'ELOOP');
      const text = r.text;
      const textParts = text.split('/');
      // A trailing slash asks for a directory: realpath checks it as `.` would.
      if (text.endsWith('/')) textParts.push('.');
      for (let i = textParts.length - 1; i >= 0; i--) pending.push(textParts[i]);
      if (text.startsWith('/')) at.cur = '/';
      continue;
    }
    at.cur = next;
    at.kind = r.kind;
  }
  return null;
}
