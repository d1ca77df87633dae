/**
 * `-0.0` is a float to Python's `json`; `0` is an int. A sidecar whose only typed number is -0.0
 * (no whole float, no big int: no number note) must still come out as `-0.0` from the CLI's
 * `read --json` and from `export` (json, jsonl, and a shard output merged): plain JSON.stringify
 * writes `0`. Found by reading `{"a": -0.0}` through the Python client with local reads off.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { needsTypedJson } from '../src/formats/numbers.js';
import { decodeSidecar } from '../src/formats/codec.js';
import { runCli } from './helpers/cli.js';
import { FAKE_JPEG, putFile, testDir } from './helpers/tree.js';

// A known operation key at the top: sidecar-shaped (another tool's file is passed over, docs/PAIRING.md §7).
const TEXT = '{"yolov8": -0.0, "b": [0.5, -0.0], "c": {"d": -0.0}}';
const COMPACT = '{"yolov8":-0.0,"b":[0.5,-0.0],"c":{"d":-0.0}}';

describe('-0.0 without any number note keeps its type on output', () => {
  it('needsTypedJson sees a -0 anywhere (no note needed)', () => {
    const data = decodeSidecar(Buffer.from(TEXT, 'utf8')).data;
    assert.ok(needsTypedJson(data));
    assert.ok(needsTypedJson({ x: [1, [2, -0]] }));
    assert.ok(!needsTypedJson({ x: [1, [2, 0]], y: 'z', z: null }));
  });

  it('read --json, export json / jsonl and a merged export shard write -0.0', async (t) => {
    const dir = testDir(t);
    putFile(dir, 'lib/IMG.jpg', FAKE_JPEG);
    putFile(dir, 'lib/IMG.json', TEXT);
    const lib = join(dir, 'lib');

    const read = await runCli(['read', join(lib, 'IMG.jpg'), '--json']);
    assert.equal(read.code, 0, read.stderr);
    assert.equal(read.stdout.replace(/\s+/g, ''), COMPACT);

    const jsonl = await runCli(['export', lib, '--format', 'jsonl', '-o', '-']);
    assert.equal(jsonl.code, 0, jsonl.stderr);
    assert.equal(jsonl.stdout.trim(), `{"image":"IMG.jpg","sidecar":"IMG.json","format":"json","data":${COMPACT}}`);

    const out = join(dir, 'export.json');
    const json = await runCli(['export', lib, '--format', 'json', '-o', out]);
    assert.equal(json.code, 0, json.stderr);
    assert.ok(readFileSync(out, 'utf8').includes(`"data":${COMPACT}`));

    const shard = join(dir, 'shard-0.jsonl');
    const s = await runCli(['export', lib, '--format', 'jsonl', '--shard', '0/1', '-o', shard]);
    assert.equal(s.code, 0, s.stderr);
    const merged = await runCli(['merge', shard, '-o', '-']);
    assert.equal(merged.code, 0, merged.stderr);
    assert.ok(merged.stdout.includes(`"data":${COMPACT}`), merged.stdout);
  });
});
