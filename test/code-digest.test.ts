/**
 * The build's code-digest manifest (src/incremental/key.ts, scripts/code-digest.mjs): its digest
 * stands only while every file it covers has the size and mtime it lists; else it is computed
 * again. A stale manifest must never give a digest of code that is not there any more.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { codeDigest, codeDigestFiles, computeCodeDigest, digestManifest, DIGEST_MANIFEST_URL, manifestDigests } from '../src/incremental/key.js';

test('code digest: the build wrote a manifest that holds, with the digest computed from the files', () => {
  const manifest = JSON.parse(readFileSync(DIGEST_MANIFEST_URL, 'utf8')) as unknown;
  const now = digestManifest();
  assert.deepEqual(manifest, now, 'npm run build:test writes the manifest of the files as built');
  assert.equal(codeDigest(), computeCodeDigest());
});

test('code digest: a manifest stands only for exactly the files it lists, each with its size and mtime', () => {
  const files = ['a/x.js', 'a/y.wasm', 'errors.js'];
  const stamps = new Map<string, [number, string] | null>([
    ['a/x.js', [10, '1700000000123456789']],
    ['a/y.wasm', [20, '1700000000123456790']],
    ['errors.js', null],
  ]);
  const stampOf = (f: string) => stamps.get(f) ?? null;
  const m = { files: [['a/x.js', 10, '1700000000123456789'], ['a/y.wasm', 20, '1700000000123456790'], ['errors.js', -1, '']], code: 'c' };
  assert.deepEqual(manifestDigests(m, files, stampOf), { code: 'c' });
  const variants: [string, unknown, readonly string[]][] = [
    ['a file of another size', { ...m, files: [['a/x.js', 11, '1700000000123456789'], ...m.files.slice(1)] }, files],
    ['a file of another mtime (by 1 ns)', { ...m, files: [['a/x.js', 10, '1700000000123456788'], ...m.files.slice(1)] }, files],
    ['a file there now that was not', { ...m, files: [['a/x.js', -1, ''], ...m.files.slice(1)] }, files],
    ['a file gone that was there', { ...m, files: [...m.files.slice(0, 2), ['errors.js', 5, '1']] }, files],
    ['a file covered now that the manifest does not list', m, [...files, 'a/z.js']],
    ['a file listed that is no longer covered', m, files.slice(0, 2)],
    ['files in another order', { ...m, files: [m.files[1], m.files[0], m.files[2]] }, files],
    ['not a manifest', { files: 'x', code: 'c' }, files],
    ['no digest', { files: m.files }, files],
    ['null', null, files],
  ];
  for (const [label, manifest, list] of variants) assert.equal(manifestDigests(manifest, list, stampOf), null, label);
  // The files the manifest lists are the ones the code digest covers, in their order.
  assert.deepEqual(digestManifest().files.map((f) => f[0]), codeDigestFiles());
});
