/** The progress bar: files done/total, bytes, percentage, ETA; its count never above the total. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { countFiles, Progress } from '../src/cli/progress.js';
import { scan } from '../src/ops/scan.js';
import { generateSampleLibrary } from '../src/sample/index.js';
import { convert } from '../src/ops/convert.js';
import { hashTree } from '../src/ops/hash.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir } from './helpers/tree.js';

function bar(now: () => number): { p: Progress; out: () => string } {
  const s = new PassThrough();
  let text = '';
  s.on('data', (c: Buffer) => (text += c.toString()));
  const p = new Progress(s, { enabled: true, label: 'validating', delayMs: 0, intervalMs: 0, columns: 200, now });
  return { p, out: () => text };
}

test('render: done/total files, percentage, bytes, rate and ETA', () => {
  let t = 0;
  const { p } = bar(() => t);
  t = 10_000; // 10 s
  p.setCounted(1000);
  const line = p.render(250, undefined, 5 * 1024 * 1024, t);
  assert.equal(line, 'validating [#####...............] 250/1,000 files 25% · 5.0 MiB · 25/s · ETA 0:30');
  // The operation's own total wins over the pre-walk.
  assert.match(p.render(250, 500, undefined, t), /250\/500 files 50%/);
});

test('the count never exceeds the total: a total it passes is dropped, not shown wrong', () => {
  let t = 0;
  const { p, out } = bar(() => t);
  t = 1000;
  p.setCounted(100);
  p.update(90, undefined, 10);
  assert.match(out(), /90\/100 files 90%/);
  t = 2000;
  p.update(130, undefined, 20); // more than the pre-walk counted (files added, or a second pass)
  assert.doesNotMatch(out().split('\r').at(-1)!, /\/100|%/);
  assert.match(out().split('\r').at(-1)!, /130 files/);
  t = 3000;
  p.update(95); // and it stays dropped
  assert.doesNotMatch(out().split('\r').at(-1)!, /\/100/);
  for (const frame of out().split('\r')) {
    const m = /(\d[\d,]*)\/(\d[\d,]*) files/.exec(frame);
    if (m) assert.ok(Number(m[1]!.replaceAll(',', '')) <= Number(m[2]!.replaceAll(',', '')), frame);
  }
  p.finish();
  assert.ok(out().endsWith('\r\x1b[K'));
});

test('disabled (not a terminal, or --quiet): nothing is written', () => {
  const s = new PassThrough();
  let n = 0;
  s.on('data', () => n++);
  const p = new Progress(s, { enabled: false, label: 'x', delayMs: 0, intervalMs: 0 });
  p.update(1, 2);
  p.finish();
  assert.equal(n, 0);
});

test('pre-walk count = the files the scan sees; the scan reports progress in files and never passes it', async (t) => {
  const root = testDir(t);
  await generateSampleLibrary(root, { images: 120, seed: 7 });
  const counted = await countFiles(root);
  const seen: number[] = [];
  let lastBytes = 0;
  const session = scan(root, {
    engine: 'inline',
    onProgress: (done, _total, bytes) => {
      seen.push(done);
      lastBytes = bytes ?? 0;
    },
  });
  for await (const _ of session) void _;
  const s = session.summary;
  assert.equal(counted, s.filesScanned + s.filesIgnored + s.tempFiles, JSON.stringify({ counted, s: { scanned: s.filesScanned, ignored: s.filesIgnored, temp: s.tempFiles } }));
  assert.equal(seen.at(-1), counted, 'the last progress value is every file of the tree (scanned, ignored, temp)');
  assert.ok(seen.every((d, i) => d <= counted! && (i === 0 || d >= seen[i - 1]!)), 'monotonic and never above the count');
  assert.ok(lastBytes > 0);
  assert.equal(await countFiles(`${root}/no-such-dir`), null);
});

test('convert reports progress in files, the pre-walk\'s unit: its last state is the total (dry run and real run, both engines)', async (t) => {
  const root = testDir(t);
  await generateSampleLibrary(root, { images: 150, seed: 3 });
  // Files no record owns: ignored by pairing, a temp file, a folder with images only at the end.
  makeTree(
    {
      'notes.txt': 'not an image',
      'photos/.IMG_x.json.1a2b3c4d.isc-tmp': 'leftover',
      'zz-last/only-ignored.txt': 'x',
      'zz-last/A.jpg': FAKE_JPEG,
      'zz-last/B.jpg': FAKE_JPEG,
      'zz-last/B.json': { json: sidecarData('B.jpg', 1, 4) },
    },
    root,
  );
  for (const [engine, dryRun] of [['inline', true], ['threads', true], ['inline', false]] as const) {
    const counted = await countFiles(root);
    const seen: number[] = [];
    let items = 0;
    const { p, out } = bar(() => 0);
    p.setCounted(counted);
    await convert(root, dryRun ? 'bin' : 'rkyv', {
      engine,
      workers: 2,
      dryRun,
      onItem: () => void items++,
      onProgress: (done, total, bytes) => {
        seen.push(done);
        p.update(done, total, bytes);
      },
    });
    const label = `${engine} ${dryRun ? 'dry run' : 'real run'}`;
    assert.ok(counted! > items + 100, `${label}: the tree has many more files than sidecar items (${counted} vs ${items})`);
    assert.equal(seen.at(-1), counted, `${label}: the last state is the total`);
    assert.ok(seen.every((d, i) => d <= counted! && (i === 0 || d >= seen[i - 1]!)), `${label}: monotonic, never above the total`);
    const frames = out().split('\r').filter(Boolean);
    assert.match(frames.at(-1)!, new RegExp(`${counted!.toLocaleString('en-US')}/${counted!.toLocaleString('en-US')} files 100%`), label);
  }
});

test('hash reports progress in files, the pre-walk\'s unit: its last state is the total (bytes and canonical modes, both engines)', async (t) => {
  const root = testDir(t);
  // Every sidecar decodes (canonical mode refuses a tree with corrupt ones); many files are not sidecars.
  const spec: Record<string, unknown> = { 'notes.txt': 'not an image', 'zz-last/only-ignored.txt': 'x', 'zz-last/A.jpg': FAKE_JPEG };
  for (let i = 0; i < 150; i++) {
    spec[`d${i % 7}/IMG_${i}.jpg`] = FAKE_JPEG;
    if (i % 3 !== 0) spec[`d${i % 7}/IMG_${i}.json`] = { json: sidecarData(`IMG_${i}.jpg`, i, 2) };
  }
  makeTree(spec as Parameters<typeof makeTree>[0], root);
  const counted = await countFiles(root);
  for (const canonical of [false, true]) {
    for (const engine of ['inline', 'threads'] as const) {
      const seen: number[] = [];
      const h = await hashTree(root, { engine, workers: 2, canonical, onProgress: (done) => void seen.push(done) });
      const label = `${canonical ? 'canonical' : 'bytes'} ${engine}`;
      assert.ok(counted! > h.files + 40, `${label}: the tree has many more files than hashed entries (${counted} vs ${h.files})`);
      assert.equal(seen.at(-1), counted, `${label}: the last state is the total`);
      assert.ok(seen.every((d, i) => d <= counted! && (i === 0 || d >= seen[i - 1]!)), `${label}: monotonic, never above the total`);
    }
  }
});
