/**
 * attack22: a patch lists a folder by the path its records' partition keys spell when that path is
 * ASCII (scan.ts patch: `isAscii(dir)` on the key's folder). But a key's folder is the NFC form of
 * the folder's name, and NFC maps some non-ASCII characters to ASCII ones: KELVIN SIGN (U+212A) is
 * 'K', GREEK QUESTION MARK (U+037E) is ';', GREEK VARIA (U+1FEF) is '`'. The folder on disk is
 * then not the one the key spells; when a folder of that ASCII name exists too, the patch lists it
 * at the other folder's walk step and takes its records for the changed ones.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { memoCommands, photoSpec, type How, type MemoCommandName } from './helpers/memo.js';
import { firstDiff } from './helpers/attack22.js';
import { makeTree, testDir } from './helpers/tree.js';

function library(t: TestContext, odd: string, plain: string, link = false): string {
  const { spec, photo, fill } = photoSpec();
  if (link) spec[plain] = { symlink: odd };
  if (!link) photo(`${plain}/a`, 1);
  photo(`${odd}/a`, 3);
  fill(4);
  return makeTree(spec, testDir(t, 'attack22-nfc-'));
}

const COMMANDS: MemoCommandName[] = ['validate', 'validate kept', 'stats', 'stats op', 'format-stats'];

async function attack(t: TestContext, odd: string, plain: string, alone: boolean, link = false): Promise<void> {
  assert.equal(odd.normalize('NFC'), plain);
  for (const name of COMMANDS) {
    const root = library(t, odd, alone ? 'other' : plain, link);
    const runs: How[] = [];
    const cmd = memoCommands(root, join(root, '.image-sidecar', 'index'), runs)[name];
    for (let i = 0; i < 8 && runs.at(-1) !== 'whole'; i++) assert.equal(await cmd(true), await cmd(false), `${name} warming`);
    assert.equal(runs.at(-1), 'whole', `${name} warm (${runs.join(',')})`);
    // The sidecar in the folder whose name is not its NFC form changes (another face count).
    const p = join(root, odd, 'a.json');
    writeFileSync(p, readFileSync(p, 'utf8').replace('"success": true', '"success": false'));
    const want = await cmd(false);
    const got = await cmd(true);
    assert.ok(got === want, `${name}: patched run (${runs.join(',')}): ${firstDiff(got, want)}`);
    const again = await cmd(true);
    assert.ok(again === want, `${name}: the run after (${runs.join(',')}): ${firstDiff(again, want)}`);
  }
}

test('KELVIN SIGN folder beside a folder K: the patch must not list K for it', async (t) => {
  await attack(t, '\u212A', 'K', false);
});

test('GREEK QUESTION MARK folder beside a folder named ";": the patch must not list ";" for it', async (t) => {
  await attack(t, 'x\u037E', 'x;', false);
});

test('KELVIN SIGN folder alone (no folder K): with the index as without', async (t) => {
  await attack(t, '\u212A', 'K', true);
});

test('KELVIN SIGN folder and a link K to it: the patch must not read its sidecars through the link', async (t) => {
  await attack(t, '\u212A', 'K', false, true);
});
