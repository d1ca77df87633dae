/**
 * Shards through the CLI: `--shard I/N` / `auto/N` and `merge` give the bytes the unsharded
 * command prints; refusals exit 2; shard files are written atomically (a killed job leaves the
 * old file or a complete new one, a rerun replaces only its own file); listing, convert and
 * cleanup --dry-run work on their own shard.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_PATH, runCli } from './helpers/cli.js';
import { testDir } from './helpers/tree.js';
import { openShardFile } from '../src/shard/format.js';

const INLINE = ['--engine', 'inline'];

async function sampleLib(t: { after: (fn: () => void) => void }, images = 300, seed = 21): Promise<string> {
  const dir = join(testDir(t, 'isc-cli-shard-'), 'lib');
  const r = await runCli(['sample', dir, '--images', String(images), '--seed', String(seed), '-q', '-o', '/dev/null']);
  assert.equal(r.code, 0, r.stderr);
  return dir;
}

const noTimes = (s: string) => s.replace(/"processing_time":[-0-9.e+]+/g, '"processing_time":0');

test('CLI: merge of 3 shards prints the unsharded bytes (stats, validate, validate --jsonl, format-stats, hash, hash --canonical of a tree with undecodable sidecars, export json and jsonl)', async (t) => {
  const root = await sampleLib(t);
  const out = testDir(t, 'isc-cli-shard-out-');
  const cases: { cmd: string[]; mergeArgs?: string[]; norm?: (s: string) => string; exit: number }[] = [
    { cmd: ['stats'], exit: 0 },
    { cmd: ['validate'], norm: noTimes, exit: 1 },
    { cmd: ['validate', '--jsonl'], mergeArgs: ['--jsonl'], norm: noTimes, exit: 1 },
    { cmd: ['format-stats'], exit: 0 },
    { cmd: ['hash'], exit: 0 },
    // The sample holds undecodable sidecars: no digest, each named (a shard holding one exited 2 with no output).
    { cmd: ['hash', '--canonical'], exit: 1 },
    { cmd: ['export', '--format', 'jsonl'], exit: 1 },
    // The default format, json: merged, one run's document (the shards' JSON lines were merged as JSON lines).
    { cmd: ['export'], exit: 1 },
    { cmd: ['export', '--format', 'json'], exit: 1 },
  ];
  for (const c of cases) {
    const name = c.cmd.join('-');
    const whole = await runCli([...c.cmd, root, ...INLINE]);
    assert.equal(whole.code, c.exit, `${name}: ${whole.stderr}`);
    const files: string[] = [];
    for (let i = 0; i < 3; i++) {
      const f = join(out, `${name}-${i}.jsonl`);
      const r = await runCli([...c.cmd, root, ...INLINE, '--shard', `${i}/3`, '-o', f]);
      assert.ok(r.code === 0 || r.code === 1, `${name} shard ${i}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`Wrote shard ${i}/3 of ${c.cmd[0]} to `));
      files.push(f);
    }
    const merged = await runCli(['merge', ...files.reverse(), ...(c.mergeArgs ?? [])]);
    assert.equal(merged.code, c.exit, `${name} merge: ${merged.stderr}`);
    const norm = c.norm ?? ((s: string) => s);
    assert.equal(norm(merged.stdout), norm(whole.stdout), `${name}: merged output differs from the unsharded one`);
    if (c.cmd[0] !== 'validate' || c.mergeArgs) continue;
    // -o FILE: the same bytes in the file.
    const target = join(out, `${name}.merged`);
    const toFile = await runCli(['merge', ...files, ...(c.mergeArgs ?? []), '-o', target]);
    assert.equal(toFile.code, c.exit);
    assert.equal(norm(readFileSync(target, 'utf8')), norm(whole.stdout));
  }
});

test('CLI: --shard auto/N says where the index came from and records it; merge refusals exit 2 with the reason', async (t) => {
  const root = await sampleLib(t, 60, 3);
  const out = testDir(t, 'isc-cli-shard-auto-');
  const envs: [string, Record<string, string>, number][] = [
    ['JOB_COMPLETION_INDEX', { JOB_COMPLETION_INDEX: '0' }, 0],
    ['SLURM_ARRAY_TASK_ID', { SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_MIN: '1' }, 1],
  ];
  const files: string[] = [];
  for (const [source, env, index] of envs) {
    const f = join(out, `s${index}.jsonl`);
    const r = await runCli(['stats', root, '--shard', 'auto/3', '-o', f], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`shard ${index}/3 from ${source}=`));
    const h = (await openShardFile(f)).header;
    assert.deepEqual(h.shard, { index, count: 3, source });
    files.push(f);
  }
  const missing = await runCli(['merge', ...files]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /missing shard 2 of 3/);
  const dup = await runCli(['merge', files[0], files[0], files[1]]);
  assert.equal(dup.code, 2);
  assert.match(dup.stderr, /shard 0 given twice/);
  const noEnv = await runCli(['stats', root, '--shard', 'auto/3'], { env: { JOB_COMPLETION_INDEX: undefined, SLURM_ARRAY_TASK_ID: undefined, PARALLEL_SEQ: undefined } });
  assert.equal(noEnv.code, 2);
  assert.match(noEnv.stderr, /auto needs one of JOB_COMPLETION_INDEX/);
  const badCsv = await runCli(['export', root, '--format', 'csv', '--shard', '0/2']);
  assert.equal(badCsv.code, 2);
  assert.match(badCsv.stderr, /csv cannot be merged/);
  // hash: merge --manifest writes the manifest `hash --manifest` writes, and verify accepts it.
  const hashes = [0, 1].map((i) => join(out, `h${i}.jsonl`));
  for (const [i, f] of hashes.entries()) assert.equal((await runCli(['hash', root, '--shard', `${i}/2`, '-o', f])).code, 0);
  assert.equal((await runCli(['hash', root, '--shard', '0/2', '--manifest', join(out, 'x.manifest')])).code, 2);
  const merged = await runCli(['merge', ...hashes, '--manifest', join(out, 'merged.manifest')]);
  assert.equal(merged.code, 0, merged.stderr);
  assert.equal((await runCli(['hash', root, '--manifest', join(out, 'whole.manifest')])).code, 0);
  assert.equal(readFileSync(join(out, 'merged.manifest'), 'utf8'), readFileSync(join(out, 'whole.manifest'), 'utf8'));
  assert.equal((await runCli(['verify', root, '--manifest', join(out, 'merged.manifest')])).code, 0);
  const cleanup = await runCli(['cleanup', root, '--shard', '0/2']);
  assert.equal(cleanup.code, 2);
  assert.match(cleanup.stderr, /only previews \(--dry-run\)/);
});

test('CLI: a killed shard leaves its previous file or a complete new one; a rerun replaces only its own file', async (t) => {
  const root = await sampleLib(t, 400, 5);
  const out = testDir(t, 'isc-cli-shard-kill-');
  const files = [0, 1, 2].map((i) => join(out, `v${i}.jsonl`));
  for (let i = 0; i < 3; i++) assert.ok((await runCli(['validate', root, ...INLINE, '--shard', `${i}/3`, '-o', files[i]])).code !== 2);
  const before = files.map((f) => ({ bytes: readFileSync(f), mtime: statSync(f).mtimeMs }));
  // Kill shard 1 at different moments of its run: the name holds the old file or a complete new one.
  let killedMidway = 0;
  for (const delay of [60, 150, 250, 400]) {
    const child = spawn(process.execPath, [CLI_PATH, 'validate', root, ...INLINE, '--shard', '1/3', '-o', files[1]], { stdio: 'ignore' });
    // Listen before waiting: a run that ends within the delay (warm index) has closed already.
    const closed = new Promise((r) => child.once('close', r));
    await new Promise((r) => setTimeout(r, delay));
    const finished = child.exitCode !== null;
    child.kill('SIGKILL');
    await closed;
    if (!finished) killedMidway++;
    assert.ok(existsSync(files[1]));
    const now = readFileSync(files[1]);
    if (!now.equals(before[1].bytes)) await openShardFile(files[1]); // throws unless complete
  }
  assert.ok(killedMidway > 0, 'at least one run was killed before it finished');
  // Rerun shard 1 to the end: the others are untouched, and the merge works.
  assert.notEqual((await runCli(['validate', root, ...INLINE, '--shard', '1/3', '-o', files[1]])).code, 2);
  for (const i of [0, 2]) {
    assert.ok(readFileSync(files[i]).equals(before[i].bytes));
    assert.equal(statSync(files[i]).mtimeMs, before[i].mtime);
  }
  const merged = await runCli(['merge', ...files]);
  assert.equal(merged.code, 1, merged.stderr);
  const whole = await runCli(['validate', root, ...INLINE]);
  assert.equal(noTimes(merged.stdout), noTimes(whole.stdout));
});

test('CLI: todo/find/stale, convert and cleanup --dry-run work on their shard: the shards together give the unsharded answer', async (t) => {
  const root = await sampleLib(t, 200, 8);
  const lines = (s: string) => s.split('\n').filter((l) => l !== '');
  for (const cmd of [['todo', '--operation', 'yolov8'], ['find', '--where', 'faces >= 1'], ['stale']]) {
    const whole = lines((await runCli([cmd[0], root, ...cmd.slice(1), ...INLINE])).stdout);
    const parts: string[][] = [];
    for (let i = 0; i < 3; i++) parts.push(lines((await runCli([cmd[0], root, ...cmd.slice(1), ...INLINE, '--shard', `${i}/3`])).stdout));
    const union = parts.flat();
    assert.equal(new Set(union).size, union.length, `${cmd[0]}: shards overlap`);
    assert.deepEqual([...union].sort(), [...whole].sort(), `${cmd[0]}: shards do not add up`);
    // Each shard's list keeps tree order.
    for (const p of parts) assert.deepEqual(p, whole.filter((l) => p.includes(l)));
    if (cmd[0] !== 'stale') assert.ok(whole.length > 10, `${cmd[0]} lists something`);
  }
  const orphans = (s: string) => (JSON.parse(s) as { actions: { path: string }[] }).actions.map((a) => a.path);
  const wholeCleanup = orphans((await runCli(['cleanup', root, '--dry-run', '--force', '--json', ...INLINE])).stdout);
  const shardCleanup: string[] = [];
  for (let i = 0; i < 3; i++) shardCleanup.push(...orphans((await runCli(['cleanup', root, '--dry-run', '--force', '--json', ...INLINE, '--shard', `${i}/3`])).stdout));
  assert.ok(wholeCleanup.length > 0);
  assert.deepEqual(shardCleanup.sort(), [...wholeCleanup].sort());

  // convert: two identical libraries, one converted whole, one shard by shard → the same bytes.
  const other = await sampleLib(t, 200, 8);
  assert.notEqual((await runCli(['convert', root, '-f', 'bin', ...INLINE])).code, 2);
  for (let i = 0; i < 3; i++) assert.notEqual((await runCli(['convert', other, '-f', 'bin', ...INLINE, '--shard', `${i}/3`])).code, 2);
  const digest = async (d: string) => (JSON.parse((await runCli(['hash', d])).stdout) as { digest: string }).digest;
  assert.equal(await digest(other), await digest(root));
});

test('CLI: merge never writes its result or manifest over one of the shard outputs it merges (exit 2, the shard kept)', async (t) => {
  const root = await sampleLib(t, 40, 9);
  const out = testDir(t, 'isc-cli-shard-self-');
  for (const cmd of ['validate', 'export', 'hash']) {
    const files = [0, 1].map((i) => join(out, `${cmd}-${i}.jsonl`));
    for (const [i, f] of files.entries()) {
      const extra = cmd === 'export' ? ['--format', 'jsonl'] : [];
      assert.notEqual((await runCli([cmd, root, ...extra, '--shard', `${i}/2`, '-o', f])).code, 2);
    }
    const before = files.map((f) => readFileSync(f));
    const over = await runCli(['merge', ...files, '-o', files[1]]);
    assert.equal(over.code, 2, `${cmd}: ${over.stderr}`);
    assert.match(over.stderr, /one of the shard outputs being merged/);
    if (cmd === 'hash') {
      const m = await runCli(['merge', ...files, '--manifest', files[0]]);
      assert.equal(m.code, 2, m.stderr);
      assert.match(m.stderr, /one of the shard outputs being merged/);
    }
    files.forEach((f, i) => assert.ok(readFileSync(f).equals(before[i]), `${cmd}: ${f} was replaced by the merge`));
    // The shards still merge.
    assert.notEqual((await runCli(['merge', ...files, '-o', join(out, `${cmd}.merged`)])).code, 2);
  }
});

test('CLI: merge refuses --manifest for shards other than hash and --jsonl for shards other than validate (exit 2), never ignores them', async (t) => {
  const root = await sampleLib(t, 30, 4);
  const out = testDir(t, 'isc-cli-shard-opts-');
  const stats = [0, 1].map((i) => join(out, `s${i}.jsonl`));
  for (const [i, f] of stats.entries()) assert.equal((await runCli(['stats', root, '--shard', `${i}/2`, '-o', f])).code, 0);
  const manifest = join(out, 'tree.manifest');
  const m = await runCli(['merge', ...stats, '--manifest', manifest]);
  assert.equal(m.code, 2, m.stderr);
  assert.match(m.stderr, /--manifest is for hash shards; these are stats shards/);
  assert.equal(m.stdout, '');
  assert.ok(!existsSync(manifest));
  const j = await runCli(['merge', ...stats, '--jsonl']);
  assert.equal(j.code, 2, j.stderr);
  assert.match(j.stderr, /--jsonl is for validate shards/);
  assert.equal((await runCli(['merge', ...stats])).code, 0);
});
