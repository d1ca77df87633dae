/** `stats`, `format-stats` and `sample` end to end: figures, filters, determinism, exit codes. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAKE_JPEG, makeCornerTree, makeTree, parseJson, removeTree, runCli, sidecarData, tempDir } from './helpers/cli.js';

/** The earlier tool's binary layout: u64-LE length + compact JSON. */
function legacyBin(data: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(data), 'utf8');
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(body.length));
  return Buffer.concat([head, body]);
}

describe('cli stats and format-stats', () => {
  let root: string;
  let sample: string;
  before(async () => {
    root = makeCornerTree();
    // A sidecar in the earlier tool's binary layout next to its image.
    makeTree({ 'legacy/L1.jpg': FAKE_JPEG, 'legacy/L1.bin': legacyBin(sidecarData('L1.jpg', 1, 4)) }, root);
    sample = tempDir();
    const r = await runCli(['sample', join(sample, 'lib'), '--images', '60', '--seed', '7']);
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => {
    removeTree(root);
    removeTree(sample);
  });

  it('stats: the earlier tool keys, fixed coverage (never above 100 %), sorted keys, no per-sidecar list by default', async () => {
    const r = await runCli(['stats', '--input', root]);
    assert.equal(r.code, 0);
    const st = parseJson<Record<string, any>>(r);
    for (const k of ['directory', 'total_images', 'symlink_count', 'broken_symlinks', 'total_sidecars', 'coverage_percentage', 'operation_counts', 'avg_processing_times', 'success_rate_percentages', 'avg_data_sizes', 'filter_applied']) {
      assert.ok(k in st, k);
    }
    assert.equal(st.directory, root);
    assert.equal(st.total_images, 9, '8 image files + 1 symlinked image');
    assert.equal(st.symlink_count, 1);
    // One per image record with a readable sidecar: 6 in photos/ and legacy/L1; the orphan
    // photos/lost.json is a sidecar file (sidecar_files, categories.orphan), not read for these.
    assert.equal(st.total_sidecars, 7);
    assert.equal(st.categories.orphan, 1);
    assert.equal(st.coverage_percentage, Math.round((8 / 9) * 10000) / 100);
    assert.deepEqual(st.operation_counts, { face_detection: 6, quality_assessment: 1, yolov8: 6 });
    assert.equal(st.avg_processing_times.face_detection, 0.25, 'filled in (always empty in the earlier tool)');
    assert.equal(st.filter_applied, null);
    assert.equal('sidecars' in st, false);
    assert.deepEqual(Object.keys(st), Object.keys(st).slice().sort());
  });

  it('stats --operation-type and --list', async () => {
    const st = parseJson<Record<string, any>>(await runCli(['stats', root, '--operation-type', 'Quality_assessor', '--list']));
    assert.equal(st.filter_applied, 'Quality_assessor');
    assert.equal(st.total_sidecars, 1);
    assert.deepEqual(st.operation_counts, { quality_assessment: 1 });
    assert.deepEqual(st.sidecars.map((s: { path: string }) => s.path), ['photos/q.json']);
    const all = parseJson<Record<string, any>>(await runCli(['stats', root, '--list']));
    assert.equal(all.sidecars.length, all.total_sidecars);
    assert.ok(all.sidecars.some((s: { path: string }) => s.path === 'photos/Ünïcode café.json'));
  });

  it('format-stats counts by content, not by extension', async () => {
    const r = await runCli(['format-stats', '--input', root, '--output', '-']);
    assert.equal(r.code, 0);
    const fs = parseJson<Record<string, any>>(r);
    assert.deepEqual(fs.format_distribution, { Binary: 0, Corrupt: 1, Encrypted: 0, Json: 7, Legacy: 1, Rkyv: 0, Unreadable: 0 });
    assert.deepEqual(fs.extension_distribution, { bin: 1, json: 8 });
    assert.equal(fs.total_files, 9, 'the directory report is not a sidecar');
  });

  it('deterministic: same stdout bytes run after run and with 1 or 2 worker threads', async () => {
    const lib = join(sample, 'lib');
    const runs = await Promise.all([
      runCli(['stats', lib, '--list']),
      runCli(['stats', lib, '--list']),
      runCli(['stats', lib, '--list', '--engine', 'threads', '--workers', '1']),
      runCli(['stats', lib, '--list', '--engine', 'threads', '--workers', '2']),
    ]);
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    assert.ok(runs[0].stdout.length > 1000);
    for (const r of runs.slice(1)) assert.equal(r.stdout, runs[0].stdout);
    const fs1 = await runCli(['format-stats', lib, '--engine', 'threads', '--workers', '2']);
    const fs2 = await runCli(['format-stats', lib, '--engine', 'inline']);
    assert.equal(fs1.code, 0, fs1.stderr);
    assert.equal(fs2.code, 0, fs2.stderr);
    assert.equal(fs1.stdout, fs2.stdout);
  });

  it('sample: same seed → same library (tree digest), and it reports what it made', async () => {
    const again = join(sample, 'again');
    const r = await runCli(['sample', '--input', again, '--images', '60', '--seed', '7']);
    assert.equal(r.code, 0);
    const rep = parseJson<Record<string, any>>(r);
    assert.equal(rep.images, 60);
    assert.ok(rep.sidecars > 0);
    const [h1, h2] = await Promise.all([runCli(['hash', join(sample, 'lib')]), runCli(['hash', again])]);
    assert.equal(parseJson(h1).digest, parseJson(h2).digest);
  });

  it('exit 1 (with the figures) when the scan was incomplete; stderr says why', async () => {
    const dir = makeTree({ 'a.jpg': FAKE_JPEG, 'a.json': { json: sidecarData('a.jpg', 1, 4) } });
    // A file name that is not valid UTF-8 cannot be addressed: the scan is incomplete.
    writeFileSync(Buffer.concat([Buffer.from(dir + '/b'), Buffer.from([0xff]), Buffer.from('.json')]), '{}');
    const [st, fs] = await Promise.all([runCli(['stats', dir]), runCli(['format-stats', dir])]);
    assert.equal(st.code, 1);
    assert.equal(parseJson(st).scan_complete, false);
    assert.equal(parseJson(st).total_sidecars, 1);
    assert.match(st.stderr, /warning: the scan was incomplete/);
    assert.equal(fs.code, 1);
    assert.equal(parseJson(fs).scan_complete, false);
    removeTree(dir);
  });
});

describe('operation names that are Object.prototype members', () => {
  let dir: string;
  before(() => {
    dir = tempDir();
  });
  after(() => removeTree(dir));

  it('are counted like any other (regression: "constructor" counted "function Object() { [native code] }1", "__proto__" was lost)', async () => {
    const text =
      '{"sidecar_info": {"image_path": "IMG_1.jpg"}, "constructor": {"success": false, "processing_time": 1.5, "data": {"a": 1}},' +
      ' "__proto__": {"success": true, "processing_time": 2.5, "data": {"b": [1, 2]}}, "hasOwnProperty": {"success": true, "data": {}},' +
      ' "face_detection": {"success": true, "processing_time": 0.5, "data": {"faces": []}}}';
    const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': text, 'IMG_2.jpg': FAKE_JPEG, 'IMG_2.json': text }, join(dir, 'lib'));
    for (const engine of ['inline', 'threads']) {
      // Twice: the second run is served from the index.
      for (const indexArgs of [['--no-index'], [], []]) {
        const r = await runCli(['stats', root, '--json', '--engine', engine, '--workers', '2', ...indexArgs]);
        const s = parseJson(r) as Record<string, Record<string, unknown>>;
        const how = `${engine} ${indexArgs.join(' ') || 'index'}`;
        assert.deepEqual(s.operation_counts, { ['__proto__']: 2, constructor: 2, face_detection: 2, has_own_property: 2 }, how);
        assert.deepEqual(s.avg_processing_times, { ['__proto__']: 2.5, constructor: 1.5, face_detection: 0.5 }, how);
        assert.deepEqual(s.success_rate_percentages, { ['__proto__']: 100, constructor: 0, face_detection: 100, has_own_property: 100 }, how);
        for (const [op, size] of Object.entries(s.avg_data_sizes)) assert.equal(typeof size, 'number', `${how}: ${op}`);
      }
    }
  });
});

describe('stats keys taken from the data', () => {
  it('operations and quality grades named like Object.prototype members ("constructor", "__proto__", "toString") are counted like any other, sharded and merged to the same bytes', async () => {
    const dir = tempDir('isc-proto-keys-');
    try {
      const op = (ms: number) => JSON.stringify({ success: true, processing_time: ms });
      const spec: Record<string, string | Buffer> = {};
      for (const i of [1, 2, 3]) {
        spec[`IMG_${i}.jpg`] = FAKE_JPEG;
        // As text: an object literal's "__proto__" would set the prototype, not a key.
        const grade = i === 1 ? 'constructor' : '__proto__';
        spec[`IMG_${i}.json`] = `{"__proto__":${op(2 * i)},"constructor":${op(i)},"hasOwnProperty":${op(3)},"quality_assessment":{"success":true,"quality":{"grade":"${grade}"}}}`;
      }
      const root = makeTree(spec, dir);
      const r = await runCli(['stats', root, '-q']);
      assert.equal(r.code, 0, r.stderr);
      const st = JSON.parse(r.stdout);
      // Expected values parsed from text too ("__proto__" in a literal is the prototype).
      assert.deepEqual(st.operation_counts, JSON.parse('{"__proto__":3,"constructor":3,"has_own_property":3,"quality_assessment":3}'));
      assert.deepEqual(st.success_rate_percentages, JSON.parse('{"__proto__":100,"constructor":100,"has_own_property":100,"quality_assessment":100}'));
      assert.equal(st.avg_processing_times.constructor, 2);
      assert.equal(st.avg_processing_times.__proto__, 4);
      assert.equal(typeof st.avg_data_sizes.constructor, 'number');
      assert.deepEqual(st.quality_grades, JSON.parse('{"__proto__":2,"constructor":1}'));
      // Shards add up to the same bytes.
      const parts = [join(dir, 's0.jsonl'), join(dir, 's1.jsonl')];
      for (const [i, p] of parts.entries()) assert.equal((await runCli(['stats', root, '--shard', `${i}/2`, '-q', '-o', p])).code, 0);
      const merged = await runCli(['merge', ...parts, '-q']);
      assert.equal(merged.stdout, r.stdout);
    } finally {
      removeTree(dir);
    }
  });
});

describe('processing times that are not durations', () => {
  it('(1.7e308) are not averaged, as a non-number is not: unsharded and shards merged give the same bytes (regression: the exact sum overflowed, the average printed null and shards merged it as 0)', async () => {
    const dir = tempDir('isc-huge-times-');
    try {
      const spec: Record<string, string | Buffer> = {};
      const times = [1.7e308, 1.7e308, -1e308, 2, 4];
      times.forEach((t, i) => {
        spec[`IMG_${i}.jpg`] = FAKE_JPEG;
        spec[`IMG_${i}.json`] = `{"face_detection":{"success":true,"processing_time":${t},"faces":[]}}`;
      });
      const root = makeTree(spec, dir);
      const r = await runCli(['stats', root, '-q', '--no-index']);
      assert.equal(r.code, 0, r.stderr);
      const st = JSON.parse(r.stdout);
      assert.equal(st.avg_processing_times.face_detection, 3);
      const parts = [join(dir, 's0.jsonl'), join(dir, 's1.jsonl')];
      for (const [i, p] of parts.entries()) assert.equal((await runCli(['stats', root, '--shard', `${i}/2`, '-q', '--no-index', '-o', p])).code, 0);
      const merged = await runCli(['merge', ...parts, '-q']);
      assert.equal(merged.stdout, r.stdout);
    } finally {
      removeTree(dir);
    }
  });
});
