/**
 * The quarantine manifest (cleanup, resolve, restore) is written an entry at a time (regression:
 * JSON.stringify of the whole manifest, one string: a cleanup of ~5 million files would fail in
 * V8's string limit after moving nothing, and a manifest above 256 MiB was written although
 * restore refuses to read one). The bytes are JSON.stringify(manifest, null, 2) + '\n' as before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, manifestBytes, manifestPieces, writeManifest, MANIFEST_VERSION, type QuarantineManifest } from '../src/ops/cleanup.js';
import { readManifest, restore } from '../src/ops/restore.js';
import { QUARANTINE_DIR } from '../src/discovery/own-folders.js';
import { SidecarError } from '../src/errors.js';
import { testDir } from './helpers/tree.js';
import { longestString } from './helpers/strings.js';

const sha = (i: number) => i.toString(16).padStart(64, '0');

function manifest(n: number, extra: Record<string, unknown> = {}): QuarantineManifest {
  const rels = ['a.json', 'caf\u00e9/"q".json', '\u{1F600}/x.bin', '2024/IMG_1.json'];
  return {
    version: MANIFEST_VERSION,
    status: 'planned',
    created_at: '2026-01-02T03:04:05.000000+00:00',
    root: '/photos/lib',
    entries: Array.from({ length: n }, (_, i) => ({ rel: `${i}/${rels[i % rels.length]}`, size: i * 7, sha256: sha(i) })),
    ...extra,
  } as QuarantineManifest;
}

test('the quarantine manifest is JSON.stringify(manifest, null, 2) + "\\n" byte for byte, written in pieces', async (t) => {
  const dir = testDir(t);
  const cases: [string, QuarantineManifest][] = [
    ['no entries', manifest(0)],
    ['a few entries', manifest(5)],
    ['members of a later version (read back by restore)', manifest(3, { note: { by: ['x', 1.5, null] }, gone: undefined, count: 3 })],
    ['entries with more members', { ...manifest(0), entries: [{ rel: 'a.json', size: 1, sha256: sha(1), moved_at: 'x', extra: { n: [1, 2] } }] } as unknown as QuarantineManifest],
    ['entries before the other members', { entries: manifest(2).entries, version: MANIFEST_VERSION, status: 'complete', created_at: 'x', root: '/r' } as QuarantineManifest],
  ];
  for (const [what, m] of cases) {
    const want = JSON.stringify(m, null, 2) + '\n';
    assert.equal([...manifestPieces(m)].join(''), want, what);
    assert.equal(manifestBytes(m), Buffer.byteLength(want), what);
    const p = path.join(dir, 'manifest.json');
    await writeManifest(p, m);
    assert.equal(fs.readFileSync(p, 'utf8'), want, what);
  }
});

test('writeManifest streams: 20,000 entries, never more than one entry as one string', async (t) => {
  const dir = testDir(t);
  const m = manifest(20_000);
  const p = path.join(dir, 'manifest.json');
  const longest = await longestString(() => writeManifest(p, m));
  const want = JSON.stringify(m, null, 2) + '\n';
  assert.ok(want.length > 2_000_000);
  assert.ok(fs.readFileSync(p).equals(Buffer.from(want, 'utf8')));
  assert.ok(longest < 1024, `a string of ${longest} units was written at once`);
  assert.deepEqual((await readManifest(p)).manifest.entries, m.entries);
  assert.deepEqual(fs.readdirSync(dir), ['manifest.json'], 'no temp file left');
});

test('cleanup refuses, before anything is created or moved, a quarantine whose manifest restore could not read', async (t) => {
  const root = testDir(t);
  for (let i = 0; i < 10; i++) {
    fs.writeFileSync(path.join(root, `IMG_${i}.jpg`), 'jpg');
    fs.writeFileSync(path.join(root, `IMG_${i}.json`), JSON.stringify({ face_detection: { faces: [] } }));
  }
  for (let i = 0; i < 30; i++) fs.writeFileSync(path.join(root, `gone_${i}.json`), JSON.stringify({ face_detection: { faces: [i] } }));
  const before = fs.readdirSync(root).sort();
  await assert.rejects(
    cleanup(root, { engine: 'inline', force: true, maxManifestBytes: 2000 }),
    (e: unknown) => e instanceof SidecarError && e.code === 'TOO_LARGE' && /^refusing to quarantine 30 files at once: their manifest would be \d+ bytes, above the 2000 bytes restore reads; nothing was moved/.test(e.message),
  );
  assert.deepEqual(fs.readdirSync(root).sort(), before, 'nothing moved, no quarantine folder made');
  // With room for it: the manifest fits, and restore reads it.
  const r = await cleanup(root, { engine: 'inline', force: true, maxManifestBytes: 10_000 });
  assert.equal(r.removed, 30);
  assert.ok(fs.statSync(r.manifest!).size <= 10_000);
  const back = await restore(root);
  assert.equal(back.restored, 30);
  assert.equal(fs.existsSync(path.join(root, QUARANTINE_DIR)), false);
});
