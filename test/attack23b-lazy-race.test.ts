/**
 * attack23b: a memo's lazy part is read by a patch by opening the memo file again by its path
 * (tree-memo.ts readLazy): whatever is at that path then must be the memo loaded (same size, the
 * lazy part's CRC-32) or the patch is a miss. The file is swapped exactly between the load and
 * that read (fs.openSync hooked: the second open of the memo file in a run) for another
 * generation of the memo (its lazy part the same, or not), random bytes of the same size, the
 * memo cut or grown by a byte, nothing, a FIFO, a folder. Each run gives what `index: false` gives.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs, { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { commands, edit, firstDiff, memoFiles, show, smallLibrary, warm, type Run } from './helpers/attack23.js';

/** When set: called at every openSync of `path`, with the count of opens of it so far (1 = the first). */
let hook: { path: string; n: number; at: (n: number) => void } | null = null;
const openSync0 = fs.openSync;
fs.openSync = function (this: unknown, ...args: Parameters<typeof fs.openSync>) {
  if (hook && String(args[0]) === hook.path) hook.at(++hook.n);
  return openSync0.apply(this, args);
} as typeof fs.openSync;
syncBuiltinESMExports();

const library = (t: TestContext) => smallLibrary(t, 'attack23b-race-');

type Swap = (file: string, memos: { before: Buffer; sameTree: Buffer; changed: Buffer }, dir: string) => void;

const SWAPS: [string, Swap][] = [
  ['another generation of the same tree (rename over)', (file, m, dir) => {
    writeFileSync(join(dir, 'other'), m.sameTree);
    renameSync(join(dir, 'other'), file);
  }],
  ['another generation, after another sidecar was resized', (file, m, dir) => {
    writeFileSync(join(dir, 'other'), m.changed);
    renameSync(join(dir, 'other'), file);
  }],
  ['the changed memo padded or cut to the loaded one\'s size', (file, m) => {
    const out = Buffer.alloc(m.before.length);
    m.changed.copy(out, 0, 0, Math.min(out.length, m.changed.length));
    writeFileSync(file, out);
  }],
  ['the loaded memo\'s bytes but its lazy part from the changed memo (same size: the end of it)', (file, m) => {
    const out = Buffer.from(m.before);
    m.changed.copy(out, Math.max(0, out.length - m.changed.length) + 0, Math.max(0, m.changed.length - out.length));
    writeFileSync(file, out);
  }],
  ['random bytes of the same size', (file, m) => writeFileSync(file, randomBytes(m.before.length))],
  ['the memo cut by a byte', (file, m) => writeFileSync(file, m.before.subarray(0, m.before.length - 1))],
  ['the memo grown by a byte', (file, m) => writeFileSync(file, Buffer.concat([m.before, Buffer.from([0x20])]))],
  ['the memo\'s last byte flipped', (file, m) => {
    const b = Buffer.from(m.before);
    b[b.length - 1] ^= 0x55;
    writeFileSync(file, b);
  }],
  ['nothing there', (file) => rmSync(file)],
  ['a FIFO', (file) => {
    rmSync(file);
    execFileSync('mkfifo', [file]);
  }],
  ['a folder', (file) => {
    rmSync(file);
    mkdirSync(file);
  }],
];

/** Run with the index until a memo is at `file` (each run as without the index). */
async function until(cmd: (w: boolean) => Promise<string>, file: string, label: string): Promise<void> {
  for (let i = 0; i < 6 && !existsSync(file); i++) assert.equal(await cmd(true), await cmd(false), `${label}: a memo written again`);
  assert.ok(existsSync(file), `${label}: a memo written again`);
}

async function attack(t: TestContext, name: 'validate' | 'stats' | 'format-stats', label: string, swap: Swap): Promise<void> {
  const { root, indexPath, idx, dir } = library(t);
  const runs: Run[] = [];
  const cmd = commands(root, indexPath, runs)[name];
  await warm(cmd, runs, label);
  const [file] = memoFiles(idx);
  const before = readFileSync(file);
  // Another generation of the same tree: the memo removed, a run writes it again.
  rmSync(file);
  await until(cmd, file, label);
  const sameTree = readFileSync(file);
  // A memo of the tree with a.b.json resized (written by another process meanwhile).
  edit(join(root, 'a/b.json'), 1);
  rmSync(file);
  rmSync(`${file}.delta`, { force: true });
  await until(cmd, file, label);
  const changed = readFileSync(file);
  // The loaded memo: the first one (a/b.json and now top.json changed since: a patch).
  writeFileSync(file, before);
  rmSync(`${file}.delta`, { force: true });
  edit(join(root, 'top.json'), 0);
  const want = await cmd(false);
  let swapped = 0;
  hook = { path: file, n: 0, at: (n) => {
    if (n === 2) {
      swapped++;
      swap(file, { before, sameTree, changed }, dir);
    }
  } };
  const from = runs.length;
  let got: string;
  try {
    got = await cmd(true);
  } finally {
    hook = null;
  }
  assert.ok(got === want, `${label}: the swapped run (${show(runs.slice(from))}): ${firstDiff(got, want)}`);
  if (process.env.SHOW_RUNS) console.log(`${label}: ${show(runs.slice(from))}`);
  assert.equal(swapped, 1, `${label}: swapped while the run read the lazy part (${show(runs.slice(from))})`);
  // Whatever is there now, the runs after are as without the index.
  for (let i = 0; i < 2; i++) {
    const again = await cmd(true);
    assert.ok(again === want, `${label}: run ${i} after (${show(runs.slice(from))}): ${firstDiff(again, want)}`);
  }
  void copyFileSync;
}

for (const [label, swap] of SWAPS) {
  test(`the memo file swapped between a patch's load and its lazy read: ${label}`, async (t) => {
    for (const name of ['validate', 'stats', 'format-stats'] as const) await attack(t, name, `${name}: ${label}`, swap);
  });
}
