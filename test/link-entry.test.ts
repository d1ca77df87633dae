/**
 * A symlinked image's index entry (tasks/link-entry.ts): its bytes, and the resolutions that make
 * and serve it, against realpath(3) + stat (the rule) on every kind of link.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { serialize } from 'node:v8';
import { LinkResolver, LookupMemo, resolveLinkNative } from '../src/discovery/resolve-link.js';
import { decodeLinkPayload, encodeLinkPayload, FolderIdentities, LinkEntries, splitLinkText, type LinkPayload } from '../src/tasks/link-entry.js';
import { awkwardLinks } from './helpers/awkward-links.js';
import { FAKE_JPEG, sidecarData, tempDir } from './helpers/tree.js';
import { stats, validate } from '../src/index.js';

const id = (n: number) => Buffer.alloc(40, n);

test('link payloads: form 2, the text and the target folder\'s identity, read back exactly', () => {
  const cases: LinkPayload[] = [
    { text: '../../photos/day/IMG.jpg', folderId: id(1) },
    { text: '/elsewhere/Bücher/写真.jpg', folderId: id(2) },
    { text: 'x2.jpg', folderId: Buffer.alloc(40) },
  ];
  for (const p of cases) {
    const bytes = encodeLinkPayload(p)!;
    const text = Buffer.from(p.text, 'utf8');
    assert.equal(bytes[0], 2, 'the form');
    assert.equal(bytes.readUInt16LE(1), text.length, 'the text\'s length in bytes');
    assert.deepEqual(bytes.subarray(3, 3 + text.length), text);
    assert.deepEqual(bytes.subarray(3 + text.length), Buffer.from(p.folderId));
    const back = decodeLinkPayload(bytes)!;
    assert.equal(back.text, p.text);
    assert.deepEqual(Buffer.from(back.folderId), Buffer.from(p.folderId));
  }
  // Beyond the format: not stored (null), never a throw.
  assert.equal(encodeLinkPayload({ text: 'x'.repeat(0x10000), folderId: id(1) }), null);
  assert.equal(encodeLinkPayload({ text: 'x.jpg', folderId: Buffer.alloc(39) }), null);
});

test('link payloads: a decoded payload outlives the bytes it came from (the index window is reused)', () => {
  const payload = encodeLinkPayload({ text: '../p/a.jpg', folderId: id(4) })!;
  const back = decodeLinkPayload(payload)!;
  payload.fill(0);
  assert.equal(back.text, '../p/a.jpg');
  assert.deepEqual(Buffer.from(back.folderId), id(4));
});

test('link payloads: truncated, padded, of an earlier form or unknown is refused (the link is resolved again), never misread', () => {
  const good = encodeLinkPayload({ text: '../p/a.jpg', folderId: id(4) })!;
  for (let n = 0; n < good.length; n++) assert.equal(decodeLinkPayload(good.subarray(0, n)), null, `truncated to ${n}`);
  assert.equal(decodeLinkPayload(Buffer.concat([good, Buffer.from([0])])), null, 'padded');
  const other = Buffer.from(good);
  other[0] = 1; // the earlier form (every lookup of the resolution)
  assert.equal(decodeLinkPayload(other), null, 'form 1');
  assert.equal(decodeLinkPayload(serialize(['/t', null, []])), null, 'the v8 form');
  assert.equal(decodeLinkPayload(serialize({ not: 'a link' })), null);
});

test('link payloads: the bytes written are pinned (stored link entries outlive a build)', () => {
  const made = [encodeLinkPayload({ text: '../../photos/day/IMG.jpg', folderId: id(2) })!, encodeLinkPayload({ text: '/elsewhere/写真.jpg', folderId: Buffer.alloc(40) })!];
  // sha-256 of the concatenated payloads as the first writer of this form wrote them.
  assert.equal(createHash('sha256').update(Buffer.concat(made)).digest('hex'), 'e4e5bbe41b575d61357688c1fa12f1bfac66a5a20be6d1b775073e25f8ca8f29');
});

test('link texts: split at the last slash when they end in a plain name, else resolved whole', () => {
  assert.deepEqual(splitLinkText('../../photos/day/IMG.jpg'), { dir: '../../photos/day/', last: 'IMG.jpg' });
  assert.deepEqual(splitLinkText('IMG.jpg'), { dir: '', last: 'IMG.jpg' });
  assert.deepEqual(splitLinkText('/IMG.jpg'), { dir: '/', last: 'IMG.jpg' });
  assert.deepEqual(splitLinkText('a//b.jpg'), { dir: 'a//', last: 'b.jpg' });
  for (const whole of ['', 'a/', 'a/..', 'a/.', '..', '.', 'x\uFFFD.jpg']) assert.equal(splitLinkText(whole), null, JSON.stringify(whole));
});

const PLAIN = ['rel.jpg', 'abs.jpg', 'dotted.jpg', 'slashes.jpg', 'through-alias.jpg', 'alias-dotdot.jpg', 'alias-up.jpg', 'outside.jpg', 'back-in.jpg', 'up-to-root.jpg'];

test('link entries: every answer is realpath + stat, an entry made for each link ending in a plain file name, served back to the same answer', () => {
  const { dir, links: names } = awkwardLinks();
  const cutoff = 1n << 62n; // nothing is racy
  const made = new LinkEntries(new FolderIdentities(cutoff), new LookupMemo());
  const serving = new LinkEntries(new FolderIdentities(cutoff), new LookupMemo());
  for (const name of names) {
    const want = resolveLinkNative(join(dir, name));
    const b = made.resolve(dir, name);
    assert.deepEqual(b.link, want, name);
    assert.equal(b.entry !== null, PLAIN.includes(name), `${name}: stored only when its text ends in a plain file name`);
    // What the answer rests on (for a folder's records).
    if (b.link.broken !== true) assert.ok(b.steps.length > 0 && b.complete, `${name}: its lookups`);
    if (b.entry !== null) assert.deepEqual(serving.served(dir, decodeLinkPayload(b.entry.payload)!)?.link, want, `${name}: served`);
  }
});

test('link entries: a stored entry is served while the folder its text names is as stored, and refused once that folder changed or the text leads elsewhere', () => {
  const { dir, top } = awkwardLinks();
  const rootReal = join(dir, '..');
  const cutoff = 1n << 62n;
  const made = new LinkEntries(new FolderIdentities(cutoff), new LookupMemo()).resolve(dir, 'through-alias.jpg');
  const stored = decodeLinkPayload(made.entry!.payload)!;
  const serveNow = () => new LinkEntries(new FolderIdentities(cutoff), new LookupMemo()).served(dir, stored);
  const served = serveNow();
  assert.deepEqual(served?.link, { target: join(rootReal, 'a/IMG.jpg'), broken: false });
  assert.ok(served!.steps.some((s) => s[0] === rootReal && s[1] === 'alias'), 'the folder link on the way is a lookup the answer rests on');
  // A file added beside the target: its folder changed; the answer is made again (not served).
  writeFileSync(join(rootReal, 'a/other.jpg'), FAKE_JPEG);
  assert.equal(serveNow(), null, 'the target folder changed');
  // The folder link on the way re-pointed to a copy: the text's folder is another folder now.
  const again = decodeLinkPayload(new LinkEntries(new FolderIdentities(cutoff), new LookupMemo()).resolve(dir, 'through-alias.jpg').entry!.payload)!;
  mkdirSync(join(rootReal, 'a2'));
  writeFileSync(join(rootReal, 'a2/IMG.jpg'), FAKE_JPEG);
  rmSync(join(rootReal, 'alias'));
  symlinkSync('a2', join(rootReal, 'alias'));
  assert.equal(new LinkEntries(new FolderIdentities(cutoff), new LookupMemo()).served(dir, again), null, 're-pointed on the way');
  // The target folder moved away and an equal one put in its place.
  const third = decodeLinkPayload(new LinkEntries(new FolderIdentities(cutoff), new LookupMemo()).resolve(dir, 'rel.jpg').entry!.payload)!;
  renameSync(join(rootReal, 'a'), join(top, 'a-moved'));
  mkdirSync(join(rootReal, 'a'));
  writeFileSync(join(rootReal, 'a/IMG.jpg'), FAKE_JPEG);
  assert.equal(new LinkEntries(new FolderIdentities(cutoff), new LookupMemo()).served(dir, third), null, 'another folder in its place');
});

test('link entries: a folder changed within the racy margin vouches for nothing (its link is not stored; a racy target folder is stored without identity, never served)', () => {
  const { dir } = awkwardLinks();
  const racy = 0n; // every folder changed "just now"
  const made = new LinkEntries(new FolderIdentities(racy), new LookupMemo()).resolve(dir, 'rel.jpg');
  assert.equal(made.entry, null, 'its own folder is racy: not stored');
  assert.equal(made.link.target, join(dir, '..', 'a/IMG.jpg'));
  // Its own folder settled, the target's not: stored with no identity for the target folder.
  const ownSettled = new LinkEntries({ of: (d: string) => new FolderIdentities(d.endsWith('/links') ? 1n << 62n : 0n).of(d) } as FolderIdentities, new LookupMemo());
  const e = ownSettled.resolve(dir, 'rel.jpg').entry!;
  const p = decodeLinkPayload(e.payload)!;
  assert.deepEqual(Buffer.from(p.folderId), Buffer.alloc(40));
  assert.equal(new LinkEntries(new FolderIdentities(1n << 62n), new LookupMemo()).served(dir, p), null);
});

/**
 * Attack cases: a tree changed after the index stored its links (and folder records); every run
 * with the index must give the output of --no-index (validate, stats; processing times aside).
 */
async function sameAsNoIndex(t: { after: (fn: () => void) => void }, build: (top: string, root: string) => void, change: (top: string, root: string) => void): Promise<void> {
  const top = realpathSync(tempDir('isc-link-attack-'));
  t.after(() => execFileSync('rm', ['-rf', top])); // (rm: a folder past PATH_MAX too)
  const root = join(top, 'lib');
  mkdirSync(join(root, 'games/g'), { recursive: true });
  build(top, root);
  const index = { path: join(top, 'idx'), racyMarginMs: 0, folderRecords: true };
  const plain = (v: unknown) => JSON.stringify(v).replace(/"processing_time":[-0-9.e+]+/g, '"processing_time":0');
  const check = async (label: string) => {
    assert.equal(plain(await validate(root, { index })), plain(await validate(root, { index: false })), `validate, ${label}`);
    assert.equal(plain(await stats(root, { index })), plain(await stats(root, { index: false })), `stats, ${label}`);
  };
  for (let run = 1; run <= 4; run++) await check(`run ${run}`);
  change(top, root);
  for (let run = 1; run <= 2; run++) await check(`after the change, run ${run}`);
}

function photo(folder: string): void {
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'IMG_1.jpg'), FAKE_JPEG);
  writeFileSync(join(folder, 'IMG_1.json'), JSON.stringify(sidecarData('IMG_1.jpg', 1, 4)));
}

test('link attack: a chain of exactly 40 folder links on the way is a loop for realpath(3), with the index and without', async (t) => {
  await sameAsNoIndex(
    t,
    (_top, root) => {
      photo(join(root, 'photos/d1'));
      for (let i = 1; i < 40; i++) symlinkSync(`a${i + 1}`, join(root, `a${i}`));
      symlinkSync('photos/d1', join(root, 'a40'));
      symlinkSync('../../a1/IMG_1.jpg', join(root, 'games/g/x.jpg'));
      // `..` right after the folder link: realpath(3) of the folder alone would follow 40 links.
      symlinkSync('../../a1/../photos/d1/IMG_1.jpg', join(root, 'games/g/y.jpg'));
      const x = join(root, 'games/g/x.jpg');
      assert.equal(resolveLinkNative(x).reason, 'symlink loop', 'the rule: 41 links with the image\'s own');
      assert.deepEqual(new LinkResolver(root).resolve(x, 'games/g', 'x.jpg'), resolveLinkNative(x), '--no-index follows the rule');
      const y = join(root, 'games/g/y.jpg');
      assert.equal(resolveLinkNative(y).reason, 'symlink loop');
      assert.deepEqual(new LinkResolver(root).resolve(y, 'games/g', 'y.jpg'), resolveLinkNative(y));
    },
    (_top, root) => {
      // One link fewer on the way: within the rule's 40.
      rmSync(join(root, 'a40'));
      symlinkSync('a41', join(root, 'a40'));
      symlinkSync('photos/d1', join(root, 'a41'));
      rmSync(join(root, 'games/g/x.jpg'));
      symlinkSync('../../a2/IMG_1.jpg', join(root, 'games/g/x.jpg'));
    },
  );
});

test('link attack: a served target folder moved under a path past PATH_MAX (its own identity unchanged) is broken as realpath(3) says', async (t) => {
  await sameAsNoIndex(
    t,
    (top, root) => {
      photo(join(top, 'P/day'));
      symlinkSync(join(top, 'P/day'), join(root, 'alias'));
      symlinkSync('../../alias/IMG_1.jpg', join(root, 'games/g/x.jpg'));
    },
    (top, root) => {
      // Folders made one level at a time (relative: the whole path is past what one call takes).
      const deep = execFileSync('sh', ['-c', `cd "$1" && mkdir deep && cd deep && p="$1/deep"; while [ \${#p} -lt 3880 ]; do n=$(printf 'x%.0s' $(seq 1 200)); mkdir $n && cd $n && p="$p/$n"; done; n=$(printf 'y%.0s' $(seq 1 $((4090 - \${#p} - 1 - 6)))); mkdir $n && p="$p/$n"; mv "$1/P" "$n/P" && echo "$p"`, 'sh', top]).toString().trim();
      assert.ok(deep.length + '/P/day/IMG_1.jpg'.length > 4096, `${deep.length}`);
      rmSync(join(root, 'alias'));
      symlinkSync(`${deep}/P/day`, join(root, 'alias'));
    },
  );
});

test('link attack: link texts that are not UTF-8 on the way (a folder link, the image link itself) resolve as realpath(3) says, never to a name with U+FFFD', async (t) => {
  const raw = (s: string, tail = '') => Buffer.concat([Buffer.from(s), Buffer.from([0xff]), Buffer.from(tail)]);
  // A folder link whose text holds a raw byte, realpath(3) reaching the photos through it.
  await sameAsNoIndex(
    t,
    (top, root) => {
      photo(join(root, 'photos/d1'));
      mkdirSync(join(top, 'side'));
      symlinkSync(join(root, 'photos/d1'), raw(join(top, 'side/x')));
      symlinkSync(raw(join(top, 'side/x')), join(root, 'alias'));
      symlinkSync('../../alias/IMG_1.jpg', join(root, 'games/g/x.jpg'));
      symlinkSync('../../photos/d1/IMG_1.jpg', join(root, 'games/g/ok.jpg'));
    },
    (top, root) => {
      // The image link's own text holds the raw byte now.
      symlinkSync('d1', raw(join(root, 'photos/x')));
      rmSync(join(root, 'games/g/x.jpg'));
      symlinkSync(raw('../../photos/x', '/IMG_1.jpg'), join(root, 'games/g/x.jpg'));
    },
  );
  // A folder named with U+FFFD (valid UTF-8) where a raw byte's text would land if read as a string.
  await sameAsNoIndex(
    t,
    (top, root) => {
      photo(join(top, 'q/day'));
      symlinkSync(join(top, 'q/day'), join(root, 'alias'));
      symlinkSync('../../alias/IMG_1.jpg', join(root, 'games/g/x.jpg'));
    },
    (top, root) => {
      renameSync(join(top, 'q'), join(top, 'p\uFFFD'));
      rmSync(join(root, 'alias'));
      symlinkSync(raw(join(top, 'p'), '/day'), join(root, 'alias'));
    },
  );
});
