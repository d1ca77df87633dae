/**
 * todo, stale and find read a tree exactly as the other tree commands do: the same option group
 * (--workers, --engine, --key-file, --image-ext, --config), so encrypted sidecars are read with
 * the key and extra image types are images. Each flag is attacked by a tree whose answer changes
 * when the flag is ignored.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { COMMANDS, TREE_READING } from '../src/cli/commands.js';
import { runCli } from './helpers/cli.js';
import { FAKE_JPEG, makeTree, removeTree, sidecarData } from './helpers/tree.js';

const QUERY_COMMANDS = ['todo', 'stale', 'find'];

describe('todo / stale / find take the tree-reading options of every tree command', () => {
  it('every command that scans a tree (DIR argument + --workers) has the whole group, as the same objects', () => {
    const missing: string[] = [];
    let treeCommands = 0;
    for (const c of COMMANDS) {
      if (c.argument?.name !== '[dir]' || !c.options.some((o) => o.flags.includes('--workers'))) continue;
      treeCommands++;
      for (const o of TREE_READING) if (!c.options.includes(o)) missing.push(`${c.name} ${o.flags}`);
    }
    assert.deepEqual(missing, []);
    for (const name of QUERY_COMMANDS) assert.ok(COMMANDS.find((c) => c.name === name)!.options.some((o) => o === TREE_READING[2]), name);
    assert.ok(treeCommands >= 15, `tree commands found: ${treeCommands}`);
  });

  it('--help of todo, stale and find shows --key-file, --image-ext and --config', async () => {
    for (const name of QUERY_COMMANDS) {
      const r = await runCli([name, '--help']);
      assert.equal(r.code, 0, r.stderr);
      for (const flag of ['--key-file', '--image-ext', '--config', '--workers', '--engine']) assert.match(r.stdout, new RegExp(flag), `${name} ${flag}`);
    }
  });

  it('--key-file: encrypted sidecars are read (todo done, find matches, stale judged); without it they are problems, not guesses', async (t) => {
    const root = makeTree({ 'p/A.jpg': FAKE_JPEG, 'p/B.jpg': FAKE_JPEG, 'p/A.json': { json: sidecarData('A.jpg', 2, 8) } });
    t.after(() => removeTree(root));
    const key = join(root, '..', `${root.split('/').pop()}.key`);
    t.after(() => removeTree(key));
    assert.equal((await runCli(['keygen', '-o', key])).code, 0);
    const enc = await runCli(['convert', root, '-f', 'bin', '--encrypt', '--key-file', key, '--json']);
    assert.equal(enc.code, 0, enc.stderr);

    const withKey = await runCli(['todo', root, '--operation', 'yolov8', '--json', '--key-file', key]);
    assert.equal(withKey.code, 0, withKey.stderr);
    const wk = JSON.parse(withKey.stdout);
    assert.deepEqual(wk.todo.map((r: { image: string }) => r.image), [join(root, 'p/B.jpg')]);
    assert.equal(wk.counts.done, 1);

    const noKey = await runCli(['todo', root, '--operation', 'yolov8', '--json']);
    assert.equal(noKey.code, 1, 'an encrypted sidecar without its key cannot be decided');
    const nk = JSON.parse(noKey.stdout);
    assert.deepEqual(nk.problems.map((p: { image: string; category: string }) => [p.image, p.category]), [[join(root, 'p/A.jpg'), 'encrypted']]);

    const found = await runCli(['find', root, '--where', 'faces == 2', '--key-file', key]);
    assert.equal(found.code, 0, found.stderr);
    assert.deepEqual(found.stdout.trimEnd().split('\n'), [join(root, 'p/A.jpg')]);
    const notFound = await runCli(['find', root, '--where', 'faces == 2']);
    assert.equal(notFound.stdout, '');

    const env = { IMAGE_SIDECAR_KEY_FILE: key };
    const stale = await runCli(['stale', root, '--json'], { env });
    assert.equal(stale.code, 0, stale.stderr);
    assert.equal(JSON.parse(stale.stdout).counts.unknown, 1, 'read through IMAGE_SIDECAR_KEY_FILE (no image record in this sidecar)');
    const staleNoKey = JSON.parse((await runCli(['stale', root, '--json'])).stdout);
    assert.equal(staleNoKey.counts.unknown, 0);
  });

  it('--image-ext and --config: files of an extra type are images (listed by todo, matched by find); without them their sidecar is unknown-image', async (t) => {
    const root = makeTree({
      'p/X.qqq': FAKE_JPEG,
      'p/Y.qqq': FAKE_JPEG,
      'p/X.json': { json: sidecarData('X.qqq', 3, 8) },
      'p/Z.jpg': FAKE_JPEG,
    });
    t.after(() => removeTree(root));
    const lines = (s: string) => s.split('\n').filter(Boolean);
    const todoWithout = await runCli(['todo', root, '--operation', 'yolov8']);
    assert.deepEqual(lines(todoWithout.stdout), [join(root, 'p/Z.jpg')]);
    const todoWith = await runCli(['todo', root, '--operation', 'yolov8', '--image-ext', 'qqq']);
    assert.equal(todoWith.code, 0, todoWith.stderr);
    assert.deepEqual(lines(todoWith.stdout), [join(root, 'p/Y.qqq'), join(root, 'p/Z.jpg')]);

    assert.deepEqual(lines((await runCli(['find', root, '--where', 'faces >= 3'])).stdout), []);
    assert.deepEqual(lines((await runCli(['find', root, '--where', 'faces >= 3', '--image-ext', '.QQQ'])).stdout), [join(root, 'p/X.qqq')]);

    const config = join(root, 'p', 'isc-config.json');
    writeFileSync(config, JSON.stringify({ imageExtensions: ['qqq'] }));
    assert.deepEqual(lines((await runCli(['todo', root, '--operation', 'yolov8', '--config', config])).stdout), [join(root, 'p/Y.qqq'), join(root, 'p/Z.jpg')]);
    assert.deepEqual(lines((await runCli(['find', root, '--where', 'faces >= 3', '--config', config])).stdout), [join(root, 'p/X.qqq')]);
    const stale = JSON.parse((await runCli(['stale', root, '--json', '--config', config])).stdout);
    assert.equal(stale.counts.unknown, 1, 'X.json is judged against X.qqq');
    const staleWithout = JSON.parse((await runCli(['stale', root, '--json'])).stdout);
    assert.equal(staleWithout.counts.unknown, 0);
    // The nearest .image-sidecar.json applies without any flag, as for the other commands.
    writeFileSync(join(root, '.image-sidecar.json'), JSON.stringify({ imageExtensions: ['qqq'] }));
    assert.deepEqual(lines((await runCli(['todo', root, '--operation', 'yolov8'])).stdout), [join(root, 'p/Y.qqq'), join(root, 'p/Z.jpg')]);
  });
});
