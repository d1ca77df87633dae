/**
 * `format-stats` JSON keeps every key of the earlier tool's object (docs: ../shared/reference
 * LEGACY.md, `{directory, format_distribution, total_files, generated_at}`), as export keeps
 * `exported_at`: `generated_at` is there, always null (no timestamp: runs stay byte-identical),
 * in the CLI's output, the library's result and a merge of shards. It was missing: a wrapper
 * reading `report["generated_at"]` failed with KeyError. Found checking the old CLI's output shapes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { formatStats } from '../src/ops/format-stats.js';
import { runCli } from './helpers/cli.js';
import { FAKE_JPEG, putFile, testDir } from './helpers/tree.js';

describe('format-stats keeps the earlier tool keys', () => {
  it('generated_at is null in the library, the CLI (under the old flags) and merged shards', async (t) => {
    const dir = testDir(t);
    putFile(dir, 'lib/A.jpg', FAKE_JPEG);
    putFile(dir, 'lib/A.json', '{"yolov8": {"success": true}}');
    putFile(dir, 'lib/B.jpg', FAKE_JPEG);
    putFile(dir, 'lib/B.json', '{"a": ');
    const lib = join(dir, 'lib');

    const lib1 = await formatStats(lib);
    assert.ok('generated_at' in lib1);
    assert.equal(lib1.generated_at, null);

    const r = await runCli(['format-stats', '--input', lib, '--output', '-']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as Record<string, unknown>;
    for (const k of ['directory', 'format_distribution', 'total_files', 'generated_at']) assert.ok(k in doc, `missing ${k}`);
    assert.equal(doc.generated_at, null);

    const shards = [0, 1].map((i) => join(dir, `fs-${i}.jsonl`));
    for (const [i, out] of shards.entries()) {
      const s = await runCli(['format-stats', lib, '--shard', `${i}/2`, '-o', out]);
      assert.equal(s.code, 0, s.stderr);
    }
    const merged = await runCli(['merge', ...shards, '-o', '-']);
    assert.equal(merged.code, 0, merged.stderr);
    assert.equal(merged.stdout, r.stdout, 'merged shards give the unsharded bytes');
  });
});
