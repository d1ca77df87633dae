/**
 * Groups of every shape edited in place, with the index: two images sharing a stem, stem and
 * name-ext sidecars of one image, .bin beside .json with the .bin made corrupt, symlinked sidecars
 * (into the root and out of it) whose targets are edited or removed, NFC/NFD twins in one group,
 * upper-case image extensions, names with spaces, quotes, backslashes, '%', emoji, a CJK
 * compatibility ideograph whose NFC form is astral, lone sidecars with and without a lookalike, the
 * root folder, a deep chain; sidecars made empty, BOM, invalid JSON or larger than maxFileSize; the
 * root spelled relative, with a trailing slash, through a symlink. After every edit every command
 * with the index gives exactly what it gives with `index: false`.
 */
import { test, type TestContext } from 'node:test';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeSidecar } from '../src/index.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir, type TreeNode } from './helpers/tree.js';
import { PARITY_COMMANDS, commands, edit, FEW, photoSpec, same, warm, type CmdName, type CmdOpts, type Run } from './helpers/index-parity.js';

const NFC = 'Caf\u00e9';
const NFD = 'Cafe\u0301';
const DEEP = Array.from({ length: 30 }, (_, i) => `d${i}`).join('/');
const bin = (name: string, faces = 1) => encodeSidecar(sidecarData(name, faces, 4) as never, 'bin');
const sc = (name: string, faces = 1): TreeNode => ({ json: sidecarData(name, faces, 8) });

function library(t: TestContext): { root: string; outside: string; indexPath: string } {
  const dir = testDir(t, 'index-group-shapes-');
  const outside = join(dir, 'outside');
  const root = join(dir, 'lib');
  makeTree({ 'o1.json': sc('o1.jpg', 2), 'o2.json': sc('o2.jpg', 1) }, outside);
  const { spec, photo, fill } = photoSpec();
  photo('top');
  // Two images sharing a stem, one sidecar.
  spec['two/IMG.jpg'] = FAKE_JPEG;
  spec['two/IMG.png'] = FAKE_JPEG;
  spec['two/IMG.json'] = sc('IMG.jpg', 2);
  // Stem and name-ext sidecars of one image.
  spec['ne/IMG.jpg'] = FAKE_JPEG;
  spec['ne/IMG.json'] = sc('IMG.jpg', 1);
  spec['ne/IMG.jpg.json'] = sc('IMG.jpg', 2);
  // .bin beside .json: the .bin is preferred.
  spec['bj/IMG.jpg'] = FAKE_JPEG;
  spec['bj/IMG.bin'] = bin('IMG.jpg', 3);
  spec['bj/IMG.json'] = sc('IMG.jpg', 1);
  // Symlinked sidecars: into the root (an orphan there) and out of it.
  spec['targets/t.json'] = sc('t.jpg', 2);
  spec['sl/IN.jpg'] = FAKE_JPEG;
  spec['sl/IN.json'] = { symlink: '../targets/t.json' };
  spec['sl/OUT.jpg'] = FAKE_JPEG;
  spec['sl/OUT.json'] = { symlink: join(outside, 'o1.json') };
  spec['sl/OUT2.jpg'] = FAKE_JPEG;
  spec['sl/OUT2.json'] = { symlink: join(outside, 'o2.json') };
  // NFC/NFD twins in one group (an image of each form, one sidecar), and an NFD sidecar of an NFC image.
  spec[`nf/${NFC}.jpg`] = FAKE_JPEG;
  spec[`nf/${NFD}.jpg`] = FAKE_JPEG;
  spec[`nf/${NFC}.json`] = sc(`${NFC}.jpg`, 2);
  spec[`nf/${NFC}x.jpg`] = FAKE_JPEG;
  spec[`nf/${NFD}x.json`] = sc(`${NFC}x.jpg`, 1);
  // Upper-case extensions, stem and name-ext.
  spec['up/IMG.JPG'] = FAKE_JPEG;
  spec['up/IMG.json'] = sc('IMG.JPG', 1);
  spec['up/IMG.JPG.json'] = sc('IMG.JPG', 2);
  spec['up/b.JpEg'] = FAKE_JPEG;
  spec['up/b.JpEg.json'] = sc('b.JpEg', 2);
  // Odd names.
  for (const n of ['a b', 'q\'"x', 'back\\slash', '100%', '%41%2F', '\u{1F600}', 'a.b.c', '-dash', ' lead', 'trail ', 'tab\tname']) {
    spec[`odd/${n}.jpg`] = FAKE_JPEG;
    spec[`odd/${n}.json`] = sc(`${n}.jpg`, 1);
  }
  // A CJK compatibility ideograph whose NFC form is an astral character: image and sidecar pair
  // (NFC stems equal) but sort differently by code units than by code points.
  spec['cjk/\uFA6C.jpg'] = FAKE_JPEG;
  spec['cjk/\u{242EE}.json'] = sc('\uFA6C.jpg', 2);
  spec['cjk/\u{242EE}.jpg.json'] = sc('\uFA6C.jpg', 1);
  // Lone sidecars: a lookalike (an image type not in the list), an orphan.
  spec['la/IMG.xcf'] = FAKE_JPEG;
  spec['la/IMG.json'] = sc('IMG.xcf', 1);
  spec['la/Other.XCF'] = FAKE_JPEG;
  spec['la/other.json'] = sc('Other.XCF', 2);
  spec['la/photo.jpg'] = FAKE_JPEG;
  spec['la/photo.json'] = sc('photo.jpg', 1);
  spec['or/lone.json'] = sc('lone.jpg', 1);
  spec['or/x.jpg'] = FAKE_JPEG;
  spec['or/x.json'] = sc('x.jpg', 1);
  // A chain: a.jpg.png's stem claims a.jpg.json, which claims a.jpg by its name; a.json a.jpg by its stem.
  spec['chain/a.jpg'] = FAKE_JPEG;
  spec['chain/a.jpg.png'] = FAKE_JPEG;
  spec['chain/a.json'] = sc('a.jpg', 1);
  spec['chain/a.jpg.json'] = sc('a.jpg', 2);
  spec['chain/a.jpg.png.json'] = sc('a.jpg.png', 3);
  // Deep.
  photo(`${DEEP}/bottom`, 2);
  fill(6, 10);
  makeTree(spec, root);
  return { root, outside, indexPath: join(dir, 'idx', 'index') };
}

type Edit = (at: (rel: string) => string, round: number) => void;

async function attack(t: TestContext, label: string, rounds: Edit[][], names: CmdName[] = FEW, o: CmdOpts = {}): Promise<Run[]> {
  const all: Run[] = [];
  for (const name of names) {
    const { root, outside } = library(t);
    const at = (rel: string) => (rel.startsWith('@') ? join(outside, rel.slice(1)) : join(root, rel));
    const runs: Run[] = [];
    const cmd = commands(root, join(root, '..', 'idx', 'index'), runs, o)[name];
    await warm(cmd, runs, `${label} ${name}`, root);
    let r = 0;
    for (const edits of rounds) {
      r++;
      for (const e of edits) e(at, r);
      await same(cmd, runs, `${label}: ${name} round ${r}`);
    }
    all.push(...runs);
  }
  return all;
}

const ed = (rel: string): Edit => (at, r) => edit(at(rel), r);
const setTo = (rel: string, content: string | Buffer | ((before: Buffer) => Buffer)): Edit => (at) => {
  const p = at(rel);
  const before = readFileSync(p);
  writeFileSync(p, typeof content === 'function' ? content(before) : content);
};

test('two images sharing a stem; stem and name-ext sidecars of one image', async (t) => {
  await attack(t, 'stems', [[ed('two/IMG.json')], [ed('ne/IMG.json')], [ed('ne/IMG.jpg.json')], [ed('ne/IMG.json'), ed('ne/IMG.jpg.json'), ed('two/IMG.json')]], PARITY_COMMANDS);
});

test('the preferred .bin made corrupt, then the .json beside it edited, then the .bin whole again', async (t) => {
  let good: Buffer | null = null;
  await attack(t, 'bin', [
    [setTo('bj/IMG.bin', (b) => ((good = Buffer.from(b)), (b = Buffer.from(b)), (b[b.length - 3] ^= 0xff), (b[20] ^= 0xff), b))],
    [ed('bj/IMG.json')],
    [setTo('bj/IMG.bin', () => good!)],
    [setTo('bj/IMG.bin', Buffer.from('not a bin at all'))],
  ]);
});

test('symlinked sidecars: targets inside and outside the root edited, an outside target removed and put back', async (t) => {
  const saved = new Map<string, Buffer>();
  const remove = (rel: string): Edit => (at) => {
    saved.set(rel, readFileSync(at(rel)));
    rmSync(at(rel));
  };
  const back = (rel: string): Edit => (at) => writeFileSync(at(rel), saved.get(rel)!);
  await attack(t, 'links', [[ed('targets/t.json')], [ed('@o1.json')], [ed('@o1.json'), ed('@o2.json'), ed('targets/t.json')], [remove('@o2.json')], [back('@o2.json')], [remove('@o1.json'), ed('two/IMG.json')]], PARITY_COMMANDS);
});

test('NFC/NFD twins in one group, upper-case extensions, a chain of name-ext claims', async (t) => {
  await attack(t, 'twins', [[ed(`nf/${NFC}.json`)], [ed(`nf/${NFD}x.json`)], [ed('up/IMG.json'), ed('up/IMG.JPG.json')], [ed('up/b.JpEg.json')], [ed('chain/a.jpg.json')], [ed('chain/a.jpg.png.json'), ed('chain/a.json')]], PARITY_COMMANDS);
});

test('odd names: spaces, quotes, backslashes, %, emoji, a compatibility ideograph', async (t) => {
  await attack(t, 'odd', [
    [ed('odd/a b.json'), ed('odd/q\'"x.json')],
    [ed('odd/back\\slash.json'), ed('odd/100%.json'), ed('odd/%41%2F.json')],
    [ed('odd/\u{1F600}.json')],
    [ed('cjk/\u{242EE}.json')],
    [ed('cjk/\u{242EE}.jpg.json'), ed('odd/a.b.c.json')],
    [ed('odd/-dash.json'), ed('odd/ lead.json'), ed('odd/trail .json'), ed('odd/tab\tname.json')],
  ]);
});

test('a sidecar made empty, BOM, invalid JSON, larger than maxFileSize, then whole again', async (t) => {
  let good = '';
  const keep: Edit = (at) => void (good = readFileSync(at('top.json'), 'utf8'));
  await attack(
    t,
    'content',
    [
      [keep, setTo('top.json', '')],
      [setTo('top.json', () => Buffer.from('\uFEFF' + good))],
      [setTo('top.json', '{"face_detection": {"success": tru')],
      [setTo('top.json', () => Buffer.from(good + ' '.repeat(5000)))],
      [setTo('top.json', () => Buffer.from(good))],
      [setTo('two/IMG.json', '[]')],
      [setTo('two/IMG.json', 'null')],
    ],
    ['validate', 'validate kept', 'stats', 'format-stats'],
    { maxFileSize: 4500 },
  );
});

test('lone sidecars (a lookalike, an orphan) with photos in their folders, the root folder, a deep chain', async (t) => {
  await attack(t, 'lone', [[ed('la/IMG.json')], [ed('or/lone.json')], [ed('la/IMG.json'), ed('la/photo.json'), ed('la/other.json')], [ed('or/lone.json'), ed('or/x.json'), ed('top.json')], [ed(`${DEEP}/bottom.json`)]], PARITY_COMMANDS);
});

test('the root given as a relative path, with a trailing slash, through a symlink', async (t) => {
  for (const name of FEW) {
    const { root } = library(t);
    const dir = join(root, '..');
    mkdirSync(join(dir, 'via'));
    symlinkSync(root, join(dir, 'via', 'lib'));
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      for (const spelled of ['lib', 'lib/', './lib/../lib', join(dir, 'via', 'lib'), 'via/lib/']) {
        const runs: Run[] = [];
        const cmd = commands(spelled, join(dir, 'idx', `index-${spelled.replace(/[^a-z]/g, '_')}`), runs)[name];
        await warm(cmd, runs, `${spelled} ${name}`);
        edit(join(root, 'two/IMG.json'), 1);
        edit(join(root, 'or/lone.json'), 2);
        await same(cmd, runs, `root ${spelled}: ${name}`);
      }
    } finally {
      process.chdir(cwd);
    }
  }
});
