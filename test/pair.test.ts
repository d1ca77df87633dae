import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pairDirectory } from '../src/discovery/pair.js';
import { imageExtensionSet, splitName, sidecarNameFor } from '../src/discovery/extensions.js';
import type { DirListing, WalkEntry } from '../src/discovery/walk.js';

const exts = imageExtensionSet();
const listing = (...names: string[]): DirListing => ({
  path: '/lib',
  rel: '',
  entries: names.map((name) => ({ name, kind: 'file' as const })),
});
const shape = (l: DirListing) =>
  pairDirectory(l, exts).groups.map((g) => ({ images: g.images.map((i) => i.name), sidecars: g.sidecars.map((s) => s.name) }));

test('upper-case image extensions pair with lower-case sidecars', () => {
  assert.deepEqual(shape(listing('A.JPG', 'A.json', 'DSC_0042.JPEG', 'DSC_0042.bin')), [
    { images: ['A.JPG'], sidecars: ['A.json'] },
    { images: ['DSC_0042.JPEG'], sidecars: ['DSC_0042.bin'] },
  ]);
});

test('bursts pair exactly: 20250920_143022_001.json belongs to _001.jpg only', () => {
  assert.deepEqual(shape(listing('20250920_143022.jpg', '20250920_143022_001.jpg', '20250920_143022_001.json', '20250920_143022.json')), [
    { images: ['20250920_143022.jpg'], sidecars: ['20250920_143022.json'] },
    { images: ['20250920_143022_001.jpg'], sidecars: ['20250920_143022_001.json'] },
  ]);
});

test('several candidates form one group in preference order (bin, rkyv, json, then name-ext)', () => {
  const g = pairDirectory(listing('x.jpg', 'x.json', 'x.jpg.json', 'x.bin', 'x.rkyv'), exts).groups;
  assert.equal(g.length, 1);
  assert.deepEqual(g[0].sidecars.map((s) => `${s.name}:${s.naming}`), ['x.bin:stem', 'x.rkyv:stem', 'x.json:stem', 'x.jpg.json:name-ext']);
});

test('two images claiming one sidecar are one (ambiguous) group', () => {
  assert.deepEqual(shape(listing('IMG_1.jpg', 'IMG_1.png', 'IMG_1.json')), [{ images: ['IMG_1.jpg', 'IMG_1.png'], sidecars: ['IMG_1.json'] }]);
});

test('name-ext form matches the image name exactly; sidecar extensions are lower case only', () => {
  // IMG_1.JPG.json is the name-ext sidecar of IMG_1.JPG; IMG_1.jpg.json is not (the name differs), and
  // is never an orphan either: IMG_1.JPG has its name up to case (unknown-image rule).
  const g = pairDirectory(listing('IMG_1.JPG', 'IMG_1.JPG.json', 'IMG_1.jpg.json', 'IMG_2.jpg', 'IMG_2.JSON'), exts).groups;
  assert.deepEqual(
    g.map((x) => [x.images.map((i) => i.name), x.sidecars.map((s) => `${s.name}:${s.naming}`), x.lookalikes ?? null]),
    [
      [['IMG_1.JPG'], ['IMG_1.JPG.json:name-ext'], null],
      [['IMG_2.jpg'], [], null], // IMG_2.JSON is not a sidecar: read and write ignore it, and so does scan
      [[], ['IMG_1.jpg.json:stem'], ['IMG_1.JPG']],
    ],
  );
});

test('names are compared after NFC; on-disk names are kept', () => {
  const nfd = 'E\u0301quipe.jpg'; // "Équipe" decomposed
  const nfcJson = '\u00C9quipe.json';
  const g = pairDirectory(listing(nfd, nfcJson), exts).groups;
  assert.equal(g.length, 1);
  assert.equal(g[0].images[0].name, nfd);
  assert.equal(g[0].sidecars[0].name, nfcJson);
});

test('unpaired sidecars, other files, temp files', () => {
  const p = pairDirectory(listing('orphan.json', 'notes.txt', '.IMG_1.json.isc-tmp-123-abc', 'game_detection.json'), exts);
  // Unpaired sidecar candidates become their own groups (the scan reads them to tell orphan from report).
  assert.deepEqual(p.groups.map((g) => [g.images.length, g.sidecars[0].name]), [[0, 'orphan.json'], [0, 'game_detection.json']]);
  assert.equal(p.ignored, 1);
  assert.equal(p.tempFiles.length, 1);
});

test('extension helpers', () => {
  assert.deepEqual(splitName('IMG.JPG'), { stem: 'IMG', ext: 'jpg' });
  assert.deepEqual(splitName('.hidden'), { stem: '.hidden', ext: '' });
  assert.deepEqual(splitName('noext'), { stem: 'noext', ext: '' });
  assert.equal(sidecarNameFor('IMG_1.JPG', 'bin'), 'IMG_1.bin');
  assert.equal(sidecarNameFor('IMG_1.JPG', 'json', 'name-ext'), 'IMG_1.JPG.json');
});

test('property: the pairing equals the reference implementation on generated folders (NFC twins, name-ext, case, temp/lock names, kinds, subsets)', async () => {
  const { referencePairDirectory } = await import('./helpers/pair-reference.js');
  // A small alphabet of stems so that claims collide: NFC and NFD spellings, case variants, dotted stems.
  const stems = ['IMG_1', 'img_1', 'IMG_2', 'caf\u00e9', 'cafe\u0301', 'a.b', 'x', '.hidden', 'IMG_1.jpg', 'IMG_1.JPG', 'Caf\u00c9'];
  const exts = ['jpg', 'JPG', 'png', 'heic', 'json', 'bin', 'rkyv', 'JSON', 'txt', 'xmp', ''];
  const kinds = ['file', 'file', 'file', 'file', 'symlink', 'dir', 'other'] as const;
  let seed = 0x2545f491;
  const rand = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const extSet = imageExtensionSet();
  for (let c = 0; c < 3000; c++) {
    const names = new Set<string>();
    const count = 1 + rand(12);
    while (names.size < count) {
      const r = rand(20);
      const stem = stems[rand(stems.length)];
      const ext = exts[rand(exts.length)];
      const name = ext === '' ? stem : `${stem}.${ext}`;
      if (r === 0) names.add(`.${name}.isc-tmp-12-ab`); // our temp file
      else if (r === 1) names.add(`.${stem}.isc-lock`); // our lock
      else if (r === 2) names.add('.image-sidecar.json');
      else names.add(name);
    }
    const entries: WalkEntry[] = [...names].sort().map((name) => {
      const e: WalkEntry = { name, kind: kinds[rand(kinds.length)] };
      if (rand(25) === 0) e.unaddressable = true;
      return e;
    });
    const all: DirListing = { path: c % 2 === 0 ? '/lib/dir' : 'rel/dir/', rel: 'dir', entries };
    const cases: [DirListing, { folderEntries?: WalkEntry[] }][] = [[all, {}]];
    // A part of the folder (as a shard pairs its names), with the whole folder for lookalikes.
    if (entries.length > 2) cases.push([{ ...all, entries: entries.filter(() => rand(2) === 0) }, { folderEntries: entries }]);
    for (const [l, o] of cases) assert.deepEqual(pairDirectory(l, extSet, o), referencePairDirectory(l, extSet, o), JSON.stringify(l.entries));
  }
});
