/**
 * Integrity manifests are streamed (regression: `hash --manifest` built the whole manifest as one
 * string and `verify` read it as one string, so above ~4.6 million files V8's string limit, ~512
 * MiB, made both fail). A manifest that big is too slow to build in a test, so these tests watch the
 * strings themselves: writing and reading a manifest of 20,000 entries (~2 MB) must never turn more
 * than one entry's worth of text into or out of bytes at once. The format stays byte for byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readManifest, writeManifest, type ManifestData } from '../src/integrity/manifest.js';
import { hashTree, verifyTree } from '../src/ops/hash.js';
import { TREE_VERSION, CANON_VERSION, keyedDigest, sortByKey, treeDigest } from '../src/formats/digest.js';
import { SidecarError } from '../src/errors.js';
import { putFile, testDir } from './helpers/tree.js';
import { longestString } from './helpers/strings.js';

/** 20,000 entries: keys of every kind (integer-like, quotes, non-ASCII, astral), sorted by UTF-8 bytes. */
function bigManifest(n = 20_000): ManifestData {
  const names = ['', '2024', 'a"b\\c', 'caf\u00e9', '\uFF21', '\u{1F600}', 'tab\tname'];
  const entries = sortByKey(Array.from({ length: n }, (_, i) => {
    const key = `d${i % 97}/${names[i % names.length]}IMG_${i}.json`;
    return { key, hex: keyedDigest(key, String(i)) };
  }));
  return { version: TREE_VERSION, rootDigest: treeDigest(entries), allFiles: false, entries };
}

/** The two layouts, written here independently of the library. */
function expectedText(m: ManifestData, jsonl: boolean): string {
  if (jsonl) return m.entries.map((e) => `{"path":${JSON.stringify(e.key)},"digest":"${e.hex}"}\n`).join('');
  const body = m.entries.map((e) => `    ${JSON.stringify(e.key)}: "${e.hex}"`).join(',\n');
  return `{\n  "version": "${m.version}",\n  "root_digest": "${m.rootDigest}",\n  "all_files": ${m.allFiles},\n  "files": {${m.entries.length === 0 ? '}' : `\n${body}\n  }`}\n}\n`;
}

test('the manifest layouts are byte for byte what they were (small and empty manifests, both forms)', async (t) => {
  const dir = testDir(t);
  const hex = (c: string) => c.repeat(64);
  const m: ManifestData = { version: CANON_VERSION, rootDigest: hex('f'), allFiles: true, entries: [{ key: '10', hex: hex('0') }, { key: 'a "b".json', hex: hex('1') }] };
  await writeManifest(path.join(dir, 'm.json'), m);
  assert.equal(
    fs.readFileSync(path.join(dir, 'm.json'), 'utf8'),
    `{\n  "version": "isc-canon-v1",\n  "root_digest": "${hex('f')}",\n  "all_files": true,\n  "files": {\n    "10": "${hex('0')}",\n    "a \\"b\\".json": "${hex('1')}"\n  }\n}\n`,
  );
  await writeManifest(path.join(dir, 'm.jsonl'), m);
  assert.equal(fs.readFileSync(path.join(dir, 'm.jsonl'), 'utf8'), `{"path":"10","digest":"${hex('0')}"}\n{"path":"a \\"b\\".json","digest":"${hex('1')}"}\n`);
  const empty: ManifestData = { ...m, version: TREE_VERSION, allFiles: false, entries: [] };
  await writeManifest(path.join(dir, 'e.json'), empty);
  assert.equal(fs.readFileSync(path.join(dir, 'e.json'), 'utf8'), `{\n  "version": "isc-tree-v1",\n  "root_digest": "${hex('f')}",\n  "all_files": false,\n  "files": {}\n}\n`);
  await writeManifest(path.join(dir, 'e.jsonl'), empty);
  assert.equal(fs.readFileSync(path.join(dir, 'e.jsonl'), 'utf8'), '');
  assert.deepEqual((await readManifest(path.join(dir, 'e.json'))).files, new Map());
});

test('writeManifest streams: 20,000 entries, never more than one entry as one string, the bytes as before, no temp file left', async (t) => {
  const dir = testDir(t);
  const m = bigManifest();
  for (const name of ['big.json', 'big.jsonl']) {
    const p = path.join(dir, name);
    const longest = await longestString(() => writeManifest(p, m));
    const want = expectedText(m, name.endsWith('.jsonl'));
    assert.ok(want.length > 1_500_000);
    assert.ok(fs.readFileSync(p).equals(Buffer.from(want, 'utf8')), `${name}: the same bytes`);
    assert.ok(longest < 1024, `${name}: a string of ${longest} units was written at once`);
  }
  assert.deepEqual(fs.readdirSync(dir).sort(), ['big.json', 'big.jsonl']);
});

test('readManifest streams: 20,000 entries read line by line, never more than one line as one string', async (t) => {
  const dir = testDir(t);
  const m = bigManifest();
  const want = new Map(m.entries.map((e) => [e.key, e.hex]));
  for (const name of ['big.json', 'big.jsonl']) {
    const p = path.join(dir, name);
    fs.writeFileSync(p, expectedText(m, name.endsWith('.jsonl')));
    let loaded: Awaited<ReturnType<typeof readManifest>> | undefined;
    const longest = await longestString(async () => {
      loaded = await readManifest(p);
    });
    assert.deepEqual(loaded!.files, want, name);
    assert.equal([...loaded!.files.keys()].join('\n'), m.entries.map((e) => e.key).join('\n'), `${name}: file order`);
    assert.ok(longest < 1024, `${name}: a string of ${longest} units was read at once`);
    if (name === 'big.json') assert.deepEqual([loaded!.version, loaded!.rootDigest, loaded!.allFiles, loaded!.entriesDigest], [TREE_VERSION, m.rootDigest, false, m.rootDigest]);
  }
});

test('other layouts of the JSON object are still read (whole, up to a limit); a JSONL line over the limit is CORRUPT, not a crash', async (t) => {
  const dir = testDir(t);
  const m = bigManifest(50);
  const canonical = await (async () => {
    const p = path.join(dir, 'm.json');
    fs.writeFileSync(p, expectedText(m, false));
    return readManifest(p);
  })();
  const files = Object.fromEntries(m.entries.map((e) => [e.key, e.hex]));
  // [layout, read line by line]
  const variants: [string, string, boolean][] = [
    ['members reordered, 4-space indent, CRLF', JSON.stringify({ files, all_files: m.allFiles, root_digest: m.rootDigest, version: m.version }, null, 4).replaceAll('\n', '\r\n'), true],
    ['minified', JSON.stringify({ version: m.version, root_digest: m.rootDigest, all_files: m.allFiles, files }), false],
    ['an extra member with an object value', JSON.stringify({ version: m.version, note: { by: 'hand' }, root_digest: m.rootDigest, all_files: m.allFiles, files }, null, 2), false],
  ];
  for (const [what, text, byLine] of variants) {
    const p = path.join(dir, 'v.json');
    fs.writeFileSync(p, text);
    const r = await readManifest(p);
    assert.deepEqual(r.files, canonical.files, what);
    assert.deepEqual([r.version, r.rootDigest, r.allFiles], [canonical.version, canonical.rootDigest, canonical.allFiles], what);
    const small = readManifest(p, { wholeReadMaxBytes: 100 });
    if (byLine) assert.deepEqual((await small).files, canonical.files, what);
    else await assert.rejects(small, (e: unknown) => e instanceof SidecarError && e.code === 'CORRUPT' && /not laid out one entry per line .* too big \(\d+ bytes\) to read whole \(limit 100 bytes\)/.test(e.message), what);
  }
  // Layout errors that JSON forbids are refused, as they were.
  const text = expectedText(m, false);
  for (const bad of [text.replace('",\n    "', '"\n    "'), text.replace('"\n  }', '",\n  }'), text + 'x']) {
    fs.writeFileSync(path.join(dir, 'bad.json'), bad);
    await assert.rejects(readManifest(path.join(dir, 'bad.json')), (e: unknown) => e instanceof SidecarError && e.code === 'CORRUPT');
  }
  const jsonl = path.join(dir, 'long.jsonl');
  fs.writeFileSync(jsonl, expectedText(m, true).replace('\n', `\n${'x'.repeat(5000)}\n`));
  await assert.rejects(readManifest(jsonl, { maxLineBytes: 4096 }), (e: unknown) => e instanceof SidecarError && e.code === 'CORRUPT' && e.message.endsWith('line 2 is 5000 bytes, longer than a manifest entry can be (limit 4 KiB)'));
});

test('verify checks the root digest of a manifest whose entries were put out of order by hand (sorted first)', async (t) => {
  const root = testDir(t);
  const out = testDir(t, 'isc-manifest-out-');
  for (const n of ['b.json', 'a.json', 'c/d.json']) putFile(root, n, `{"n": "${n}"}`);
  const m = path.join(out, 'm.json');
  await hashTree(root, { manifest: m, engine: 'inline' });
  const lines = fs.readFileSync(m, 'utf8').split('\n');
  const at = lines.findIndex((l) => l.includes('"a.json"'));
  // Swap the first two entries (their commas stay where they were).
  const bare = (l: string) => l.replace(/,$/, '');
  const comma = (l: string) => (l.endsWith(',') ? ',' : '');
  [lines[at], lines[at + 1]] = [bare(lines[at + 1]) + comma(lines[at]), bare(lines[at]) + comma(lines[at + 1])];
  fs.writeFileSync(m, lines.join('\n'));
  assert.equal((await readManifest(m)).entriesDigest, undefined);
  assert.deepEqual(await verifyTree(root, m, { engine: 'inline' }), { ok: true, missing: [], changed: [], extra: [], checked: 3 });
});
