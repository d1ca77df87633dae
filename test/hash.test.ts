import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { listTree } from '../src/integrity/tree-hash.js';
import { canonicalDigest, compareUtf8, keyedDigest } from '../src/formats/digest.js';
import { encodeSidecar } from '../src/formats/codec.js';
import { notDigestedOf, SidecarError } from '../src/errors.js';
import { hashTree, verifyTree } from '../src/ops/hash.js';
import type { JsonObject, SidecarFormat } from '../src/types.js';
import { FAKE_JPEG, sidecarData, testDir } from './helpers/tree.js';
import { campaign } from './helpers/campaign.js';


function put(root: string, rel: string, content: string | Buffer): void {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, content);
}

/**
 * The spec, implemented independently in Python: per file sha256(rel ‖ 0 ‖ content ‖ 0),
 * tree = sha256 of the raw digests sorted by the UTF-8 bytes of rel.
 */
const PY_TREE = `
import hashlib, json, os, sys
req = json.load(sys.stdin)
root = req["root"]
files = {}
for rel in req["rels"]:
    with open(os.path.join(root, *rel.split("/")), "rb") as f:
        content = f.read()
    files[rel] = hashlib.sha256(rel.encode("utf-8") + b"\\0" + content + b"\\0").digest()
order = sorted(files, key=lambda r: r.encode("utf-8"))
tree = hashlib.sha256(b"".join(files[r] for r in order)).hexdigest()
print(json.dumps({"files": {r: files[r].hex() for r in files}, "order": order, "tree": tree, "bytes": sum(os.path.getsize(os.path.join(root, *r.split("/"))) for r in files)}))
`;

let pythonPath: string | null = null;
/** The real interpreter behind `python3` (a version-manager shim costs ~0.5 s per start). */
function python(): string {
  pythonPath ??= execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
  return pythonPath;
}

function pythonExpect(root: string, rels: string[]): { files: Record<string, string>; order: string[]; tree: string; bytes: number } {
  const out = execFileSync(python(), ['-c', PY_TREE], { input: JSON.stringify({ root, rels }), encoding: 'utf8' });
  return JSON.parse(out);
}

/** sha256 hex of bytes, by python (independent of node:crypto). */
function pySha256(bytes: Buffer): string {
  return execFileSync(python(), ['-c', 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'], { input: bytes, encoding: 'utf8' }).trim();
}

/** A small tree whose walk order, JS string order and UTF-8 byte order all differ. */
function vectorTree(root: string): { sidecars: string[]; all: string[] } {
  put(root, 'a b.json', '{"x": 1}');
  put(root, 'sub0.json', '{}');
  put(root, 'sub/a.json', '{"y": [1, 2]}');
  put(root, 'sub/Ünïcödé 名前.bin', Buffer.from([0x01, 0x00, 0x02, 0xff, 0x00])); // NUL bytes inside
  put(root, 'sub/z.RKYV', 'upper-case extension');
  put(root, '\u{1F600}.json', '"emoji: above the BMP (surrogates in JS)"');
  put(root, '\uFF21.json', '"fullwidth A: BMP, above the surrogates"');
  put(root, 'empty.json', '');
  // Not sidecar candidates: only with allFiles.
  put(root, 'IMG 1.jpg', FAKE_JPEG);
  put(root, 'sub/notes.txt', 'hello\n');
  put(root, '123', 'integer-like name');
  // Never hashed: a symlink, a directory symlink, our temp and lock files, the quarantine folder.
  fs.symlinkSync('a b.json', path.join(root, 'link.json'));
  fs.symlinkSync('sub', path.join(root, 'dirlink'));
  put(root, '.x.json.isc-tmp-123-abc', 'temp');
  fs.mkdirSync(path.join(root, '.IMG 1.isc-lock'));
  put(root, '.image-sidecar-quarantine/q.json', '{}');
  const sidecars = ['a b.json', 'sub0.json', 'sub/a.json', 'sub/Ünïcödé 名前.bin', 'sub/z.RKYV', '\u{1F600}.json', '\uFF21.json', 'empty.json'];
  return { sidecars, all: [...sidecars, 'IMG 1.jpg', 'sub/notes.txt', '123'] };
}

test('fixed vectors: per-file and tree digests equal an independent Python computation', async (t) => {
  const root = testDir(t);
  const { sidecars, all } = vectorTree(root);

  const want = pythonExpect(root, sidecars);
  const listing = await listTree(root, { engine: 'inline' });
  assert.deepEqual(Object.fromEntries(listing.entries.map((e) => [e.key, e.hex])), want.files);
  assert.deepEqual(listing.entries.map((e) => e.key), want.order, 'entries in UTF-8 byte order');
  // Byte order is not JS order: the fullwidth A (U+FF21) sorts before the emoji.
  assert.ok(want.order.indexOf('\uFF21.json') < want.order.indexOf('\u{1F600}.json'));
  assert.ok(want.order.indexOf('sub/a.json') < want.order.indexOf('sub0.json'));

  const h = await hashTree(root, { engine: 'inline' });
  assert.equal(h.version, 'isc-tree-v1');
  assert.equal(h.digest, want.tree);
  assert.equal(h.tag, `isc-tree-v1:${want.tree}`);
  assert.equal(h.files, sidecars.length);
  assert.equal(h.bytes, want.bytes);

  const wantAll = pythonExpect(root, all);
  const hAll = await hashTree(root, { engine: 'inline', allFiles: true });
  assert.equal(hAll.digest, wantAll.tree);
  assert.equal(hAll.files, all.length);
  assert.notEqual(hAll.digest, h.digest);
});

test('the tree digest does not depend on engine, worker count or batch boundaries', async (t) => {
  const root = testDir(t);
  const { sidecars } = vectorTree(root);
  // Enough files for several batches per worker.
  for (let i = 0; i < 150; i++) {
    put(root, `many/d${i % 7}/IMG_${i}.json`, JSON.stringify({ i, v: i / 7 }));
    sidecars.push(`many/d${i % 7}/IMG_${i}.json`);
  }
  const want = pythonExpect(root, sidecars).tree;
  for (const o of [
    { engine: 'inline' as const },
    { engine: 'threads' as const, workers: 1 },
    { engine: 'threads' as const, workers: 2 },
  ]) {
    assert.equal((await hashTree(root, o)).digest, want, JSON.stringify(o));
  }
});

test('a change of content, of a name, or a new file changes the digest; a symlink does not', async (t) => {
  const root = testDir(t);
  put(root, 'a.json', 'A');
  put(root, 'b.bin', 'B');
  const d0 = (await hashTree(root, { engine: 'inline' })).digest;
  fs.symlinkSync('a.json', path.join(root, 'c.json'));
  put(root, 'c.txt', 'not a candidate');
  assert.equal((await hashTree(root, { engine: 'inline' })).digest, d0);
  put(root, 'b.bin', 'b');
  const d1 = (await hashTree(root, { engine: 'inline' })).digest;
  assert.notEqual(d1, d0);
  fs.renameSync(path.join(root, 'b.bin'), path.join(root, 'B.bin'));
  const d2 = (await hashTree(root, { engine: 'inline' })).digest;
  assert.notEqual(d2, d1);
  // Moving content between files changes the digest even though the multiset of contents is equal.
  put(root, 'a.json', 'b');
  put(root, 'B.bin', 'A');
  assert.notEqual((await hashTree(root, { engine: 'inline' })).digest, d2);
});

test('an empty tree hashes to sha256 of nothing', async (t) => {
  const root = testDir(t);
  const h = await hashTree(root, { engine: 'inline' });
  assert.equal(h.digest, pySha256(Buffer.alloc(0)));
  assert.equal(h.files, 0);
});

test('compareUtf8 orders exactly like Buffer.compare of the UTF-8 bytes', () => {
  const s = fc.string({ unit: fc.oneof(fc.constantFrom('a', '/', '.', ' ', '\u00e9', '\uff21', '\u{1F600}', '\u{10FFFF}', '\ue000'), fc.constantFrom('b', '0')) });
  fc.assert(
    fc.property(s, s, (a, b) => {
      assert.equal(Math.sign(compareUtf8(a, b)), Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))));
    }),
    { numRuns: campaign(166, 500) },
  );
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
      assert.equal(Math.sign(compareUtf8(a, b)), Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))));
    }),
    { numRuns: campaign(166, 500) },
  );
});

test('keyedDigest and canonicalDigest follow the spec (checked by Python)', () => {
  const content = Buffer.from([0x7b, 0x00, 0x7d]);
  assert.equal(keyedDigest('dir/Ü x.json', content), pySha256(Buffer.concat([Buffer.from('dir/Ü x.json'), Buffer.from([0]), content, Buffer.from([0])])));
  // RFC 8785 by hand: sorted keys, no spaces, shortest round-trip numbers, raw UTF-8.
  const data: JsonObject = { b: [1, 'ü', true, null], a: 0.22490839660167694, c: { y: 1e21, x: -0.5 } };
  const canon = '{"a":0.22490839660167694,"b":[1,"ü",true,null],"c":{"x":-0.5,"y":1e+21}}';
  assert.equal(canonicalDigest(data), pySha256(Buffer.from(canon, 'utf8')));
});

const FORMATS: SidecarFormat[] = ['json', 'bin', 'rkyv', 'legacy'];
const EXT: Record<SidecarFormat, string> = { json: 'json', bin: 'bin', rkyv: 'rkyv', legacy: 'bin' };

/** The same images and data, with every sidecar stored in `format`. */
function canonicalTree(root: string, format: SidecarFormat): Map<string, JsonObject> {
  const datas = new Map<string, JsonObject>();
  const images = ['IMG_1.jpg', 'sub dir/Ünï 2.JPG', 'sub dir/20250920_143022_001.jpg'];
  images.forEach((img, i) => {
    const data = sidecarData(path.basename(img), i + 1, 16) as JsonObject;
    (data.quality_assessment as unknown) = { success: true, quality: { overall_score: 0.22490839660167694, grade: 'B' } };
    datas.set(img, data);
    put(root, img, FAKE_JPEG);
    const stem = img.slice(0, img.lastIndexOf('.'));
    put(root, `${stem}.${EXT[format]}`, encodeSidecar(data, format));
  });
  put(root, 'orphan.json', encodeSidecar({ sidecar_info: { operation_type: 'x' } }, 'json')); // no image: not keyed
  return datas;
}

test('canonical mode: same digest for the same data stored as json, bin, rkyv and legacy', async (t) => {
  const tags = new Set<string>();
  const bytesDigests = new Set<string>();
  let expectedTree = '';
  for (const format of FORMATS) {
    const root = testDir(t);
    const datas = canonicalTree(root, format);
    const h = await hashTree(root, { canonical: true, engine: 'inline' });
    assert.equal(h.version, 'isc-canon-v1');
    assert.equal(h.files, datas.size);
    tags.add(h.tag);
    bytesDigests.add((await hashTree(root, { engine: 'inline' })).digest);
    if (!expectedTree) {
      // Independent tree over per-image digests: sha256(imageRel ‖ 0 ‖ canonical ‖ 0), UTF-8 order.
      const rels = [...datas.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      const sep = Buffer.from([0]);
      const per = rels.map((rel) =>
        Buffer.from(pySha256(Buffer.concat([Buffer.from(rel), sep, Buffer.from(JSON.stringify(sortDeep(datas.get(rel)!))), sep])), 'hex'),
      );
      expectedTree = pySha256(Buffer.concat(per));
    }
    // One format through worker threads too (a pool costs ~0.5 s to start on a busy machine).
    const listing = await listTree(root, format === 'bin' ? { canonical: true, engine: 'threads', workers: 2 } : { canonical: true, engine: 'inline' });
    for (const e of listing.entries) assert.equal(e.canonical, canonicalDigest(datas.get(e.key)!));
  }
  assert.equal(tags.size, 1, 'one canonical tag for all four formats');
  assert.equal([...tags][0], `isc-canon-v1:${expectedTree}`);
  assert.equal(bytesDigests.size, 4, 'the byte hashes differ');
});

/** Sorted keys: equals RFC 8785 for this data (no numbers whose JS and ES6 forms differ). */
function sortDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortDeep);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortDeep((v as Record<string, unknown>)[k])]));
  return v;
}

test('read errors fail loudly: unaddressable name, FIFO, unreadable directory', async (t) => {
  const root = testDir(t);
  put(root, 'ok.json', '{}');
  await hashTree(root, { engine: 'inline' });

  // A file name that is not valid UTF-8 cannot be opened by a string path: error, not skip.
  const badName = Buffer.concat([Buffer.from(root + '/bad-'), Buffer.from([0xff, 0xfe]), Buffer.from('.json')]);
  fs.writeFileSync(badName, '{}');
  await assert.rejects(hashTree(root, { engine: 'inline' }), (e: unknown) => e instanceof SidecarError && e.code === 'IO' && /UTF-8/.test(e.message) && notDigestedOf(e)?.unreadableCount === 1);
  fs.unlinkSync(badName);

  // A FIFO named like a sidecar: error (and no hang).
  const fifo = path.join(root, 'pipe.json');
  const r = spawnSync('mkfifo', [fifo]);
  if (r.status === 0) {
    await assert.rejects(hashTree(root, { engine: 'inline' }), (e: unknown) => e instanceof SidecarError && e.code === 'IO' && /regular file/.test(e.message) && notDigestedOf(e)?.unreadable[0].path === 'pipe.json');
    // With allFiles too; without it a FIFO with another name is simply not a candidate.
    fs.renameSync(fifo, path.join(root, 'pipe'));
    await hashTree(root, { engine: 'inline' });
    await assert.rejects(hashTree(root, { engine: 'inline', allFiles: true }), SidecarError);
    fs.unlinkSync(path.join(root, 'pipe'));
  }

  // A directory whose name is not valid UTF-8 cannot be listed: error in both modes.
  const badDir = Buffer.concat([Buffer.from(root + '/dir-'), Buffer.from([0xc3, 0x28])]);
  fs.mkdirSync(badDir);
  fs.writeFileSync(Buffer.concat([badDir, Buffer.from('/x.json')]), '{}');
  await assert.rejects(hashTree(root, { engine: 'inline' }), (e: unknown) => e instanceof SidecarError && e.code === 'IO');
  await assert.rejects(hashTree(root, { engine: 'inline', canonical: true }), (e: unknown) => e instanceof SidecarError && e.code === 'IO');
  fs.rmSync(badDir, { recursive: true });
  await hashTree(root, { engine: 'inline' });
});

test('a tree with several paths that cannot be read: the run goes through it and names every one, no digest (a FIFO named like a sidecar stopped it at the first: exit 2)', async (t) => {
  const root = testDir(t);
  put(root, 'ok.json', '{}');
  put(root, 'IMG_1.jpg', FAKE_JPEG);
  put(root, 'IMG_1.json', encodeSidecar({ sidecar_info: {} }, 'json'));
  fs.mkdirSync(path.join(root, 'sub'));
  if (spawnSync('mkfifo', [path.join(root, 'pipe.json'), path.join(root, 'sub', 'z.bin')]).status !== 0) {
    t.skip('mkfifo is not available');
    return;
  }
  fs.writeFileSync(Buffer.concat([Buffer.from(root + '/bad-'), Buffer.from([0xff]), Buffer.from('.json')]), '{}');
  const badDir = Buffer.concat([Buffer.from(root + '/dir-'), Buffer.from([0xc3, 0x28])]);
  fs.mkdirSync(badDir);
  fs.writeFileSync(Buffer.concat([badDir, Buffer.from('/x.json')]), '{}');

  const listing = await listTree(root, { engine: 'inline' });
  assert.deepEqual(listing.entries.map((e) => e.key), ['IMG_1.json', 'ok.json'], 'every readable file is still hashed');
  assert.equal(listing.unreadableCount, 4);
  const names = listing.unreadable.map((u) => u.path);
  assert.deepEqual(names, [...names].sort(compareUtf8), 'named in UTF-8 order');
  assert.ok(names.includes('pipe.json') && names.includes('sub/z.bin'), names.join(', '));
  for (const u of listing.unreadable) assert.equal(u.code, 'IO', u.message);
  assert.ok(listing.unreadable.some((u) => /UTF-8/.test(u.message)) && listing.unreadable.some((u) => /regular file/.test(u.message)));
  for (const opts of [{}, { canonical: true }, { allFiles: true }]) {
    const e = await hashTree(root, { engine: 'threads', workers: 2, ...opts }).then(() => assert.fail('no digest of a tree with unreadable paths'), (x: unknown) => x);
    const not = notDigestedOf(e);
    assert.ok(not, String(e));
    assert.ok(not.unreadable.some((u) => u.path === 'pipe.json') && not.unreadable.some((u) => u.path === 'sub/z.bin'), JSON.stringify(opts));
    assert.equal(not.unreadableCount, not.unreadable.length);
  }

  // verify: the manifest of the readable tree, then a FIFO where a file was: not verified, not "missing".
  fs.rmSync(path.join(root, 'pipe.json'));
  fs.rmSync(path.join(root, 'sub', 'z.bin'));
  fs.rmSync(badDir, { recursive: true });
  fs.rmSync(Buffer.concat([Buffer.from(root + '/bad-'), Buffer.from([0xff]), Buffer.from('.json')]));
  const manifest = path.join(testDir(t), 'm.json');
  await hashTree(root, { engine: 'inline', manifest });
  fs.rmSync(path.join(root, 'ok.json'));
  spawnSync('mkfifo', [path.join(root, 'ok.json')]);
  const v = await verifyTree(root, manifest, { engine: 'inline' });
  assert.equal(v.ok, false);
  assert.deepEqual([v.missing, v.changed, v.extra], [[], [], []]);
  assert.deepEqual(v.unreadable?.map((u) => u.path), ['ok.json']);
});

test('unreadable paths past 200: the first 200 in UTF-8 order are named, all are counted', async (t) => {
  const root = testDir(t);
  put(root, 'ok.json', '{}');
  const fifos = Array.from({ length: 205 }, (_, i) => path.join(root, `p${String(i).padStart(3, '0')}.json`));
  if (spawnSync('mkfifo', fifos).status !== 0) {
    t.skip('mkfifo is not available');
    return;
  }
  const listing = await listTree(root, { engine: 'threads', workers: 2 });
  assert.equal(listing.unreadableCount, 205);
  assert.deepEqual(listing.unreadable.map((u) => u.path), fifos.slice(0, 200).map((f) => path.basename(f)));
});

test('more than 200 unreadable paths: canonical names the same first 200 in UTF-8 order as bytes mode (it named the scan’s first 200 in walk order), and verify calls none of them missing', async (t) => {
  const root = testDir(t);
  fs.mkdirSync(path.join(root, 'a'));
  fs.mkdirSync(path.join(root, 'a-b'));
  put(root, 'A.jpg', FAKE_JPEG);
  put(root, 'A.json', encodeSidecar({ sidecar_info: {} }, 'json'));
  const manifest = path.join(testDir(t), 'm.json');
  const names = Array.from({ length: 250 }, (_, i) => path.join(root, 'a', `x${String(i).padStart(3, '0')}.json`));
  for (const f of names) fs.writeFileSync(f, '{}');
  await hashTree(root, { engine: 'inline', manifest });
  for (const f of names) fs.rmSync(f);
  if (spawnSync('mkfifo', [...names, path.join(root, 'a-b', 'f.json')]).status !== 0) return t.skip('mkfifo is not available');
  const bytes = await listTree(root, { engine: 'inline' });
  const canon = await listTree(root, { engine: 'threads', workers: 2, canonical: true });
  assert.equal(bytes.unreadableCount, 251);
  assert.equal(canon.unreadableCount, 251);
  assert.equal(bytes.unreadable[0].path, 'a-b/f.json', 'a-b/ sorts before a/ by UTF-8 bytes');
  assert.deepEqual(canon.unreadable.map((u) => u.path), bytes.unreadable.map((u) => u.path));
  const v = await verifyTree(root, manifest, { engine: 'inline' });
  assert.deepEqual([v.ok, v.missing, v.changed, v.unreadable_count], [false, [], [], 251]);
});

test('verify of a canonical manifest: an image whose sidecar cannot be read or decoded is not called missing or changed, its sidecar is listed', async (t) => {
  const root = testDir(t);
  for (const n of ['A', 'B', 'C']) {
    put(root, `${n}.jpg`, FAKE_JPEG);
    put(root, `${n}.json`, encodeSidecar({ sidecar_info: {}, n: n }, 'json'));
  }
  const manifest = path.join(testDir(t), 'm.json');
  await hashTree(root, { engine: 'inline', canonical: true, manifest });
  fs.rmSync(path.join(root, 'A.json'));
  if (spawnSync('mkfifo', [path.join(root, 'A.json')]).status !== 0) return t.skip('mkfifo is not available');
  put(root, 'B.json', '{not json');
  const v = await verifyTree(root, manifest, { engine: 'inline' });
  assert.deepEqual([v.ok, v.missing, v.changed, v.extra], [false, [], [], []]);
  assert.deepEqual(v.undecodable, ['B.json']);
  assert.deepEqual(v.unreadable?.map((u) => u.path), ['A.json']);
});

test('verify: a name that is not UTF-8 never hides its lossy twin (a real x\uFFFD.json changed is still changed), and a root that cannot be listed stops the command', async (t) => {
  const root = testDir(t);
  put(root, 'x\uFFFD.json', '{"v":1}');
  const manifest = path.join(testDir(t), 'm.json');
  await hashTree(root, { engine: 'inline', manifest });
  put(root, 'x\uFFFD.json', '{"v":2}');
  fs.writeFileSync(Buffer.concat([Buffer.from(root + '/x'), Buffer.from([0xff]), Buffer.from('.json')]), '{}');
  const v = await verifyTree(root, manifest, { engine: 'inline' });
  assert.deepEqual([v.ok, v.changed, v.unreadable_count], [false, ['x\uFFFD.json'], 1]);
  if (process.getuid?.() === 0) return t.skip('running as root: a folder without read permission is read anyway');
  fs.chmodSync(root, 0o311);
  t.after(() => fs.chmodSync(root, 0o755));
  await assert.rejects(hashTree(root, { engine: 'inline' }), (e: unknown) => e instanceof SidecarError && e.code === 'PERMISSION' && notDigestedOf(e) === undefined);
  await assert.rejects(verifyTree(root, manifest, { engine: 'inline' }), (e: unknown) => e instanceof SidecarError && e.code === 'PERMISSION');
});

test('a file without read permission fails with PERMISSION', async (t) => {
  if (process.getuid?.() === 0) {
    t.skip('running as root: chmod 000 does not stop root from reading (other read errors are tested above)');
    return;
  }
  const root = testDir(t);
  put(root, 'IMG_1.jpg', FAKE_JPEG);
  put(root, 'IMG_1.json', encodeSidecar({ sidecar_info: {} }, 'json'));
  fs.chmodSync(path.join(root, 'IMG_1.json'), 0o000);
  t.after(() => fs.chmodSync(path.join(root, 'IMG_1.json'), 0o644));
  await assert.rejects(hashTree(root, { engine: 'inline' }), (e: unknown) => e instanceof SidecarError && e.code === 'PERMISSION');
  await assert.rejects(hashTree(root, { engine: 'inline', canonical: true }), (e: unknown) => e instanceof SidecarError && e.code === 'PERMISSION');
});

test('a missing root is NOT_FOUND', async () => {
  await assert.rejects(hashTree(path.join(os.tmpdir(), 'isc-no-such-dir-' + process.pid)), (e: unknown) => e instanceof SidecarError && e.code === 'NOT_FOUND');
});

test('--manifest naming standard output (/dev/stdout, /dev/./stdout, /proc/self/fd/1) is refused before any work: followed, it replaced the file behind it (hash --manifest /dev/stdout >> log.txt lost the log)', async (t) => {
  const { CLI_PATH } = await import('./helpers/cli.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isc-hash-stdout-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'lib'));
  fs.writeFileSync(path.join(dir, 'lib', 'IMG_1.jpg'), 'img');
  fs.writeFileSync(path.join(dir, 'lib', 'IMG_1.json'), '{"a":1}');
  const log = path.join(dir, 'log.txt');
  for (const m of ['/dev/stdout', '/dev/./stdout', '/proc/self/fd/1']) {
    fs.writeFileSync(log, 'line 1 of my log\n');
    const r = spawnSync('sh', ['-c', `"$0" "$1" hash "$2" --manifest "$4" >> "$3"`, process.execPath, CLI_PATH, path.join(dir, 'lib'), log, m], { encoding: 'utf8' });
    assert.equal(r.status, 2, `--manifest ${m}: ${r.stderr}`);
    assert.match(r.stderr, /needs a file, not standard output/);
    assert.equal(fs.readFileSync(log, 'utf8'), 'line 1 of my log\n', `--manifest ${m}: the log was replaced`);
  }
});
