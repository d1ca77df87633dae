/**
 * The earlier tool's Python wrappers, replayed: exactly the argv of LEGACY.md's "Calls seen", a
 * non-zero exit treated as failure, stdout parsed as JSON (or matched with the wrappers' regexes),
 * and the keys they read.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAKE_JPEG, makeTree, removeTree, runCli, sidecarData, tempDir, type CliResult } from './helpers/cli.js';

/** subprocess.run(capture_output=True, text=True) + "non-zero exit is a failure". */
async function wrapperRun(args: string[]): Promise<CliResult> {
  const r = await runCli(args);
  assert.equal(r.code, 0, `wrapper would fail: exit ${r.code}\n${r.stderr}`);
  return r;
}

/** json.loads(result.stdout) */
function loads(r: CliResult): any {
  return JSON.parse(r.stdout);
}

describe('legacy wrapper calls', () => {
  let lib: string;
  let out: string;
  before(() => {
    // A healthy library (the wrappers treat a non-zero exit as failure) with one orphan.
    lib = makeTree({
      'IMG_1.jpg': FAKE_JPEG,
      'IMG_1.json': { json: sidecarData('IMG_1.jpg', 2, 8) },
      '20250920_143022.jpg': FAKE_JPEG,
      '20250920_143022.json': { json: sidecarData('20250920_143022.jpg', 1, 8) },
      '20250920_143022_001.jpg': FAKE_JPEG,
      '20250920_143022_001.json': { json: sidecarData('20250920_143022_001.jpg', 0, 8) },
      'sub/20250920_143023.jpg': FAKE_JPEG,
      'sub/20250920_143023.json': { json: sidecarData('20250920_143023.jpg', 1, 8) },
      'sub/img_001.jpg': FAKE_JPEG,
      'sub/img_001.json': { json: sidecarData('img_001.jpg', 1, 8) },
      'sub/DSC_0042.JPG': FAKE_JPEG,
      'sub/DSC_0042.json': { json: sidecarData('DSC_0042.JPG', 1, 8) },
      'sub/20250920_143024.json': { json: sidecarData('20250920_143024.jpg', 1, 8) }, // orphan: its image is gone
      'game_detection.json': { json: { success: true, games: [], summary: {} } },
    });
    out = tempDir();
  });
  after(() => {
    removeTree(lib);
    removeTree(out);
  });

  it('validate --input D --workers N: results[] keys, total_files, invalid_files', async () => {
    const res = loads(await wrapperRun(['validate', '--input', lib, '--workers', '16']));
    assert.equal(res.total_files, 7);
    assert.equal(res.invalid_files, 0);
    assert.equal(res.results.length, 7);
    for (const r of res.results) {
      assert.equal(typeof r.file_path, 'string');
      assert.equal(r.is_valid, true);
      assert.equal(r.error, null);
      assert.equal(typeof r.processing_time, 'number');
      assert.equal(typeof r.file_size, 'number');
      assert.equal(typeof r.detection_count, 'number');
      assert.ok(r.tool_name === null || typeof r.tool_name === 'string');
    }
  });

  it('validate --input D --workers N --operation-type OP', async () => {
    const res = loads(await wrapperRun(['validate', '--input', lib, '--workers', '4', '--operation-type', 'face_detection']));
    assert.equal(res.total_files, 7);
    const none = loads(await wrapperRun(['validate', '--input', lib, '--workers', '4', '--operation-type', 'quality_assessment']));
    assert.equal(none.total_files, 0);
    assert.deepEqual(none.results, []);
  });

  it('stats --input D [--operation-type OP]: the whole object; total_sidecars', async () => {
    const st = loads(await wrapperRun(['stats', '--input', lib]));
    // The six images' sidecars: the orphan is a sidecar file, not read for the statistics.
    assert.equal(st.total_sidecars, 6);
    assert.equal(st.total_images, 6);
    assert.equal(st.coverage_percentage, 100);
    const filtered = loads(await wrapperRun(['stats', '--input', lib, '--operation-type', 'yolov8']));
    assert.equal(filtered.total_sidecars, 6);
    assert.equal(filtered.filter_applied, 'yolov8');
  });

  it('format-stats --input D --output -: format_distribution', async () => {
    const fs = loads(await wrapperRun(['format-stats', '--input', lib, '--output', '-']));
    assert.equal(fs.format_distribution.Json, 7);
    assert.equal(fs.format_distribution.Binary, 0);
    assert.equal(fs.format_distribution.Rkyv, 0);
    assert.equal(fs.total_files, 7);
  });

  it('validate-json --input LISTFILE --output - --workers N: NDJSON, one result per line', async () => {
    const list = join(out, 'list.txt');
    const files = ['IMG_1.json', 'sub/img_001.json', 'sub/DSC_0042.json'].map((f) => join(lib, f));
    writeFileSync(list, files.join('\n') + '\n');
    const r = await wrapperRun(['validate-json', '--input', list, '--output', '-', '--workers', '2']);
    const rows = r.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((x) => x.file_path), files);
    assert.ok(rows.every((x) => x.is_valid === true));
  });

  it('export --input D --output P --format json|csv: file written, `Exported (\\d+)` in stdout', async () => {
    const pj = join(out, 'export.json');
    const rj = await wrapperRun(['export', '--input', lib, '--output', pj, '--format', 'json']);
    assert.equal(Number(/Exported (\d+)/.exec(rj.stdout)![1]), 6, 'one per image; the orphan has no image');
    const doc = JSON.parse(readFileSync(pj, 'utf8'));
    assert.equal(doc.total_sidecars, 6);
    assert.equal(doc.source_directory, lib);
    assert.equal(doc.sidecars.length, 6);
    const pc = join(out, 'export.csv');
    const rc = await wrapperRun(['export', '--input', lib, '--output', pc, '--format', 'csv']);
    assert.equal(Number(/Exported (\d+)/.exec(rc.stdout)![1]), 6);
    const rows = readFileSync(pc, 'utf8').trimEnd().split('\r\n');
    assert.equal(rows.length, 7, 'header + 6 rows (the earlier tool printed "not yet implemented")');
  });

  it('convert --input D --format F [--dry-run]: exit 0, nothing changes in a dry run', async () => {
    const copy = makeTree({ 'a/IMG_1.jpg': FAKE_JPEG, 'a/IMG_1.json': { json: sidecarData('IMG_1.jpg', 1, 8) }, 'a/game_detection.json': { json: { success: true, games: [] } } });
    const before = readFileSync(join(copy, 'a/IMG_1.json'));
    const dry = await wrapperRun(['convert', '--input', copy, '--format', 'binary', '--dry-run']);
    assert.match(dry.stdout, /Would convert 1 sidecar files to bin/);
    assert.deepEqual(readFileSync(join(copy, 'a/IMG_1.json')), before);
    assert.equal(existsSync(join(copy, 'a/IMG_1.bin')), false);
    const real = await wrapperRun(['convert', '--input', copy, '--format', 'binary']);
    assert.match(real.stdout, /Converted 1 sidecar files to bin/);
    assert.equal(existsSync(join(copy, 'a/IMG_1.bin')), true);
    assert.equal(existsSync(join(copy, 'a/IMG_1.json')), false);
    assert.equal(existsSync(join(copy, 'a/game_detection.json')), true, 'reports are never converted');
    removeTree(copy);
  });

  it('cleanup --input D --dry-run: nothing removed and `Removed (\\d+)` never matches a plan', async () => {
    const r = await wrapperRun(['cleanup', '--input', lib, '--dry-run']);
    assert.equal(/Removed (\d+)/.exec(r.stdout), null);
    assert.match(r.stdout, /Would remove 1 orphaned sidecar files/);
    assert.equal(existsSync(join(lib, 'sub/20250920_143024.json')), true);
  });

  it('cleanup --input D: `Removed (\\d+)` counts only the orphan (bursts and subfolders kept)', async () => {
    const r = await wrapperRun(['cleanup', '--input', lib]);
    assert.equal(Number(/Removed (\d+)/.exec(r.stdout)![1]), 1);
    assert.equal(existsSync(join(lib, 'sub/20250920_143024.json')), false);
    for (const kept of ['20250920_143022.json', '20250920_143022_001.json', 'sub/img_001.json', 'sub/DSC_0042.json', 'game_detection.json']) {
      assert.equal(existsSync(join(lib, kept)), true, kept);
    }
    const again = await wrapperRun(['cleanup', '--input', lib]);
    assert.equal(Number(/Removed (\d+)/.exec(again.stdout)![1]), 0);
  });
});
