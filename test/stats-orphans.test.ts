/**
 * stats are per image: a sidecar without an image — an orphan, the sidecar of an image type not in
 * the extension set (unknown-image), lone twins — is a sidecar file (`sidecar_files`) in its
 * category and nothing else. `total_sidecars` (the earlier tool's key: one readable sidecar per
 * image record) used to count orphans, and their operations, faces, formats and success flags fed
 * `operation_counts`, `success_rate_percentages`, `faces`, `format_distribution`, ... although
 * the README says orphans are not read for the statistics.
 *
 * Attacked by adding image-less sidecars of every kind (random operations, flags, faces, formats,
 * folders) to random trees: every statistic but `sidecar_files` and `categories` must stay what
 * the tree without them gives, unsharded and merged from shards, through the library and the CLI.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stats, type TreeStats } from '../src/ops/stats.js';
import { exportSidecars } from '../src/ops/export.js';
import { statsShard, type LineSink } from '../src/shard/run.js';
import { mergeShards } from '../src/shard/merge.js';
import { encodeSidecar } from '../src/formats/codec.js';
import { parseJson, runCli } from './helpers/cli.js';
import { FAKE_JPEG, makeTree, testDir, type TreeNode } from './helpers/tree.js';
import type { JsonObject } from '../src/types.js';
import { mulberry32 } from './helpers/mulberry32.js';

function rng(seed: number) {
  const next = mulberry32(seed);
  const int = (n: number) => Math.floor(next() * n);
  return { int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)], chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof rng>;

const OPS = ['face_detection', 'yolov8', 'quality_assessment', 'pose_detection', 'orphans_only_op'];

/** Sidecar data with some operations, flags, faces, objects, times and a grade. */
function sidecar(r: Rng, ops: readonly string[]): JsonObject {
  const data: JsonObject = {};
  const n = 1 + r.int(ops.length);
  for (const op of ops.slice(0, n)) {
    const v: JsonObject = {};
    if (r.chance(0.8)) v.success = r.chance(0.5);
    if (op === 'face_detection') v.faces = Array.from({ length: r.int(4) }, (_, i) => ({ face_id: i, confidence: 0.5, encoding: [0.1, 0.2] })) as JsonObject[];
    else if (op === 'quality_assessment') v.quality = { grade: r.pick(['A', 'B', 'F']), overall_score: r.int(100) };
    else v.objects = Array.from({ length: r.int(3) }, (_, i) => ({ object_id: i, class_name: r.pick(['person', 'dog']) })) as JsonObject[];
    v.processing_time = r.int(1000) / 100;
    data[op] = v;
  }
  data.sidecar_info = { operation_type: ops[0], created_at: '2025-01-01T00:00:00+00:00' };
  return data;
}

function put(r: Rng, spec: Record<string, TreeNode>, rel: string, data: JsonObject, format: string): void {
  spec[`${rel}.${format}`] = format === 'json' ? JSON.stringify(data, null, 2) : encodeSidecar(data, format === 'rkyv' ? 'rkyv' : 'bin');
}

/** The images of a tree (paired, missing) and, apart, its image-less sidecars. */
function trees(seed: number): { images: Record<string, TreeNode>; imageless: Record<string, TreeNode> } {
  const r = rng(seed);
  const images: Record<string, TreeNode> = {};
  const imageless: Record<string, TreeNode> = {};
  const folders = ['', 'a/', 'a/b/', 'c/'];
  for (let i = 0; i < 10 + r.int(15); i++) {
    const rel = `${r.pick(folders)}IMG_${i}`;
    images[`${rel}.jpg`] = FAKE_JPEG;
    if (r.chance(0.8)) put(r, images, rel, sidecar(r, OPS.slice(0, 3)), r.pick(['json', 'json', 'bin']));
  }
  // Image-less sidecars: operations the images have and ones only they have, every format.
  const turn = r.int(OPS.length);
  const orphanOps = [...OPS.slice(turn), ...OPS.slice(0, turn)];
  for (let i = 0; i < 1 + r.int(6); i++) put(r, imageless, `${r.pick(folders)}gone_${i}`, sidecar(r, orphanOps), r.pick(['json', 'bin', 'rkyv']));
  // An image type not in the extension set beside its sidecar: unknown-image, never an orphan.
  const u = `${r.pick(folders)}raw_${seed}`;
  imageless[`${u}.xyz`] = 'raw';
  put(r, imageless, u, sidecar(r, orphanOps), 'json');
  // Lone twins: two sidecars of one missing image.
  const tw = `${r.pick(folders)}twin_${seed}`;
  put(r, imageless, tw, sidecar(r, orphanOps), 'json');
  put(r, imageless, tw, sidecar(r, orphanOps), 'bin');
  return { images, imageless };
}

/** What the image-less files may change: their files and categories (and the root's name). */
function perImage(s: TreeStats): object {
  const { sidecar_files: _f, categories: _c, directory: _d, ...rest } = s;
  return rest;
}

class Collect implements LineSink {
  text = '';
  write(s: string): undefined {
    this.text += s;
    return undefined;
  }
}

const ENGINE = { engine: 'inline' as const, index: false as const };
const FILTERS: { operationType?: string; where?: string }[] = [{}, { operationType: 'face_detection' }, { operationType: 'pose_detection' }, { where: 'faces > 0 or yolov8 failed' }];

describe('stats: sidecars without an image feed no statistic', () => {
  it('random trees: adding orphans, unknown-image sidecars and lone twins changes only sidecar_files and categories; total_sidecars = images exported', async (t) => {
    for (let seed = 1; seed <= 8; seed++) {
      const { images, imageless } = trees(seed);
      const plain = makeTree(images, testDir(t));
      const mixed = makeTree({ ...images, ...imageless }, testDir(t));
      for (const f of FILTERS) {
        const a = await stats(plain, { ...ENGINE, ...f });
        const b = await stats(mixed, { ...ENGINE, ...f });
        assert.deepEqual(perImage(b), perImage(a), `seed ${seed} ${JSON.stringify(f)}`);
        const imagelessFiles = Object.keys(imageless).filter((k) => /\.(json|bin|rkyv)$/.test(k)).length;
        if (!f.operationType && !f.where) {
          assert.equal(b.sidecar_files, a.sidecar_files + imagelessFiles, `seed ${seed}: every image-less file is a sidecar file`);
          assert.ok(b.categories.orphan >= 1 && b.categories['unknown-image'] === 1, `seed ${seed}: ${JSON.stringify(b.categories)}`);
          const exported = await exportSidecars(mixed, { ...ENGINE, format: 'jsonl', output: join(testDir(t), 'e.jsonl') });
          assert.equal(b.total_sidecars, exported.exported, `seed ${seed}: total_sidecars is one per image record with a readable sidecar`);
          const listed = await stats(mixed, { ...ENGINE, list: true });
          assert.equal(listed.sidecars!.length, b.total_sidecars, `seed ${seed}: --list`);
          assert.ok(listed.sidecars!.every((e) => e.image !== null), `seed ${seed}: --list lists image records only`);
        }
      }
    }
  });

  it('stats --shard + merge equal unsharded stats on trees with image-less sidecars (N = 1, 2, 3, 5)', async (t) => {
    for (const seed of [3, 11]) {
      const { images, imageless } = trees(seed);
      const root = makeTree({ ...images, ...imageless }, testDir(t));
      const out = testDir(t);
      for (const f of FILTERS.slice(0, 2)) {
        const whole = JSON.stringify(await stats(root, { ...ENGINE, ...f }));
        for (const n of [1, 2, 3, 5]) {
          const paths: string[] = [];
          for (let i = 0; i < n; i++) {
            const c = new Collect();
            await statsShard(root, { ...ENGINE, ...f, shard: { index: i, count: n } }, c);
            const p = join(out, `s${seed}-${n}-${i}-${f.operationType ?? 'all'}.jsonl`);
            writeFileSync(p, c.text);
            paths.push(p);
          }
          assert.equal(JSON.stringify((await mergeShards(paths)).result), whole, `seed ${seed} N=${n} ${JSON.stringify(f)}`);
        }
      }
    }
  });

  it('CLI: stats --json and merged --shard outputs leave image-less sidecars out of the statistics', async (t) => {
    const { images, imageless } = trees(5);
    const plain = makeTree(images, testDir(t));
    const mixed = makeTree({ ...images, ...imageless }, testDir(t));
    const a = parseJson<TreeStats>(await runCli(['stats', plain, '--json', '-q']));
    const b = parseJson<TreeStats>(await runCli(['stats', mixed, '--json', '-q']));
    assert.deepEqual(perImage(b), perImage(a));
    const out = testDir(t);
    const files: string[] = [];
    for (let i = 0; i < 3; i++) {
      const f = join(out, `stats-${i}.jsonl`);
      const r = await runCli(['stats', mixed, '--shard', `${i}/3`, '-o', f, '-q']);
      assert.equal(r.code, 0, r.stderr);
      files.push(f);
    }
    const merged = parseJson<TreeStats>(await runCli(['merge', ...files, '--json']));
    assert.deepEqual(merged, b);
  });
});
