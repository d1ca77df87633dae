/**
 * The scan resolves symlinked images by a short path (readlink + lstat + one realpath per target
 * folder) where that gives the same answer as realpath(3). These links try to make the two differ:
 * a `..` after a directory link, directory links in the middle of a link, links to links, absolute
 * links, a root reached through a link, and targets that are missing or not files. Every
 * symlinked image's `target`, `outsideRoot` and `broken` must equal what realpath + stat say.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scan } from '../src/ops/scan.js';
import { type ScanImage, type ScanRecord } from '../src/scan/records.js';
import { FAKE_JPEG, makeTree, removeTree, sidecarData, testDir } from './helpers/tree.js';
import { todo } from '../src/ops/todo.js';
import { validate } from '../src/ops/validate.js';
import { InlineRuntime } from '../src/engine/inline.js';
import type { Runtime } from '../src/engine/runtime.js';
import type { InspectItem } from '../src/model/inspection.js';

function expected(linkPath: string, rootReal: string): { target?: string; broken: boolean; outsideRoot?: boolean } {
  try {
    const target = realpathSync.native(linkPath);
    if (!statSync(target).isFile()) return { broken: true };
    return { target, broken: false, outsideRoot: !(target === rootReal || target.startsWith(`${rootReal}/`)) };
  } catch {
    return { broken: true };
  }
}

test('symlinked images resolve exactly as realpath(3) says, whatever the link looks like', { skip: process.platform === 'win32' }, async (t) => {
  const base = testDir(t, 'isc-links-');
  const outside = join(base, 'outside');
  makeTree(
    {
      'deep/photos/x.jpg': FAKE_JPEG,
      'deep/photos/x.json': { json: sidecarData('x.jpg') },
      'photos/x.jpg': FAKE_JPEG, // same name outside, one level up from deep/
      'photos/x.json': { json: sidecarData('x.jpg') },
      'file.jpg': FAKE_JPEG,
      'dir.jpg/keep': 'a directory with an image name',
    },
    outside,
  );
  const realRoot = join(base, 'lib');
  const root = makeTree(
    {
      'photos/a.jpg': FAKE_JPEG,
      'photos/a.json': { json: sidecarData('a.jpg') },
      'photos/b.jpg': FAKE_JPEG,
      'photos/x.jpg': FAKE_JPEG, // where a lexical reading of dotdot-after-link would land
      'photos/sub/c.jpg': FAKE_JPEG,
      'photos/sub/c.json': { json: sidecarData('c.jpg') },
      // plain relative and absolute links inside the root
      'games/g/rel.jpg': { symlink: '../../photos/a.jpg' },
      'games/g/dots.jpg': { symlink: './.././../photos//a.jpg' },
      // a directory link in the middle leads out of the root
      'games/g/via-dirlink.jpg': { symlink: '../../out/photos/x.jpg' },
      // `..` after a directory link (deeplink → outside/deep): physically outside/deep/.. = outside,
      // lexically the root, which has a photos/x.jpg too
      'games/g/dotdot-after-link.jpg': { symlink: '../../deeplink/../photos/x.jpg' },
      'games/g/dotdot-after-dir.jpg': { symlink: '../../photos/sub/../a.jpg' },
      // a link to a link (the chain ends inside), and one whose last hop leaves the root
      'games/g/chain.jpg': { symlink: 'rel.jpg' },
      'games/g/chain-out.jpg': { symlink: '../../photos/to-outside.jpg' },
      'photos/to-outside.jpg': { symlink: join(outside, 'file.jpg') },
      // broken, a directory, a loop, a target past the file system root
      'games/g/missing.jpg': { symlink: '../../photos/none.jpg' },
      'games/g/dir.jpg': { symlink: join(outside, 'dir.jpg') },
      'games/g/loop1.jpg': { symlink: 'loop2.jpg' },
      'games/g/loop2.jpg': { symlink: 'loop1.jpg' },
      'games/g/above-root.jpg': { symlink: '../../../../../../../../../../../../../../../../..' + join(outside, 'file.jpg') },
      'games/g/trailing.jpg': { symlink: '../../photos/a.jpg/' },
      'games/g/to-sub.jpg': { symlink: '../../photos/sub/c.jpg' },
    },
    realRoot,
  );
  symlinkSync(outside, join(root, 'out'));
  symlinkSync(join(outside, 'deep'), join(root, 'deeplink'));
  const abs = join(root, 'games/g/abs.jpg');
  symlinkSync(join(realRoot, 'photos/b.jpg'), abs);
  // The root itself reached through a link: targets are reported by their real path.
  const viaLink = join(base, 'lib-link');
  symlinkSync(realRoot, viaLink);
  mkdirSync(join(base, 'sub'), { recursive: true });
  writeFileSync(join(base, 'sub/x.jpg'), FAKE_JPEG);

  for (const scanRoot of [realRoot, viaLink]) {
    const rootReal = realpathSync(scanRoot);
    const images: ScanImage[] = [];
    for await (const rec of scan(scanRoot)) for (const img of rec.images) if (img.isSymlink) images.push(img);
    assert.ok(images.length >= 15, `every link seen (${images.length})`);
    for (const img of images) {
      const want = expected(img.path, rootReal);
      assert.equal(img.broken === true, want.broken, `${img.rel}: broken`);
      if (!want.broken) {
        assert.equal(img.target, want.target, `${img.rel}: target`);
        assert.equal(img.outsideRoot, want.outsideRoot, `${img.rel}: outside the root`);
      }
    }
    const byRel = new Map(images.map((i) => [i.rel, i]));
    assert.equal(byRel.get('games/g/dotdot-after-link.jpg')?.target, realpathSync(join(outside, 'photos/x.jpg')));
    assert.equal(byRel.get('games/g/dotdot-after-link.jpg')?.outsideRoot, true, 'a .. after a directory link is physical, not lexical');
    assert.equal(byRel.get('games/g/via-dirlink.jpg')?.outsideRoot, true);
    assert.equal(byRel.get('games/g/chain-out.jpg')?.outsideRoot, true);
    assert.equal(byRel.get('games/g/rel.jpg')?.outsideRoot, false);
  }
});

/** What a record says about its symlinked images, comparable across shards. */
function linkView(rec: ScanRecord): string {
  return JSON.stringify({
    seq: rec.seq,
    category: rec.category,
    images: rec.images.map((i) => [i.rel, i.target ?? null, i.outsideRoot ?? null, i.broken ?? null]),
    sidecars: rec.sidecars.map((s) => [s.rel, s.side, s.naming, s.inspection.status]),
    effective: rec.effective?.rel ?? null,
    findings: rec.findings.map((f) => [f.code, f.paths]),
  });
}

test('a shard sees the same group behind each of its links as an unsharded scan (target folders paired root by root)', async (t) => {
  const base = testDir(t, 'isc-links-shard-');
  const spec: Record<string, Parameters<typeof makeTree>[0][string]> = {};
  // Target folder: plain pairs, RAW+JPEG sharing one sidecar (ambiguous behind a link), name-ext
  // sidecars, a stem that is another image's name, NFD names, lone sidecars and lookalikes.
  for (let i = 0; i < 24; i++) {
    spec[`photos/IMG_${i}.jpg`] = FAKE_JPEG;
    if (i % 3 !== 0) spec[`photos/IMG_${i}.json`] = { json: sidecarData(`IMG_${i}.jpg`) };
    if (i % 5 === 0) spec[`photos/IMG_${i}.cr2`] = FAKE_JPEG; // RAW twin: same stem
    if (i % 7 === 0) spec[`photos/IMG_${i}.jpg.bin`] = 'not a bin';
    spec[`games/g${i % 4}/IMG_${i}.jpg`] = { symlink: `../../photos/IMG_${i}.jpg` };
  }
  spec['photos/a.jpg.png'] = FAKE_JPEG; // root "a"
  spec['photos/a.jpg'] = FAKE_JPEG;
  spec['photos/a.jpg.json'] = { json: sidecarData('a.jpg') }; // claims a.jpg (name-ext) and a.jpg.png (stem)
  spec['photos/E\u0301te\u0301.jpg'] = FAKE_JPEG;
  spec['photos/\u00C9t\u00E9.json'] = { json: sidecarData('Été.jpg') };
  spec['photos/lone.json'] = { json: sidecarData('lone.jpg') };
  spec['photos/lone.xyz'] = 'lookalike';
  spec['games/g0/a.jpg'] = { symlink: '../../photos/a.jpg' };
  spec['games/g1/a.jpg.png'] = { symlink: '../../photos/a.jpg.png' };
  spec['games/g2/ete.jpg'] = { symlink: '../../photos/E\u0301te\u0301.jpg' };
  const root = makeTree(spec, join(base, 'lib'));

  const whole = new Map<string, string>();
  for await (const rec of scan(root)) if (rec.images.some((i) => i.isSymlink)) whole.set(JSON.stringify(rec.seq), linkView(rec));
  assert.ok(whole.size >= 27);
  for (const count of [2, 3, 8]) {
    const seen = new Map<string, string>();
    for (let index = 0; index < count; index++) {
      for await (const rec of scan(root, { shard: { index, count } })) {
        if (!rec.images.some((i) => i.isSymlink)) continue;
        const key = JSON.stringify(rec.seq);
        assert.ok(!seen.has(key), `a link record in one shard only (${key})`);
        seen.set(key, linkView(rec));
      }
    }
    assert.deepEqual(seen, whole, `N = ${count}: every link record as in the unsharded scan`);
  }
});

// The engine resolves a folder of links (scan/pending.ts linksJob; tasks/inspect.ts resolveLinkItem)
// with a resolver that keeps the real paths of target folders. Kept per process, it answered a
// later scan from an earlier one: a folder link re-pointed between two scans of one process (the
// inline engine, the server) left the second scan's links leading where the first scan saw them.
test('link groups: a folder link re-pointed between two scans of one process is seen by the second', async () => {
  const root = makeTree({
    'photos/d1/IMG_1.jpg': FAKE_JPEG,
    'photos/d1/IMG_1.json': { json: sidecarData('IMG_1.jpg', 1) },
    'photos/d2/IMG_1.jpg': FAKE_JPEG,
    'games/g1/c.jpg': { symlink: '../../current/IMG_1.jpg' },
    current: { symlink: 'photos/d1' },
  });
  const linkRecord = async (engine: 'inline' | 'threads') => {
    const out: { category: string; target: string | undefined }[] = [];
    for await (const rec of scan(root, { engine, workers: 1 })) if (rec.images[0]?.isSymlink) out.push({ category: rec.category, target: rec.images[0].target });
    return out;
  };
  try {
    for (const engine of ['inline', 'threads'] as const) {
      rmSync(join(root, 'current'));
      symlinkSync('photos/d1', join(root, 'current'));
      assert.deepEqual(await linkRecord(engine), [{ category: 'ok', target: join(realpathSync(root), 'photos/d1/IMG_1.jpg') }], engine);
      const v1 = await validate(root, { engine, workers: 1 });
      // The same name is in both folders: only the folder's real path tells them apart.
      rmSync(join(root, 'current'));
      symlinkSync('photos/d2', join(root, 'current'));
      assert.deepEqual(await linkRecord(engine), [{ category: 'missing', target: join(realpathSync(root), 'photos/d2/IMG_1.jpg') }], engine);
      const v2 = await validate(root, { engine, workers: 1 });
      assert.equal(v2.scan.counts.missing, v1.scan.counts.missing + 1, engine);
      const t = await todo(root, { operation: 'yolov8', engine, workers: 1 });
      assert.deepEqual(t.skipped, { links: 1, brokenLinks: 0 }, engine);
    }
  } finally {
    removeTree(root);
  }
});

test('links of a folder go to the engine a few hundred per job, in order between the folder\'s other records: the same records as links resolved on the main thread', { skip: process.platform === 'win32' }, async (t) => {
  const base = testDir(t, 'isc-link-jobs-');
  const tree: Record<string, unknown> = {};
  for (let i = 0; i < 40; i++) {
    tree[`photos/P${i}.jpg`] = FAKE_JPEG;
    tree[`photos/P${i}.json`] = { json: sidecarData(`P${i}.jpg`) };
  }
  // A folder of links with a few real images between them (groups of links only, then not, then again).
  tree['games/g1/M100.jpg'] = FAKE_JPEG;
  tree['games/g1/M100.json'] = { json: sidecarData('M100.jpg') };
  tree['games/g1/M400.jpg'] = FAKE_JPEG;
  makeTree(tree as never, base);
  const g1 = join(base, 'games/g1');
  for (let i = 0; i < 600; i++) symlinkSync(`../../photos/P${i % 40}.jpg`, join(g1, `M${String(i).padStart(3, '0')}x.jpg`));
  symlinkSync('nowhere.jpg', join(g1, 'M250.jpg')); // broken
  symlinkSync(join(base, 'photos', 'P3.jpg'), join(g1, 'M500.jpg')); // absolute
  const batches: number[] = [];
  const inline = new InlineRuntime();
  const recording: Runtime = {
    kind: 'inline',
    workers: 1,
    run: (task, items, options, opts) => {
      batches.push((items as InspectItem[]).filter((i) => i.resolveLink !== undefined).length);
      return inline.run(task, items, options, opts);
    },
    close: async () => {},
  };
  const records = async (o: { runtime?: Runtime; inspectLinkTargets?: boolean; engine?: 'threads'; workers?: number }) => {
    const out: ScanRecord[] = [];
    for await (const rec of scan(base, o)) out.push(rec);
    // What a record says about its images and where their sidecars are (inspecting link targets changes only their inspection).
    return out.map((r) => ({ category: r.category, dir: r.dir, seq: r.seq, images: r.images, sidecars: r.sidecars.map((s) => [s.path, s.side]), findings: r.findings, files: r.files }));
  };
  const byEngine = await records({ runtime: recording });
  const linkBatches = batches.filter((n) => n > 0);
  assert.equal(linkBatches.reduce((a, b) => a + b, 0), 602);
  assert.ok(linkBatches.length >= 3 && linkBatches.every((n) => n <= 256), `links per batch: ${linkBatches.join(' ')}`);
  for (let i = 1; i < byEngine.length; i++) {
    const [a, b] = [byEngine[i - 1].seq, byEngine[i].seq];
    assert.ok(a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]), `records in tree order at ${i}`);
  }
  // The reference: links resolved by the main thread while it pairs (inspecting link targets turns the engine's resolution off).
  const onMain = await records({ inspectLinkTargets: true });
  assert.deepEqual(byEngine, onMain);
  assert.deepEqual(await records({ engine: 'threads', workers: 2 }), onMain);
  const g = byEngine.filter((r) => r.dir === 'games/g1');
  assert.equal(g.length, 604);
  assert.equal(g.find((r) => r.images[0]?.name === 'M250.jpg')?.category, 'broken-symlink');
  assert.equal(g.find((r) => r.images[0]?.name === 'M100.jpg')?.category, 'ok');
});

test('a link into a group of several images names them in the folder\'s name order (as its own record and the index\'s listings do), whatever order readdir gives', { skip: process.platform === 'win32' }, async (t) => {
  const base = testDir(t, 'isc-link-order-');
  const tree: Record<string, unknown> = {};
  for (let i = 0; i < 40; i++) {
    const n = `g${String(i).padStart(2, '0')}`;
    tree[`photos/${n}.png`] = FAKE_JPEG;
    tree[`photos/${n}.jpg`] = FAKE_JPEG;
    tree[`photos/${n}.json`] = { json: sidecarData(`${n}.jpg`) };
  }
  makeTree(tree as never, base);
  mkdirSync(join(base, 'games'));
  for (let i = 0; i < 40; i++) symlinkSync(`../photos/g${String(i).padStart(2, '0')}.png`, join(base, 'games', `L${i}.png`));
  const shared: string[][] = [];
  const photos: ScanRecord[] = [];
  for await (const rec of scan(base, {})) {
    if (rec.dir === 'photos') photos.push(rec);
    for (const f of rec.findings) if (rec.dir === 'games' && f.code === 'ambiguous') shared.push(f.paths.slice(1));
  }
  assert.equal(shared.length, 40);
  for (const paths of shared) assert.deepEqual(paths, [...paths].sort(), `images of a shared group in name order: ${paths.join(', ')}`);
  // The photos folder's own records (paired once, for the links, and reused by the walk) list them the same way.
  const own = photos.map((r) => r.images.map((i) => i.path));
  assert.deepEqual(shared.map((p) => p.join()).sort(), own.map((p) => p.join()).sort());
});

test('links leading out of the root: their targets\' sidecars go to the engine in a few batches, not one round trip per link, with the same results', { skip: process.platform === 'win32' }, async (t) => {
  // A games folder validated alone: every link leads to a photo outside the root, whose sidecar the
  // link's record reads (nobody else's record does). The scan awaited the engine once per link
  // group: 2.5× slower with threads than in-process on 13,875 such links.
  const base = testDir(t, 'isc-links-out-');
  const tree: Record<string, unknown> = {};
  for (let i = 0; i < 120; i++) {
    tree[`photos/P${i}.jpg`] = FAKE_JPEG;
    tree[`photos/P${i}.json`] = { json: sidecarData(`P${i}.jpg`) };
  }
  tree['photos/P7.json'] = '{"broken": '; // one corrupt target sidecar
  makeTree(tree as never, base);
  const games = join(base, 'games');
  for (const g of ['g1', 'g2']) {
    mkdirSync(join(games, g), { recursive: true });
    for (let i = 0; i < 120; i++) symlinkSync(`../../photos/P${i}.jpg`, join(games, g, `M${String(i).padStart(3, '0')}.jpg`));
  }
  symlinkSync('../../photos/none.jpg', join(games, 'g1', 'M999.jpg')); // broken
  const runs: { links: number; files: number }[] = [];
  const inline = new InlineRuntime();
  const recording: Runtime = {
    kind: 'inline',
    workers: 2,
    run: (task, items, options, opts) => {
      const its = items as InspectItem[];
      const links = its.filter((i) => i.resolveLink !== undefined).length;
      runs.push({ links, files: its.length - links });
      return inline.run(task, items, options, opts);
    },
    close: async () => {},
  };
  const report = await validate(games, { runtime: recording } as never);
  assert.equal(report.total_files, 240);
  assert.equal(report.invalid_files, 2);
  const fileRuns = runs.filter((r) => r.files > 0);
  assert.equal(fileRuns.reduce((a, r) => a + r.files, 0), 240);
  // 240 target sidecars: a few batches each split across the workers, not 240 round trips.
  assert.ok(fileRuns.length <= 16, `batches of target sidecars: ${fileRuns.map((r) => r.files).join(' ')}`);
  // The same report in-process, with threads, and with the link targets resolved on the main thread.
  const strip = (r: typeof report) => ({ ...r, results: r.results!.map((x) => ({ ...x, processing_time: 0 })), scan: { ...r.scan, engine: null } });
  const expected = strip(report);
  assert.deepEqual(strip(await validate(games, { engine: 'inline' })), expected);
  assert.deepEqual(strip(await validate(games, { engine: 'threads', workers: 2 })), expected);
  assert.deepEqual(strip(await validate(games, { inspectLinkTargets: true } as never)), expected);
});

test('a root named through a link resolves as its real path: a chain of 40 links is followed (the root\'s own link is not counted), 41 is a loop; with the index or not, run after run', { skip: process.platform === 'win32' }, async (t) => {
  const base = realpathSync(testDir(t, 'isc-links-root-link-'));
  const lib = join(base, 'lib');
  makeTree({ 'a/IMG.jpg': FAKE_JPEG, 'a/IMG.json': { json: sidecarData('IMG.jpg') } }, lib);
  mkdirSync(join(lib, 'links'));
  // long0 → long1 → … → long40 → ../a/IMG.jpg: from long1, 40 links; from long0, 41.
  for (let i = 0; i <= 40; i++) symlinkSync(i === 40 ? '../a/IMG.jpg' : `long${i + 1}.jpg`, join(lib, 'links', `long${i}.jpg`));
  const via = join(base, 'via');
  symlinkSync(lib, via);
  const seen = async (root: string, index?: object) => {
    const out: Record<string, string> = {};
    for await (const rec of scan(root, { engine: 'inline', ...(index ? { index } : {}) })) for (const img of rec.images) if (img.isSymlink) out[img.rel] = img.broken ? 'broken' : String(img.target);
    return out;
  };
  const want = await seen(lib);
  assert.equal(want['links/long1.jpg'], join(lib, 'a/IMG.jpg'), '40 links: followed');
  assert.equal(want['links/long0.jpg'], 'broken', '41 links: a loop');
  assert.deepEqual(await seen(via), want, 'through the link, index: false');
  const index = { path: join(base, 'idx', 'index'), racyMarginMs: 0 };
  for (let k = 1; k <= 3; k++) assert.deepEqual(await seen(via, index), want, `through the link, indexed run ${k}`);
});
