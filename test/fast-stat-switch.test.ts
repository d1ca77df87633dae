/**
 * Node's fstat binding runs only when asked (`fastStat: true`, the CLI's unless
 * IMAGE_SIDECAR_FAST_STAT=off): unset or false, every sidecar read, not only the scan's, goes
 * through fs.fstatSync alone: the single-file reads (readSidecarFile, readSidecarDetailed,
 * readSidecarText: the CLI's and the server's `read`) and the canonical tree hash. A binding that
 * counts its calls, trusted, shows which path ran. And the switch's value is checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { resetFstatForTests, type BindingFstat } from '../src/fs/stat-binding.js';
import { readSidecarDetailed, readSidecarFile, readSidecarText } from '../src/ops/read.js';
import { listTree } from '../src/integrity/tree-hash.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir } from './helpers/tree.js';
import { runCli } from './helpers/cli.js';

function countingBinding(): { fn: BindingFstat; calls: () => number } {
  const real = (process as unknown as { binding(n: string): { fstat: (...a: unknown[]) => unknown } }).binding('fs');
  let n = 0;
  const fn = ((...a: unknown[]) => {
    n++;
    return real.fstat(...a);
  }) as unknown as BindingFstat;
  return { fn, calls: () => n };
}

test('fastStat unset or false: single-file reads and the canonical tree hash never call the fstat binding; true: they do', async (t) => {
  const dir = testDir(t, 'isc-fstat-switch-');
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': { json: sidecarData('IMG_1.jpg', 1, 2) }, 'IMG_2.jpg': FAKE_JPEG, 'IMG_2.json': { json: sidecarData('IMG_2.jpg', 2, 2) } }, join(dir, 'lib'));
  const b = countingBinding();
  try {
    resetFstatForTests('yes', b.fn);
    // Asked for, the binding answers: the counting is real.
    const on = { fastStat: true, engine: 'inline' as const };
    await readSidecarFile(join(root, 'IMG_1.json'), on);
    assert.ok(b.calls() > 0, 'the binding answers a read when asked for');
    for (const off of [{ fastStat: false, engine: 'inline' as const }, { engine: 'inline' as const }]) {
      const label = `fastStat ${off.fastStat}`;
      const before = b.calls();
      const decoded = await readSidecarFile(join(root, 'IMG_1.json'), off);
      assert.equal(b.calls(), before, `${label}: readSidecarFile`);
      const detailed = await readSidecarDetailed(join(root, 'IMG_1.jpg'), off);
      assert.equal(b.calls(), before, `${label}: readSidecarDetailed`);
      const text = await readSidecarText(join(root, 'IMG_2.jpg'), off);
      assert.equal(b.calls(), before, `${label}: readSidecarText`);
      const listing = await listTree(root, { ...off, canonical: true });
      assert.equal(b.calls(), before, `${label}: listTree canonical`);
      // And the answers are the ones the binding gives.
      assert.deepEqual(decoded.data, (await readSidecarFile(join(root, 'IMG_1.json'), on)).data);
      assert.deepEqual(detailed, await readSidecarDetailed(join(root, 'IMG_1.jpg'), on));
      assert.deepEqual(text, await readSidecarText(join(root, 'IMG_2.jpg'), on));
      assert.deepEqual(listing, await listTree(root, { ...on, canonical: true }));
      assert.ok(b.calls() > before, `${label}: the reads asking for it used it`);
    }
  } finally {
    resetFstatForTests('unknown');
  }
});

test('IMAGE_SIDECAR_FAST_STAT: a value that is neither off nor on exits 2, and `read` checks it too', async (t) => {
  const dir = testDir(t, 'isc-fstat-switch-');
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': { json: sidecarData('IMG_1.jpg', 1, 2) } }, join(dir, 'lib'));
  const both = await runCli(['validate', '--no-index', root], { env: { IMAGE_SIDECAR_FAST_STAT: 'bogus' } });
  assert.equal(both.code, 2, both.stderr);
  assert.match(both.stderr, /IMAGE_SIDECAR_FAST_STAT must be off or on \(got "bogus"\)/);
  const read = await runCli(['read', join(root, 'IMG_1.jpg')], { env: { IMAGE_SIDECAR_FAST_STAT: 'bogus' } });
  assert.equal(read.code, 2, read.stderr);
  assert.match(read.stderr, /IMAGE_SIDECAR_FAST_STAT must be off or on/);
  // off and on read the same.
  const on = await runCli(['read', join(root, 'IMG_1.jpg')], { env: { IMAGE_SIDECAR_FAST_STAT: 'on' } });
  const off = await runCli(['read', join(root, 'IMG_1.jpg')], { env: { IMAGE_SIDECAR_FAST_STAT: 'off' } });
  assert.equal(on.code, 0, on.stderr);
  assert.equal(off.stdout, on.stdout);
  assert.equal(off.code, on.code);
});
