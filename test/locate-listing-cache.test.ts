/**
 * locate.ts keeps folder listings between calls (a long-lived process: the stdio server, a save
 * loop): the other images of a folder (which make a stem-form sidecar shared, so every write
 * refuses) and the folder's sidecar format (which a new sidecar follows) come from them. They were
 * reused while the folder's inode and mtime were unchanged. Another process adds a file, a tool
 * that keeps folder dates (`touch -r`, rsync -t) puts the mtime back, and the listing went on
 * hiding the new file: a save wrote a sidecar two images share, or a bin file into a JSON folder.
 * The ctime cannot be set back (utime itself moves it to now): listings are keyed by it too.
 *
 * Attacked with several changes by another process — the CLI's save, a plain file written, a
 * sibling image copied in — each followed by the folder's times put back, and what this process
 * then decides compared with what a fresh process decides on the same folder.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { locateSidecar, folderSidecarFormat, RACY_LISTING_MS } from '../src/discovery/locate.js';
import { saveSidecar } from '../src/ops/save.js';
import { readSidecarDetailed } from '../src/ops/read.js';
import { CLI_PATH } from './helpers/cli.js';
import { FAKE_JPEG, testDir } from './helpers/tree.js';

/** Folder dates long ago, whole seconds (utimes takes seconds: put back exactly). */
const OLD_S = Math.floor(Date.now() / 1000) - 3600;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A folder with these files, its dates from long ago (its ctime now: `settle` before use). */
function folder(root: string, name: string, files: Record<string, string | Buffer>): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir);
  for (const [n, v] of Object.entries(files)) fs.writeFileSync(path.join(dir, n), v);
  fs.utimesSync(dir, OLD_S, OLD_S);
  return dir;
}

/** Past the racy window of the folders just made (locate.ts RACY_LISTING_MS, 2 s): their listings are kept, and attacked. */
const settle = () => sleep(2100);

/** Run node code in another process (`process.argv[1..]` = args). */
function otherProcess(code: string, ...args: string[]): void {
  const r = spawnSync(process.execPath, ['-e', code, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}
const copyIn = (from: string, to: string) => otherProcess('require("fs").copyFileSync(process.argv[1], process.argv[2])', from, to);
const writeIn = (to: string, text: string) =>
  otherProcess('const fs = require("fs"); fs.writeFileSync(process.argv[1] + ".tmp", process.argv[2]); fs.renameSync(process.argv[1] + ".tmp", process.argv[1])', to, text);
function cliWrite(image: string, format: string): void {
  const r = spawnSync(process.execPath, [CLI_PATH, 'write', image, '--operation', 'face_detection', '--data', '-', '--format', format, '-q'], { input: '{"success": true, "faces": []}', encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

/** Put the folder's times back, and check that they are. */
function putBack(dir: string): void {
  fs.utimesSync(dir, OLD_S, OLD_S);
  assert.equal(fs.statSync(dir, { bigint: true }).mtimeNs, BigInt(OLD_S) * 1_000_000_000n);
}

/** What a fresh process decides for this image: the location's ambiguity and siblings, the folder's format. */
function fresh(image: string): { shared: string[]; siblings: string[]; format: string | null } {
  const code = `import(process.argv[1]).then(async (m) => { const loc = await m.locateSidecar(process.argv[2]); console.log(JSON.stringify({ shared: loc.candidates.filter((c) => c.shared).map((c) => c.path), siblings: loc.siblings, format: m.folderSidecarFormat(loc.dir) })); })`;
  const r = spawnSync(process.execPath, ['-e', code, new URL('../src/discovery/locate.js', import.meta.url).href, image], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { shared: string[]; siblings: string[]; format: string | null };
}

async function here(image: string): Promise<{ shared: string[]; siblings: string[]; format: string | null }> {
  const loc = await locateSidecar(image);
  return { shared: loc.candidates.filter((c) => c.shared).map((c) => c.path), siblings: loc.siblings, format: folderSidecarFormat(loc.dir) };
}

describe('locate: folder listings are not reused after another process changed the folder and its mtime was put back', () => {
  it('the sibling images and the folder format this process sees are a fresh process\'s (each change by another process)', async (t) => {
    const root = testDir(t);
    const changes: { name: string; files: Record<string, string | Buffer>; change: (dir: string) => void }[] = [
      { name: 'sibling-copied', files: { 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': '{"a": {"success": true}}' }, change: (d) => copyIn(path.join(d, 'IMG_1.jpg'), path.join(d, 'IMG_1.png')) },
      { name: 'sibling-no-sidecar-yet', files: { 'IMG_1.jpg': FAKE_JPEG }, change: (d) => copyIn(path.join(d, 'IMG_1.jpg'), path.join(d, 'IMG_1.tif')) },
      { name: 'json-saved', files: { 'IMG_1.jpg': FAKE_JPEG, 'IMG_2.jpg': FAKE_JPEG }, change: (d) => cliWrite(path.join(d, 'IMG_2.jpg'), 'json') },
      { name: 'rkyv-saved', files: { 'IMG_1.jpg': FAKE_JPEG, 'IMG_2.jpg': FAKE_JPEG, 'IMG_3.jpg': FAKE_JPEG, 'IMG_3.json': '{}' }, change: (d) => { cliWrite(path.join(d, 'IMG_2.jpg'), 'rkyv'); writeIn(path.join(d, 'x.rkyv'), 'not one'); } },
      { name: 'other-tool', files: { 'IMG_1.jpg': FAKE_JPEG, 'IMG_2.jpg': FAKE_JPEG }, change: (d) => writeIn(path.join(d, 'IMG_2.json'), '{"b": {"success": false}}') },
    ];
    const dirs = changes.map((c) => folder(root, c.name, c.files));
    await settle();
    for (const [i, c] of changes.entries()) {
      const dir = dirs[i];
      const image = path.join(dir, 'IMG_1.jpg');
      assert.deepEqual(await here(image), fresh(image), `${c.name}: before`);
      c.change(dir);
      putBack(dir);
      assert.deepEqual(await here(image), fresh(image), `${c.name}: after the change and the folder's mtime put back`);
    }
  });

  it('a read reports a sidecar shared with a sibling image copied in meanwhile; a save writes the image\'s own file, not the shared one', async (t) => {
    const root = testDir(t);
    const cases = [['stem-json', 'IMG_1.json'], ['stem-bin', 'IMG_1.bin']] as const;
    const dirs = cases.map(([name, sidecar]) => folder(root, name, { 'IMG_1.jpg': FAKE_JPEG, [sidecar]: '{"sidecar_info": {}, "a": {"success": true}}' }));
    await settle();
    for (const [i, [name, sidecar]] of cases.entries()) {
      const dir = dirs[i];
      const image = path.join(dir, 'IMG_1.jpg');
      assert.deepEqual((await readSidecarDetailed(image)).findings, [], `${name}: before`);
      for (const sibling of ['IMG_1.png', 'IMG_1.heic']) copyIn(image, path.join(dir, sibling));
      putBack(dir);
      const r = await readSidecarDetailed(image);
      assert.deepEqual(r.location.siblings.map((s) => path.basename(s)).sort(), ['IMG_1.heic', 'IMG_1.png'], name);
      assert.ok(r.findings.some((f) => f.code === 'ambiguous'), `${name}: ${JSON.stringify(r.findings)}`);
      const shared = fs.readFileSync(path.join(dir, sidecar));
      const saved = await saveSidecar(image, 'b', { success: true });
      assert.equal(path.basename(saved.path).startsWith('IMG_1.jpg.'), true, `${name}: ${saved.path}`);
      assert.deepEqual(fs.readFileSync(path.join(dir, sidecar)), shared, `${name}: the shared file is untouched`);
    }
  });
});

describe('locate: a listing taken within 2 s of its folder\'s change is not kept', () => {
  it('2 s: a clock tick of file systems keeping whole seconds (ext2/3, HFS+; FAT two) and a file server\'s clock skew (a file added in the same tick was never seen)', () => {
    assert.equal(RACY_LISTING_MS, 2000);
  });
});
