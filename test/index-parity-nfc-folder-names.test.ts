/**
 * Folder names whose NFC form is another folder's name: NFC maps some non-ASCII characters to ASCII
 * ones (KELVIN SIGN U+212A is 'K', GREEK QUESTION MARK U+037E is ';'), so a partition key (NFC)
 * names both folders. With a folder of that ASCII name beside it, alone, or a link of that name to
 * it, a sidecar edited in the odd folder: every run with the index as without it (the index keys
 * folders by their names on disk, never by the NFC form).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commands, firstDiff, photoSpec, show, warm, type CmdName, type Run } from './helpers/index-parity.js';
import { makeTree, testDir } from './helpers/tree.js';

function library(t: TestContext, odd: string, plain: string, link = false): string {
  const { spec, photo, fill } = photoSpec();
  if (link) spec[plain] = { symlink: odd };
  if (!link) photo(`${plain}/a`, 1);
  photo(`${odd}/a`, 3);
  fill(4);
  return makeTree(spec, testDir(t, 'index-nfc-folders-'));
}

const COMMANDS: CmdName[] = ['validate', 'validate kept', 'stats', 'stats op', 'format-stats'];

async function attack(t: TestContext, odd: string, plain: string, alone: boolean, link = false): Promise<void> {
  assert.equal(odd.normalize('NFC'), plain);
  for (const name of COMMANDS) {
    const root = library(t, odd, alone ? 'other' : plain, link);
    const runs: Run[] = [];
    const cmd = commands(root, join(root, '.image-sidecar', 'index'), runs)[name];
    await warm(cmd, runs, name, root);
    // The sidecar in the folder whose name is not its NFC form changes (another face count).
    const p = join(root, odd, 'a.json');
    writeFileSync(p, readFileSync(p, 'utf8').replace('"success": true', '"success": false'));
    const want = await cmd(false);
    const got = await cmd(true);
    assert.ok(got === want, `${name}: the run after the edit (${show(runs)}): ${firstDiff(got, want)}`);
    const again = await cmd(true);
    assert.ok(again === want, `${name}: the run after that (${show(runs)}): ${firstDiff(again, want)}`);
  }
}

test('KELVIN SIGN folder beside a folder K: K\'s records never stand for it', async (t) => {
  await attack(t, '\u212A', 'K', false);
});

test('GREEK QUESTION MARK folder beside a folder named ";": its records never stand for it', async (t) => {
  await attack(t, 'x\u037E', 'x;', false);
});

test('KELVIN SIGN folder alone (no folder K): with the index as without', async (t) => {
  await attack(t, '\u212A', 'K', true);
});

test('KELVIN SIGN folder and a link K to it: with the index as without', async (t) => {
  await attack(t, '\u212A', 'K', false, true);
});
