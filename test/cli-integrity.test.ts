/** `hash` and `verify` end to end: stable digests, manifests, differences → exit 1. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAKE_JPEG, makeCornerTree, makeTree, parseJson, removeTree, runCli, runCliTty, sidecarData, tempDir } from './helpers/cli.js';

interface Hash {
  version: string;
  digest: string;
  tag: string;
  files: number;
  bytes: number;
}

describe('cli hash and verify', () => {
  let root: string;
  let out: string;
  before(() => {
    root = makeCornerTree();
    out = tempDir();
  });
  after(() => {
    removeTree(root);
    removeTree(out);
  });

  it('hash: identical stdout run after run and with 1 or 2 worker threads', async () => {
    const runs = await Promise.all([
      runCli(['hash', root]),
      runCli(['hash', '--input', root]),
      runCli(['hash', root, '--engine', 'threads', '--workers', '1']),
      runCli(['hash', root, '--engine', 'threads', '--workers', '2']),
    ]);
    for (const r of runs) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, runs[0].stdout);
    }
    const h = parseJson<Hash>(runs[0]);
    assert.match(h.digest, /^[0-9a-f]{64}$/);
    assert.equal(h.tag, `${h.version}:${h.digest}`);
    assert.ok(h.files >= 8);
  });

  it('--canonical is format-independent: unchanged by a conversion that changes every byte', async () => {
    const lib = makeTree({ 'a/A.jpg': FAKE_JPEG, 'a/A.json': { json: sidecarData('A.jpg', 2, 16) }, 'a/B.jpg': FAKE_JPEG, 'a/B.json': { json: sidecarData('B.jpg', 0, 16) } });
    const [bytes1, canon1] = await Promise.all([runCli(['hash', lib]), runCli(['hash', lib, '--canonical'])]);
    const conv = await runCli(['convert', lib, '-f', 'bin']);
    assert.equal(conv.code, 0, conv.stderr);
    const [bytes2, canon2] = await Promise.all([runCli(['hash', lib]), runCli(['hash', lib, '--canonical'])]);
    assert.notEqual(parseJson<Hash>(bytes2).digest, parseJson<Hash>(bytes1).digest);
    assert.equal(parseJson<Hash>(canon2).digest, parseJson<Hash>(canon1).digest);
    assert.notEqual(parseJson<Hash>(canon1).version, parseJson<Hash>(bytes1).version);
    removeTree(lib);
  });

  it('--canonical with a sidecar that cannot be decoded: exit 1, the files listed, no digest, no manifest (issue 10 §6)', async () => {
    // The corner tree holds photos/broken.json (truncated JSON beside broken.jpg).
    const manifest = join(out, 'canon-refused.jsonl');
    const r = await runCli(['hash', root, '--canonical', '--manifest', manifest]);
    assert.equal(r.code, 1, r.stderr);
    const res = parseJson<{ ok: boolean; digest: null; undecodable: string[] }>(r);
    assert.equal(res.ok, false);
    assert.equal(res.digest, null);
    assert.deepEqual(res.undecodable, ['photos/broken.json']);
    assert.equal(existsSync(manifest), false);
    // The byte hash covers the file as bytes and still works.
    assert.equal((await runCli(['hash', root])).code, 0);
  });

  it('a FIFO named like a sidecar: exit 1 with the path named and no digest (it was exit 2, as a fatal error), in a run and in a merge of shards', async (t) => {
    const lib = makeTree({ 'A.jpg': FAKE_JPEG, 'A.json': { json: sidecarData('A.jpg', 1, 16) }, 'B.jpg': FAKE_JPEG });
    t.after(() => removeTree(lib));
    const fifo = join(lib, 'B.json');
    if (spawnSync('mkfifo', [fifo]).status !== 0) return t.skip('mkfifo is not available');
    for (const args of [[], ['--all-files'], ['--canonical']]) {
      const r = await runCli(['hash', lib, ...args]);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      const res = parseJson<{ ok: boolean; digest: null; unreadable: { path: string; message: string }[]; unreadable_count: number }>(r);
      assert.equal(res.digest, null);
      assert.deepEqual(res.unreadable.map((u) => u.path), ['B.json']);
      assert.match(res.unreadable[0].message, /not a regular file/);
    }
    const shards = [0, 1].map((i) => join(out, `fifo-${i}.jsonl`));
    const naming: number[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await runCli(['hash', lib, '--shard', `${i}/2`, '-o', shards[i]]);
      assert.ok(r.code === 0 || r.code === 1, r.stderr);
      if (r.code === 1) naming.push(i);
    }
    assert.equal(naming.length, 1, 'one shard names B.json (the one owning its name)');
    const m = await runCli(['merge', ...shards]);
    assert.equal(m.code, 1, m.stderr);
    assert.equal(m.stdout, (await runCli(['hash', lib])).stdout, 'the merge gives the unsharded answer');
    // On a terminal: each path with why, and verify's headline says it could not check, not that the tree differs.
    const human = await runCliTty(['hash', lib]);
    assert.equal(human.code, 1);
    assert.match(human.stdout, /no digest: these paths cannot be read/);
    assert.match(human.stdout, /B\.json: not a regular file/);
    rmSync(fifo);
    const manifest = join(out, 'fifo-manifest.json');
    assert.equal((await runCli(['hash', lib, '--manifest', manifest])).code, 0);
    spawnSync('mkfifo', [join(lib, 'A.json.bak.json')]);
    const v = await runCliTty(['verify', lib, '--manifest', manifest]);
    assert.equal(v.code, 1);
    assert.match(v.stdout, /Not verified: some paths could not be read or decoded/);
    assert.match(v.stdout, /cannot be read \(1\)/);
  });

  it('verify against a manifest: exit 0 when equal, 1 with changed / missing / extra listed', async () => {
    const manifest = join(out, 'tree.manifest.json');
    const h = await runCli(['hash', root, '--manifest', manifest]);
    assert.equal(h.code, 0, h.stderr);
    assert.equal(existsSync(manifest), true);
    const same = await runCli(['verify', '--manifest', manifest, root]);
    assert.equal(same.code, 0, same.stderr);
    assert.equal(parseJson<{ ok: boolean }>(same).ok, true);

    writeFileSync(join(root, 'photos/q.json'), JSON.stringify({ quality_assessment: { success: false } }));
    rmSync(join(root, 'photos/lost.json'));
    writeFileSync(join(root, 'photos/new.json'), JSON.stringify(sidecarData('new.jpg', 1, 4)));
    const diff = await runCli(['verify', root, '--manifest', manifest]);
    assert.equal(diff.code, 1);
    const v = parseJson<{ ok: boolean; changed: string[]; missing: string[]; extra: string[] }>(diff);
    assert.equal(v.ok, false);
    assert.deepEqual(v.changed, ['photos/q.json']);
    assert.deepEqual(v.missing, ['photos/lost.json']);
    assert.deepEqual(v.extra, ['photos/new.json']);
  });

  it('verify takes --canonical / --all-files for a JSONL manifest of those modes (it had no such option: such a manifest never verified), and a JSON manifest whose mode they contradict is a usage error; hash --canonical --all-files is one too (--all-files was ignored)', async () => {
    const lib = makeTree({ 'a.jpg': FAKE_JPEG, 'a.json': { json: sidecarData('a.jpg', 1, 4) }, 'notes.txt': 'not a sidecar' });
    try {
      for (const [flag, file] of [['--canonical', 'c.jsonl'], ['--all-files', 'a.jsonl']] as const) {
        const manifest = join(out, file);
        assert.equal((await runCli(['hash', lib, flag, '--manifest', manifest])).code, 0);
        const v = await runCli(['verify', lib, '--manifest', manifest, flag]);
        assert.equal(v.code, 0, v.stdout + v.stderr);
        assert.equal(parseJson<{ ok: boolean }>(v).ok, true);
        writeFileSync(join(lib, 'a.json'), JSON.stringify(sidecarData('a.jpg', 2, 4)));
        const changed = await runCli(['verify', lib, '--manifest', manifest, flag]);
        assert.equal(changed.code, 1);
        assert.deepEqual(parseJson<{ changed: string[] }>(changed).changed, [flag === '--canonical' ? 'a.jpg' : 'a.json']);
        writeFileSync(join(lib, 'a.json'), JSON.stringify(sidecarData('a.jpg', 1, 4)));
      }
      const json = join(out, 'bytes.json');
      assert.equal((await runCli(['hash', lib, '--manifest', json])).code, 0);
      const contradicted = await runCli(['verify', lib, '--manifest', json, '--canonical']);
      assert.equal(contradicted.code, 2);
      assert.match(contradicted.stderr, /\[USAGE\]: the manifest is a isc-tree-v1 manifest; drop the canonical option/);
      const both = await runCli(['hash', lib, '--canonical', '--all-files']);
      assert.equal(both.code, 2);
      assert.match(both.stderr, /\[USAGE\]: the all-files option is for byte digests/);
    } finally {
      removeTree(lib);
    }
  });

  it('verify without --manifest is a usage error', async () => {
    const r = await runCli(['verify', root]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /\[USAGE\]: verify needs --manifest/);
  });
});
