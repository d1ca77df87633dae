/**
 * The incremental index (src/incremental/) must never be wrong: every guarantee of issue 20 has a
 * test that tries to break it. Outputs with the index are compared byte for byte with `--no-index`
 * (validate's processing_time excepted: it is a measurement, different on every run).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { TEMP_MARK } from '../src/fs/temp-files.js';
import {
  encodeSidecar,
  exportSidecars,
  formatStats,
  generateSampleLibrary,
  hashTree,
  indexStatus,
  staleSidecars,
  stats,
  todo,
  validate,
  INDEX_DIR,
  type IndexOptions,
  type IndexRunStats,
  type JsonObject,
} from '../src/index.js';
import { saveSidecar } from '../src/ops/save.js';
import { THREADS_BREAK_EVEN_FILES } from '../src/tuning.js';
import { find } from '../src/ops/find.js';
import { scan } from '../src/ops/scan.js';
import { entryIdentity, entryKey, entryPayload, IndexReader, IndexWriter, keyHash, TABLE_DIRS, TABLE_LINKS, type IndexHeader } from '../src/incremental/store.js';
import { decodeFolder } from '../src/incremental/folder-records.js';
import { FULL_CAMPAIGNS } from './helpers/campaign.js';

/** Read a whole index file (every entry's checksum checked): its header and the keys of each table. */
function readIndex(path: string): { header: IndexHeader; files: string[]; dirs: string[]; links: string[]; records: string[] } {
  const r = IndexReader.open(path);
  assert.ok(r, `no index at ${path}`);
  try {
    const out = { header: r.header, files: [] as string[], dirs: [] as string[], links: [] as string[], records: [] as string[] };
    for (const v of r.entries()) [out.files, out.dirs, out.links, out.records][v.table].push(entryKey(v));
    return out;
  } finally {
    r.close();
  }
}
import { CLI_PATH, runCli } from './helpers/cli.js';
import { FAKE_JPEG, makeTree, sidecarData, tempDir, testDir } from './helpers/tree.js';

/** Record files however recently they changed (tests change files milliseconds before a run). */
// Folder records are on by default (`folderRecords: false` turns them off):
// these tests run with them, as users do; the parity tests also run with `folderRecords: false`.
const NOW = { racyMarginMs: 0, folderRecords: true } as const;
const CLI_ENV = { IMAGE_SIDECAR_INDEX_RACY_MS: '0' };
const FIXED_TIME = 1_700_000_000; // whole seconds: utimes restores it exactly (ns included)

function withoutTimes(text: string): string {
  return text.replace(/"processing_time":[-0-9.e+]+/g, '"processing_time":0');
}

type Runner = (index: IndexOptions | false) => Promise<string>;

/** Every inspecting operation, as text (its full report: results, totals, scan summary). */
function operations(root: string, outDir: string): Record<string, Runner> {
  // Reports hold bigints (recorded image mtimes): spelled with their type, so a number would differ.
  const text = (v: unknown) => withoutTimes(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x)));
  return {
    validate: async (index) => text(await validate(root, { index, engine: 'inline' })),
    stats: async (index) => text(await stats(root, { index, list: true })),
    'stats --operation-type': async (index) => text(await stats(root, { index, operationType: 'face_detection' })),
    'format-stats': async (index) => text(await formatStats(root, { index })),
    find: async (index) => text(await find(root, { index, where: 'faces >= 1' })),
    todo: async (index) => text(await todo(root, { index, operation: 'yolov8' })),
    stale: async (index) => text(await staleSidecars(root, { index })),
    'export csv': async (index) => {
      const out = join(outDir, 'export.csv');
      const r = await exportSidecars(root, { index, format: 'csv', output: out });
      return text(r) + readFileSync(out, 'utf8');
    },
  };
}

/**
 * Run every operation without the index, then three times with it (cold; warm, storing folder
 * records; served whole): all identical.
 */
async function assertIdentical(root: string, outDir: string, label: string, indexPath: string): Promise<{ hits: number; misses: number }> {
  let hits = 0;
  let misses = 0;
  const onStats = (s: IndexRunStats) => {
    hits += s.hits;
    misses += s.misses;
  };
  for (const [name, run] of Object.entries(operations(root, outDir))) {
    const plain = await run(false);
    for (const nth of ['first', 'second', 'third']) {
      const out = await run({ ...NOW, path: indexPath, onStats });
      assert.equal(out, plain, `${label}: ${name} with the index (${nth} run) differs from --no-index`);
    }
  }
  return { hits, misses };
}

/** An awkward tree: Unicode names, every format, corrupt and odd files, symlinks in and out, typed numbers. */
function awkwardTree(dir: string): { root: string; outside: string } {
  const outside = join(dir, 'outside');
  const root = join(dir, 'lib');
  const typed = '{"face_detection": {"success": true, "faces": [], "metadata": {"processing_time": 25.0, "id": 1234567890123456789}}}';
  makeTree(
    {
      'a/IMG_1.jpg': FAKE_JPEG,
      'a/IMG_1.json': { json: sidecarData('IMG_1.jpg', 2) },
      'a/Été ü/Ñandú 1.JPG': FAKE_JPEG,
      'a/Été ü/Ñandú 1.JPG.json': { json: sidecarData('Ñandú 1.JPG', 1) },
      'a/typed.jpg': FAKE_JPEG,
      'a/typed.json': typed,
      'a/bom.jpg': FAKE_JPEG,
      'a/bom.json': Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(sidecarData('bom.jpg', 1)))]),
      'b/corrupt.jpg': FAKE_JPEG,
      'b/corrupt.json': '{"face_detection": {"faces": [',
      'b/both.jpg': FAKE_JPEG,
      'b/both.json': { json: sidecarData('both.jpg', 1) },
      'b/orphan.json': { json: sidecarData('gone.jpg', 3) },
      'b/report.json': { json: { summary: { total: 3 }, results: [] } },
      'b/missing.png': FAKE_JPEG,
      'b/empty.json': '',
      'b/link.jpg': { symlink: '../a/IMG_1.jpg' },
      'b/out.jpg': { symlink: join(outside, 'far.jpg') },
      'b/broken.jpg': { symlink: 'nowhere.jpg' },
      'b/proto.jpg': FAKE_JPEG,
      'b/proto.json': '{"__proto__": {"x": 1}, "yolov8": {"success": true, "objects": [{"class_name": "__proto__", "confidence": 0.5}]}}',
    },
    root,
  );
  makeTree({ 'far.jpg': FAKE_JPEG, 'far.json': { json: sidecarData('far.jpg', 4) } }, outside);
  writeFileSync(join(root, 'b/both.bin'), encodeSidecar(sidecarData('both.jpg', 2) as JsonObject, 'bin'));
  writeFileSync(join(root, 'a/bin.jpg'), FAKE_JPEG);
  writeFileSync(join(root, 'a/bin.bin'), encodeSidecar(JSON.parse(typed) as JsonObject, 'bin'));
  writeFileSync(join(root, 'a/legacy.jpg'), FAKE_JPEG);
  writeFileSync(join(root, 'a/legacy.json'), encodeSidecar(sidecarData('legacy.jpg', 1) as JsonObject, 'legacy'));
  return { root, outside };
}

/** Each kind of change the index must notice, applied to `file` (a sidecar). */
const CHANGES: Record<string, (file: string) => void> = {
  'same size, mtime restored (only ctime differs)': (file) => {
    const before = statSync(file, { bigint: true });
    const text = readFileSync(file, 'utf8');
    const edited = text.includes('"success": true') ? text.replace('"success": true', '"success": !rue') : text.replace(/\d(?=[^\d]*$)/, (d) => String((Number(d) + 1) % 10));
    assert.equal(Buffer.byteLength(edited), Number(before.size));
    writeFileSync(file, edited); // in place: same inode
    utimesSync(file, FIXED_TIME, FIXED_TIME);
    const after = statSync(file, { bigint: true });
    assert.equal(after.ino, before.ino);
    assert.equal(after.size, before.size);
    assert.equal(after.mtimeNs, before.mtimeNs, 'mtime restored exactly');
    assert.notEqual(after.ctimeNs, before.ctimeNs, 'ctime moved on');
  },
  'replaced by rename (same size, same mtime)': (file) => {
    const text = readFileSync(file, 'utf8');
    const edited = text.replace(/"faces_found": \d/, '"faces_found": 7').replace(/\d(?=[^\d]*$)/, (d) => String((Number(d) + 3) % 10));
    const tmp = `${file}.new`;
    writeFileSync(tmp, edited.length === text.length ? edited : text.replace(/\d(?=[^\d]*$)/, (d) => String((Number(d) + 3) % 10)));
    utimesSync(tmp, FIXED_TIME, FIXED_TIME);
    renameSync(tmp, file);
  },
  'deleted': (file) => rmSync(file),
  'corrupted': (file) => writeFileSync(file, '{"face_detection": [1, 2,'),
};

test('byte-identical to --no-index on an awkward tree, after each kind of change', async (t) => {
  const dir = testDir(t, 'isc-index-awk-');
  const { root } = awkwardTree(dir);
  // Fixed mtimes so that a change that restores mtime restores it exactly.
  for (const rel of ['a/IMG_1.json', 'a/typed.json', 'b/both.json', 'b/orphan.json']) utimesSync(join(root, rel), FIXED_TIME, FIXED_TIME);
  // A sidecar that records its image's identity: stale/todo must see the image touched later.
  await saveSidecar(join(root, 'a/bom.jpg'), 'yolov8', { success: true, objects: [] });
  const indexPath = join(dir, 'idx', 'index');
  const out = join(dir, 'out');
  mkdirSync(out);
  const first = await assertIdentical(root, out, 'unchanged', indexPath);
  assert.ok(first.hits > 0, 'the warm runs were served from the index');
  const targets = ['a/IMG_1.json', 'a/typed.json', 'b/both.json', 'b/orphan.json'];
  let i = 0;
  for (const [kind, change] of Object.entries(CHANGES)) {
    change(join(root, targets[i++ % targets.length]));
    await assertIdentical(root, out, kind, indexPath);
  }
  // Touched image (the sidecar unchanged): stale/todo compare the image with the sidecar's record.
  const staleBefore = (await staleSidecars(root, { index: { ...NOW, path: indexPath } })).counts.stale;
  utimesSync(join(root, 'a/bom.jpg'), FIXED_TIME + 5, FIXED_TIME + 5);
  await assertIdentical(root, out, 'touched image', indexPath);
  assert.equal((await staleSidecars(root, { index: { ...NOW, path: indexPath } })).counts.stale, staleBefore + 1, 'the touched image is stale');
  // A new sidecar and a new image.
  writeFileSync(join(root, 'b/missing.json'), JSON.stringify(sidecarData('missing.png', 2)));
  await assertIdentical(root, out, 'new sidecar', indexPath);
});

test('byte-identical to --no-index on the sample library (CLI), then after edits', async (t) => {
  const dir = testDir(t, 'isc-index-sample-');
  const root = join(dir, 'lib');
  await generateSampleLibrary(root, { images: 120, seed: 7 });
  // format-stats and export in the full campaigns only (helpers/campaign.ts; other files run them with the index in npm test).
  const cmds = [['validate'], ['stats'], ['format-stats'], ['export', '--format', 'csv'], ['find', '--where', 'faces >= 1', '--jsonl'], ['todo', '--operation', 'yolov8', '--jsonl']].filter((c) => FULL_CAMPAIGNS || (c[0] !== 'format-stats' && c[0] !== 'export'));
  const compare = async (label: string) => {
    for (const c of cmds) {
      const plain = await runCli([...c, root, '--no-index'], { env: CLI_ENV });
      const cold = await runCli([...c, root], { env: CLI_ENV });
      // The second run stores folder records (on by default), the third is served from them.
      const warm = await runCli([...c, root], { env: CLI_ENV });
      const served = await runCli([...c, root], { env: CLI_ENV });
      assert.equal(cold.code, plain.code, `${label} ${c[0]}: exit code`);
      assert.equal(withoutTimes(cold.stdout), withoutTimes(plain.stdout), `${label} ${c[0]}: first run with the index`);
      assert.equal(withoutTimes(warm.stdout), withoutTimes(plain.stdout), `${label} ${c[0]}: warm run`);
      assert.equal(withoutTimes(served.stdout), withoutTimes(plain.stdout), `${label} ${c[0]}: run served from folder records`);
      assert.equal(served.code, plain.code, `${label} ${c[0]}: exit code, served`);
      assert.doesNotMatch(warm.stderr + served.stderr, /warning: index/);
    }
  };
  await compare('unchanged');
  type Status = { entries: number; valid: boolean; last_run: { hits: number; misses: number; records_served?: number }; where: string };
  const status = JSON.parse((await runCli(['index', 'status', root, '--json'])).stdout) as Status;
  assert.equal(status.valid, true);
  assert.equal(status.where, 'root');
  assert.ok(status.entries > 100, `entries: ${status.entries}`);
  assert.equal(status.last_run.misses, 0);
  assert.ok(status.last_run.hits > 100);
  assert.ok((status.last_run.records_served ?? 0) > 100, `folder records are on by default: ${status.last_run.records_served} records served`);
  // The library's `folderRecords: false` turns them off on the same index: the same output, nothing served whole.
  const offRuns: IndexRunStats[] = [];
  const off = await stats(root, { index: { path: join(root, INDEX_DIR, 'index'), racyMarginMs: 0, folderRecords: false, onStats: (s) => offRuns.push(s) } });
  const asText = (v: unknown) => withoutTimes(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x)));
  assert.equal(asText(off), asText(await stats(root, { index: false })));
  assert.equal(offRuns.at(-1)?.recordsServed, 0, 'folder records off: none served');
  assert.ok((offRuns.at(-1)?.hits ?? 0) > 100, `hits: ${offRuns.at(-1)?.hits}`);
  const sidecars = readdirSync(join(root, 'photos'), { recursive: true, encoding: 'utf8' }).filter((n) => n.endsWith('.json')).slice(0, 4);
  const kinds = Object.values(CHANGES);
  sidecars.forEach((rel, i) => {
    const p = join(root, 'photos', rel);
    utimesSync(p, FIXED_TIME, FIXED_TIME);
    kinds[i % kinds.length](p);
  });
  await compare('after edits');
});

test('a same-size edit that restores mtime is caught by ctime (and the index was really used before)', async (t) => {
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': '{"face_detection": {"success": true, "faces": []}}' }, testDir(t));
  const file = join(root, 'IMG_1.json');
  utimesSync(file, FIXED_TIME, FIXED_TIME);
  const runs: IndexRunStats[] = [];
  const index = { ...NOW, onStats: (s: IndexRunStats) => runs.push(s) };
  const v1 = await validate(root, { index });
  const v1b = await validate(root, { index });
  assert.equal(runs[1].hits, 1, 'second run served from the index');
  assert.equal(v1b.results![0].is_valid, true);
  CHANGES['same size, mtime restored (only ctime differs)'](file);
  const v2 = await validate(root, { index });
  assert.equal(runs[2].hits, 0, 'the changed file was read again');
  assert.equal(v2.results![0].is_valid, false, 'the new content is judged');
  assert.equal(v1.results![0].is_valid, true);
});

test('a file changed in the same timestamp tick as it was read is not trusted (racy margin)', async (t) => {
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': { json: sidecarData('IMG_1.jpg', 1) } }, testDir(t));
  const runs: IndexRunStats[] = [];
  // Default margin: a file changed just now is not recorded, so a later same-stamp rewrite cannot be missed.
  await validate(root, { index: { onStats: (s) => runs.push(s) } });
  await validate(root, { index: { onStats: (s) => runs.push(s) } });
  assert.equal(runs[0].recorded, 0);
  assert.equal(runs[1].hits, 0);
});

test('a schema change invalidates validate results made with the old schema, and nothing else', async (t) => {
  const dir = testDir(t);
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': { json: sidecarData('IMG_1.jpg', 1) } }, join(dir, 'lib'));
  const schema = join(dir, 'schema.json');
  writeFileSync(schema, JSON.stringify({ type: 'object' }));
  const runs: IndexRunStats[] = [];
  const index = { ...NOW, path: join(dir, 'index'), onStats: (s: IndexRunStats) => runs.push(s) };
  await stats(root, { index });
  const a = await validate(root, { index, schema });
  assert.equal(a.valid_files, 1);
  writeFileSync(schema, JSON.stringify({ type: 'object', required: ['no_such_operation'] }));
  const b = await validate(root, { index, schema });
  const plain = await validate(root, { schema });
  assert.equal(b.invalid_files, 1, 'the new schema is applied');
  assert.equal(withoutTimes(JSON.stringify(b)), withoutTimes(JSON.stringify(plain)));
  assert.equal(runs[2].hits, 0);
  await stats(root, { index });
  assert.equal(runs[3].hits, 1, 'stats results survive a schema change');
});

test('a corrupt, truncated or foreign index is ignored with a warning and rebuilt', async (t) => {
  const dir = testDir(t);
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': { json: sidecarData('IMG_1.jpg', 1) } }, join(dir, 'lib'));
  const other = makeTree({ 'IMG_2.jpg': FAKE_JPEG, 'IMG_2.json': { json: sidecarData('IMG_2.jpg', 2) } }, join(dir, 'other'));
  const plain = await runCli(['stats', root, '--no-index']);
  await runCli(['stats', root], { env: CLI_ENV });
  const indexPath = join(root, INDEX_DIR, 'index');
  const good = readFileSync(indexPath);
  assert.doesNotThrow(() => readIndex(indexPath));
  const damage: Record<string, Buffer> = {
    'flipped byte': Buffer.from(good.map((b, i) => (i === good.length >> 1 ? b ^ 0x40 : b))),
    truncated: good.subarray(0, good.length - 7),
    empty: Buffer.alloc(0),
    'not an index': Buffer.from('{"hello": "world"}'),
    // What a power loss can leave of a file renamed into place without an fsync (store.ts finish):
    // a block never written (zeros), or only the name with none of the data.
    'a zeroed block': Buffer.from(good.map((b, i) => (i >= (good.length >> 13) << 12 && i < ((good.length >> 13) + 1) << 12 ? 0 : b))),
    'zeros of its length': Buffer.alloc(good.length),
  };
  for (const [what, bytes] of Object.entries(damage)) {
    writeFileSync(indexPath, bytes);
    const r = await runCli(['stats', root], { env: CLI_ENV });
    assert.equal(r.stdout, plain.stdout, `${what}: same output`);
    assert.match(r.stderr, /warning: index .* is unusable/, `${what}: warned`);
    assert.doesNotThrow(() => readIndex(indexPath), `${what}: rebuilt`);
    const again = await runCli(['stats', root], { env: CLI_ENV });
    assert.doesNotMatch(again.stderr, /warning/);
  }
  // Another library's index given with --index: not trusted, replaced.
  const foreign = join(dir, 'foreign-index');
  await runCli(['stats', other, '--index', foreign], { env: CLI_ENV });
  const r = await runCli(['stats', root, '--index', foreign], { env: CLI_ENV });
  assert.equal(r.stdout, plain.stdout);
  assert.match(r.stderr, /belongs to another library/);
});

test('an older index brought back (a power loss undid the last rename: the index is not fsynced) serves only what is still as it recorded', async (t) => {
  const dir = testDir(t);
  const root = makeTree(
    {
      'IMG_1.jpg': FAKE_JPEG,
      'IMG_1.json': { json: sidecarData('IMG_1.jpg', 1) },
      'sub/IMG_2.jpg': FAKE_JPEG,
      'sub/IMG_2.json': { json: sidecarData('IMG_2.jpg', 2) },
    },
    join(dir, 'lib'),
  );
  const indexPath = join(root, INDEX_DIR, 'index');
  await runCli(['stats', root], { env: CLI_ENV });
  await runCli(['stats', root], { env: CLI_ENV }); // a repeat run: folder records too
  const older = readFileSync(indexPath);
  // Changes the older index knows nothing of: an edit in place, a new image and sidecar, a removal.
  writeFileSync(join(root, 'IMG_1.json'), JSON.stringify(sidecarData('IMG_1.jpg', 7)));
  writeFileSync(join(root, 'sub', 'IMG_3.jpg'), FAKE_JPEG);
  writeFileSync(join(root, 'sub', 'IMG_3.json'), JSON.stringify(sidecarData('IMG_3.jpg', 3)));
  rmSync(join(root, 'sub', 'IMG_2.json'));
  await runCli(['stats', root], { env: CLI_ENV });
  writeFileSync(indexPath, older);
  rmSync(`${indexPath}.delta`, { force: true });
  const plain = await runCli(['stats', root, '--no-index']);
  const r = await runCli(['stats', root], { env: CLI_ENV });
  assert.equal(r.stdout, plain.stdout);
  assert.doesNotMatch(r.stderr, /warning/, 'an older index is valid, only out of date');
  assert.ok(indexStatus(root).last_run!.misses >= 1, 'the changed file was read again');
});

test('two processes at once (validate and stats): both finish, the index stays valid and keeps both results', async (t) => {
  const dir = testDir(t);
  const root = join(dir, 'lib');
  await generateSampleLibrary(root, { images: 150, seed: 3 });
  const spawnRun = (args: string[]) =>
    new Promise<number | null>((resolve, reject) => {
      const c = spawn(process.execPath, [CLI_PATH, ...args], { env: { ...process.env, ...CLI_ENV }, stdio: 'ignore' });
      c.on('error', reject);
      c.on('close', resolve);
    });
  for (let round = 0; round < 2; round++) {
    const codes = await Promise.all([spawnRun(['validate', root, '-q']), spawnRun(['stats', root, '-q']), spawnRun(['format-stats', root, '-q'])]);
    for (const c of codes) assert.ok(c === 0 || c === 1, `exit ${c}`);
    const s = indexStatus(root);
    assert.equal(s.valid, true, s.problem ?? '');
    assert.equal(s.option_sets, 3, 'merged: every command kept its results');
  }
  // Every command now runs entirely from the index.
  for (const c of [['validate'], ['stats'], ['format-stats']]) {
    await runCli([...c, root], { env: CLI_ENV });
    assert.equal(indexStatus(root).last_run!.misses, 0, `${c[0]} fully served`);
  }
});

test('two first runs in one process: the one that writes second merges its spool (read through in order, no references kept) with the other', async (t) => {
  const dir = testDir(t);
  const root = join(dir, 'lib');
  await generateSampleLibrary(root, { images: 120, seed: 11 });
  const path = join(dir, 'index');
  const runs: IndexRunStats[] = [];
  const index = (): IndexOptions => ({ path, ...NOW, folderRecords: false, onStats: (s) => runs.push(s) });
  // Both open the (absent) index before either writes: each spools every result with tables.
  await Promise.all([stats(root, { engine: 'inline', index: index() }), validate(root, { engine: 'inline', index: index(), onResult: () => undefined })]);
  assert.equal(runs.length, 2);
  assert.ok(runs.every((r) => r.written && r.misses > 0 && r.hits === 0), 'two first runs');
  const s = indexStatus(root, { path });
  assert.equal(s.valid, true, s.problem ?? '');
  assert.equal(s.option_sets, 2, 'the second writer kept the first one\'s results');
  runs.length = 0;
  await stats(root, { engine: 'inline', index: index() });
  await validate(root, { engine: 'inline', index: index(), onResult: () => undefined });
  assert.deepEqual(runs.map((r) => r.misses), [0, 0], 'both fully served');
});

test('a killed run leaves the previous index valid', async (t) => {
  const dir = testDir(t);
  const root = join(dir, 'lib');
  await generateSampleLibrary(root, { images: 150, seed: 5 });
  await runCli(['stats', root], { env: CLI_ENV });
  const before = indexStatus(root);
  assert.equal(before.valid, true);
  for (const delay of [80, 250, 500, 900]) {
    // A new option set forces a full write at the end of the run; kill somewhere along the way.
    const c = spawn(process.execPath, [CLI_PATH, 'validate', root, '-q'], { env: { ...process.env, ...CLI_ENV }, stdio: 'ignore' });
    const closed = new Promise((r) => c.on('close', r));
    await new Promise((r) => setTimeout(r, delay));
    c.kill('SIGKILL');
    await closed;
    const s = indexStatus(root);
    assert.equal(s.valid, true, `after a kill at ${delay} ms: ${s.problem}`);
  }
});

test('the index folder is never walked as data, hashed, or cleaned up; index clear removes it', async (t) => {
  const dir = testDir(t);
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': { json: sidecarData('IMG_1.jpg', 1) } }, join(dir, 'lib'));
  const hashBefore = await hashTree(root, {});
  const statsBefore = await runCli(['stats', root, '--no-index']);
  await runCli(['stats', root], { env: CLI_ENV });
  assert.ok(existsSync(join(root, INDEX_DIR, 'index')));
  // Something that looks like a sidecar inside the index folder must stay invisible.
  writeFileSync(join(root, INDEX_DIR, 'IMG_1.json'), '{"broken"');
  writeFileSync(join(root, INDEX_DIR, 'stray.jpg'), FAKE_JPEG);
  assert.deepEqual(await hashTree(root, {}), hashBefore);
  assert.equal((await runCli(['stats', root], { env: CLI_ENV })).stdout, statsBefore.stdout);
  const cleanup = await runCli(['cleanup', root, '--dry-run', '--json']);
  assert.doesNotMatch(cleanup.stdout, /\.image-sidecar\//);
  rmSync(join(root, INDEX_DIR, 'IMG_1.json'));
  rmSync(join(root, INDEX_DIR, 'stray.jpg'));
  const cleared = await runCli(['index', 'clear', root, '--json']);
  assert.equal(cleared.code, 0);
  assert.match(cleared.stdout, /Removed index/);
  assert.equal(existsSync(join(root, INDEX_DIR)), false);
  const status = JSON.parse((await runCli(['index', 'status', root, '--json'])).stdout) as { exists: boolean };
  assert.equal(status.exists, false);
  // --no-index reads and writes nothing.
  await runCli(['validate', root, '--no-index'], { env: CLI_ENV });
  assert.equal(existsSync(join(root, INDEX_DIR)), false);
});

test('a read-only root keeps its index in the cache directory, keyed by the root', async (t) => {
  const dir = tempDir('isc-index-ro-');
  chmodSync(dir, 0o755);
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': { json: sidecarData('IMG_1.jpg', 1) }, 'sub/IMG_2.jpg': FAKE_JPEG, 'sub/IMG_2.json': { json: sidecarData('IMG_2.jpg', 2) } }, join(dir, 'lib'));
  const cache = join(dir, 'cache');
  mkdirSync(cache, { mode: 0o777 });
  chmodSync(cache, 0o777);
  for (const d of [root, join(root, 'sub')]) chmodSync(d, 0o555);
  t.after(() => {
    for (const d of [root, join(root, 'sub')]) chmodSync(d, 0o755);
    rmSync(dir, { recursive: true, force: true });
  });
  const asRoot = process.getuid?.() === 0;
  // root ignores permissions: run as nobody then (the tree and the CLI must be readable by it).
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const c = spawn(process.execPath, [CLI_PATH, ...args], {
        env: { ...process.env, ...CLI_ENV, XDG_CACHE_HOME: cache },
        ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
      });
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (d: Buffer) => (stdout += d));
      c.stderr.on('data', (d: Buffer) => (stderr += d));
      c.on('error', reject);
      c.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  const probe = await run(['--version']);
  if (probe.code !== 0) {
    t.skip(`the CLI cannot run as an unprivileged user here: ${probe.stderr.slice(0, 200)}`);
    return;
  }
  const plain = await run(['stats', root, '--no-index']);
  const first = await run(['stats', root]);
  const second = await run(['stats', root]);
  assert.equal(first.stdout, plain.stdout);
  assert.equal(second.stdout, plain.stdout);
  assert.doesNotMatch(first.stderr + second.stderr, /warning/);
  assert.equal(existsSync(join(root, INDEX_DIR)), false, 'nothing written under the read-only root');
  const files = readdirSync(join(cache, 'image-sidecar', 'index'));
  assert.equal(files.filter((f) => !f.endsWith('.json') && !f.includes('isc-')).length, 1);
  const status = JSON.parse((await run(['index', 'status', root, '--json'])).stdout) as { where: string; entries: number; last_run: { hits: number } };
  assert.equal(status.where, 'cache');
  assert.equal(status.entries, 2);
  assert.equal(status.last_run.hits, 2);
});

test('a symlinked sidecar is identified by its target: retargeting the link is a change', async (t) => {
  const dir = testDir(t);
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'data/a.json': { json: sidecarData('IMG_1.jpg', 1) }, 'data/b.json': { json: sidecarData('IMG_1.jpg', 3) } }, join(dir, 'lib'));
  symlinkSync('data/a.json', join(root, 'IMG_1.json'));
  const index = { ...NOW, path: join(dir, 'index') };
  const a = JSON.stringify(await stats(root, { index }));
  assert.equal(JSON.stringify(await stats(root, { index })), a);
  rmSync(join(root, 'IMG_1.json'));
  symlinkSync('data/b.json', join(root, 'IMG_1.json'));
  assert.equal(JSON.stringify(await stats(root, { index })), JSON.stringify(await stats(root, {})));
});

test('saveSidecar through the library is seen by the next indexed run', async (t) => {
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': { json: sidecarData('IMG_1.jpg', 1) } }, testDir(t));
  const index = { ...NOW };
  await stats(root, { index });
  await saveSidecar(join(root, 'IMG_1.jpg'), 'yolov8', { success: true, objects: [{ class_name: 'ball', confidence: 0.9 }] });
  assert.equal(JSON.stringify(await stats(root, { index })), JSON.stringify(await stats(root, {})));
});

test('shards at once (--shard I/N): each records its own files, none drops the others\' entries', async (t) => {
  const dir = testDir(t);
  const root = join(dir, 'lib');
  await generateSampleLibrary(root, { images: 150, seed: 11 });
  const shardRun = (i: number) =>
    new Promise<number | null>((resolve, reject) => {
      const c = spawn(process.execPath, [CLI_PATH, 'stats', root, '-q', '--shard', `${i}/3`, '-o', join(dir, `s${i}.jsonl`)], { env: { ...process.env, ...CLI_ENV }, stdio: 'ignore' });
      c.on('error', reject);
      c.on('close', resolve);
    });
  const codes = await Promise.all([0, 1, 2].map(shardRun));
  for (const c of codes) assert.ok(c === 0 || c === 1, `exit ${c}`);
  const full = await runCli(['stats', root, '--no-index']);
  const warm = await runCli(['stats', root], { env: CLI_ENV });
  assert.equal(warm.stdout, full.stdout);
  const s = indexStatus(root);
  assert.equal(s.valid, true);
  assert.equal(s.last_run!.misses, 0, 'every sidecar was recorded by one of the shards');
  assert.ok(s.entries > 100);
});

test('results of another build (an upgrade, a changed rule) are dropped when the index is written, never served', async (t) => {
  const dir = testDir(t);
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': { json: sidecarData('IMG_1.jpg', 1) } }, join(dir, 'lib'));
  const path = join(dir, 'index');
  const runs: IndexRunStats[] = [];
  const index = { ...NOW, path, onStats: (s: IndexRunStats) => runs.push(s) };
  await stats(root, { index });
  // Pretend the stored results came from another build: same options, other code.
  const r = IndexReader.open(path)!;
  const header = { ...r.header, keys: r.header.keys.map((k) => ({ ...k, key: `old-${k.key}`, build: 'other-build' })) };
  const w = IndexWriter.create(`${path}.new`);
  for (const v of r.entries()) w.add(v.table, entryKey(v), entryIdentity(v), [entryPayload(v)]);
  w.finish(header);
  r.close();
  renameSync(`${path}.new`, path);
  await stats(root, { index });
  assert.equal(runs[1].hits, 0, 'another build\'s results are not served');
  const after = readIndex(path);
  assert.deepEqual(after.header.keys.map((k) => k.build), [after.header.keys[0].build], 'only this build\'s option set is kept');
  assert.notEqual(after.header.keys[0].build, 'other-build');
});

test('index writer: tables built at the end from a list (a first run\'s spool) answer as tables kept all along: same entries, a later entry with a key in place of the earlier one, colliding hashes told apart', (t) => {
  const dir = testDir(t);
  // Two keys with the same FNV-1a hash (a birthday search: ~10^5 keys).
  const seen = new Map<number, string>();
  let pair: [string, string] | null = null;
  for (let i = 0; !pair; i++) {
    const k = `d/IMG_${i}.json`;
    const h = keyHash(k);
    const other = seen.get(h);
    if (other !== undefined) pair = [other, k];
    else seen.set(h, k);
  }
  const keys = [...Array.from({ length: 3000 }, (_, i) => `f/${i}.json`), pair[0], pair[1]];
  const id = Buffer.alloc(40, 7);
  // 'sized': tables made for far more entries than come (a rewrite's `expect`), shrunk at the end.
  const write = (mode: 'table' | 'list' | 'sized') => {
    const path = join(dir, `index-${mode}`);
    const tables = mode === 'list' ? 'list' : 'table';
    const w = IndexWriter.create(path, { tables, expect: mode === 'sized' ? [40_000, 5, 0, 0] : undefined });
    keys.forEach((k, i) => w.add(TABLE_LINKS, k, id, [Buffer.from(`first ${i}`)]));
    // Written again later: this one is the live entry.
    for (const k of [keys[5], pair![0], pair![1]]) w.add(TABLE_LINKS, k, id, [Buffer.from(`again ${k}`)]);
    w.add(TABLE_DIRS, '/x', id, [Buffer.from('dir')]);
    w.finish({ format: 'image-sidecar-index', root: '/', keys: [], written: '' });
    assert.equal(w.count(TABLE_LINKS), keys.length, `${mode}: distinct keys counted`);
    return path;
  };
  const paths = [write('table'), write('list'), write('sized')];
  assert.deepEqual(paths.map((p) => statSync(p).size), paths.map(() => statSync(paths[0]).size), 'tables of the same size whichever way they were kept');
  for (const path of paths) {
    const r = IndexReader.open(path)!;
    try {
      assert.equal(r.count(TABLE_LINKS), keys.length);
      assert.equal(r.count(TABLE_DIRS), 1);
      keys.forEach((k, i) => {
        const v = r.find(TABLE_LINKS, k);
        assert.ok(v, `${path}: ${k} found`);
        const again = k === keys[5] || k === pair![0] || k === pair![1];
        assert.equal(entryPayload(v).toString(), again ? `again ${k}` : `first ${i}`, `${path}: ${k}`);
      });
      assert.equal(r.find(TABLE_LINKS, 'f/absent.json'), null);
      assert.equal(entryPayload(r.find(TABLE_DIRS, '/x')!).toString(), 'dir');
      assert.equal([...r.entries()].filter((v) => v.table === TABLE_LINKS).length, keys.length, 'replaced entries are not live');
    } finally {
      r.close();
    }
  }
});

test('index writer: a list longer than one chunk (65,536 entries) makes the table a table kept all along makes, a later entry with a key in place of the earlier one on either side of the border', (t) => {
  const dir = testDir(t);
  const n = 65_536 + 40;
  const keys = Array.from({ length: n }, (_, i) => `k/${i}.json`);
  const id = Buffer.alloc(40, 3);
  const again = [keys[3], keys[65_535], keys[65_536], keys[n - 1]];
  const write = (tables: 'list' | 'table') => {
    const path = join(dir, `index-${tables}`);
    const w = IndexWriter.create(path, { tables });
    keys.forEach((k, i) => w.add(TABLE_LINKS, k, id, [Buffer.from(`first ${i}`)]));
    for (const k of again) w.add(TABLE_LINKS, k, id, [Buffer.from(`again ${k}`)]);
    w.finish({ format: 'image-sidecar-index', root: '/', keys: [], written: '' });
    assert.equal(w.count(TABLE_LINKS), n, `${tables}: distinct keys counted`);
    return path;
  };
  for (const path of [write('list'), write('table')]) {
    const r = IndexReader.open(path)!;
    try {
      assert.equal(r.count(TABLE_LINKS), n);
      for (let i = 0; i < n; i += i < 65_500 ? 97 : 1) {
        const v = r.find(TABLE_LINKS, keys[i]);
        assert.ok(v, `${path}: ${keys[i]} found`);
        assert.equal(entryPayload(v).toString(), again.includes(keys[i]) ? `again ${keys[i]}` : `first ${i}`);
      }
      for (const k of again) assert.equal(entryPayload(r.find(TABLE_LINKS, k)!).toString(), `again ${k}`);
    } finally {
      r.close();
    }
  }
});

/** A library whose game folders link into photo folders, directly, through a folder link, and out. */
function linkedLibrary(dir: string): string {
  const root = join(dir, 'lib');
  makeTree(
    {
      'photos/d1/IMG_1.jpg': FAKE_JPEG,
      'photos/d1/IMG_1.json': { json: sidecarData('IMG_1.jpg', 1) },
      'photos/d1/IMG_2.jpg': FAKE_JPEG,
      'photos/d1/IMG_2.json': { json: sidecarData('IMG_2.jpg', 2) },
      'photos/d2/IMG_1.jpg': FAKE_JPEG,
      'photos/d2/IMG_1.json': { json: sidecarData('IMG_1.jpg', 3) },
      'photos/d2/IMG_3.jpg': FAKE_JPEG,
      'games/g1/a.jpg': { symlink: '../../photos/d1/IMG_1.jpg' },
      'games/g1/b.jpg': { symlink: '../../photos/d1/IMG_2.jpg' },
      'games/g1/c.jpg': { symlink: '../../current/IMG_1.jpg' },
      'games/g1/d.jpg': { symlink: '../../photos/d2/IMG_3.jpg' },
      'games/g1/own.jpg': FAKE_JPEG,
      'games/g1/own.json': { json: sidecarData('own.jpg', 1) },
      'current': { symlink: 'photos/d1' },
      'outside.jpg': { symlink: join(dir, 'outside/far.jpg') },
    },
    root,
  );
  makeTree({ 'far.jpg': FAKE_JPEG, 'far.json': { json: sidecarData('far.jpg', 4) } }, join(dir, 'outside'));
  return root;
}

/** Changes that leave the folder of a link as it was while its answer changes (or the folder's listing). */
const FOLDER_CHANGES: Record<string, (root: string, dir: string) => void> = {
  'a folder link re-pointed (the links through it keep their folder)': (root) => {
    rmSync(join(root, 'current'));
    symlinkSync('photos/d2', join(root, 'current'));
  },
  'a link re-pointed (rm + ln)': (root) => {
    rmSync(join(root, 'games/g1/a.jpg'));
    symlinkSync('../../photos/d2/IMG_1.jpg', join(root, 'games/g1/a.jpg'));
  },
  'a target replaced by rename': (root) => {
    writeFileSync(join(root, 'photos/d1/new.jpg'), Buffer.concat([FAKE_JPEG, Buffer.from('x')]));
    renameSync(join(root, 'photos/d1/new.jpg'), join(root, 'photos/d1/IMG_2.jpg'));
  },
  'a sidecar added next to a target': (root) => {
    writeFileSync(join(root, 'photos/d2/IMG_3.json'), JSON.stringify(sidecarData('IMG_3.jpg', 5)));
  },
  'a file added, then the folder\'s mtime put back (only ctime differs)': (root) => {
    const d = join(root, 'games/g1');
    const before = statSync(d, { bigint: true });
    writeFileSync(join(d, 'late.jpg'), FAKE_JPEG);
    utimesSync(d, FIXED_TIME, FIXED_TIME);
    utimesSync(d, FIXED_TIME, FIXED_TIME);
    const after = statSync(d, { bigint: true });
    assert.notEqual(after.ctimeNs, before.ctimeNs);
  },
  'a folder on the way moved, a folder link to it put in its place (same inode reached)': (root) => {
    renameSync(join(root, 'photos/d1'), join(root, 'photos/d1-moved'));
    symlinkSync('d1-moved', join(root, 'photos/d1'));
  },
  'the folder link removed again, the folder moved back': (root) => {
    rmSync(join(root, 'photos/d1'));
    renameSync(join(root, 'photos/d1-moved'), join(root, 'photos/d1'));
  },
  'a target removed (broken link)': (root) => rmSync(join(root, 'photos/d1/IMG_1.jpg')),
  'a target folder renamed': (root) => renameSync(join(root, 'photos/d2'), join(root, 'photos/d3')),
  'a target replaced by a folder': (root) => {
    rmSync(join(root, 'photos/d1/IMG_2.jpg'));
    mkdirSync(join(root, 'photos/d1/IMG_2.jpg'));
  },
  'the target outside the root replaced': (_root, dir) => {
    rmSync(join(dir, 'outside/far.jpg'));
    symlinkSync('../lib/photos/d1/IMG_2.json', join(dir, 'outside/far.jpg'));
  },
  'a folder moved away and an equal one put in its place': (root) => {
    renameSync(join(root, 'games/g1'), join(root, 'games/old'));
    mkdirSync(join(root, 'games/g1'));
    symlinkSync('../../photos/d1/IMG_2.jpg', join(root, 'games/g1/a.jpg'));
  },
};

test('folders and links: listings and resolutions are reused while unchanged, never after a change', async (t) => {
  const dir = testDir(t, 'isc-index-dirs-');
  const root = linkedLibrary(dir);
  utimesSync(join(root, 'games/g1'), FIXED_TIME, FIXED_TIME);
  const out = join(dir, 'out');
  mkdirSync(out);
  const indexPath = join(dir, 'idx', 'index');
  const runs: IndexRunStats[] = [];
  const warm = async () => {
    await validate(root, { index: { ...NOW, path: indexPath, onStats: (s) => runs.push(s) } });
    return runs[runs.length - 1];
  };
  await assertIdentical(root, out, 'unchanged', indexPath);
  const w = await warm();
  assert.equal(w.dirsRead, 0, 'an unchanged tree is not listed again');
  assert.ok(w.dirsReused >= 5, `folders reused: ${JSON.stringify(w)}`);
  assert.equal(w.linksResolved, 0, 'no link resolved again');
  assert.equal(w.linksReused, 5);
  for (const [kind, change] of Object.entries(FOLDER_CHANGES)) {
    change(root, dir);
    await assertIdentical(root, out, kind, indexPath);
    const after = await warm();
    assert.equal(after.dirsRead, 0, `${kind}: the next run reuses every folder again`);
  }
});

test('a folder on the way that changed elsewhere costs one lstat per name, not a new resolution', async (t) => {
  const dir = testDir(t, 'isc-index-dirs-way-');
  const root = linkedLibrary(dir);
  const indexPath = join(dir, 'idx', 'index');
  const runs: IndexRunStats[] = [];
  const index = { ...NOW, path: indexPath, onStats: (s: IndexRunStats) => runs.push(s) };
  await validate(root, { index, engine: 'inline' });
  await validate(root, { index, engine: 'inline' }); // a first run stores no link: the second does
  // `photos` is on the way of every link into photos/d1 and photos/d2; a new file there changes it.
  writeFileSync(join(root, 'photos/notes.txt'), 'x');
  const plain = JSON.stringify(await validate(root, { index: false, engine: 'inline' })).replace(/"processing_time":[-0-9.e+]+/g, '');
  const again = JSON.stringify(await validate(root, { index, engine: 'inline' })).replace(/"processing_time":[-0-9.e+]+/g, '');
  assert.equal(again, plain);
  const last = runs[runs.length - 1];
  assert.equal(last.linksResolved, 0, 'the names on the way still name the same folders: nothing resolved again');
  assert.equal(last.linksReused, 5);
});

test('a folder changed within the racy margin is not stored, nor trusted for the links into it: they are resolved again', async (t) => {
  const dir = testDir(t, 'isc-index-dirs-racy-');
  const root = linkedLibrary(dir);
  const indexPath = join(dir, 'index');
  const runs: IndexRunStats[] = [];
  const index = { path: indexPath, onStats: (s: IndexRunStats) => runs.push(s) };
  await validate(root, { index });
  await validate(root, { index });
  // Every folder was just made: none is trusted, every link is resolved on every run.
  assert.equal(runs[1].dirsReused, 0);
  assert.ok(runs[1].dirsRead >= 5);
  assert.equal(runs[1].linksReused, 0);
  assert.equal(readIndex(indexPath).dirs.length, 0, 'no folder stored');
  // Older folders are stored; one changed just now is not, and the links through it are resolved again.
  await new Promise((r) => setTimeout(r, 1200));
  writeFileSync(join(root, 'photos/d1/racy.txt'), 'x');
  const margin = { ...index, racyMarginMs: 1000 };
  await validate(root, { index: margin });
  const stored = readIndex(indexPath).dirs;
  const real = realpathSync(root);
  assert.ok(stored.includes(join(real, 'photos/d2')) && stored.includes(join(real, 'games/g1')), `older folders stored: ${stored.join(', ')}`);
  assert.ok(!stored.includes(join(real, 'photos/d1')), 'the just-changed folder is not stored');
  const text = async (i: IndexOptions | false) => withoutTimes(JSON.stringify(await validate(root, { index: i, engine: 'inline' })));
  assert.equal(await text(margin), await text(false));
  const last = runs[runs.length - 1];
  assert.deepEqual([last.linksResolved, last.linksReused], [3, 2], 'the three links into the racy folder resolved again (its identity vouches for nothing), the two others served');
  // A target in the racy folder removed and put back as another file (same name, new inode) in
  // the same tick: the folder's identity vouches for nothing, the lstat sees the new inode.
  writeFileSync(join(root, 'photos/d1/IMG_1.new'), Buffer.concat([FAKE_JPEG, Buffer.from('other')]));
  renameSync(join(root, 'photos/d1/IMG_1.new'), join(root, 'photos/d1/IMG_1.jpg'));
  assert.equal(await text(margin), await text(false));
  assert.ok(runs[runs.length - 1].linksResolved >= 2, 'the links to the replaced target are resolved again');
  rmSync(join(root, 'photos/d1/IMG_1.jpg'));
  assert.equal(await text(margin), await text(false), 'a removed target is a broken link at once');
});

test('folder records: served whole while nothing moved, record by record after a change, never stale', async (t) => {
  const dir = testDir(t, 'isc-index-folder-records-');
  const root = linkedLibrary(dir);
  for (const f of [join(root, 'photos/d1/IMG_2.json'), join(dir, 'outside/far.json')]) utimesSync(f, FIXED_TIME, FIXED_TIME);
  const indexPath = join(dir, 'idx', 'index');
  const runs: IndexRunStats[] = [];
  const index = { ...NOW, path: indexPath, onStats: (s: IndexRunStats) => runs.push(s) }; // the folder records
  const plain = async () => withoutTimes(JSON.stringify(await validate(root, { index: false, engine: 'inline' })));
  const indexed = async () => withoutTimes(JSON.stringify(await validate(root, { index, engine: 'inline' })));
  assert.equal(await indexed(), await plain());
  assert.equal(runs[0].recordsServed, 0, 'a first run has nothing to serve');
  assert.equal(readIndex(indexPath).records.length, 0, 'a first run does not pay for folder records');
  assert.equal(await indexed(), await plain());
  assert.equal(readIndex(indexPath).records.length, 0, 'nor does the second, which stores the listings and links');
  assert.equal(await indexed(), await plain());
  assert.ok(readIndex(indexPath).records.length >= 4, 'the third run stores the folders\' records');
  assert.equal(await indexed(), await plain());
  const warm = runs[runs.length - 1];
  assert.ok(warm.foldersServed >= 4 && warm.recordsServed >= 8, `records served: ${JSON.stringify(warm)}`);
  assert.equal(warm.misses, 0);
  assert.equal(warm.written, false, 'an unchanged tree does not rewrite the index');
  // One sidecar edited in place (same size, mtime put back): only its record is made again.
  CHANGES['same size, mtime restored (only ctime differs)'](join(root, 'photos/d1/IMG_2.json'));
  assert.equal(await indexed(), await plain());
  const partial = runs[runs.length - 1];
  assert.equal(partial.misses, 1, 'only the edited sidecar is read again');
  assert.ok(partial.recordsServed >= warm.recordsServed - 3, `the folder's other records are still served: ${JSON.stringify(partial)}`);
  // The link's own folder unchanged, its target's folder gains a sidecar: the link record changes.
  writeFileSync(join(root, 'photos/d2/IMG_3.json'), JSON.stringify(sidecarData('IMG_3.jpg', 5)));
  assert.equal(await indexed(), await plain());
  // A link target outside the root changes in place: the record that inspected it is made again.
  CHANGES['same size, mtime restored (only ctime differs)'](join(dir, 'outside/far.json'));
  assert.equal(await indexed(), await plain());
  assert.equal(runs[runs.length - 1].misses, 1);
  // The same root by another spelling (a link to it): records hold paths as given, never served across.
  const alias = join(dir, 'alias');
  symlinkSync(root, alias);
  const viaAlias = async (i: IndexOptions | false) => withoutTimes(JSON.stringify(await validate(alias, { index: i, engine: 'inline' })));
  assert.equal(await viaAlias(index), await viaAlias(false));
  assert.equal(await indexed(), await plain());
});

/**
 * A folder where some records changed writes only those, in a patch over its base entry
 * (folder-records.ts): the base stays byte for byte, the patch grows change by change, a quarter of
 * the folder changed writes a new base; the output is --no-index's after each change, and a run
 * after each is served whole. Edits keep size and mtime (only ctime moves) and replace by rename.
 */
test('folder records: a patch over the base holds the changed records only, then a new base; never stale', async (t) => {
  const dir = testDir(t, 'isc-index-folder-patch-');
  const spec: Record<string, Parameters<typeof makeTree>[0][string]> = {};
  const n = 12;
  for (let i = 0; i < n; i++) {
    spec[`photos/d1/IMG_${i}.jpg`] = FAKE_JPEG;
    spec[`photos/d1/IMG_${i}.json`] = { json: sidecarData(`IMG_${i}.jpg`, i % 5) };
  }
  spec['games/g1/a.jpg'] = { symlink: '../../photos/d1/IMG_3.jpg' };
  const root = makeTree(spec, join(dir, 'lib'));
  for (let i = 0; i < n; i++) utimesSync(join(root, `photos/d1/IMG_${i}.json`), FIXED_TIME, FIXED_TIME);
  const indexPath = join(dir, 'idx', 'index');
  const runs: IndexRunStats[] = [];
  const index = { ...NOW, path: indexPath, onStats: (s: IndexRunStats) => runs.push(s) }; // the folder records
  const plain = async () => withoutTimes(JSON.stringify(await validate(root, { index: false, engine: 'inline' })));
  const indexed = async () => withoutTimes(JSON.stringify(await validate(root, { index, engine: 'inline' })));
  const d1 = realpathSync(join(root, 'photos/d1'));
  /** The records entries of photos/d1: [base entry bytes, patch entry bytes or null, the patch's groups]. */
  const entriesOfD1 = () => {
    const r = IndexReader.open(indexPath)!;
    try {
      let base: Buffer | null = null;
      let patch: Buffer | null = null;
      for (const v of r.entries()) {
        if (v.table !== 3) continue;
        const key = entryKey(v);
        if (key.endsWith(`\n${d1}`)) base = Buffer.from(entryPayload(v));
        else if (key.endsWith(`\n${d1}\0+`)) patch = Buffer.from(entryPayload(v));
      }
      assert.ok(base, 'd1 has a base entry');
      return { base, patch, groups: patch ? (decodeFolder(patch)?.meta.groups ?? null) : null };
    } finally {
      r.close();
    }
  };
  assert.equal(await indexed(), await plain());
  assert.equal(await indexed(), await plain()); // stores the listings and links
  assert.equal(await indexed(), await plain()); // stores the folder records
  const stored = entriesOfD1();
  assert.equal(stored.patch, null, 'no patch yet');
  const edit = CHANGES['same size, mtime restored (only ctime differs)'];
  const changed: number[] = [];
  const change = async (i: number, how: 'edit' | 'rename') => {
    const file = join(root, `photos/d1/IMG_${i}.json`);
    if (how === 'edit') edit(file);
    else {
      writeFileSync(`${file}.tmp`, JSON.stringify(sidecarData(`IMG_${i}.jpg`, 4)));
      renameSync(`${file}.tmp`, file);
    }
    changed.push(i);
    assert.equal(await indexed(), await plain(), `after changing IMG_${i} (${how})`);
    assert.equal(runs.at(-1)!.misses, 1, 'only the changed sidecar is read again');
    assert.equal(await indexed(), await plain(), `a run after changing IMG_${i}`);
    assert.equal(runs.at(-1)!.misses, 0, 'served from the records');
  };
  await change(2, 'edit');
  let now = entriesOfD1();
  assert.deepEqual(now.base, stored.base, 'the base entry is kept byte for byte');
  assert.ok(now.patch && now.patch.length < stored.base.length / 3, 'the patch holds one record');
  // Groups are in name order: IMG_0, IMG_1, IMG_10, IMG_11, IMG_2 ...
  const groupOfImage = (i: number) => [...Array(n).keys()].map((k) => `IMG_${k}`).sort().indexOf(`IMG_${i}`);
  assert.deepEqual(now.groups, [groupOfImage(2)]);
  await change(7, 'edit');
  now = entriesOfD1();
  assert.deepEqual(now.base, stored.base, 'still the same base');
  assert.deepEqual(now.groups, [groupOfImage(2), groupOfImage(7)].sort((a, b) => a - b), 'the patch keeps the earlier change and adds this one');
  await change(3, 'edit'); // the link's target: the game folder's record changes too
  now = entriesOfD1();
  assert.deepEqual(now.groups, [2, 7, 3].map(groupOfImage).sort((a, b) => a - b));
  // A fourth record of twelve is beyond a quarter: a new base holds every record; the patch (of the
  // old base) no longer applies, and the output is still right.
  await change(9, 'edit');
  now = entriesOfD1();
  assert.notDeepEqual(now.base, stored.base, 'a new base');
  const newGen = decodeFolder(now.base)!.meta.gen;
  assert.notEqual(newGen, decodeFolder(stored.base)!.meta.gen);
  assert.ok(now.patch === null || decodeFolder(now.patch)!.meta.gen !== newGen, 'no patch over the new base');
  await change(2, 'edit'); // and a patch over the new base again
  now = entriesOfD1();
  assert.equal(decodeFolder(now.patch!)!.meta.gen, newGen);
  assert.deepEqual(now.groups, [groupOfImage(2)]);
  // Replaced by rename: the folder itself changed (its mtime and ctime), so every record is made
  // again from the per-file entries and a new base written.
  await change(6, 'rename');
  now = entriesOfD1();
  assert.notEqual(decodeFolder(now.base)!.meta.gen, newGen, 'a new base after the folder changed');
  // Two processes at once, each changing and serving the folder: every run's output right.
  edit(join(root, 'photos/d1/IMG_5.json'));
  const both = await Promise.all([0, 1].map(() => runCli(['validate', root, '--index', indexPath, '--json'], { env: CLI_ENV })));
  const expected = await runCli(['validate', root, '--no-index', '--json']);
  for (const r of both) assert.equal(withoutTimes(r.stdout), withoutTimes(expected.stdout));
  assert.equal(await indexed(), await plain(), 'after the two writers');
});

/**
 * A folder whose records partly changed is rewritten with its other records' bytes copied as they
 * were (folder-records.ts): over several rewrites of the same folders (a photo folder, and the game
 * folder whose links point into it), the output stays --no-index's, a served record's effective
 * sidecar is one of its sidecars (the same object), and a run after each is served whole.
 */
test('folder records: folders rewritten again and again keep their other records as they were, never stale', async (t) => {
  const dir = testDir(t, 'isc-index-folder-records-again-');
  const root = linkedLibrary(dir);
  for (const rel of ['photos/d1/IMG_1.json', 'photos/d1/IMG_2.json', 'photos/d2/IMG_1.json', 'games/g1/own.json']) utimesSync(join(root, rel), FIXED_TIME, FIXED_TIME);
  const indexPath = join(dir, 'idx', 'index');
  const runs: IndexRunStats[] = [];
  const index = { ...NOW, path: indexPath, onStats: (s: IndexRunStats) => runs.push(s) };
  const plain = async () => withoutTimes(JSON.stringify(await validate(root, { index: false, engine: 'inline' })));
  const indexed = async () => withoutTimes(JSON.stringify(await validate(root, { index, engine: 'inline' })));
  const effectiveIsOwn = async () => {
    let n = 0;
    for await (const rec of scan(root, { index, engine: 'inline', inspect: { validate: true } })) {
      if (rec.effective === null) continue;
      assert.ok(rec.sidecars.includes(rec.effective), `${rec.images[0]?.path ?? rec.sidecars[0].path}: effective is one of the record's sidecars`);
      n++;
    }
    return n;
  };
  assert.equal(await indexed(), await plain());
  assert.equal(await indexed(), await plain()); // stores the listings and links
  assert.equal(await indexed(), await plain()); // stores the folders' records
  assert.equal(await indexed(), await plain());
  const warm = runs.at(-1)!;
  assert.ok(warm.foldersServed >= 4 && warm.misses === 0, `served: ${JSON.stringify(warm)}`);
  const edits = ['photos/d1/IMG_1.json', 'photos/d1/IMG_2.json', 'photos/d1/IMG_1.json', 'games/g1/own.json', 'photos/d2/IMG_1.json', 'photos/d1/IMG_2.json'];
  // Each kind of change in turn: in place keeping size and mtime, replaced by rename, touched.
  const kinds: ((file: string) => void)[] = [
    (file) => {
      utimesSync(file, FIXED_TIME, FIXED_TIME); // a touched file's mtime back first: part of the same change
      CHANGES['same size, mtime restored (only ctime differs)'](file);
    },
    CHANGES['replaced by rename (same size, same mtime)'],
    (file) => utimesSync(file, new Date(), new Date()),
  ];
  for (const [k, rel] of edits.entries()) {
    const kind = k % kinds.length;
    kinds[kind](join(root, rel));
    assert.equal(await indexed(), await plain(), `after editing ${rel}`);
    const partial = runs.at(-1)!;
    assert.equal(partial.misses, 1, `${rel}: only the edited sidecar is read again`);
    if (kind === 1) {
      // A rename changes the folder (listed again, its records made again, stored by the next run).
      assert.equal(await indexed(), await plain(), `stored after editing ${rel}`);
    } else {
      assert.ok(partial.recordsServed >= warm.recordsServed - 4, `${rel}: the folders' other records are still served: ${JSON.stringify(partial)}`);
    }
    assert.equal(await indexed(), await plain(), `served after editing ${rel}`);
    const after = runs.at(-1)!;
    assert.equal(after.misses, 0, `${rel}: the rewritten folders are served whole`);
    assert.equal(after.foldersServed, warm.foldersServed, `${rel}: every folder served whole again`);
    assert.ok((await effectiveIsOwn()) > 0);
  }
  readIndex(indexPath); // every entry's checksum holds
  // Two processes at once after a change, each rewriting the same folders' entries: both outputs
  // are --no-index's, the index stays whole, and the next run is served from it.
  utimesSync(join(root, 'photos/d1/IMG_1.json'), FIXED_TIME, FIXED_TIME);
  CHANGES['same size, mtime restored (only ctime differs)'](join(root, 'photos/d1/IMG_1.json'));
  const cli = (args: string[]) =>
    new Promise<string>((resolve, reject) => {
      const c = spawn(process.execPath, [CLI_PATH, ...args], { env: { ...process.env, ...CLI_ENV }, stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.on('error', reject);
      c.on('close', () => resolve(out));
    });
  const norm = (text: string) => text.replace(/"processing_time":[-0-9.e+]+/g, '"processing_time":0');
  const expected = norm(await cli(['validate', root, '--json', '--no-index']));
  const both = await Promise.all([cli(['validate', root, '--json', '--index', indexPath]), cli(['validate', root, '--json', '--index', indexPath])]);
  for (const out of both) assert.equal(norm(out), expected, 'a run beside another one');
  readIndex(indexPath);
  assert.equal(norm(await cli(['validate', root, '--json', '--index', indexPath])), expected);
  assert.equal(norm(await cli(['validate', root, '--json', '--index', indexPath])), expected);
  const last = JSON.parse(readFileSync(`${indexPath}.last-run.json`, 'utf8')) as { misses: number; records_served: number };
  assert.equal(last.misses, 0, 'served from the index after the two runs');
  assert.ok(last.records_served > 0);
});

/**
 * A record made again is paired from the names of its partition root only (scan/session.ts groupsAgain):
 * groups of several sidecars or images, name-ext sidecars, doubled extensions and lone sidecars
 * whose name another file has (the unknown-image rule looks at the whole folder) are each edited
 * in turn; every run is --no-index's and reads only the edited file again.
 */
test('folder records: a record made again is paired from its own names, as the whole folder pairs it', async (t) => {
  const dir = testDir(t, 'isc-index-regroup-');
  const json = (img: string, faces: number) => ({ json: sidecarData(img, faces) });
  const root = makeTree(
    {
      'f/a.jpg': FAKE_JPEG,
      'f/a.json': json('a.jpg', 1),
      'f/a.jpg.json': json('a.jpg', 2),
      'f/a.JPG': FAKE_JPEG,
      'f/b.jpg': FAKE_JPEG,
      'f/b.json': json('b.jpg', 1),
      'f/c.json': json('c.heic', 3),
      'f/c.heic': FAKE_JPEG,
      'f/d.png': FAKE_JPEG,
      'f/d.png.json': json('d.png', 1),
      'f/x.jpg': FAKE_JPEG,
      'f/x.jpg.jpg': FAKE_JPEG,
      'f/x.jpg.json': json('x.jpg', 2),
      'f/x.json': json('x.jpg', 1),
      'f/lone.json': json('gone.jpg', 2),
      'f/Été.jpg': FAKE_JPEG,
      'f/Été.json': json('Été.jpg', 1),
      'f/zz.jpg': FAKE_JPEG,
      'g/l1.jpg': { symlink: '../f/a.jpg' },
      'g/l2.jpg': { symlink: '../f/x.jpg' },
    },
    join(dir, 'lib'),
  );
  const sidecars = ['f/a.json', 'f/a.jpg.json', 'f/b.json', 'f/c.json', 'f/d.png.json', 'f/x.jpg.json', 'f/x.json', 'f/lone.json', 'f/Été.json'];
  for (const rel of sidecars) utimesSync(join(root, rel), FIXED_TIME, FIXED_TIME);
  const runs: IndexRunStats[] = [];
  const index = { ...NOW, path: join(dir, 'index'), onStats: (s: IndexRunStats) => runs.push(s) };
  const plain = async () => withoutTimes(JSON.stringify(await validate(root, { index: false, engine: 'inline' })));
  const indexed = async () => withoutTimes(JSON.stringify(await validate(root, { index, engine: 'inline' })));
  assert.equal(await indexed(), await plain());
  assert.equal(await indexed(), await plain());
  assert.equal(await indexed(), await plain());
  assert.equal(runs.at(-1)!.misses, 0);
  for (const rel of sidecars) {
    CHANGES['same size, mtime restored (only ctime differs)'](join(root, rel));
    assert.equal(await indexed(), await plain(), `after editing ${rel}`);
    assert.equal(runs.at(-1)!.misses, 1, `${rel}: only it is read again`);
    assert.ok(runs.at(-1)!.recordsServed > 0, `${rel}: the folder's other records are served`);
    assert.equal(await indexed(), await plain(), `served after editing ${rel}`);
  }
});

test('folder records of validate, stats and format-stats live side by side; none rewrites the index when nothing changed', async (t) => {
  const dir = testDir(t, 'isc-index-folder-records-3-');
  const root = join(dir, 'lib');
  await generateSampleLibrary(root, { images: 60, seed: 5 });
  const indexPath = join(dir, 'index');
  const runs: IndexRunStats[] = [];
  const index = { ...NOW, path: indexPath, onStats: (s: IndexRunStats) => runs.push(s) };
  const all = async () => {
    await validate(root, { index, engine: 'inline' });
    await stats(root, { index });
    await formatStats(root, { index });
  };
  // Round 1: each command's first run (none stores a listing); 2: validate lists and stores the
  // listings and links, stats and format-stats store their records over them; 3: validate stores
  // its records; 4: every command is served.
  await all();
  await all();
  await all();
  await all();
  const last = runs.slice(-3);
  for (const r of last) {
    assert.ok(r.foldersServed > 0 && r.misses === 0, `served: ${JSON.stringify(r)}`);
    assert.equal(r.written, false, 'nothing changed: not rewritten');
  }
  assert.equal(readIndex(indexPath).header.recordKeys?.length, 3);
});

test('a corrupt folder-records entry is never trusted', async (t) => {
  const dir = testDir(t, 'isc-index-folder-records-bad-');
  const root = linkedLibrary(dir);
  const indexPath = join(dir, 'index');
  const warnings: string[] = [];
  const index = { ...NOW, path: indexPath, onWarning: (m: string) => warnings.push(m) };
  const plain = withoutTimes(JSON.stringify(await validate(root, { index: false, engine: 'inline' })));
  await validate(root, { index, engine: 'inline' });
  await validate(root, { index, engine: 'inline' }); // stores the listings and links
  await validate(root, { index, engine: 'inline' }); // stores the folder records
  // Flip a byte inside each folder-records entry's payload: its CRC no longer matches.
  const r = IndexReader.open(indexPath)!;
  const offsets: number[] = [];
  for (const v of r.entries()) if (v.table === 3) offsets.push(v.off + v.len - 5);
  r.close();
  assert.ok(offsets.length > 0);
  const bytes = readFileSync(indexPath);
  for (const o of offsets) bytes[o] ^= 0xff;
  writeFileSync(indexPath, bytes);
  assert.equal(withoutTimes(JSON.stringify(await validate(root, { index, engine: 'inline' }))), plain);
  assert.ok(warnings.some((w) => /unusable/.test(w)), `warned: ${warnings.join('; ')}`);
});

test('folder records off (the kill switch): per-file results only, the same output', async (t) => {
  const dir = testDir(t, 'isc-index-folder-records-off-');
  const root = linkedLibrary(dir);
  const runs: IndexRunStats[] = [];
  const on = { ...NOW, path: join(dir, 'on'), onStats: (s: IndexRunStats) => runs.push(s) };
  const off = { ...NOW, path: join(dir, 'off'), folderRecords: false, onStats: (s: IndexRunStats) => runs.push(s) };
  const text = async (index: IndexOptions) => withoutTimes(JSON.stringify(await stats(root, { index, list: true })));
  await text(on);
  await text(on);
  await text(on); // the third run stores the folder records
  await text(off);
  assert.equal(await text(off), await text(on));
  const [, , , , offWarm, onWarm] = runs;
  assert.equal(offWarm.recordsServed, 0, 'off: no folder records served');
  assert.equal(offWarm.misses, 0, 'off: every file a per-file hit');
  assert.ok(onWarm.recordsServed > 0, 'on: served from folder records');
  assert.equal(readIndex(join(dir, 'off')).records.length, 0, 'off: none stored');
});

/** A library of `folders` × `perFolder` images with sidecars (`faces(i)` faces each, 8-float embeddings), in dir/lib. */
function smallLibrary(dir: string, folders: number, perFolder: number, faces: (i: number) => number = () => 1): string {
  const spec: Record<string, { json: JsonObject } | Buffer> = {};
  for (let i = 0; i < folders * perFolder; i++) {
    const folder = `d${i % folders}`;
    spec[`${folder}/IMG_${i}.jpg`] = FAKE_JPEG;
    spec[`${folder}/IMG_${i}.json`] = { json: sidecarData(`IMG_${i}.jpg`, faces(i), 8) as JsonObject };
  }
  return makeTree(spec, join(dir, 'lib'));
}

/**
 * A rewrite after some sidecars changed: the changed ones' new entries replace the old ones (the
 * old ones count as met, so the loaded file is copied in one pass, entries kept byte for byte),
 * removed ones are dropped, and every entry of the rewritten file reads back with a valid checksum.
 * Before, any edit made the writer look up every entry that served folder records stood for.
 */
test('a rewrite after edits: changed entries replaced, removed ones dropped, the rest copied as they were', async (t) => {
  const dir = testDir(t, 'isc-index-rewrite-');
  const root = smallLibrary(dir, 3, 12, (i) => (i % 3) + 1);
  const path = join(dir, 'index');
  const runs: IndexRunStats[] = [];
  const index: IndexOptions = { path, ...NOW, onStats: (s) => runs.push(s) };
  const same = async (label: string) => {
    const plain = await stats(root, { index: false });
    const withIndex = await stats(root, { index });
    assert.deepEqual(withIndex, plain, label);
  };
  await same('first run');
  await same('repeat run (stores folder records)');
  const before = readIndex(path);
  const rels = (xs: string[]) => [...new Set(xs)].sort();
  // Two edits (new identities) and a new sidecar: every stored entry is met or replaced.
  writeFileSync(join(root, 'd1/IMG_1.json'), JSON.stringify(sidecarData('IMG_1.jpg', 5, 8)));
  writeFileSync(join(root, 'd2/IMG_8.json'), JSON.stringify(sidecarData('IMG_8.jpg', 4, 8)));
  writeFileSync(join(root, 'd0/IMG_3.png'), FAKE_JPEG);
  writeFileSync(join(root, 'd0/IMG_3.png.json'), JSON.stringify(sidecarData('IMG_3.png', 2, 8)));
  await same('after the edits');
  let last = runs.at(-1)!;
  assert.equal(last.misses, 3, 'the two edited sidecars and the new one were read again');
  assert.equal(last.written, true);
  assert.equal(last.pruned, false, 'nothing to drop: the loaded file is copied in one pass');
  const edited = readIndex(path); // every entry's checksum checked
  assert.deepEqual(rels(edited.files), rels([...before.files, 'd0/IMG_3.png.json']));
  assert.equal(edited.files.length, new Set(edited.files).size, 'one entry per sidecar: a replaced entry is not copied beside its replacement');
  // A removal: its entry is dropped.
  rmSync(join(root, 'd0/IMG_3.json'));
  await same('after a removal');
  last = runs.at(-1)!;
  assert.equal(last.pruned, true, 'an entry not met: the rewrite drops it');
  const after = readIndex(path);
  assert.deepEqual(rels(after.files), rels([...before.files.filter((k) => k !== 'd0/IMG_3.json'), 'd0/IMG_3.png.json']), 'the removed sidecar dropped');
  assert.equal(after.files.length, new Set(after.files).size);
  await same('served again after the rewrites');
  assert.equal(runs.at(-1)!.misses, 0, 'every result of the rewritten index is a hit');
});

// A sidecar outside the root, inspected through two image links to it, was counted as met twice
// (looked up twice, or stood for by two folders' served records): with one sidecar of the tree
// removed, the run counted every stored entry as met, never pruned, and the removed sidecar's entry
// stayed in the index for good.
test('a sidecar met through two links to one target outside the root counts once: a removed sidecar is still dropped', async (t) => {
  const dir = testDir(t, 'isc-index-met-twice-');
  mkdirSync(join(dir, 'outside'));
  writeFileSync(join(dir, 'outside/x.jpg'), FAKE_JPEG);
  writeFileSync(join(dir, 'outside/x.json'), JSON.stringify(sidecarData('x.jpg', 2, 8)));
  const root = smallLibrary(dir, 1, 3, () => 1);
  for (const f of ['a', 'b']) {
    mkdirSync(join(root, f));
    symlinkSync(join(dir, 'outside/x.jpg'), join(root, f, 'x.jpg'));
  }
  const path = join(dir, 'index');
  const runs: IndexRunStats[] = [];
  const index: IndexOptions = { path, ...NOW, onStats: (s) => runs.push(s) };
  const same = async (label: string) => {
    const plain = await stats(root, { index: false });
    assert.deepEqual(await stats(root, { index }), plain, label);
  };
  for (const label of ['first run', 'second run', 'third run', 'served run']) await same(label);
  const removed = readIndex(path).files.find((k) => k.startsWith('d0/') && k.endsWith('.json'))!;
  assert.ok(removed, 'a sidecar of the tree is stored');
  rmSync(join(root, removed));
  await same('after the removal (the links served from records)');
  assert.ok(runs.at(-1)!.foldersServed >= 2, `the links' folders served: ${JSON.stringify(runs.at(-1))}`);
  assert.equal(runs.at(-1)!.pruned, true, 'an entry not met: the rewrite drops it');
  assert.ok(!readIndex(path).files.includes(removed), 'the removed sidecar is dropped');
  // The same with the folders of the links made again (looked up, not served).
  const second = readIndex(path).files.find((k) => k.startsWith('d0/') && k.endsWith('.json'))!;
  rmSync(join(root, second));
  writeFileSync(join(root, 'a/other.txt'), 'a');
  writeFileSync(join(root, 'b/other.txt'), 'b');
  await same('after a second removal (the links looked up)');
  assert.equal(runs.at(-1)!.foldersServed, 0, 'every folder with a sidecar changed: looked up');
  assert.equal(runs.at(-1)!.pruned, true, 'an entry not met: the rewrite drops it');
  assert.ok(!readIndex(path).files.includes(second), 'the removed sidecar is dropped');
});

// A folder of links served in part (one record's target sidecar removed, the others' records still
// served): the run that prunes kept every file the folder's stored records named, valid or not, so
// the removed sidecar's entry stayed one more run (and one more rewrite) after it was gone.
test('a folder of links served in part: the removed target sidecar is dropped by the run that meets its removal', async (t) => {
  const dir = testDir(t, 'isc-index-part-served-');
  mkdirSync(join(dir, 'outside'));
  const root = smallLibrary(dir, 1, 2, () => 1);
  mkdirSync(join(root, 'a'));
  for (const n of ['x', 'y', 'z']) {
    writeFileSync(join(dir, 'outside', `${n}.jpg`), FAKE_JPEG);
    writeFileSync(join(dir, 'outside', `${n}.json`), JSON.stringify(sidecarData(`${n}.jpg`, 2, 8)));
    symlinkSync(join(dir, 'outside', `${n}.jpg`), join(root, 'a', `${n}.jpg`));
  }
  const path = join(dir, 'index');
  const runs: IndexRunStats[] = [];
  const index: IndexOptions = { path, ...NOW, onStats: (s) => runs.push(s) };
  const same = async (label: string) => assert.deepEqual(await stats(root, { index }), await stats(root, { index: false }), label);
  for (const label of ['first run', 'second run', 'third run', 'served run']) await same(label);
  assert.ok(runs.at(-1)!.foldersServed >= 1, `the links' folder served: ${JSON.stringify(runs.at(-1))}`);
  const outsideKeys = () => readIndex(path).files.filter((k) => k.includes('outside/'));
  assert.equal(outsideKeys().length, 3, 'the three targets\' sidecars stored');
  rmSync(join(dir, 'outside', 'x.json'));
  await same('after the removal');
  const last = runs.at(-1)!;
  assert.ok(last.recordsServed >= 2, `the other links' records served: ${JSON.stringify(last)}`);
  assert.equal(last.pruned, true, 'an entry not met: the rewrite drops it');
  assert.deepEqual(outsideKeys().map((k) => k.slice(k.lastIndexOf('/') + 1)).sort(), ['y.json', 'z.json'], 'the removed sidecar dropped at once, the served ones kept');
  await same('then');
  assert.deepEqual([runs.at(-1)!.misses, runs.at(-1)!.written], [0, false], `served, nothing written: ${JSON.stringify(runs.at(-1))}`);
});

// With link targets inspected for the links' records (a stats filter: --operation-type, --where), a
// link target's sidecar inside the root is met by the link's record and by its own folder's walk:
// it was counted twice, and a removed sidecar's entry was never pruned.
test('a link target inside the root, inspected for the link\'s record too, counts once as met: a removed sidecar is still dropped', async (t) => {
  const dir = testDir(t, 'isc-index-inroot-twice-');
  const root = smallLibrary(dir, 1, 3, () => 1);
  mkdirSync(join(root, 'a'));
  symlinkSync(join(root, 'd0/IMG_0.jpg'), join(root, 'a', 'x.jpg'));
  for (const folderRecords of [true, false]) {
    const path = join(dir, `index-${folderRecords}`);
    const runs: IndexRunStats[] = [];
    const index: IndexOptions = { path, ...NOW, folderRecords, onStats: (s) => runs.push(s) };
    const filter = { operationType: 'face_detection' };
    const same = async (label: string) => assert.deepEqual(await stats(root, { index, ...filter }), await stats(root, { index: false, ...filter }), `${label} (folder records ${folderRecords})`);
    for (const label of ['first run', 'second run', 'third run', 'served run']) await same(label);
    const removed = folderRecords ? 'd0/IMG_2.json' : 'd0/IMG_1.json';
    rmSync(join(root, removed));
    await same('after the removal');
    assert.equal(runs.at(-1)!.pruned, true, 'an entry not met: the rewrite drops it');
    assert.ok(!readIndex(path).files.includes(removed), 'the removed sidecar is dropped');
    await same('then');
    assert.equal(runs.at(-1)!.misses, 0, 'the target\'s entry kept');
  }
});

// A link target in a folder the walk never enters (the quarantine, a lock folder's name) is met only
// through links: left uncounted there, every whole walk found an entry not met and wrote the index
// again; counted at each link, a removed sidecar's entry was never pruned.
test('a link target in a folder the walk skips counts once as met, through its links: an unchanged tree is served, a removed sidecar dropped', async (t) => {
  const cases: { why: string; folder: string; links: string[] }[] = [
    { why: 'the quarantine, one link', folder: '.image-sidecar-quarantine/q', links: ['a/x.jpg'] },
    { why: 'the quarantine, two links in two folders', folder: '.image-sidecar-quarantine/q', links: ['a/x.jpg', 'b/x.jpg'] },
    { why: 'the quarantine, two links in one folder', folder: '.image-sidecar-quarantine/q', links: ['a/x.jpg', 'a/y.jpg'] },
    { why: 'a folder with a lock\'s name', folder: '.x.isc-lock', links: ['a/x.jpg'] },
  ];
  for (const [i, c] of cases.entries()) {
    const dir = testDir(t, `isc-index-skipped-target-${i}-`);
    const root = smallLibrary(dir, 1, 3, () => 1);
    mkdirSync(join(root, c.folder), { recursive: true });
    writeFileSync(join(root, c.folder, 'x.jpg'), FAKE_JPEG);
    writeFileSync(join(root, c.folder, 'x.json'), JSON.stringify(sidecarData('x.jpg', 2, 8)));
    for (const l of c.links) {
      mkdirSync(join(root, dirname(l)), { recursive: true });
      symlinkSync(join(root, c.folder, 'x.jpg'), join(root, l));
    }
    for (const folderRecords of [true, false]) {
      const path = join(dir, `index-${folderRecords}`);
      const runs: IndexRunStats[] = [];
      const index: IndexOptions = { path, ...NOW, folderRecords, onStats: (s) => runs.push(s) };
      const filter = { operationType: 'face_detection' };
      const same = async (label: string) => assert.deepEqual(await stats(root, { index, ...filter }), await stats(root, { index: false, ...filter }), `${c.why}, folder records ${folderRecords}: ${label}`);
      for (let r = 1; r <= 5; r++) await same(`run ${r}`);
      assert.deepEqual([runs.at(-1)!.misses, runs.at(-1)!.written], [0, false], `${c.why}, folder records ${folderRecords}: served, nothing written (${JSON.stringify(runs.at(-1))})`);
    }
    rmSync(join(root, 'd0/IMG_0.json'));
    for (const folderRecords of [true, false]) {
      const path = join(dir, `index-${folderRecords}`);
      const runs: IndexRunStats[] = [];
      await stats(root, { index: { path, ...NOW, folderRecords, onStats: (s) => runs.push(s) }, operationType: 'face_detection' });
      assert.equal(runs.at(-1)!.pruned, true, `${c.why}, folder records ${folderRecords}: an entry not met, dropped`);
      assert.ok(!readIndex(path).files.includes('d0/IMG_0.json'), `${c.why}, folder records ${folderRecords}: the removed sidecar is dropped`);
    }
  }
});

/**
 * A run that met every stored entry continues the loaded file (entries copied in one pass, new ones
 * appended, the ones they replace left as dead bytes) until the dead bytes are a quarter of the
 * entries: then a full rewrite drops them. Every run's output is --no-index's, every entry of each
 * file reads back with its checksum, and the file never grows without bound.
 */
test('a rewrite extends the loaded file while its dead entries are few, and compacts it after', async (t) => {
  const dir = testDir(t, 'isc-index-extend-');
  const root = smallLibrary(dir, 1, 8, () => 2);
  const path = join(dir, 'index');
  const runs: IndexRunStats[] = [];
  const index: IndexOptions = { path, ...NOW, onStats: (s) => runs.push(s) };
  const same = async (label: string) => {
    const plain = await validate(root, { index: false });
    const withIndex = await validate(root, { index });
    assert.deepEqual(withoutTimes(JSON.stringify(withIndex.results)), withoutTimes(JSON.stringify(plain.results)), label);
    assert.equal(withIndex.valid_files, plain.valid_files, label);
  };
  await same('first run');
  await same('repeat run');
  await same('third run (stores the folder records)');
  const fresh = statSync(path).size;
  const paths: string[] = [];
  let compacted = false;
  for (let round = 1; round <= 12; round++) {
    writeFileSync(join(root, 'd0/IMG_3.json'), JSON.stringify(sidecarData('IMG_3.jpg', 2 + (round % 3), 8)));
    await same(`edit ${round}`);
    const last = runs.at(-1)!;
    assert.equal(last.misses, 1, `edit ${round}: one file read again`);
    assert.equal(last.pruned, false, `edit ${round}: nothing to drop`);
    const file = readIndex(path); // every entry's checksum checked
    assert.equal(file.files.length, 8, `edit ${round}: one live entry per sidecar`);
    const garbage = file.header.garbage ?? 0;
    if (last.extended) assert.ok(garbage > 0, `edit ${round}: an extension counts the replaced entry as garbage`);
    else {
      compacted = true;
      assert.equal(garbage, 0, `edit ${round}: a full rewrite leaves no garbage`);
    }
    paths.push(last.extended ? 'extended' : 'rewritten');
    assert.ok(statSync(path).size < fresh * 2, `edit ${round}: the file stays bounded (${statSync(path).size} B, fresh ${fresh} B)`);
  }
  t.diagnostic(`rewrites: ${paths.join(', ')}`);
  assert.equal(paths[0], 'extended', `the first edit extends the file (${paths.join(', ')})`);
  assert.ok(compacted, `the dead bytes were dropped at some point (${paths.join(', ')})`);
  await same('served');
  assert.equal(runs.at(-1)!.misses, 0);
});

/**
 * A run that would extend the index with a few new entries writes them to a delta file next to it
 * (store.ts), never copying the base: the base stays byte for byte, the delta is replaced whole
 * (temp file + rename). Attacks: a delta whose base was replaced under it, a corrupt or cut delta,
 * a killed delta write (its temp file left), two writers at once, and a delta grown past its share
 * (the base written again with it, the delta removed). The output is --no-index's throughout.
 */
test('a delta next to the index takes a small run\'s new entries without copying the base; never trusted over another base or when damaged', async (t) => {
  const dir = testDir(t, 'isc-index-delta-');
  const root = smallLibrary(dir, 4, 20, (i) => 1 + (i % 3));
  const files = Array.from({ length: 80 }, (_, i) => join(root, `d${i % 4}/IMG_${i}.json`));
  for (const f of files) utimesSync(f, FIXED_TIME, FIXED_TIME);
  const path = join(dir, 'idx', 'index');
  const delta = `${path}.delta`;
  const runs: IndexRunStats[] = [];
  const warnings: string[] = [];
  const index: IndexOptions = { path, ...NOW, onStats: (s) => runs.push(s), onWarning: (w) => warnings.push(w) };
  const same = async (label: string) => {
    const plain = await validate(root, { index: false, engine: 'inline' });
    const withIndex = await validate(root, { index, engine: 'inline' });
    assert.deepEqual(withoutTimes(JSON.stringify(withIndex.results)), withoutTimes(JSON.stringify(plain.results)), label);
    return runs.at(-1)!;
  };
  const edit = CHANGES['same size, mtime restored (only ctime differs)'];
  await same('first run');
  await same('repeat run (stores the listings)');
  await same('third run (stores folder records)');
  const base = readFileSync(path);
  assert.equal(existsSync(delta), false);
  edit(files[5]);
  let r = await same('one edit');
  assert.ok(r.delta && r.misses === 1, `a delta: ${JSON.stringify(r)}`);
  assert.deepEqual(readFileSync(path), base, 'the base is not rewritten');
  assert.ok(statSync(delta).size < base.length / 8, 'the delta holds the new entries only');
  r = await same('served with the delta');
  assert.equal(r.misses, 0);
  assert.equal(r.written, false, 'nothing new: neither file written');
  const st = indexStatus(root, { path });
  assert.ok(st.valid && st.entries === 80 && st.bytes === base.length + statSync(delta).size, `status counts base and delta: ${JSON.stringify(st)}`);
  edit(files[6]);
  r = await same('a second edit');
  assert.ok(r.delta && r.misses === 1);
  assert.deepEqual(readFileSync(path), base, 'still the same base');
  const delta2 = readFileSync(delta);
  assert.equal(readIndex(path).files.length, 80, 'one live entry per sidecar over base and delta');
  r = await same('both edits served');
  assert.equal(r.misses, 0);

  // A delta whose base was replaced under it (another index put in place: another file id) is ignored.
  const otherPath = join(dir, 'other', 'index');
  await validate(root, { index: { ...index, path: otherPath }, engine: 'inline' });
  writeFileSync(path, readFileSync(otherPath));
  writeFileSync(delta, delta2);
  edit(files[7]);
  warnings.length = 0;
  r = await same('a delta over another base');
  assert.deepEqual(warnings, [], 'a stale delta is no damage: no warning');
  r = await same('then served');
  assert.equal(r.misses, 0);

  // A corrupt or cut delta over the right base: the index is rebuilt, with a warning.
  edit(files[8]);
  await same('a delta again');
  const good = readFileSync(delta);
  const goodBase = readFileSync(path);
  for (const [what, bytes] of [
    ['flipped byte', Buffer.from(good.map((b, i) => (i === good.length >> 1 ? b ^ 0x40 : b)))],
    ['cut', good.subarray(0, good.length - 9)],
  ] as const) {
    writeFileSync(path, goodBase);
    writeFileSync(delta, bytes);
    warnings.length = 0;
    await same(`${what} delta`);
    assert.ok(warnings.some((w) => /is unusable/.test(w)), `${what}: warned (${warnings.join('; ')})`);
    assert.equal(existsSync(delta), false, `${what}: rebuilt whole, no delta left`);
    r = await same(`${what}: then served`);
    assert.equal(r.misses, 0);
    await same(`${what}: folder records stored`); // rebuilt: the third run stores them
  }

  // A killed delta write leaves its temp file, never a delta: the index stays as it was.
  edit(files[9]);
  await same('a delta before the kill');
  const beforeKill = [readFileSync(path), readFileSync(delta)];
  writeFileSync(join(dirname(path), `.index.delta${TEMP_MARK}99999-dead0`), good.subarray(0, 100));
  r = await same('a run beside a dead writer\'s temp file');
  assert.equal(r.misses, 0);
  assert.deepEqual([readFileSync(path), readFileSync(delta)], beforeKill);

  // Two writers at once, each after an edit: outputs right, the index valid, then fully served.
  edit(files[10]);
  const both = await Promise.all([0, 1].map(() => runCli(['validate', root, '--index', path, '--json'], { env: CLI_ENV })));
  const expected = await runCli(['validate', root, '--no-index', '--json']);
  for (const b of both) assert.equal(withoutTimes(b.stdout), withoutTimes(expected.stdout));
  assert.equal(indexStatus(root, { path }).valid, true);
  r = await same('after two writers');
  assert.equal(r.misses, 0);

  // Many edits at once: past the delta's share, the base is continued with the delta's entries and
  // theirs (copied as it is, its tables taken over: no second set of tables beside it, as a
  // rewrite held), the delta removed.
  edit(files[11]);
  await same('a delta before many edits');
  assert.ok(existsSync(delta), 'a delta lies over the base');
  const baseBefore = readFileSync(path);
  for (const f of files.slice(20, 70)) edit(f);
  r = await same('many edits');
  assert.equal(r.delta, false, `not a delta: ${JSON.stringify(r)}`);
  assert.equal(r.extended, true, `the base continued: ${JSON.stringify(r)}`);
  assert.equal(existsSync(delta), false, 'the delta is removed');
  const continued = readFileSync(path);
  assert.ok(continued.subarray(0, baseBefore.length >> 1).equals(baseBefore.subarray(0, baseBefore.length >> 1)), 'the base\'s entries copied as they are');
  const after = readIndex(path); // every entry's checksum checked
  assert.equal(after.files.length, 80, 'one live entry per sidecar: the delta\'s and the edits\' replace the base\'s');
  assert.equal(after.header.keys[0].files, 80, 'the header counts them once');
  r = await same('then served');
  assert.equal(r.misses, 0);
});

/**
 * Option sets keep their numbers from run to run (the header lists them in a stable order), so a
 * health check alternating commands extends the file after an edit instead of renumbering every
 * entry; beyond eight option sets the least recently used is dropped, never the running one.
 */
/**
 * A command's first run on an index other commands filled looks nothing up (no result of its
 * option set is stored): the other commands' results are kept for each file whose identity, as the
 * thread that read it took it, is the stored one; a file rewritten in between loses them.
 */
test("a command's first run on an index another command filled keeps the other's results of unchanged files, and only those", async (t) => {
  const dir = testDir(t, 'isc-index-other-first-');
  const root = smallLibrary(dir, 4, 10);
  const runs: IndexRunStats[] = [];
  const index: IndexOptions = { path: join(dir, 'index'), ...NOW, onStats: (s) => runs.push(s) };
  await stats(root, { index });
  const files = runs.at(-1)!.recorded;
  assert.equal(files, 40);
  // Rewritten between the two commands: new bytes, new identity.
  writeFileSync(join(root, 'd1/IMG_1.json'), JSON.stringify(sidecarData('IMG_1.jpg', 3, 8)));
  const first = await validate(root, { index });
  assert.equal(runs.at(-1)!.hits, 0);
  assert.equal(runs.at(-1)!.misses, files, 'every file is read: validate has no result stored');
  const plain = await validate(root, { index: false });
  assert.equal(withoutTimes(JSON.stringify(first.results)), withoutTimes(JSON.stringify(plain.results)));
  const again = await stats(root, { index });
  assert.equal(runs.at(-1)!.misses, 1, "stats' results of the other files were kept: only the rewritten one is read again");
  assert.equal(withoutTimes(JSON.stringify(again)), withoutTimes(JSON.stringify(await stats(root, { index: false }))));
  await validate(root, { index });
  assert.equal(runs.at(-1)!.misses, 0, "validate's own results are served on its second run");
});

test('option sets keep their order: alternating commands extend the file; the least recently used of more than eight goes', async (t) => {
  const dir = testDir(t, 'isc-index-keys-');
  // Big enough that three edits leave less than a quarter of dead bytes (then a rewrite compacts).
  const root = smallLibrary(dir, 8, 10);
  const path = join(dir, 'index');
  const runs: IndexRunStats[] = [];
  // How the index file is rewritten.
  const index: IndexOptions = { path, ...NOW, onStats: (s) => runs.push(s) };
  // Every command twice (each stores its results, then its folder records).
  for (let round = 0; round < 2; round++) {
    await validate(root, { index });
    await stats(root, { index });
    await formatStats(root, { index });
  }
  const order = readIndex(path).header.keys.map((k) => k.key);
  assert.equal(order.length, 3);
  for (const [n, run] of [validate, stats, formatStats].entries()) {
    writeFileSync(join(root, `d${n}/IMG_${n}.json`), JSON.stringify(sidecarData(`IMG_${n}.jpg`, 3, 8)));
    await run(root, { index });
    // The edited file, and those the previous commands edited (their new entries lack this command's result).
    assert.equal(runs.at(-1)!.misses, n + 1);
    assert.equal(runs.at(-1)!.extended, true, `${run.name} after an edit: the file is extended`);
    assert.deepEqual(readIndex(path).header.keys.map((k) => k.key), order, 'the option sets keep their order');
  }
  // Nine schemas more (nine option sets): eight are kept, the running one among them.
  const schema = (i: number) => ({ type: 'object', title: `schema ${i}` });
  for (let i = 0; i < 9; i++) await validate(root, { index, schema: schema(i) });
  const keys = readIndex(path).header.keys;
  assert.equal(keys.length, 8);
  for (const k of order) assert.ok(!keys.some((x) => x.key === k), 'the least recently used went first');
  const plain = await validate(root, { index: false, schema: schema(8) });
  const again = await validate(root, { index, schema: schema(8) });
  assert.equal(withoutTimes(JSON.stringify(again.results)), withoutTimes(JSON.stringify(plain.results)));
  assert.equal(runs.at(-1)!.misses, 0, 'the running option set kept its results');
});

/**
 * The report names the engine sized for every file, served or not: a run served from folder
 * records on a tree big enough for threads said "inline, 1 worker" where --no-index says threads
 * (records served whole were never counted in the work the runtime sizes itself by).
 */
test('a run served from folder records reports the engine --no-index reports (a tree big enough for threads)', async (t) => {
  const dir = testDir(t, 'isc-index-engine-');
  const root = join(dir, 'lib');
  const body = JSON.stringify({ face_detection: { success: true, faces: [{ bbox: [1, 2, 3, 4], confidence: 0.9 }] } });
  const files = THREADS_BREAK_EVEN_FILES + 100;
  for (let i = 0; i < files; i++) {
    const d = join(root, `d${i % 16}`);
    if (i < 16) mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `IMG_${i}.jpg`), FAKE_JPEG);
    writeFileSync(join(d, `IMG_${i}.json`), body);
  }
  const runs: IndexRunStats[] = [];
  const index: IndexOptions = { path: join(dir, 'index'), ...NOW, onStats: (s) => runs.push(s) };
  const opts = { engine: 'auto' as const, workers: 2 };
  const plain = await validate(root, { ...opts, index: false });
  assert.deepEqual(plain.scan.engine, { kind: 'threads', workers: 2 }, 'the tree is big enough for threads');
  for (const run of ['first', 'second', 'third', 'served']) {
    const r = await validate(root, { ...opts, index });
    assert.deepEqual(r.scan.engine, plain.scan.engine, `${run} run: the engine reported`);
    assert.equal(withoutTimes(JSON.stringify(r.results)), withoutTimes(JSON.stringify(plain.results)), `${run} run: results`);
  }
  assert.ok(runs.at(-1)!.recordsServed >= files, 'the last run was served from folder records');
});

test('with a passphrase the index is used: every run (a new keyring, a new random salt) has the same options key', async (t) => {
  const { passphraseKeyring } = await import('../src/crypto/keys.js');
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': '{"face_detection": {"success": true, "faces": []}}', 'IMG_2.jpg': FAKE_JPEG, 'IMG_2.json': '{"yolov8": {"success": true}}' }, testDir(t));
  for (const p of ['IMG_1.json', 'IMG_2.json']) utimesSync(join(root, p), FIXED_TIME, FIXED_TIME);
  const runs: IndexRunStats[] = [];
  const index = { ...NOW, onStats: (s: IndexRunStats) => runs.push(s) };
  // Each run builds its keyring from IMAGE_SIDECAR_PASSPHRASE, as every CLI process does.
  await validate(root, { index, keyring: passphraseKeyring('correct horse') });
  await validate(root, { index, keyring: passphraseKeyring('correct horse') });
  assert.equal(runs[1].hits, 2, 'the second run with the same passphrase read every file again');
  const status = await indexStatus(root);
  assert.equal(status.option_sets, 1, 'each passphrase run added an option set to the index');
  // Another passphrase is another options key (an encrypted file's result depends on it).
  await validate(root, { index, keyring: passphraseKeyring('battery staple') });
  assert.equal(runs[2].hits, 0);
});

test('a folder of images without sidecars keeps its folder records: the third run is served whole and writes nothing (regression: its entry failed its own checksum, the index was rewritten on every run)', async (t) => {
  const dir = testDir(t, 'isc-index-image-only-');
  const root = makeTree({ 'a/IMG_1.jpg': FAKE_JPEG, 'a/IMG_1.json': { json: sidecarData('IMG_1.jpg', 1) }, 'f/g/y.jpg': FAKE_JPEG, 'f/g/z.jpg': FAKE_JPEG }, join(dir, 'lib'));
  const runs: IndexRunStats[] = [];
  const index = { ...NOW, path: join(dir, 'idx', 'index'), onStats: (s: IndexRunStats) => runs.push(s) };
  const plain = withoutTimes(JSON.stringify(await validate(root, { index: false, engine: 'inline' })));
  for (let i = 0; i < 4; i++) assert.equal(withoutTimes(JSON.stringify(await validate(root, { index, engine: 'inline' }))), plain);
  const last = runs.at(-1)!;
  assert.equal(last.foldersServed, 2, `both folders with records served: ${JSON.stringify(last)}`);
  assert.equal(last.written, false, 'nothing changed: the index is not written again');
  const entries = readIndex(join(dir, 'idx', 'index')).records;
  assert.equal(entries.length, 2, `a record entry per folder with images: ${entries.join(', ')}`);
});
