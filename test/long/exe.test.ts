/**
 * The standalone executable (`npm run build:exe`, dist/exe/image-sidecar): every command a user
 * runs, with Node.js off PATH, gives what the installed CLI gives — exit codes, the earlier tool's
 * names, the server, worker threads on a tree of thousands of files, the WebAssembly modules — and
 * reads nothing outside itself (its worker script, modules, digest and version are embedded).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSampleLibrary } from '../../src/index.js';
import { BUNDLE_CLI_PATH, withoutRunFacts as same } from '../helpers/cli.js';

const EXE = fileURLToPath(new URL('../../../dist/exe/image-sidecar', import.meta.url));

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `argv[0]` with the rest, stdin `input`, in an environment whose PATH holds no Node.js. */
function run(argv: readonly string[], env: Record<string, string>, input = ''): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { env, stdio: 'pipe' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}


test('the standalone executable, without Node.js on PATH: every command as the installed CLI gives it, threads and WebAssembly in use', async (t) => {
  assert.ok(existsSync(EXE), `${EXE} is built (npm run build:exe; npm run test:long builds it)`);
  const dir = mkdtempSync(join(tmpdir(), 'isc-exe-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const noNode = join(dir, 'bin');
  mkdirSync(noNode);
  // A copy away from the repository: nothing it could fall back to is near it.
  const exe = join(noNode, 'image-sidecar');
  copyFileSync(EXE, exe);
  const env: Record<string, string> = { PATH: noNode, HOME: dir, IMAGE_SIDECAR_WORKERS: '2' };
  const root = join(dir, 'lib');
  const SCHEMA = join(dir, 'schema.json');
  writeFileSync(SCHEMA, JSON.stringify({ type: 'object', properties: { sidecar_info: { type: 'object' } }, required: ['sidecar_info'] }));
  // Symlinks, RAW+JPEG pairs, corrupt and orphaned sidecars, reports; > 2,000 files.
  await generateSampleLibrary(root, { images: 1200, seed: 9 });
  const files = (d: string): number => readdirSync(d, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? files(join(d, e.name)) : 1), 0);
  assert.ok(files(root) >= 2000, `a tree of ${files(root)} files`);
  const image = join(root, readdirSync(root, { recursive: true, encoding: 'utf8' }).find((p) => p.endsWith('.jpg') && !p.includes('game'))!);

  // What the executable reports of itself.
  const doctor = await run([exe, 'doctor', '--json'], env);
  assert.equal(doctor.code, 0, doctor.stderr);
  const d = JSON.parse(doctor.stdout) as { version: string; acceleration: { wasm: { inUse: boolean } }; index: { entryWriter: { inUse: boolean } } };
  assert.equal(d.acceleration.wasm.inUse, true, 'the embedded scanner module is in use');
  assert.equal(d.index.entryWriter.inUse, true, 'the embedded entry writer module is in use');
  const version = await run([exe, '--version'], env);
  assert.equal(version.stdout.trim(), (JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { version: string }).version);
  assert.equal((await run([exe, 'no-such-command'], env)).code, 2, 'a usage error exits 2');

  // Tree commands on worker threads, against the installed CLI (run by Node, off this PATH).
  const threads = { ...env, IMAGE_SIDECAR_ENGINE: 'threads' };
  const commands: string[][] = [
    ['validate', root, '--no-index'],
    ['stats', root, '--no-index'],
    ['format-stats', root, '--no-index'],
    ['export', root, '--no-index', '--format', 'csv'],
    ['hash', root],
    ['find', root, '--where', 'faces > 0', '--no-index', '--jsonl'],
    ['todo', root, '--operation', 'yolov8', '--no-index', '--jsonl'],
    ['cleanup', root, '--dry-run'],
    ['read', image],
    // A JSON Schema: ajv is inside the executable.
    ['validate', root, '--no-index', '--schema', SCHEMA],
  ];
  for (const args of commands) {
    const mine = await run([exe, ...args], threads);
    const cli = await run([process.execPath, BUNDLE_CLI_PATH, ...args], threads);
    assert.equal(mine.code, cli.code, `${args[0]}: exit code (${mine.stderr.slice(-300)})`);
    assert.ok(mine.stdout.length > 0, `${args[0]}: output`);
    assert.equal(same(mine.stdout), same(cli.stdout), `${args[0]}: output`);
  }
  assert.equal((await run([exe, 'validate', root, '--no-index'], threads)).code, 1, 'findings exit 1');
  // Under the earlier tool's names (links to the executable), findings exit 0 as it did.
  for (const name of ['image-sidecar-rust', 'sportball-sidecar-rust']) {
    const link = join(noNode, name);
    symlinkSync(exe, link);
    const r = await run([link, 'validate', '--input', root], threads);
    assert.equal(r.code, 0, `${name}: findings exit 0 (${r.stderr.slice(-200)})`);
  }

  // The index: what the installed CLI stored, the executable serves (one code digest, embedded).
  const index = join(dir, 'index');
  const racy = { ...threads, IMAGE_SIDECAR_INDEX_RACY_MS: '0' };
  await run([process.execPath, BUNDLE_CLI_PATH, 'stats', root, '--index', index], racy);
  const warm = await run([exe, 'stats', root, '--index', index], racy);
  assert.equal(warm.code, 0, warm.stderr);
  const status = JSON.parse((await run([exe, 'index', 'status', root, '--index', index], env)).stdout) as { last_run: { hits: number; misses: number } };
  assert.equal(status.last_run.misses, 0, 'every result the installed CLI stored is served');
  assert.ok(status.last_run.hits > 1000);

  // Writes: a save, a verified conversion (on a copy).
  const copy = join(dir, 'copy');
  cpSync(root, copy, { recursive: true, verbatimSymlinks: true });
  const copied = join(copy, image.slice(root.length + 1));
  const write = await run([exe, 'write', copied, '--operation', 'quality', '--data', '-'], env, '{"score": 0.5}');
  assert.equal(write.code, 0, write.stderr);
  assert.match((await run([exe, 'read', copied], env)).stdout, /"score": ?0\.5/);
  // The same conversion by the installed CLI on a second copy: the same files converted.
  const copy2 = join(dir, 'copy2');
  cpSync(root, copy2, { recursive: true, verbatimSymlinks: true });
  const convert = await run([exe, 'convert', copy, '--format', 'bin'], threads);
  const convert2 = await run([process.execPath, BUNDLE_CLI_PATH, 'convert', copy2, '--format', 'bin'], threads);
  assert.equal(convert.code, convert2.code, convert.stderr.slice(-300));
  const formats = (d: string) => run([exe, 'format-stats', d, '--no-index'], threads).then((r) => (JSON.parse(r.stdout) as { format_distribution: { Binary: number; Json: number } }).format_distribution);
  const [was, now, cli] = [await formats(root), await formats(copy), await formats(copy2)];
  assert.ok(was.Binary === 0 && now.Binary > 1000, `converted: ${JSON.stringify(was)} → ${JSON.stringify(now)}`);
  assert.deepEqual(now, cli, 'the installed CLI converts the same files');

  // The other commands, each against the installed CLI: shards and their merge, a manifest and its
  // verify, a list of files, stale results, a preview of resolve, a report, a sample library, keys.
  const work = join(dir, 'work');
  mkdirSync(work);
  const both = async (argv: (out: string) => string[], label: string, compare = true): Promise<[Ran, Ran]> => {
    const a = await run([exe, ...argv(join(work, `exe-${label}`))], threads);
    const b = await run([process.execPath, BUNDLE_CLI_PATH, ...argv(join(work, `cli-${label}`))], threads);
    assert.equal(a.code, b.code, `${label}: exit code (${a.stderr.slice(-300)})`);
    if (compare) assert.equal(same(a.stdout.split(work).join('')).replace(/(exe|cli)-/g, ''), same(b.stdout.split(work).join('')).replace(/(exe|cli)-/g, ''), `${label}: output`);
    return [a, b];
  };
  for (const i of [0, 1]) await both((o) => ['stats', root, '--no-index', '--shard', `${i}/2`, '-q', '-o', `${o}.${i}.jsonl`], `shard-${i}`, false);
  const [merged] = await both((o) => ['merge', `${o.replace('merge', 'shard-0')}.0.jsonl`, `${o.replace('merge', 'shard-1')}.1.jsonl`], 'merge');
  assert.equal(same(merged.stdout), same((await run([exe, 'stats', root, '--no-index'], threads)).stdout), 'the shards merge into the unsharded stats');
  await both((o) => ['hash', root, '--manifest', `${o}.manifest`], 'manifest', false);
  const verified = await run([exe, 'verify', root, '--manifest', join(work, 'exe-manifest.manifest')], env);
  assert.equal(verified.code, 0, `verify: ${verified.stderr.slice(-300)}`);
  const list = join(work, 'list.txt');
  writeFileSync(list, readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((p) => p.endsWith('.json')).slice(0, 200).map((p) => join(root, p)).join('\n') + '\n');
  await both(() => ['validate-json', '--input', list], 'validate-json');
  await both(() => ['stale', root, '--json'], 'stale');
  await both(() => ['resolve', root, '--dry-run'], 'resolve');
  const [report] = await both((o) => ['report', root, '--no-index', '-o', `${o}.html`], 'report', false);
  assert.equal(report.code, 0, report.stderr.slice(-300));
  assert.match(readFileSync(join(work, 'exe-report.html'), 'utf8'), /<html/i);
  await both((o) => ['sample', o, '--images', '30', '--seed', '2', '-q'], 'sample');
  assert.equal(same((await run([exe, 'hash', join(work, 'exe-sample')], env)).stdout).replace(/exe-sample/g, ''), same((await run([exe, 'hash', join(work, 'cli-sample')], env)).stdout).replace(/cli-sample/g, ''), 'the same sample library');
  const key = join(work, 'key');
  assert.equal((await run([exe, 'keygen', '-o', key], env)).code, 0);
  const secret = join(dir, 'secret');
  cpSync(join(work, 'exe-sample'), secret, { recursive: true, verbatimSymlinks: true });
  const encrypted = await run([exe, 'convert', secret, '--format', 'bin', '--encrypt', '--key-file', key], threads);
  assert.ok(encrypted.code === 0 || encrypted.code === 1, encrypted.stderr.slice(-300));
  const key2 = join(work, 'key2');
  assert.equal((await run([exe, 'keygen', '-o', key2], env)).code, 0);
  const rekeyed = await run([exe, 'rekey', secret, '--key-file', key, '--new-key-file', key2], threads);
  assert.ok(rekeyed.code === 0 || rekeyed.code === 1, rekeyed.stderr.slice(-300));
  const readable = JSON.parse((await run([exe, 'format-stats', secret, '--no-index', '--key-file', key2], threads)).stdout) as { format_distribution: { Encrypted: number; Binary: number } };
  assert.ok(readable.format_distribution.Encrypted + readable.format_distribution.Binary > 20, `rekeyed: ${JSON.stringify(readable)}`);
  // Orphans quarantined and put back (on the converted copy: it has an orphan).
  const before = readdirSync(copy2, { recursive: true, encoding: 'utf8' }).filter((p) => !p.startsWith('.image-sidecar')).sort();
  const cleaned = await run([exe, 'cleanup', copy2, '--json'], threads);
  assert.equal(cleaned.code, 0, cleaned.stderr.slice(-300));
  assert.ok((JSON.parse(cleaned.stdout) as { removed: number }).removed > 0, 'an orphan quarantined');
  const restored = await run([exe, 'restore', copy2], threads);
  assert.equal(restored.code, 0, restored.stderr.slice(-300));
  assert.deepEqual(readdirSync(copy2, { recursive: true, encoding: 'utf8' }).filter((p) => !p.startsWith('.image-sidecar')).sort(), before, 'restore puts every file back');

  // The server: JSON lines in, one answer per request.
  const lines = [
    { id: 1, method: 'ping' },
    { id: 2, method: 'read', params: { image } },
    { id: 3, method: 'stats', params: { dir: root, engine: 'threads' } },
  ].map((l) => JSON.stringify(l)).join('\n') + '\n';
  const served = await run([exe, 'serve', '--stdio'], env, lines);
  const answers = served.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: number; result?: unknown; error?: unknown });
  assert.deepEqual(answers.map((a) => a.id).sort(), [1, 2, 3]);
  for (const a of answers) assert.ok(a.result !== undefined, `request ${a.id}: ${JSON.stringify(a.error)}`);
});
