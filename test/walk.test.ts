import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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

test('walk: with a listing cache, each folder is asked of the cache before it is read (no read-ahead)', async () => {
  const root = makeDeepTree();
  try {
    const order: string[] = [];
    const cache: ListingCache = {
      get(path: string) {
        order.push(`get ${path}`);
        return null;
      },
      put(path: string, _entries: readonly WalkEntry[]) {
        order.push(`put ${path}`);
      },
    };
    for await (const _ of walkTree(root, { listingCache: cache })) void _;
    // Every put follows its own get directly: the cache notes a folder's identity before its readdir.
    for (let i = 0; i < order.length; i += 2) {
      assert.ok(order[i].startsWith('get '), order[i]);
      assert.equal(order[i + 1], `put ${order[i].slice(4)}`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
