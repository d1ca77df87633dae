/**
 * validate's results with the index after edits of the tree's first record and its last, records
 * of several results (an image with three sidecars), records of none (--where leaving them out,
 * then taking them in), results with problems beside ones without (a schema), an orphan and a
 * sidecar that is not JSON, and the same record changed again and again: every run as without the
 * index, result for result and in order.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validate } from '../src/index.js';
import { commands, firstDiff, noTimes, show, warm, type CmdName, type Run } from './helpers/index-parity.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir, type TreeNode } from './helpers/tree.js';

function library(t: TestContext): string {
  const spec: Record<string, TreeNode> = {};
  const side = (rel: string, img: string, faces: number) => (spec[rel] = { json: sidecarData(img, faces, faces === 2 ? 128 : 8) });
  const photo = (rel: string, faces = 1) => {
    spec[`${rel}.jpg`] = FAKE_JPEG;
    side(`${rel}.json`, `${rel}.jpg`, faces);
  };
  // The first record of the tree, of two results.
  spec['!first.jpg'] = FAKE_JPEG;
  side('!first.json', '!first.jpg', 1);
  side('!first.jpg.json', '!first.jpg', 2);
  // Three sidecars for one image, two images for one root.
  spec['m/multi.jpg'] = FAKE_JPEG;
  spec['m/multi.png'] = FAKE_JPEG;
  side('m/multi.json', 'm/multi.jpg', 0);
  side('m/multi.jpg.json', 'm/multi.jpg', 2);
  side('m/multi.png.json', 'm/multi.png', 3);
  // Orphan sidecars, and a sidecar that is not JSON.
  side('m/orphan.json', 'm/orphan.jpg', 2);
  spec['m/broken.jpg'] = FAKE_JPEG;
  spec['m/broken.json'] = '{"face_detection": {"success": true, "faces": [1, 2';
  for (let f = 0; f < 5; f++) for (let k = 0; k < 10; k++) photo(`fill/${f}/f${k}`, k % 3);
  // The last record of the tree.
  photo('zzz/last', 2);
  return makeTree(spec, testDir(t, 'index-validate-results-'));
}

/** A sidecar's faces count in its metadata and its success flag, rewritten (resized or not). */
function rewrite(file: string, round: number): void {
  const before = statSync(file);
  const text = readFileSync(file, 'utf8');
  let next: string;
  if (text.startsWith('{"face_detection": {"success": true, "faces": [1, 2')) next = text.replace('[1, 2', '[1, 3');
  else if (round % 3 === 0) next = text.replace(/"success": (true|false)/, (_m, v: string) => `"success": ${v === 'true' ? 'false' : 'true'}`);
  else if (round % 3 === 1) next = text.replace(/"faces_found": (\d+)/, (_m, v: string) => `"faces_found": ${(Number(v) + 1) % 10}`);
  else next = text.replace(/"confidence": 0\.(\d)/, (_m, d: string) => `"confidence": 0.${(Number(d) + 3) % 10}`);
  assert.notEqual(next, text, `${file} round ${round}`);
  writeFileSync(file, next);
  if (round % 2 === 0 && next.length === text.length) utimesSync(file, before.atime, before.mtime);
}

const ROUNDS: string[][] = [
  ['!first.jpg.json'],
  ['zzz/last.json'],
  ['m/multi.jpg.json', 'm/multi.png.json'],
  ['m/orphan.json', '!first.json'],
  ['m/broken.json'],
  ['m/multi.json', 'zzz/last.json', '!first.jpg.json'],
  ['m/multi.jpg.json'],
];

async function attack(t: TestContext, name: CmdName | 'validate schema'): Promise<void> {
  const root = library(t);
  const indexPath = join(root, '.image-sidecar', 'index');
  const runs: Run[] = [];
  const schema = { type: 'object', required: ['sidecar_info'], properties: { face_detection: { type: 'object', properties: { success: { const: true } } } } };
  const cmd =
    name === 'validate schema'
      ? async (w: boolean) => noTimes(await validate(root, { schema, index: w ? { path: indexPath, racyMarginMs: 0, onStats: (s) => void runs.push({ how: s.misses === 0 && !s.written ? 'served' : 'read', misses: s.misses, recordsServed: s.recordsServed, statsAhead: s.statsAhead ?? 0 }) } : false }))
      : commands(root, indexPath, runs)[name];
  await warm(cmd, runs, name, root);
  for (const [r, edits] of ROUNDS.entries()) {
    for (const rel of edits) rewrite(join(root, rel), r);
    const want = await cmd(false);
    for (let k = 0; k < 2; k++) {
      const got = await cmd(true);
      assert.ok(got === want, `${name} round ${r} run ${k} (${show(runs)}): ${firstDiff(got, want)}`);
    }
  }
}

for (const name of ['validate', 'validate kept', 'validate where', 'validate op', 'validate schema'] as const) {
  test(`validate's results with the index after edits of first, last, multi-result and problem records: ${name}`, async (t) => {
    await attack(t, name);
  });
}
