/**
 * Runs on one index at the same time: two processes (and two runs in one process) read and write
 * one index (its file, its delta, its folder records) while the others rewrite it. Between
 * rounds a few sidecars are edited in place (same size with mtime put back, or resized); during a
 * round the tree does not change, so every run of the round must give what `index: false` gives.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { makeTree, sidecarData, testDir } from './helpers/tree.js';
import { commands, edit, firstDiff, photoSpec, type Run } from './helpers/index-parity.js';

const run = promisify(execFile);
const INDEX_JS = pathToFileURL(join(fileURLToPath(new URL('.', import.meta.url)), '..', 'src', 'index.js')).href;

/** A child process: `n` runs of `cmd` with the index, each output (noTimes) one line of JSON text. */
const CHILD = `
const { validate, stats, formatStats } = await import(process.env.INDEX_JS);
const [root, indexPath, cmd, n] = process.argv.slice(1);
const noTimes = (v) => JSON.stringify(v).replace(/"processing_time":[-0-9.e+]+/g, '"processing_time":0');
const index = { path: indexPath, racyMarginMs: 0 };
for (let i = 0; i < Number(n); i++) {
  let out;
  if (cmd === 'validate') {
    const results = [];
    const r = await validate(root, { index, onResult: (x) => void results.push(x) });
    out = noTimes({ results, ...r });
  } else if (cmd === 'stats') out = noTimes(await stats(root, { index }));
  else out = noTimes(await formatStats(root, { index }));
  process.stdout.write(JSON.stringify(out) + '\\n');
}
`;

function library(t: TestContext): { root: string; indexPath: string } {
  const dir = testDir(t, 'index-concurrent-');
  const { spec, photo, fill } = photoSpec();
  for (let i = 0; i < 6; i++) photo(`p${i}`, i % 3);
  spec['lone/x.json'] = { json: sidecarData('x.jpg', 1, 8) };
  fill(6);
  return { root: makeTree(spec, join(dir, 'lib')), indexPath: join(dir, 'idx', 'index') };
}

async function child(root: string, indexPath: string, cmd: string, n: number): Promise<string[]> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', CHILD, root, indexPath, cmd, String(n)], { env: { ...process.env, INDEX_JS }, maxBuffer: 64 << 20 });
  return stdout.trim().split('\n').map((l) => JSON.parse(l) as string);
}

for (const name of ['validate', 'stats', 'format-stats'] as const) {
  test(`${name}: two processes and two runs in one process on one index while sidecars are edited between rounds`, async (t) => {
    const { root, indexPath } = library(t);
    const runs: Run[] = [];
    const cmd = commands(root, indexPath, runs)[name];
    for (let round = 0; round < 8; round++) {
      // Edits: 1 to 3 sidecars, same size or resized.
      for (let k = 0; k <= round % 3; k++) edit(join(root, `p${(round + k) % 6}.json`), round + k);
      if (round % 4 === 3) edit(join(root, 'lone/x.json'), round);
      const want = await cmd(false);
      const [a, b, c, d] = await Promise.all([child(root, indexPath, name, 3), child(root, indexPath, name, 3), cmd(true), cmd(true)]);
      for (const [who, outs] of [['child a', a], ['child b', b], ['in process', [c, d]]] as const) {
        outs.forEach((got, i) => assert.ok(got === want, `round ${round} ${who} run ${i}: ${firstDiff(got, want)}`));
      }
      const after = await cmd(true);
      assert.ok(after === want, `round ${round} after: ${firstDiff(after, want)}`);
    }
  });
}
