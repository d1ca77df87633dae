/**
 * Previews that preview: `convert --dry-run --list` shows every action (source → target, skip
 * reason, conflict) and changes nothing; on a terminal a short plan is shown in full by default.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasScript, parseJson, runCli, runCliTty } from './helpers/cli.js';
import { FAKE_JPEG, makeTree, removeTree, sidecarData } from './helpers/tree.js';
import { snapshotTree as snapshotDir } from './reliability/fs-util.js';
import { encodeSidecar } from '../src/formats/codec.js';
import type { JsonObject } from '../src/types.js';

/** One image of each kind of action. */
function mixedTree(): string {
  const stale = sidecarData('C.jpg', 1, 4);
  const fresh = sidecarData('C.jpg', 2, 4);
  return makeTree({
    'A.jpg': FAKE_JPEG,
    'A.json': { json: sidecarData('A.jpg', 1, 4) },
    'sub/B.jpg': FAKE_JPEG,
    'sub/B.json': { json: sidecarData('B.jpg', 0, 4) },
    'C.jpg': FAKE_JPEG,
    'C.json': { json: stale },
    'C.bin': encodeSidecar(fresh as JsonObject, 'bin'), // a newer .bin that disagrees with the .json: conflict
    'D.jpg': FAKE_JPEG,
    'D.json': '{"face_detection": [',
    'game_detection.json': { json: { success: true, games: [] } },
    'E.jpg': FAKE_JPEG,
    'E.bin': { json: fresh }, // JSON bytes in a .bin: already readable, target format differs
  });
}

test('convert --dry-run --list (JSON): every action with its reason; nothing changes', async (t) => {
  const root = mixedTree();
  t.after(() => removeTree(root));
  const before = snapshotDir(root);
  const r = await runCli(['convert', root, '-f', 'json', '--dry-run', '--list']);
  const rep = parseJson<{ items: { source: string; target: string | null; action: string; ok: boolean; reason?: string; error?: { message: string } }[]; converted: number }>(r);
  const byName = new Map(rep.items.map((i) => [i.source.slice(root.length + 1), i]));
  assert.equal(byName.get('A.json')!.action, 'skip-already');
  assert.equal(byName.get('A.json')!.reason, 'already in the target format');
  assert.equal(byName.get('D.json')!.action, 'skip-corrupt');
  assert.match(byName.get('D.json')!.error!.message, /invalid JSON/);
  assert.equal(byName.get('game_detection.json')!.action, 'skip-not-sidecar');
  assert.equal(byName.get('E.bin')!.action, 'skip-already', 'JSON bytes named .bin are JSON already (format by content)');
  assert.equal(byName.get('C.bin')!.action, 'conflict');
  assert.equal(byName.get('C.bin')!.ok, false);
  assert.equal(rep.items.length, rep.items.filter((i) => i.action).length);
  assert.ok(rep.items.length >= 6, `every sidecar-named file has an item: ${[...byName.keys()].join(', ')}`);
  assert.deepEqual(snapshotDir(root), before, 'a dry run changes nothing');
  // Without --list the JSON keeps only problems (big libraries).
  const quiet = parseJson<Record<string, unknown>>(await runCli(['convert', root, '-f', 'json', '--dry-run']));
  assert.equal(quiet.items, undefined);
});

test('convert on a terminal: a short plan is listed by default; a long one says how to list it', { skip: hasScript() ? false : 'no script(1)' }, async (t) => {
  const root = mixedTree();
  t.after(() => removeTree(root));
  const short = await runCliTty(['convert', root, '-f', 'bin', '--dry-run'], { env: { NO_COLOR: '1' } });
  assert.match(short.stdout, /Would convert \d+ sidecar files to bin/);
  assert.match(short.stdout, /convert {3}A\.json → A\.bin/);
  assert.match(short.stdout, /convert {3}sub\/B\.json → sub\/B\.bin/);
  assert.match(short.stdout, /failed {4}D\.json: cannot be read or decoded: invalid JSON/); // a finding: left as it is
  assert.match(short.stdout, /skip {6}game_detection\.json: not a sidecar/);
  assert.match(short.stdout, /conflict {2}C\.json → C\.bin: /);
  const none = await runCliTty(['convert', root, '-f', 'bin', '--dry-run', '--no-list'], { env: { NO_COLOR: '1' } });
  assert.doesNotMatch(none.stdout, /A\.json → A\.bin/);

  const big: Record<string, Parameters<typeof makeTree>[0][string]> = {};
  for (let i = 0; i < 60; i++) {
    big[`P${i}.jpg`] = FAKE_JPEG;
    big[`P${i}.json`] = { json: sidecarData(`P${i}.jpg`, 0, 2) };
  }
  const bigRoot = makeTree(big);
  t.after(() => removeTree(bigRoot));
  const long = await runCliTty(['convert', bigRoot, '-f', 'bin', '--dry-run'], { env: { NO_COLOR: '1' } });
  assert.match(long.stdout, /60 actions: --list shows every one/);
  assert.doesNotMatch(long.stdout, /P1\.json → P1\.bin/);
  const all = await runCliTty(['convert', bigRoot, '-f', 'bin', '--dry-run', '--list'], { env: { NO_COLOR: '1' } });
  assert.equal(all.stdout.match(/convert {3}P\d+\.json → P\d+\.bin/g)?.length, 60);
  // A real run with --list prints each action as it happens.
  const real = await runCliTty(['convert', bigRoot, '-f', 'bin', '--list'], { env: { NO_COLOR: '1' } });
  assert.equal(real.code, 0, real.stdout);
  assert.equal(real.stdout.match(/convert {3}P\d+\.json → P\d+\.bin/g)?.length, 60);
  assert.match(real.stdout, /Converted 60 sidecar files to bin/);
});
