/**
 * changes made to a folder at the moments the walk's read-ahead (walk.ts walkTree, with the
 * index's listing cache: dir-cache.ts DirSnapshots) touches it — when the cache is asked of it (its
 * identity noted, its readdir about to start), when its listing is put (read, the walk not there
 * yet), when a link's target folder is listed for pairing (DirSnapshots.listingSync) — in a chosen
 * run; every run after it with the index must give what a run without the index gives.
 */
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DirSnapshots } from '../../src/incremental/dir-cache.js';
import type { WalkEntry } from '../../src/discovery/walk.js';
import { commands, firstDiff, show, type CmdName, type Run } from './index-parity.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir, type TreeNode } from './tree.js';

export type Moment = 'get' | 'put' | 'listingSync';

/** One hook at a time: `fire(moment, path)` after each call of the patched methods. */
let hook: ((moment: Moment, path: string) => void) | null = null;
/** The hook for the runs that follow (null: none). */
export function setHook(h: typeof hook): void {
  hook = h;
}
let patched = false;

export function patch(): void {
  if (patched) return;
  patched = true;
  const origGet = DirSnapshots.prototype.get;
  const origPut = DirSnapshots.prototype.put;
  const origSync = DirSnapshots.prototype.listingSync;
  // A change made at `get` lands after the identity was noted and before the readdir (or after a
  // listing was served); at `put`, after the readdir; at `listingSync`, before the link target's
  // folder is asked and read for pairing.
  DirSnapshots.prototype.get = function (this: DirSnapshots, path: string) {
    const r = origGet.call(this, path);
    hook?.('get', path);
    return r;
  };
  DirSnapshots.prototype.put = function (this: DirSnapshots, path: string, entries: readonly WalkEntry[]) {
    origPut.call(this, path, entries);
    hook?.('put', path);
  };
  DirSnapshots.prototype.listingSync = function (this: DirSnapshots, dir: string) {
    hook?.('listingSync', dir);
    return origSync.call(this, dir);
  };
}

/**
 * The library: `a-games` (links into `m-target`, walked first: the folders after it are read ahead
 * while its links are paired), plain folders b c d, the target folder, folders after it, and one
 * nested folder. Each plain folder: two photos with sidecars.
 */
export function library(t: { after: (fn: () => void) => void }, prefix: string): { root: string; indexPath: string; dir: string } {
  const dir = testDir(t, prefix);
  const spec: Record<string, TreeNode> = {};
  const photo = (rel: string, faces = 1) => {
    spec[`${rel}.jpg`] = FAKE_JPEG;
    spec[`${rel}.json`] = { json: sidecarData(`${rel}.jpg`, faces, 8) };
  };
  for (const f of ['b', 'c', 'd', 'm-target', 'n', 'o', 'o/deep', 'p']) {
    photo(`${f}/x`, 1);
    photo(`${f}/y`, 2);
  }
  spec['a-games/g1.jpg'] = { symlink: '../m-target/x.jpg' };
  spec['a-games/g2.jpg'] = { symlink: '../m-target/y.jpg' };
  spec['a-games/g3.jpg'] = { symlink: '../n/x.jpg' };
  spec['n/link-to-o.jpg'] = { symlink: '../o/x.jpg' };
  const root = makeTree(spec, join(dir, 'lib'));
  return { root, indexPath: join(dir, 'idx', 'index'), dir };
}

export type Mutation = (root: string, folder: string) => void;

/** Keep a folder's mtime (and atime) over a change: only its ctime tells. */
function keepingTimes(folder: string, fn: () => void): void {
  const st = statSync(folder);
  fn();
  utimesSync(folder, st.atime, st.mtime);
}

export const MUTATIONS: Record<string, Mutation> = {
  'a photo added': (root, f) => {
    writeFileSync(join(root, f, 'z.jpg'), FAKE_JPEG);
    writeFileSync(join(root, f, 'z.json'), JSON.stringify(sidecarData('z.jpg', 3, 8)));
  },
  'a sidecar removed': (root, f) => rmSync(join(root, f, 'y.json')),
  'a sidecar renamed, mtime put back': (root, f) => keepingTimes(join(root, f), () => renameSync(join(root, f, 'y.json'), join(root, f, 'w.json'))),
  'a sidecar replaced by another file, mtime put back': (root, f) =>
    keepingTimes(join(root, f), () => {
      rmSync(join(root, f, 'x.json'));
      writeFileSync(join(root, f, 'x.json'), JSON.stringify(sidecarData('x.jpg', 4, 8)));
    }),
  'a subfolder with a photo added': (root, f) => {
    mkdirSync(join(root, f, 'sub'));
    writeFileSync(join(root, f, 'sub', 'q.jpg'), FAKE_JPEG);
    writeFileSync(join(root, f, 'sub', 'q.json'), JSON.stringify(sidecarData('q.jpg', 1, 8)));
  },
  'the folder removed': (root, f) => rmSync(join(root, f), { recursive: true }),
  'the folder swapped with p': (root, f) => {
    if (f === 'p') return;
    renameSync(join(root, f), join(root, 'swap-tmp'));
    renameSync(join(root, 'p'), join(root, f));
    renameSync(join(root, 'swap-tmp'), join(root, 'p'));
  },
  'the folder replaced by a link to p': (root, f) => {
    if (f === 'p') return;
    rmSync(join(root, f), { recursive: true });
    symlinkSync('p', join(root, f));
  },
  'the folder replaced by a copy (new inode, same names)': (root, f) => {
    renameSync(join(root, f), join(root, 'old-tmp'));
    mkdirSync(join(root, f));
    for (const n of ['x', 'y']) {
      writeFileSync(join(root, f, `${n}.jpg`), FAKE_JPEG);
      writeFileSync(join(root, f, `${n}.json`), JSON.stringify(sidecarData(`${n}.jpg`, 5, 8)));
    }
    rmSync(join(root, 'old-tmp'), { recursive: true });
  },
};

export interface Attack {
  mutation: string;
  folder: string;
  moment: Moment;
  /** The run (1: the first with the index) the change is made in. */
  inRun: number;
  cmds: CmdName[];
  /**
   * Before the run of the change: a file added to the folder and to `a-games` (their listings are
   * then read again, and the links of `a-games` resolved and paired again: its target folder listed).
   */
  touch?: boolean;
  /** The library named through a symlink to it (the walk's paths are not real ones; a link target's folder is). */
  viaLink?: boolean;
}

/**
 * Runs with the index: before `inRun`, each equal to a run without; in `inRun`, the change made at
 * the first `moment` of `folder`; then four runs, each equal to a run without (made after the
 * change). Returns whether the change was made and how the runs after it went.
 */
export async function attack(t: { after: (fn: () => void) => void }, a: Attack): Promise<{ fired: boolean; after: string }> {
  patch();
  const { root, indexPath, dir } = library(t, 'isc-readahead-');
  const named = a.viaLink ? join(dir, 'via') : root;
  if (a.viaLink) symlinkSync(root, named);
  const runs: Run[] = [];
  const cmds = commands(named, indexPath, runs);
  const label = `${a.mutation} in ${a.folder} at ${a.moment}, run ${a.inRun}`;
  let fired = false;
  for (let run = 1; run < a.inRun; run++) {
    for (const c of a.cmds) {
      const want = await cmds[c](false);
      const got = await cmds[c](true);
      assert.ok(got === want, `${label}: ${c} run ${run} before: ${firstDiff(got, want)}`);
    }
  }
  if (a.touch) for (const f of [a.folder, 'a-games']) writeFileSync(join(root, f, `touch-${a.inRun}.txt`), 'x');
  const targets = [join(root, a.folder), join(named, a.folder)];
  hook = (moment, path) => {
    if (fired || moment !== a.moment || !targets.includes(path)) return;
    fired = true;
    MUTATIONS[a.mutation](root, a.folder);
  };
  try {
    // The first command's run makes the change; the others' runs come after it.
    await cmds[a.cmds[0]](true);
  } finally {
    hook = null;
  }
  const from = runs.length;
  for (let k = 0; k < 4; k++) {
    for (const c of a.cmds) {
      const want = await cmds[c](false);
      const got = await cmds[c](true);
      assert.ok(got === want, `${label}: ${c}, run ${k + 1} after (${show(runs.slice(from))}): ${firstDiff(got, want)}`);
    }
  }
  return { fired, after: show(runs.slice(from)) };
}

/** Where and when: a plain folder read ahead, and the folder links point into (read ahead while they are paired). */
export const WHERE: [string, Moment][] = [
  ['c', 'get'],
  ['c', 'put'],
  ['m-target', 'get'],
  ['m-target', 'put'],
  ['m-target', 'listingSync'],
];
