/**
 * A symlinked image's index entry (tasks/link-entry.ts): its bytes, and the resolutions that make
 * and serve it, against realpath(3) + stat (the rule) on every kind of link.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { serialize } from 'node:v8';
import { LinkResolver, LookupMemo, resolveLinkNative } from '../src/discovery/resolve-link.js';
import { decodeLinkPayload, FolderIdentities, LinkEntries, linkEntryBytes, splitLinkText, type LinkPayload } from '../src/tasks/link-entry.js';
import { ENTRY_HEAD, TABLE_LINKS } from '../src/tasks/entry-format.js';
import { FAKE_JPEG, sidecarData, tempDir } from './helpers/tree.js';
import { stats, validate } from '../src/index.js';

const id = (n: number) => Buffer.alloc(40, n);

/** The payload of a made entry (after head, key and identity). */
function payloadOf(entry: Uint8Array): Uint8Array {
  const kl = entry[9] | (entry[10] << 8);
  return entry.subarray(ENTRY_HEAD + kl + 40);
}

test('link entries: a whole index entry (length, checksum, table, key, identity), its payload read back exactly', () => {
  const cases: [string, LinkPayload][] = [
    ['/lib/games/g1/IMG.jpg', { text: '../../photos/day/IMG.jpg', folderId: id(1) }],
    ['/lib/Bücher/写真.jpg', { text: '/elsewhere/Bücher/写真.jpg', folderId: id(2) }],
    ['/lib/x.jpg', { text: 'x2.jpg', folderId: Buffer.alloc(40) }],
  ];
  for (const [key, p] of cases) {
    const e = linkEntryBytes(key, id(9), p)!;
    const view = Buffer.from(e);
    assert.equal(view.readUInt32LE(0), e.length, 'length');
    assert.equal(view.readUInt32LE(4), crc32(e.subarray(8)) >>> 0, 'checksum over the rest');
    assert.equal(e[8], TABLE_LINKS);
    const kl = view.readUInt16LE(9);
    assert.equal(view.toString('utf8', ENTRY_HEAD, ENTRY_HEAD + kl), key);
    assert.deepEqual(view.subarray(ENTRY_HEAD + kl, ENTRY_HEAD + kl + 40), id(9));
    const back = decodeLinkPayload(payloadOf(e))!;
    assert.equal(back.text, p.text);
    assert.deepEqual(Buffer.from(back.folderId), Buffer.from(p.folderId));
  }
  // Beyond the format: not stored (null), never a throw.
  assert.equal(linkEntryBytes('/k', id(1), { text: 'x'.repeat(0x10000), folderId: id(1) }), null);
  assert.equal(linkEntryBytes('/k', id(1), { text: 'x.jpg', folderId: Buffer.alloc(39) }), null);
});

test('link entries: a decoded payload outlives the bytes it came from (the index window is reused)', () => {
  const e = linkEntryBytes('/lib/a.jpg', id(3), { text: '../p/a.jpg', folderId: id(4) })!;
  const payload = Buffer.from(payloadOf(e));
  const back = decodeLinkPayload(payload)!;
  payload.fill(0);
  assert.equal(back.text, '../p/a.jpg');
  assert.deepEqual(Buffer.from(back.folderId), id(4));
});

test('link entries: a payload truncated, padded, of an earlier form or unknown is refused (the link is resolved again), never misread', () => {
  const good = Buffer.from(payloadOf(linkEntryBytes('/lib/a.jpg', id(3), { text: '../p/a.jpg', folderId: id(4) })!));
  for (let n = 0; n < good.length; n++) assert.equal(decodeLinkPayload(good.subarray(0, n)), null, `truncated to ${n}`);
  assert.equal(decodeLinkPayload(Buffer.concat([good, Buffer.from([0])])), null, 'padded');
  const other = Buffer.from(good);
  other[0] = 1; // the earlier form (every lookup of the resolution)
  assert.equal(decodeLinkPayload(other), null, 'form 1');
  assert.equal(decodeLinkPayload(serialize(['/t', null, []])), null, 'the v8 form');
  assert.equal(decodeLinkPayload(serialize({ not: 'a link' })), null);
});

test('link entries: the bytes written are pinned (stored link entries outlive a build)', () => {
  const made = [
    linkEntryBytes('/lib/games/g1/IMG.jpg', id(1), { text: '../../photos/day/IMG.jpg', folderId: id(2) })!,
    linkEntryBytes('/lib/Bücher/写真.jpg', id(3), { text: '/elsewhere/写真.jpg', folderId: Buffer.alloc(40) })!,
  ];
  // sha-256 of the concatenated entries as the first writer of this form wrote them.
  assert.equal(createHash('sha256').update(Buffer.concat(made)).digest('hex'), '884ecb52f3fe47af713159bd8eae54530c099701c0df155402d21f40d36f5d97');
});

test('link texts: split at the last slash when they end in a plain name, else resolved whole', () => {
  assert.deepEqual(splitLinkText('../../photos/day/IMG.jpg'), { dir: '../../photos/day/', last: 'IMG.jpg' });
  assert.deepEqual(splitLinkText('IMG.jpg'), { dir: '', last: 'IMG.jpg' });
  assert.deepEqual(splitLinkText('/IMG.jpg'), { dir: '/', last: 'IMG.jpg' });
  assert.deepEqual(splitLinkText('a//b.jpg'), { dir: 'a//', last: 'b.jpg' });
  for (const whole of ['', 'a/', 'a/..', 'a/.', '..', '.', 'x\uFFFD.jpg']) assert.equal(splitLinkText(whole), null, JSON.stringify(whole));
});

/** Links of every kind in `lib/links`, with the files and folders they name. */
function awkwardLinks(): { rootReal: string; names: string[]; top: string } {
  const top = realpathSync(tempDir('isc-link-entry-'));
  const root = join(top, 'lib');
  for (const d of ['lib/a/deep/er', 'lib/b', 'lib/links', 'outside/x']) mkdirSync(join(top, d), { recursive: true });
  writeFileSync(join(root, 'a/IMG.jpg'), FAKE_JPEG);
  writeFileSync(join(root, 'a/deep/er/IMG.jpg'), FAKE_JPEG);
  writeFileSync(join(top, 'outside/x/far.jpg'), FAKE_JPEG);
  symlinkSync('a', join(root, 'alias'));
  symlinkSync('../lib/a/deep', join(top, 'outside/backdoor'));
  const spec: Record<string, string> = {
    'rel.jpg': '../a/IMG.jpg',
    'abs.jpg': join(root, 'a/IMG.jpg'),
    'dotted.jpg': './../a/./deep/../IMG.jpg',
    'slashes.jpg': '..//a///IMG.jpg',
    'through-alias.jpg': '../alias/IMG.jpg',
    'alias-dotdot.jpg': '../alias/deep/../IMG.jpg',
    'chain.jpg': 'rel.jpg',
    'outside.jpg': join(top, 'outside/x/far.jpg'),
    'back-in.jpg': join(top, 'outside/backdoor/er/IMG.jpg'),
    'dangling.jpg': 'nowhere.jpg',
    'dangling-dir.jpg': '../nowhere/IMG.jpg',
    'to-dir.jpg': '../a',
    'file-as-dir.jpg': '../a/IMG.jpg/x',
    'trailing-slash.jpg': '../a/IMG.jpg/',
    'loop1.jpg': 'loop2.jpg',
    'loop2.jpg': 'loop1.jpg',
    'root.jpg': '/',
  };
  for (const [name, target] of Object.entries(spec)) symlinkSync(target, join(root, 'links', name));
  return { rootReal: root, names: Object.keys(spec), top };
}

const PLAIN = ['rel.jpg', 'abs.jpg', 'dotted.jpg', 'slashes.jpg', 'through-alias.jpg', 'alias-dotdot.jpg', 'outside.jpg', 'back-in.jpg'];

test('link entries: every answer is realpath + stat, an entry made for each link ending in a plain file name, served back to the same answer', () => {
  const { rootReal, names } = awkwardLinks();
  const cutoff = 1n << 62n; // nothing is racy
  const made = new LinkEntries(rootReal, new FolderIdentities(cutoff), new LookupMemo());
  const serving = new LinkEntries(rootReal, new FolderIdentities(cutoff), new LookupMemo());
  for (const name of names) {
    const want = resolveLinkNative(join(rootReal, 'links', name));
    const b = made.resolve('links', name);
    assert.deepEqual(b.link, want, name);
    assert.equal(b.entry !== null, PLAIN.includes(name), `${name}: stored only when its text ends in a plain file name`);
    // What the answer rests on (for a folder's records).
    if (b.link.broken !== true) assert.ok(b.steps.length > 0 && b.complete, `${name}: its lookups`);
    if (b.entry !== null) assert.deepEqual(serving.served('links', decodeLinkPayload(payloadOf(b.entry))!)?.link, want, `${name}: served`);
  }
});

test('link entries: a stored entry is served while the folder its text names is as stored, and refused once that folder changed or the text leads elsewhere', () => {
  const { rootReal, top } = awkwardLinks();
  const cutoff = 1n << 62n;
  const made = new LinkEntries(rootReal, new FolderIdentities(cutoff), new LookupMemo()).resolve('links', 'through-alias.jpg');
  const stored = decodeLinkPayload(payloadOf(made.entry!))!;
  const serveNow = () => new LinkEntries(rootReal, new FolderIdentities(cutoff), new LookupMemo()).served('links', stored);
  const served = serveNow();
  assert.deepEqual(served?.link, { target: join(rootReal, 'a/IMG.jpg'), broken: false });
  assert.ok(served!.steps.some((s) => s[0] === rootReal && s[1] === 'alias'), 'the folder link on the way is a lookup the answer rests on');
  // A file added beside the target: its folder changed; the answer is made again (not served).
  writeFileSync(join(rootReal, 'a/other.jpg'), FAKE_JPEG);
  assert.equal(serveNow(), null, 'the target folder changed');
  // The folder link on the way re-pointed to a copy: the text's folder is another folder now.
  const again = decodeLinkPayload(payloadOf(new LinkEntries(rootReal, new FolderIdentities(cutoff), new LookupMemo()).resolve('links', 'through-alias.jpg').entry!))!;
  mkdirSync(join(rootReal, 'a2'));
  writeFileSync(join(rootReal, 'a2/IMG.jpg'), FAKE_JPEG);
  rmSync(join(rootReal, 'alias'));
  symlinkSync('a2', join(rootReal, 'alias'));
  assert.equal(new LinkEntries(rootReal, new FolderIdentities(cutoff), new LookupMemo()).served('links', again), null, 're-pointed on the way');
  // The target folder moved away and an equal one put in its place.
  const third = decodeLinkPayload(payloadOf(new LinkEntries(rootReal, new FolderIdentities(cutoff), new LookupMemo()).resolve('links', 'rel.jpg').entry!))!;
  renameSync(join(rootReal, 'a'), join(top, 'a-moved'));
  mkdirSync(join(rootReal, 'a'));
  writeFileSync(join(rootReal, 'a/IMG.jpg'), FAKE_JPEG);
  assert.equal(new LinkEntries(rootReal, new FolderIdentities(cutoff), new LookupMemo()).served('links', third), null, 'another folder in its place');
});

test('link entries: a folder changed within the racy margin vouches for nothing (its link is not stored; a racy target folder is stored without identity, never served)', () => {
  const { rootReal } = awkwardLinks();
  const racy = 0n; // every folder changed "just now"
  const made = new LinkEntries(rootReal, new FolderIdentities(racy), new LookupMemo()).resolve('links', 'rel.jpg');
  assert.equal(made.entry, null, 'its own folder is racy: not stored');
  assert.equal(made.link.target, join(rootReal, 'a/IMG.jpg'));
  // Its own folder settled, the target's not: stored with no identity for the target folder.
  const ownSettled = new LinkEntries(rootReal, { of: (d: string) => new FolderIdentities(d.endsWith('/links') ? 1n << 62n : 0n).of(d) } as FolderIdentities, new LookupMemo());
  const e = ownSettled.resolve('links', 'rel.jpg').entry!;
  const p = decodeLinkPayload(payloadOf(e))!;
  assert.deepEqual(Buffer.from(p.folderId), Buffer.alloc(40));
  assert.equal(new LinkEntries(rootReal, new FolderIdentities(1n << 62n), new LookupMemo()).served('links', p), null);
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
