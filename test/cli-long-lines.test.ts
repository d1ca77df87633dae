/**
 * Lines longer than anything legitimate, end to end through the CLI (regression: `validate-json`
 * and `merge` read lines with readline, unbounded: a 700 MB line ended in V8's "Invalid string
 * length" RangeError, exit 1 with a stack trace). The huge lines here are sparse files (NUL bytes,
 * no disk used) read by a CLI whose V8 heap is capped at 64 MB: holding such a line whole is a crash.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { encodeSidecar } from '../src/formats/codec.js';
import type { JsonObject } from '../src/types.js';
import { FAKE_JPEG, makeTree, removeTree, runCli, sidecarData, tempDir } from './helpers/cli.js';

const MIB = 1 << 20;
const HUGE = 200 * MIB;
const SMALL_HEAP = { NODE_OPTIONS: '--max-old-space-size=64' };
const STACK = /\n\s+at .+:\d+:\d+\)?\n/;

/** `before` + a line of `n` NUL bytes (sparse: nothing written) + `after`. */
function sparseLine(path: string, beforeText: string, n: number, afterText: string): void {
  writeFileSync(path, beforeText);
  const fd = openSync(path, 'r+');
  const at = Buffer.byteLength(beforeText);
  ftruncateSync(fd, at + n);
  writeSync(fd, afterText, at + n);
  closeSync(fd);
}

describe('cli: lines longer than any legitimate line', () => {
  let root: string;
  let out: string;
  before(() => {
    out = tempDir('isc-long-out-');
    const spec: Record<string, string | Buffer> = {};
    for (let i = 0; i < 6; i++) {
      spec[`p/IMG_${i}.jpg`] = FAKE_JPEG;
      // IMG_3's data text is just over 1 MiB: its export item is longer than merge reads as text.
      spec[`p/IMG_${i}.json`] = encodeSidecar(sidecarData(`IMG_${i}.jpg`, 1, i === 3 ? 60_000 : 8) as JsonObject, 'json');
    }
    spec['p/broken.json'] = '{"face_detection": ';
    root = makeTree(spec);
  });
  after(() => {
    removeTree(root);
    removeTree(out);
  });

  it('validate-json: a line just over the 1 MiB cap is one finding in its place (<list>:<line>), the run goes on, exit 1', async () => {
    const list = join(out, 'list.txt');
    const a = join(root, 'p/IMG_1.json');
    const b = join(root, 'p/broken.json');
    writeFileSync(list, `${a}\n${'a'.repeat(MIB + 1)}\n${b}\n`);
    const r = await runCli(['validate-json', '--input', list, '--output', '-']);
    assert.equal(r.code, 1, r.stderr);
    assert.doesNotMatch(r.stderr, STACK);
    const rows = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { file_path: string; is_valid: boolean; error: string | null; file_size: number });
    assert.deepEqual(rows.map((x) => [x.file_path, x.is_valid]), [[a, true], [`${list}:2`, false], [b, false]]);
    assert.equal(rows[1].error, `${list}:2: line 2 of the list is ${MIB + 1} bytes, longer than a path may be (limit 1 MiB); it starts "${'a'.repeat(40)}"`);
    assert.equal(rows[1].file_size, MIB + 1);
    assert.match(r.stderr, /Validated 3 sidecar files: 1 valid, 2 invalid/);
  });

  it('validate-json: a 200 MB line (from stdin too) is counted through, never held: a 64 MB heap suffices', async () => {
    const list = join(out, 'huge-list.txt');
    const a = join(root, 'p/IMG_1.json');
    sparseLine(list, `${a}\n`, HUGE, `\n${a}\n`);
    const r = await runCli(['validate-json', '--input', list], { env: SMALL_HEAP });
    assert.equal(r.code, 1, r.stderr.slice(0, 2000));
    assert.doesNotMatch(r.stderr, STACK);
    const rows = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { file_path: string; is_valid: boolean; error: string | null });
    assert.deepEqual(rows.map((x) => [x.file_path, x.is_valid]), [[a, true], [`${list}:2`, false], [a, true]]);
    assert.match(rows[1].error!, new RegExp(`line 2 of the list is ${HUGE} bytes, longer than a path may be \\(limit 1 MiB\\)`));
    const fromStdin = await runCli(['validate-json', '--input', '-'], { env: SMALL_HEAP, input: readFileSync(list) });
    assert.equal(fromStdin.code, 1, fromStdin.stderr.slice(0, 2000));
    assert.deepEqual(fromStdin.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { file_path: string }).file_path), [a, '-:2', a]);
  });

  it('merge: a 200 MB line in a shard output is refused naming the file (exit 2, no stack trace), with a 64 MB heap', async () => {
    const shards = [0, 1].map((i) => join(out, `v${i}.jsonl`));
    for (const [i, p] of shards.entries()) assert.ok((await runCli(['validate', root, '--shard', `${i}/2`, '-o', p])).code! < 2);
    const text = readFileSync(shards[1], 'utf8');
    const nl = text.indexOf('\n') + 1;
    sparseLine(shards[1], text.slice(0, nl), HUGE, `\n${text.slice(nl)}`);
    const r = await runCli(['merge', ...shards], { env: SMALL_HEAP });
    assert.equal(r.code, 2, r.stderr.slice(0, 2000));
    assert.doesNotMatch(r.stderr, STACK);
    assert.match(r.stderr, new RegExp(`\\[USAGE\\]: ${shards[1].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a complete shard output: line 2 is neither an item nor the end line \\(${HUGE} bytes\\)`));
  });

  it('merge: an export item just over the 1 MiB text-line limit is copied whole, byte for byte', async () => {
    const whole = await runCli(['export', root, '--format', 'jsonl']);
    assert.equal(whole.code, 1, whole.stderr); // broken.json is left out: a finding
    assert.ok(whole.stdout.split('\n').some((l) => l.length > MIB && l.length < 2 * MIB), 'one entry is just over 1 MiB');
    const shards = [0, 1].map((i) => join(out, `e${i}.jsonl`));
    for (const [i, p] of shards.entries()) await runCli(['export', root, '--format', 'jsonl', '--shard', `${i}/2`, '-o', p]);
    const merged = await runCli(['merge', ...shards]);
    assert.equal(merged.code, 1, merged.stderr);
    assert.equal(merged.stdout, whole.stdout);
  });
});
