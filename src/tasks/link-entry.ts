/**
 * A symlinked image's index entry, made and served by the index's link resolutions (`LinkEntries`,
 * stored by incremental/dir-cache.ts). Keyed by the link's real path, with its own folder's identity taken
 * before the link was read (that folder unchanged: the same link, whose text never changes). The
 * payload keeps what the answer rests on past the folder its text names:
 *
 *   u8 2 | u16 text length | the link's text (UTF-8) | 40-byte identity of the target's folder,
 *   taken before its last name was looked up (zeros: none, changed within the racy margin)
 *
 * A link is stored when its text ends in a plain name that names a regular file (`../../photos/
 * day/IMG.jpg`: almost every image link). A run serving it resolves the folder its text names
 * again, once per run and distinct text folder (a library's links point into a few folders: the
 * bench library's 13,875 links have 323), then takes the target as stored while that folder's
 * identity is the one stored; so each link costs one identity compare, not a lookup per component,
 * and no link's entry repeats its folders' lookups. Any other link (broken, a link to a link, a
 * text ending in `..`) is resolved whole on every run. Entries of the earlier form (every lookup
 * of the resolution: form 1, or v8) are resolved again and replaced. On a file server a folder's
 * links are read ahead many at once before they are resolved (`readAhead`): each call is a round
 * trip there.
 */
import { lstat, lstatSync, readlink, readlinkSync, statSync } from 'node:fs';
import { identityBytes, IDENTITY_BYTES, tookRoundTrip } from '../fs/identity.js';
import { manyAtOnce } from '../fs/many-at-once.js';
import { isUnderProc, nameIn, pastPathMax, resolveFolderTraced, resolveLinkTraced, unpooled, type LookupMemo, type ResolveTrace } from '../discovery/resolve-link.js';
import type { ResolvedLink } from '../model/inspection.js';

/** A folder's identity, taken once per run before a lookup in it (what link entries and folder records rest on); `racy`: changed within the racy margin (vouches for nothing). */
export interface FolderIdentity {
  id: Buffer;
  racy: boolean;
  /** Its stat took a round trip (a file server: identity.ts tookRoundTrip); its files' stats will too. */
  roundTrip: boolean;
}

/** `stat` of a real folder path as a link entry's identity (null: not a folder, or unreadable). */
export function folderIdentity(real: string, racyCutoffNs: bigint): FolderIdentity | null {
  try {
    const t = performance.now();
    const st = statSync(real, { bigint: true, throwIfNoEntry: false });
    const roundTrip = tookRoundTrip(performance.now() - t);
    // Kept for the run: in memory of its own, not a pool slab's (unpooled).
    if (st && st.isDirectory()) return { id: unpooled(identityBytes({ dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs })), racy: st.ctimeNs >= racyCutoffNs, roundTrip };
  } catch {
    // unreadable: no identity
  }
  return null;
}

/** Each folder's identity, taken once per run (before its first lookup) and kept for the run. */
export class FolderIdentities {
  private readonly now = new Map<string, FolderIdentity | null>();
  constructor(private readonly racyCutoffNs: bigint) {}
  of(real: string): FolderIdentity | null {
    let r = this.now.get(real);
    if (r === undefined) this.now.set(real, (r = folderIdentity(real, this.racyCutoffNs)));
    return r;
  }
  /** The identity when this run has taken it (undefined: not yet; null: not a folder). */
  taken(real: string): FolderIdentity | null | undefined {
    return this.now.get(real);
  }
}

const NO_IDENTITY = Buffer.alloc(IDENTITY_BYTES);

/** A lookup a resolution made after the link's own name: [folder, name, the inode it named or null]. */
export type LinkStep = readonly [folder: string, name: string, stamp: Uint8Array | null];

/** A link's answer: the resolution, its entry to store (its own folder's identity and the payload; null: not storable), and what it rested on. */
export interface LinkAnswer {
  link: ResolvedLink;
  entry: { id: Uint8Array; payload: Uint8Array } | null;
  /** The lookups after the link's own name. */
  steps: readonly LinkStep[];
  /** `steps` are all the answer rests on (none under /proc): what a folder's records may rely on. */
  complete: boolean;
}

/** A stored link's payload (form 2, above). */
export interface LinkPayload {
  text: string;
  /** The target folder's identity (40 bytes; zeros: none). */
  folderId: Uint8Array;
}

const FORM = 2;
const MAX_TEXT = 0xffff;

/** A link's text split at its last slash (`dir` keeps the slash: '' for a name alone), or null when its last part is not a plain name. */
export function splitLinkText(text: string): { dir: string; last: string } | null {
  // (U+FFFD may stand for bytes that are not UTF-8: realpath's bytes decide, resolved whole.)
  if (text === '' || text.endsWith('/') || text.includes('\uFFFD')) return null;
  const cut = text.lastIndexOf('/');
  const last = text.slice(cut + 1);
  if (last === '.' || last === '..') return null;
  return { dir: text.slice(0, cut + 1), last };
}

/** Is `path` itself (not followed) a regular file? */
function isRegularFile(path: string): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false })?.isFile() === true;
  } catch {
    return false;
  }
}

/** The text of the link at `path` (null: it could not be read). */
function linkTextOf(path: string): string | null {
  try {
    return readlinkSync(path);
  } catch {
    return null;
  }
}

/** Links of one folder read ahead at most (the rest one at a time). */
const LINKS_AHEAD_PER_FOLDER = 4096;
/** Folders whose answers read ahead are kept at most: the one at its turn, the one before, and those listed ahead (dir-cache.ts LINKS_LISTED_AHEAD). */
const FOLDERS_READ_AHEAD = 10;

/**
 * A stored link payload, or null when it is not one of this form (an earlier form, damage): the
 * link is then resolved again. The bytes are copied: the result outlives the index reader's window.
 */
export function decodeLinkPayload(raw: Uint8Array): LinkPayload | null {
  if (raw.length < 3 || raw[0] !== FORM) return null;
  const n = raw[1] | (raw[2] << 8);
  if (raw.length !== 3 + n + IDENTITY_BYTES) return null;
  const b = Buffer.from(raw); // a copy
  return { text: b.toString('utf8', 3, 3 + n), folderId: b.subarray(3 + n) };
}

/** A link's payload (the form above), or null when its text is too long for the format (never stored). */
export function encodeLinkPayload(p: LinkPayload): Buffer | null {
  const n = Buffer.byteLength(p.text, 'utf8');
  if (n > MAX_TEXT || p.folderId.length !== IDENTITY_BYTES) return null;
  const out = Buffer.allocUnsafe(3 + n + IDENTITY_BYTES);
  out[0] = FORM;
  out.writeUInt16LE(n, 1);
  out.write(p.text, 3, 'utf8');
  out.set(p.folderId, 3 + n);
  return out;
}

/** Folders a link's text names, resolved once per scan (bounded: the oldest goes first). */
const TEXT_FOLDERS = 4096;

/** A folder a link's text names, resolved: its real path (null: not a folder) and the lookups that found it. */
interface TextFolder {
  real: string | null;
  steps: LinkStep[];
  /** `steps` are all it rests on (none under /proc, every link text on the way UTF-8). */
  complete: boolean;
}

/**
 * The index's link resolutions of one run (incremental/dir-cache.ts): a stored link served, or a
 * link resolved and its entry made. The folder a text names is resolved once per run and text
 * folder by resolve-link.ts's walk, whose lookups a folder's records keep; folders' identities come
 * from `folders` (taken once per run, before a lookup in the folder).
 */
export class LinkEntries {
  private readonly textFolders = new Map<string, TextFolder>();
  /** Links read ahead (`readAhead`): each link's text by the link's path (null: unreadable). Each answers once. */
  private readonly textsAhead = new Map<string, string | null>();
  /** Whether each of those links' targets is a regular file (its lstat, read ahead), by the link's path. Each answers once. */
  private readonly targetIsFileAhead = new Map<string, boolean>();
  /**
   * The links read ahead of each folder (the folder at its turn, those listed ahead), oldest first,
   * with the read's own token: an answer of a read whose folder was let go meanwhile is not kept.
   */
  private readonly aheadOf = new Map<string, { paths: string[]; read: object }>();
  /** The link `readTakesRoundTrip` timed, its folder and its text: kept for its resolution, not counted as read ahead. */
  private timed: { real: string; path: string; text: string | null } | null = null;
  /** Link texts and target lstats read ahead that a resolution used. */
  aheadUsed = 0;

  /** Answers read ahead and kept, not yet used (tests: none of a folder let go is kept). */
  get answersKept(): number {
    return this.textsAhead.size + this.targetIsFileAhead.size;
  }

  constructor(
    private readonly folders: FolderIdentities,
    private readonly memo: LookupMemo,
  ) {}

  /** Resolve the link `name` of the real folder `real`, and make its entry when it is storable. */
  resolve(real: string, name: string): LinkAnswer {
    const own = this.folders.of(real); // before the link is read
    const path = nameIn(real, name);
    // (null read ahead: the link could not be read, as linkTextOf says.)
    const ahead = this.timed?.path === path ? this.takeTimed() : this.taken(this.textsAhead, path);
    const text = ahead !== undefined ? ahead : linkTextOf(path);
    if (text === null) return this.whole(real, name);
    const split = splitLinkText(text);
    const found = split && this.targetIn(real, split);
    // Anything but a regular file there (a link to a link, a folder, nothing): resolved whole, as it says.
    if (!found || !(this.taken(this.targetIsFileAhead, path) ?? isRegularFile(found.link.target!))) return this.whole(real, name);
    const fid = this.folders.of(found.folder); // taken before the lookup above (the folder's first)
    const payload = own !== null && !own.racy ? encodeLinkPayload({ text, folderId: fid && !fid.racy ? fid.id : NO_IDENTITY }) : null;
    found.entry = payload && { id: own!.id, payload };
    return found;
  }

  /** The answer read ahead for the link at `path`, used once (undefined: none). */
  private taken<T>(ahead: Map<string, T>, path: string): T | undefined {
    const a = ahead.size === 0 ? undefined : ahead.get(path);
    if (a !== undefined) {
      ahead.delete(path);
      this.aheadUsed++;
    }
    return a;
  }

  private takeTimed(): string | null {
    const text = this.timed!.text;
    this.timed = null;
    return text;
  }

  /**
   * The real folder `real` is at its turn: the answers read ahead for the folder before it that no
   * resolution used are dropped (those of folders listed ahead are kept for their turns).
   */
  turn(real: string): void {
    if (this.current !== null && this.current !== real) this.dropAheadOf(this.current);
    this.current = real;
    this.timed = null;
  }

  /** The folder at its turn. */
  private current: string | null = null;

  /** Folder `real` will resolve no link (its records served it): what was read ahead for it is let go. */
  letGo(real: string): void {
    if (real !== this.current) this.dropAheadOf(real);
  }

  private dropAheadOf(real: string): void {
    for (const path of this.aheadOf.get(real)?.paths ?? []) {
      this.textsAhead.delete(path);
      this.targetIsFileAhead.delete(path);
    }
    this.aheadOf.delete(real);
  }

  /**
   * Does reading the link `name` of the real folder `real` take a round trip here (a file server)?
   * When it does, its text is kept for its resolution (and its target read ahead with the others').
   * The folder's identity is taken first.
   */
  readTakesRoundTrip(real: string, name: string): boolean {
    this.folders.of(real); // before a link is read
    const path = nameIn(real, name);
    const t = performance.now();
    const text = linkTextOf(path);
    if (!tookRoundTrip(performance.now() - t)) return false;
    this.timed = { real, path, text };
    return true;
  }

  /**
   * On a file server, where each call is a round trip, read the links `names` of the real folder
   * `real` many at once before they are resolved one by one: their texts, then whether each target
   * is a regular file (the two calls `resolve` makes per link; the timed link's target too). The
   * caller took the folder's identity first (readTakesRoundTrip); each target folder's is taken
   * before its targets are looked at, as `resolve` takes them. An answer is the link or target as
   * it was when read, as a call made then would be, and serves that link's resolution once.
   */
  readAhead(real: string, names: readonly string[], signal?: AbortSignal): Promise<void> {
    const paths = names.slice(0, LINKS_AHEAD_PER_FOLDER).map((n) => nameIn(real, n));
    // Folders listed ahead whose turn never came are let go, oldest first (never the one at its turn).
    for (const folder of this.aheadOf.keys()) {
      if (this.aheadOf.size < FOLDERS_READ_AHEAD) break;
      if (folder !== this.current) this.dropAheadOf(folder);
    }
    this.dropAheadOf(real);
    const read = {};
    this.aheadOf.set(real, { paths, read });
    // Answers are kept while this read is its folder's (not let go, nor read again).
    const ours = () => this.aheadOf.get(real)?.read === read;
    const texts = manyAtOnce<string | null>(paths, (p, done) => readlink(p, (err, s) => done(err ? null : s)), null, (p, s) => void (ours() && this.textsAhead.set(p, s)), signal);
    return texts
      .then(() => {
        if (signal?.aborted || !ours()) return;
        const targetOf = new Map<string, string>();
        const timed = this.timed !== null && this.timed.real === real ? [[this.timed.path, this.timed.text] as const] : [];
        if (timed.length > 0) this.aheadOf.get(real)!.paths.push(timed[0][0]); // its target's answer is let go with the others
        const withText: (readonly [string, string | null])[] = [...timed];
        for (const p of paths) if (this.textsAhead.has(p)) withText.push([p, this.textsAhead.get(p)!]);
        for (const [path, text] of withText) {
          const split = text === null ? null : splitLinkText(text);
          const found = split && this.targetIn(real, split); // the target's folder resolved (and its identity taken) now
          if (found) targetOf.set(path, found.link.target!);
        }
        const isFile = (p: string, done: (isFile: boolean) => void) => lstat(targetOf.get(p)!, (err, st) => done(!err && st.isFile()));
        return manyAtOnce<boolean>([...targetOf.keys()], isFile, false, (p, file) => void (ours() && this.targetIsFileAhead.set(p, file)), signal);
      })
      .catch(() => {
        // (manyAtOnce never rejects: only a throw of the target folders' resolution gets here.) Only
        // a read ahead is lost: each link is then resolved as it is met, where a failure is its own.
        if (ours()) this.dropAheadOf(real);
      });
  }

  /**
   * A stored link's answer while it holds: its own folder as stored (checked by the caller), the
   * folder its text names resolved now, and that folder's identity the one stored. Null otherwise.
   */
  served(real: string, p: LinkPayload): LinkAnswer | null {
    const split = splitLinkText(p.text);
    const found = split && this.targetIn(real, split);
    if (!found) return null;
    const now = this.folders.of(found.folder);
    return now !== null && !now.racy && now.id.equals(p.folderId) ? found : null;
  }

  /**
   * The target a text names from the link's real folder: the folder its text names, resolved (its
   * identity taken before any lookup in it), and its last name there; the last lookup vouched for
   * by that folder's identity only (no inode stamp: a changed folder of link targets changes their
   * records' groups anyway). Null when that folder is not one, or the target is a path realpath(3)
   * would not give (past PATH_MAX, or with U+FFFD: resolved whole).
   */
  private targetIn(real: string, split: { dir: string; last: string }): (LinkAnswer & { folder: string }) | null {
    const folder = this.textFolder(real, split.dir);
    if (folder.real === null || folder.real.includes('\uFFFD')) return null;
    this.folders.of(folder.real);
    const target = nameIn(folder.real, split.last);
    if (pastPathMax(target)) return null;
    const steps = [...folder.steps, [folder.real, split.last, null] as const];
    return { link: { target, broken: false }, entry: null, steps, complete: folder.complete, folder: folder.real };
  }

  private textFolder(real: string, dir: string): TextFolder {
    const key = `${real}\0${dir}`;
    let f = this.textFolders.get(key);
    if (f !== undefined) return f;
    const steps: LinkStep[] = [];
    let complete = true;
    const resolved = resolveFolderTraced(real, dir, this.tracer(steps, () => (complete = false)), this.memo);
    f = { real: resolved, steps, complete };
    if (this.textFolders.size >= TEXT_FOLDERS) this.textFolders.delete(this.textFolders.keys().next().value!);
    this.textFolders.set(key, f);
    return f;
  }

  /** A link resolved whole, with its lookups for a folder's records; never stored. */
  private whole(real: string, name: string): LinkAnswer {
    const steps: LinkStep[] = [];
    let complete = true;
    let first = true;
    const trace = this.tracer(steps, () => (complete = false));
    const looked = trace.looked;
    const link = resolveLinkTraced(
      real,
      name,
      {
        ...trace,
        // The first lookup (the link in its own folder) is vouched for by the folder's identity.
        looked: (d, n, stamp) => {
          if (!first) return looked(d, n, stamp);
          first = false;
          if (d !== real) complete = false;
        },
        ownStampUnused: true,
      },
      this.memo,
    );
    return { link, entry: null, steps, complete };
  }

  /** A trace that keeps each lookup once (in `steps`), takes each folder's identity before a lookup in it, and says when the answer rests on more (`incomplete`: /proc, a text that is not UTF-8). */
  private tracer(steps: LinkStep[], incomplete: () => void): ResolveTrace {
    return {
      beforeLookup: (d) => {
        if (isUnderProc(d)) incomplete();
        this.folders.of(d);
      },
      looked: (d, n, stamp) => {
        if (!steps.some((st) => st[0] === d && st[1] === n)) steps.push([d, n, stamp]);
      },
      untraceable: incomplete,
    };
  }
}
