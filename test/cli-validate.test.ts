/** `validate` and `validate-json` end to end through the built CLI. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasScript, makeCornerTree, makeTree, FAKE_JPEG, parseJson, removeTree, runCli, runCliTty, sidecarData, tempDir } from './helpers/cli.js';

interface Result {
  file_path: string;
  is_valid: boolean;
  error: string | null;
  processing_time: number;
  file_size: number;
  detection_count: number;
  tool_name: string | null;
  operation_type: string | null;
  category: string;
  problems: { pointer: string; message: string; severity: string }[];
}
interface Report {
  results: Result[];
  total_files: number;
  valid_files: number;
  invalid_files: number;
  scan_complete: boolean;
  engine: { kind: string; workers: number };
}

const LEGACY_KEYS = ['file_path', 'is_valid', 'error', 'processing_time', 'file_size', 'detection_count', 'tool_name', 'operation_type'];

describe('cli validate', () => {
  let root: string;
  let outDir: string;
  const p = (rel: string) => join(root, rel);
  before(() => {
    root = makeCornerTree();
    outDir = tempDir();
  });
  after(() => {
    removeTree(root);
    removeTree(outDir);
  });

  it('validates every sidecar of the tree (nested, upper-case ext, Unicode, orphan), not reports or link targets twice', async () => {
    const r = await runCli(['validate', root]);
    assert.equal(r.code, 1, 'a corrupt file is a finding');
    assert.ok(r.stdout.startsWith('{"results":[\n'), 'streamed document');
    const rep = parseJson<Report>(r);
    const files = rep.results.map((x) => x.file_path).sort();
    const expected = [
      'photos/DSC_0042.json',
      'photos/IMG_1.json',
      'photos/broken.json',
      'photos/q.json',
      'photos/Ünïcode café.json',
      'photos/lost.json',
      'photos/2025/09/20/20250920_143022.json',
      'photos/2025/09/20/20250920_143022_001.json',
    ].map(p).sort();
    assert.deepEqual(files, expected);
    assert.equal(rep.total_files, 8);
    assert.equal(rep.valid_files, 7);
    assert.equal(rep.invalid_files, 1);
    assert.equal(rep.scan_complete, true);
    for (const res of rep.results) for (const k of LEGACY_KEYS) assert.ok(k in res, `${k} in result`);
    const broken = rep.results.find((x) => x.file_path === p('photos/broken.json'))!;
    assert.equal(broken.is_valid, false);
    assert.match(broken.error!, /invalid JSON/);
    const img1 = rep.results.find((x) => x.file_path === p('photos/IMG_1.json'))!;
    assert.equal(img1.is_valid, true);
    assert.equal(img1.error, null);
    assert.equal(img1.detection_count, 3, '2 faces + 1 object');
    assert.equal(img1.operation_type, 'face_detection', 'snake_case, not the Rust enum spelling');
    assert.equal(img1.tool_name, 'insightface');
    assert.equal(img1.file_size, readFileSync(p('photos/IMG_1.json')).length);
    assert.equal(rep.results.find((x) => x.file_path === p('photos/DSC_0042.json'))!.category, 'ok', 'DSC_0042.JPG pairs with its sidecar');
    assert.equal(rep.results.find((x) => x.file_path === p('photos/lost.json'))!.category, 'orphan');
  });

  it('a clean tree exits 0', async () => {
    const clean = makeTree({ 'a/IMG_1.jpg': FAKE_JPEG, 'a/IMG_1.json': { json: sidecarData('IMG_1.jpg', 1, 4) } });
    const r = await runCli(['validate', '--input', clean]);
    assert.equal(r.code, 0);
    const rep = parseJson<Report>(r);
    assert.equal(rep.total_files, 1);
    assert.equal(rep.invalid_files, 0);
    removeTree(clean);
  });

  it('--operation-type filters results (any spelling); corrupt files are always reported', async () => {
    const [snake, legacy, none] = await Promise.all([
      runCli(['validate', root, '--operation-type', 'quality_assessment']),
      runCli(['validate', root, '--operation-type', 'Quality_assessor']),
      runCli(['validate', root, '--operation-type', 'pose_detection']),
    ]);
    const files = (r: Awaited<ReturnType<typeof runCli>>) => parseJson<Report>(r).results.map((x) => x.file_path).sort();
    assert.deepEqual(files(snake), [p('photos/broken.json'), p('photos/q.json')]);
    assert.deepEqual(files(legacy), files(snake));
    assert.deepEqual(files(none), [p('photos/broken.json')]);
  });

  it('--workers and --engine are used (the earlier tool ignored --workers), results unchanged', async () => {
    const [one, two] = await Promise.all([
      runCli(['validate', root, '--engine', 'threads', '--workers', '1']),
      runCli(['validate', root, '--engine', 'threads', '-w', '2']),
    ]);
    const a = parseJson<Report>(one);
    const b = parseJson<Report>(two);
    assert.deepEqual(a.engine, { kind: 'threads', workers: 1 });
    assert.deepEqual(b.engine, { kind: 'threads', workers: 2 });
    const strip = (rep: Report) => rep.results.map(({ processing_time: _t, ...rest }) => rest);
    assert.deepEqual(strip(a), strip(b));
    const inline = parseJson<Report>(await runCli(['validate', root, '--engine', 'inline', '--workers', '4']));
    assert.deepEqual(inline.engine, { kind: 'inline', workers: 1 });
  });

  it('--jsonl writes one result per line, then one summary line; the totals also go to stderr', async () => {
    const r = await runCli(['validate', root, '--jsonl']);
    assert.equal(r.code, 1);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 9);
    const parsed = lines.slice(0, -1).map((l) => JSON.parse(l) as Result);
    assert.equal(parsed.filter((x) => !x.is_valid).length, 1);
    assert.ok(parsed.every((x) => !('type' in x)));
    const summary = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
    assert.equal(summary.type, 'summary');
    assert.equal(summary.total_files, 8);
    assert.equal(summary.valid_files, 7);
    assert.equal(summary.invalid_files, 1);
    assert.equal(summary.scan_complete, true);
    // The same totals as the JSON document
    const doc = parseJson<Record<string, unknown>>(await runCli(['validate', root]));
    for (const k of ['total_files', 'valid_files', 'invalid_files', 'scan_complete', 'directory']) assert.deepEqual(summary[k], doc[k], k);
    assert.match(r.stderr, /Validated 8 sidecar files: 7 valid, 1 invalid/);
  });

  it('-o FILE writes the whole document there; stdout gets one line', async () => {
    const out = join(outDir, 'validate.json');
    const r = await runCli(['validate', root, '-o', out]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, `Validated 8 sidecar files: 7 valid, 1 invalid; results written to ${out}\n`);
    const rep = JSON.parse(readFileSync(out, 'utf8')) as Report;
    assert.equal(rep.results.length, 8);
  });

  it('--schema adds the schema check to the built-in rules', async () => {
    const schema = join(outDir, 'needs-yolo.schema.json');
    writeFileSync(schema, JSON.stringify({ type: 'object', required: ['yolov8'] }));
    const r = await runCli(['validate', root, '--schema', schema]);
    const rep = parseJson<Report>(r);
    const q = rep.results.find((x) => x.file_path === p('photos/q.json'))!;
    assert.equal(q.is_valid, false);
    assert.match(q.error!, /yolov8/);
    assert.equal(rep.invalid_files, 2);
    const bad = join(outDir, 'bad.schema.json');
    writeFileSync(bad, '{"type": 12}');
    const e = await runCli(['validate', root, '--schema', bad]);
    assert.equal(e.code, 2);
    assert.match(e.stderr, /\[SCHEMA\]/);
    assert.equal(e.stdout, '', 'nothing half-written on stdout');
  });

  it('on a terminal: a summary listing the invalid files', { skip: !hasScript() && 'util-linux script not available' }, async () => {
    const r = await runCliTty(['validate', root], { env: { NO_COLOR: '1' } });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^Validated /);
    assert.match(r.stdout, /\n {2}invalid +1\n/);
    assert.match(r.stdout, /Invalid files:\n {2}.*broken\.json: invalid JSON/);
    assert.doesNotMatch(r.stdout, /"results"/);
  });

  it('validate-json: NDJSON for the listed files, in list order (CRLF and blank lines tolerated)', async () => {
    const list = join(outDir, 'list.txt');
    const missing = p('photos/not-there.json');
    writeFileSync(list, [p('photos/q.json'), p('photos/broken.json'), '', missing, p('photos/Ünïcode café.json')].join('\r\n') + '\r\n');
    const r = await runCli(['validate-json', '--input', list, '--output', '-', '--workers', '2']);
    assert.equal(r.code, 1);
    const rows = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Result);
    assert.deepEqual(rows.map((x) => x.file_path), [p('photos/q.json'), p('photos/broken.json'), missing, p('photos/Ünïcode café.json')]);
    assert.deepEqual(rows.map((x) => x.is_valid), [true, false, false, true]);
    assert.match(rows[2].error!, /ENOENT|does not exist/);
    for (const row of rows) for (const k of LEGACY_KEYS) assert.ok(k in row, k);
    // The same result objects as validate gives for the tree.
    const tree = parseJson<Report>(await runCli(['validate', root]));
    const fromTree = tree.results.find((x) => x.file_path === p('photos/q.json'))!;
    const { processing_time: _a, category: _c1, ...listed } = rows[0];
    const { processing_time: _b, category: _c2, ...scanned } = fromTree;
    assert.deepEqual(listed, scanned);
    const file = join(outDir, 'listed.ndjson');
    const toFile = await runCli(['validate-json', '-i', list, '-o', file]);
    assert.equal(toFile.code, 1);
    assert.equal(toFile.stdout, `Validated 4 sidecar files: 2 valid, 2 invalid; results written to ${file}\n`);
    assert.equal(readFileSync(file, 'utf8').trimEnd().split('\n').length, 4);
  });

  it('validate-json reads the list from stdin with --input -, filters by --operation-type', async () => {
    const input = `${p('photos/q.json')}\n${p('photos/IMG_1.json')}\n`;
    const r = await runCli(['validate-json', '--input', '-', '--operation-type', 'yolov8'], { input });
    assert.equal(r.code, 0);
    const rows = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Result);
    assert.deepEqual(rows.map((x) => x.file_path), [p('photos/IMG_1.json')]);
    const missingList = await runCli(['validate-json', '--input', join(outDir, 'nope.txt')]);
    assert.equal(missingList.code, 2);
    assert.match(missingList.stderr, /\[NOT_FOUND\]: list file does not exist/);
  });
});

describe('inputs of unknown size (--schema, --data) are read only up to their limit', () => {
  it('a --schema stream past 64 MiB is TOO_LARGE, read no further (a whole-file read of /dev/zero grew without end); a small one from a pipe works', async () => {
    const dir = tempDir('isc-input-limit-');
    try {
      const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': { json: sidecarData('IMG_1.jpg', 1, 4) } }, dir);
      // A FIFO: its size is unknown until it ends (as /dev/zero, a device, never ends).
      const fifo = join(dir, 'schema.pipe');
      if (spawnSync('mkfifo', [fifo]).status !== 0) return;
      const big = Buffer.alloc(64 * 1024 * 1024 + 1, 0x20); // spaces: what a whole read would hand JSON.parse
      const writer = createWriteStream(fifo);
      writer.on('error', () => undefined); // EPIPE once the reader stops at the limit
      writer.end(big);
      const r = await runCli(['validate', root, '--schema', fifo, '-q']);
      writer.destroy();
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /error \[TOO_LARGE\]: .*schema\.pipe: more than 67108864 bytes/);
      const small = createWriteStream(fifo);
      small.end('{"type":"object"}');
      const ok = await runCli(['validate', root, '--schema', fifo, '-q']);
      assert.equal(ok.code, 0, ok.stderr);
      const w = await runCli(['write', join(root, 'IMG_1.jpg'), '--operation', 'x', '--data', '-', '-q'], { input: '{"success":true}' });
      assert.equal(w.code, 0, w.stderr);
    } finally {
      removeTree(dir);
    }
  });
});

describe('validate: a kept copy written after the file reads take', () => {
  it('is a warning on the copy and exit 1, with and without the index, in every run (it was a silent "kept", exit 0: the newer results out of every read\'s view)', async () => {
    const root = tempDir();
    try {
      const { utimesSync } = await import('node:fs');
      writeFileSync(join(root, 'P.jpg'), FAKE_JPEG);
      writeFileSync(join(root, 'P.json'), '{"sidecar_info": {"operation_type": "a"}, "a": {"v": 1}}');
      assert.equal((await runCli(['convert', root, '-f', 'bin', '--keep-source', '-q'])).code, 0);
      const clean = await runCli(['validate', root, '--json']);
      assert.equal(clean.code, 0, 'an equal copy older than the .bin is no finding');
      const soon = new Date(Date.now() + 3000);
      utimesSync(join(root, 'P.json'), soon, soon); // the same data, newer (a cp, an unzip, a checkout)
      const equal = await runCli(['validate', root, '--json', '--no-index']);
      assert.equal(equal.code, 0, `an equal copy newer than the .bin holds nothing reads miss: ${equal.stderr}`);
      writeFileSync(join(root, 'P.json'), '{"sidecar_info": {"operation_type": "a"}, "a": {"v": 2}}'); // another tool writes the JSON
      const later = new Date(Date.now() + 5000);
      utimesSync(join(root, 'P.json'), later, later);
      for (const args of [['--no-index'], [], [], []]) {
        const r = await runCli(['validate', root, '--json', ...args]);
        assert.equal(r.code, 1, `${args}: ${r.stderr}`);
        const kept = (parseJson(r) as { results: { file_path: string; category: string; is_valid: boolean; problems: { message: string; severity: string }[] }[] }).results.find((x) => x.file_path.endsWith('P.json'))!;
        assert.deepEqual([kept.category, kept.is_valid, kept.problems.map((p) => p.severity)], ['kept', true, ['warning']]);
        assert.match(kept.problems[0].message, /P\.json modified after P\.bin, which reads take/);
        assert.match(r.stderr, /1 kept copy was modified after the file reads take/);
      }
      // In shards and their merge too (a shard and the merge exited 0).
      const shard = await runCli(['validate', root, '--shard', '0/1', '-o', join(root, '..', 'kv-shard.jsonl')]);
      assert.equal(shard.code, 1, shard.stderr);
      const merged = await runCli(['merge', join(root, '..', 'kv-shard.jsonl'), '-o', join(root, '..', 'kv-merged.json')]);
      assert.equal(merged.code, 1, merged.stderr);
      assert.match(merged.stderr, /1 kept copy was modified after the file reads take/);
    } finally {
      removeTree(root);
    }
  });
});
