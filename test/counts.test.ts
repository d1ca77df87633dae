/**
 * One tree, one count (issue 11): every tree command's headline count is "sidecar files" (README
 * "Categories"), named so in the human output and equal in the JSON of each; the other counts say
 * their unit — stats' `total_sidecars` (the earlier tool's key: sidecars read, one per image) and
 * export's images. The expected number of the hand-built tree is worked out here, file by file.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generateSampleLibrary } from '../src/sample/index.js';
import { hasScript, parseJson, runCli, runCliTty } from './helpers/cli.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir, type TreeNode } from './helpers/tree.js';

function paired(prefix: string, n: number): Record<string, TreeNode> {
  const spec: Record<string, TreeNode> = {};
  for (let i = 0; i < n; i++) {
    spec[`${prefix}IMG_${i}.jpg`] = FAKE_JPEG;
    spec[`${prefix}IMG_${i}.json`] = { json: sidecarData(`IMG_${i}.jpg`, 1, 4) };
  }
  return spec;
}

type Json = Record<string, any>;

/** The headline count of each command, read from its JSON under the key it has always used. */
async function jsonCounts(root: string, out: string): Promise<Record<string, number>> {
  const j = async (args: string[]) => parseJson<Json>(await runCli([...args, '--json', '-q'], { timeoutMs: 60_000 }));
  const exp = await j(['export', root, '-o', join(out, 'e.json')]);
  return {
    'stats.sidecar_files': (await j(['stats', root])).sidecar_files,
    'format-stats.total_files': (await j(['format-stats', root])).total_files,
    'validate.total_files': (await j(['validate', root])).total_files,
    'cleanup.sidecarFiles': (await j(['cleanup', root, '--dry-run'])).sidecarFiles,
    'convert.sidecar_files': (await j(['convert', root, '-f', 'bin', '--dry-run'])).sidecar_files,
    'export.sidecar_files': exp.sidecar_files,
  };
}

describe('one tree, one count', () => {
  it('a hand-built tree: 16 sidecar files in every command, whatever else it holds', async (t) => {
    const root = makeTree(
      {
        ...paired('a/', 12), // 12
        'a/IMG_0.bin': 'stale twin', // 13: a second (corrupt) candidate of IMG_0
        'a/bad.jpg': FAKE_JPEG,
        'a/bad.json': '{ nope', // 14: corrupt
        'a/gone.json': { json: sidecarData('gone.jpg', 1, 4) }, // 15: orphan
        'a/x.xyz': 'raw',
        'a/x.json': { json: sidecarData('x.xyz', 1, 4) }, // 16: unknown-image
        'a/game_detection.json': { json: { success: true, games: [] } }, // a report: sidecar-named, not a sidecar file
        'a/notes.txt': 'not counted',
        'a/.image-sidecar.json': { json: {} }, // the config file: not a sidecar
        'b/IMG_0.jpg': { symlink: '../a/IMG_0.jpg' }, // its sidecar is counted where it lies, once
        'c/only.jpg': FAKE_JPEG,
      },
      testDir(t),
    );
    const counts = await jsonCounts(root, testDir(t));
    assert.deepEqual(counts, Object.fromEntries(Object.keys(counts).map((k) => [k, 16])));
    // The other counts name their unit: images exported, sidecars read for the statistics.
    const st = parseJson<Json>(await runCli(['stats', root, '--json']));
    assert.ok(st.total_sidecars < 16, `total_sidecars counts sidecars read (one per image), ${st.total_sidecars}`);
    const out = join(testDir(t), 'x.json');
    const ex = await runCli(['export', root, '-o', out]);
    assert.match(ex.stdout, /^Exported (\d+) images to: /);
    const exported = Number(/^Exported (\d+)/.exec(ex.stdout)![1]);
    assert.equal(exported, (parseJson<Json>(await runCli(['export', root, '-o', out, '--json']))).exported);
  });

  it('the sample library: every command reports the same sidecar files (stats, format-stats, validate, cleanup, convert, export, sample)', async (t) => {
    const root = join(testDir(t), 'lib');
    const sample = parseJson<Json>(await runCli(['sample', root, '--images', '600', '--seed', '1', '--json'], { timeoutMs: 60_000 }));
    const counts = await jsonCounts(root, testDir(t));
    const values = new Set([...Object.values(counts), sample.sidecars]);
    assert.equal(values.size, 1, JSON.stringify({ ...counts, 'sample.sidecars': sample.sidecars }));
    // The numbers that differ from it are the ones with another unit.
    const st = parseJson<Json>(await runCli(['stats', root, '--json']));
    assert.ok(st.total_sidecars !== st.sidecar_files, 'the sample has files that are not read for the statistics (corrupt, twins, orphans)');
  });

  it('human output: each command\'s headline line is "sidecar files N"; export also says "images exported"', { skip: hasScript() ? false : 'no `script` for a pseudo-terminal' }, async (t) => {
    const root = join(testDir(t), 'lib');
    await generateSampleLibrary(root, { images: 200, seed: 4 });
    const n = parseJson<Json>(await runCli(['stats', root, '--json'])).sidecar_files as number;
    const line = new RegExp(`^\\s*sidecar files\\s+${n}\\b`, 'm');
    const out = testDir(t);
    for (const args of [['stats', root], ['format-stats', root], ['validate', root], ['cleanup', root, '--dry-run'], ['convert', root, '-f', 'bin', '--dry-run'], ['export', root, '-o', join(out, 'e.csv'), '-f', 'csv']]) {
      const r = await runCliTty([...args, '-q'], { timeoutMs: 60_000 });
      assert.match(r.stdout, line, `${args[0]}:\n${r.stdout.slice(0, 1500)}`);
    }
    const ex = await runCliTty(['export', root, '-o', join(out, 'e2.csv'), '-f', 'csv', '-q']);
    assert.match(ex.stdout, /^Exported (\d+) images to: .*\n\s*images exported\s+\1\n/m);
    const sample = await runCliTty(['sample', join(out, 's'), '--images', '50', '-q']);
    const sn = parseJson<Json>(await runCli(['stats', join(out, 's'), '--json'])).sidecar_files as number;
    assert.match(sample.stdout, new RegExp(`^\\s*sidecar files\\s+${sn}\\b`, 'm'));
  });
});
