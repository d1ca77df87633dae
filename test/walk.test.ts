import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { walkTree, type ListingCache, type WalkEntry } from '../src/discovery/walk.js';

/** A sequential reference walk (sync readdir, no read-ahead): the order every walk must give. */
function referenceWalk(root: string): string[] {
  const out: string[] = [];
  const visit = (path: string, rel: string) => {
    const names = readdirSync(path, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    out.push(`${rel}|${names.map((d) => `${d.name}:${d.isDirectory() ? 'dir' : 'file'}`).join(',')}`);
    for (const d of names) if (d.isDirectory()) visit(join(path, d.name), rel === '' ? d.name : `${rel}/${d.name}`);
  };
  visit(root, '');
  return out;
}

/** Many small folders, several levels deep: the read-ahead always has folders in flight. */
function makeDeepTree(): string {
  const root = mkdtempSync(join(tmpdir(), 'walk-'));
  for (let a = 0; a < 6; a++) {
    for (let b = 0; b < 5; b++) {
      const dir = join(root, `g${a}`, `s${b}`);
      mkdirSync(dir, { recursive: true });
      for (let c = 0; c < 3; c++) writeFileSync(join(dir, `IMG_${a}${b}${c}.jpg`), 'x');
      if (b % 2 === 0) mkdirSync(join(dir, `deeper-${b}`, 'leaf'), { recursive: true });
    }
    writeFileSync(join(root, `g${a}`, 'note.txt'), 'x');
  }
  return root;
}

test('walk: the read-ahead gives the folders and entries of a sequential walk, in the same order', async () => {
  const root = makeDeepTree();
  try {
    const got: string[] = [];
    for await (const l of walkTree(root)) got.push(`${l.rel}|${l.entries.map((e) => `${e.name}:${e.kind}`).join(',')}`);
    assert.deepEqual(got, referenceWalk(root));
    assert.ok(got.length > 40, 'the tree has enough folders for the read-ahead to matter');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('walk: problems of folders read ahead are reported when the walk reaches them, in walk order', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'walk-bad-'));
  try {
    // A directory name that is not UTF-8 in each of four sibling folders: each is a problem of
    // the folder that lists it, and the siblings after the first are read ahead.
    for (const f of ['a', 'b', 'c', 'd']) {
      mkdirSync(join(root, f, 'ok'), { recursive: true });
      try {
        mkdirSync(Buffer.concat([Buffer.from(join(root, f) + '/'), Buffer.from([0x78, 0xff])]));
      } catch {
        t.skip('this file system refuses names that are not UTF-8');
        return;
      }
    }
    const events: string[] = [];
    for await (const l of walkTree(root, { onProblem: (p) => events.push(`problem ${p.rel}`) })) events.push(`listing ${l.rel}`);
    assert.deepEqual(events, [
      'listing ',
      'problem a',
      'listing a',
      'listing a/ok',
      'problem b',
      'listing b',
      'listing b/ok',
      'problem c',
      'listing c',
      'listing c/ok',
      'problem d',
      'listing d',
      'listing d/ok',
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('walk: with a listing cache, each folder is asked of the cache once, before it is read, and the folders after it are read ahead', async () => {
  const root = makeDeepTree();
  try {
    const order: string[] = [];
    const cache: ListingCache = {
      get(path: string) {
        order.push(`get ${path}`);
        // The cache notes a folder's identity here (dir-cache.ts): the folder's readdir must come
        // after it. A file made now must be in the listing the walk yields for this folder.
        writeFileSync(join(path, 'zz-made-at-get'), 'x');
        return null;
      },
      put(path: string, _entries: readonly WalkEntry[]) {
        order.push(`put ${path}`);
      },
    };
    const got: string[] = [];
    for await (const l of walkTree(root, { listingCache: cache })) {
      assert.ok(l.entries.some((e) => e.name === 'zz-made-at-get'), `${l.rel}: read before the cache was asked`);
      got.push(`${l.rel}|${l.entries.map((e) => `${e.name}:${e.kind}`).join(',')}`);
    }
    // The same folders and entries as a sequential walk (which sees the files the gets made).
    assert.deepEqual(got, referenceWalk(root));
    const gets = order.filter((o) => o.startsWith('get '));
    assert.equal(new Set(gets).size, gets.length, 'each folder asked once');
    assert.equal(gets.length, got.length);
    // Each folder's get comes before its put.
    for (const g of gets) assert.ok(order.indexOf(g) < order.indexOf(`put ${g.slice(4)}`), g);
    // Read-ahead: two folders asked in a row, before the first is stored (a walk without it asks and stores each in turn).
    assert.ok(order.some((o, i) => o.startsWith('get ') && order[i + 1]?.startsWith('get ')), 'folders are read ahead with a cache too');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('walk: a folder the listing cache serves is not read: its listing is the one the cache gives, read ahead or not', async () => {
  const root = makeDeepTree();
  try {
    const served = new Map<string, WalkEntry[]>();
    // Every folder under g2 is served with a listing the disk does not have (a file named served).
    const cache: ListingCache = {
      get(path: string) {
        if (!path.includes(`${join(root, 'g2')}`)) return null;
        const listing: WalkEntry[] = [{ name: 'served.jpg', kind: 'file' }];
        served.set(path, listing);
        return listing;
      },
      put(path: string) {
        assert.ok(!path.includes(join(root, 'g2')), `a served folder was read: ${path}`);
      },
    };
    const seen = new Map<string, string[]>();
    for await (const l of walkTree(root, { listingCache: cache })) seen.set(l.path, l.entries.map((e) => e.name));
    assert.deepEqual(seen.get(join(root, 'g2')), ['served.jpg'], 'the served listing, not the disk\'s');
    // Its subfolders are not walked: the served listing names none.
    assert.ok(![...seen.keys()].some((p) => p.startsWith(join(root, 'g2') + '/')));
    assert.ok(seen.has(join(root, 'g3', 's1')), 'the walk goes on after it');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('walk: a listing cache that throws on put fails the walk with its error, and no promise is left rejected unhandled', async () => {
  const root = makeDeepTree();
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    const cache: ListingCache = {
      get: () => null,
      put(path: string) {
        if (path.endsWith(`${join('g1', 's3')}`)) throw new Error('put failed');
      },
    };
    await assert.rejects(async () => {
      for await (const _ of walkTree(root, { listingCache: cache })) void _;
    }, /put failed/);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    rmSync(root, { recursive: true, force: true });
  }
});

test('walk: onListedAhead gives a folder’s listing before the walk reaches it (read ahead, or served by the cache then), once, never after', async () => {
  const root = makeDeepTree();
  try {
    for (const serveSome of [false, true]) {
      const events: string[] = [];
      const listedAhead = new Map<string, string[]>();
      // Without a cache every folder is read; with one, the folders under g1 are served by it.
      const cache: ListingCache | undefined = serveSome
        ? {
            get: (path) => (path.startsWith(join(root, 'g1') + '/') || path === join(root, 'g1') ? readdirSync(path, { withFileTypes: true }).map((d) => ({ name: d.name, kind: d.isDirectory() ? 'dir' : 'file' }) as WalkEntry).sort((a, b) => (a.name < b.name ? -1 : 1)) : null),
            put: () => undefined,
          }
        : undefined;
      const onListedAhead = (path: string, entries: readonly WalkEntry[]) => {
        assert.ok(!listedAhead.has(path), `${path}: given twice`);
        listedAhead.set(path, entries.map((e) => `${e.name}:${e.kind}`));
        events.push(`ahead ${path}`);
      };
      for await (const l of walkTree(root, { listingCache: cache, onListedAhead })) {
        events.push(`reached ${l.path}`);
        const ahead = listedAhead.get(l.path);
        if (ahead !== undefined) assert.deepEqual(ahead, l.entries.map((e) => `${e.name}:${e.kind}`), `${l.path}: the listing given ahead is the one walked`);
      }
      // Never for a folder already reached. Given ahead: the siblings read ahead (not the root, nor a
      // folder met as the only one of its level: it is reached at once).
      for (const [path] of listedAhead) assert.ok(events.indexOf(`ahead ${path}`) < events.indexOf(`reached ${path}`), `${path}: given after it was reached`);
      assert.ok(!listedAhead.has(root), 'the root is reached first');
      const reached = events.filter((e) => e.startsWith('reached ')).length;
      assert.ok(listedAhead.size > reached / 3, `${serveSome ? 'with' : 'without'} a cache: ${listedAhead.size} of ${reached} folders given ahead`);
      if (serveSome) assert.ok(listedAhead.has(join(root, 'g1', 's2')), 'a folder the cache serves is given ahead too');
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('walk: onListedAhead is not called for a folder reached before its read came back, nor once the walk has ended', async () => {
  const root = mkdtempSync(join(tmpdir(), 'walk-ahead-late-'));
  for (const f of ['a', 'b', 'c', 'd', 'e', 'f']) {
    mkdirSync(join(root, f));
    writeFileSync(join(root, f, 'x.jpg'), 'x');
  }
  // The reads of b to f are held until released: the walk reaches b while its read is held.
  const orig = fsp.readdir;
  let release = () => undefined as void;
  let gate = new Promise<void>((r) => (release = r));
  (fsp as unknown as Record<string, unknown>).readdir = async function (...a: unknown[]) {
    if (/\/[b-f]$/.test(String(a[0]))) await gate;
    return (orig as unknown as (...x: unknown[]) => Promise<unknown>).apply(fsp, a);
  };
  syncBuiltinESMExports();
  try {
    const given: string[] = [];
    let it = walkTree(root, { onListedAhead: (p) => void given.push(p) })[Symbol.asyncIterator]();
    assert.equal((await it.next()).value?.path, root);
    assert.equal((await it.next()).value?.path, join(root, 'a')); // b, c, d, e read ahead, held
    const b = it.next(); // reached: it waits on its own read
    release();
    assert.equal((await b).value?.path, join(root, 'b'));
    // c's read, released with b's, comes back before the walk goes on to reach c.
    await new Promise((r) => setTimeout(r, 100));
    while (!(await it.next()).done);
    assert.ok(!given.includes(join(root, 'b')), `b was reached before its read came back: ${given.join(', ')}`);
    assert.ok(given.includes(join(root, 'c')), `c came back before the walk reached it: ${given.join(', ')}`);
    // A walk left while reads it started are held: nothing is given once it has ended.
    gate = new Promise<void>((r) => (release = r));
    given.length = 0;
    it = walkTree(root, { onListedAhead: (p) => void given.push(p) })[Symbol.asyncIterator]();
    await it.next();
    await it.next();
    const leaving = it.return(undefined);
    release();
    await leaving;
    assert.deepEqual(given, [], 'nothing given after the walk ended');
  } finally {
    (fsp as unknown as Record<string, unknown>).readdir = orig;
    syncBuiltinESMExports();
    rmSync(root, { recursive: true, force: true });
  }
});
