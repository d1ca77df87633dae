/**
 * The bounded line reader (src/fs/line-reader.ts) and its callers' handling of long lines:
 * validate-json's path list (pathList → one finding per long line) and the shard outputs merge
 * reads (long export items copied in pieces, long garbage refused from its first bytes). The
 * limits are made small here; test/cli-long-lines.test.ts runs the real ones through the CLI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ByteLineSplitter, LineSplitter, readLines, type Line, type RawLine } from '../src/fs/line-reader.js';
import { pathList, validateFiles, type ListedPath } from '../src/ops/validate-files.js';
import { exportShard, hashShard, validateShard, type LineSink } from '../src/shard/run.js';
import { mergeShards } from '../src/shard/merge.js';
import { openShardFile } from '../src/shard/format.js';
import { exportSidecars } from '../src/ops/export.js';
import { hashTree } from '../src/ops/hash.js';
import { validate } from '../src/ops/validate.js';
import { isSidecarError } from '../src/errors.js';
import { encodeSidecar } from '../src/formats/codec.js';
import { FAKE_JPEG, putFile, sidecarData, testDir } from './helpers/tree.js';
import type { JsonObject } from '../src/types.js';

const ENGINE = { engine: 'inline' as const };

/** The lines as the reference reads them: split at LF, one CR before it dropped, no empty last line. */
function reference(bytes: Buffer, max: number): { text?: string; bytes: number; offset: number }[] {
  const out: { text?: string; bytes: number; offset: number }[] = [];
  let start = 0;
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    const next = end < 0 ? bytes.length : end + 1;
    if (end < 0) end = bytes.length;
    const content = end > start && bytes[end - 1] === 0x0d ? end - 1 : end;
    const n = content - start;
    out.push(n <= max ? { text: bytes.toString('utf8', start, content), bytes: n, offset: start } : { bytes: n, offset: start });
    start = next;
  }
  return out;
}

function splitAll(bytes: Buffer, max: number, cuts: number[]): Line[] {
  const s = new LineSplitter({ maxLineBytes: max, headBytes: 8 });
  const lines: Line[] = [];
  let at = 0;
  // One reused chunk buffer: the splitter must copy whatever it keeps.
  const chunk = Buffer.alloc(bytes.length + 1);
  for (const c of [...cuts, bytes.length]) {
    if (c < at) continue;
    bytes.copy(chunk, 0, at, c);
    lines.push(...s.push(chunk.subarray(0, c - at)));
    chunk.fill(0x5a);
    at = c;
  }
  const last = s.end();
  if (last) lines.push(last);
  return lines;
}

test('LineSplitter: LF and CRLF ends, a lone CR kept, empty lines, no LF at the end, offsets, UTF-8 cut anywhere between chunks', () => {
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  const atoms = ['a', 'b', 'é', '😀', '\n', '\r', '\r\n', 'xyz'];
  for (let round = 0; round < 400; round++) {
    const text = Array.from({ length: rnd(40) }, () => atoms[rnd(atoms.length)]).join('');
    const bytes = Buffer.from(text, 'utf8');
    const max = rnd(12);
    const cuts = Array.from({ length: rnd(6) }, () => rnd(bytes.length + 1)).sort((a, b) => a - b);
    const got = splitAll(bytes, max, cuts);
    const want = reference(bytes, max);
    assert.equal(got.length, want.length, JSON.stringify({ text, max, cuts }));
    got.forEach((g, i) => {
      const w = want[i];
      const where = JSON.stringify({ text, max, cuts, i });
      assert.equal(g.lineNo, i + 1, where);
      assert.equal(g.offset, w.offset, where);
      assert.equal(g.bytes, w.bytes, where);
      if (w.text !== undefined) assert.deepEqual([g.tooLong, g.tooLong ? null : g.text], [false, w.text], where);
      else {
        assert.equal(g.tooLong, true, where);
        if (g.tooLong) assert.equal(g.head, bytes.toString("utf8", w.offset, w.offset + Math.min(8, w.bytes)), where);
      }
    });
  }
});

test('ByteLineSplitter (the server\'s requests): the same lines as bytes, chunks kept as views or copied', () => {
  let seed = 11;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  const atoms = ['{"a":1}', 'é', '\n', '\r\n', '\r', 'x'.repeat(30)];
  for (let round = 0; round < 200; round++) {
    const bytes = Buffer.from(Array.from({ length: rnd(30) }, () => atoms[rnd(atoms.length)]).join(''), 'utf8');
    const max = rnd(70);
    const cuts = Array.from({ length: rnd(6) }, () => rnd(bytes.length + 1)).sort((a, b) => a - b);
    const want = reference(bytes, max);
    for (const copyChunks of [true, false]) {
      const s = new ByteLineSplitter({ maxLineBytes: max, headBytes: 0, copyChunks });
      const got: { data?: string; bytes: number; offset: number }[] = [];
      const see = (l: RawLine) => got.push(l.tooLong ? { bytes: l.bytes, offset: l.offset } : { data: l.data.toString('utf8'), bytes: l.bytes, offset: l.offset });
      let at = 0;
      for (const c of [...cuts, bytes.length]) {
        if (c < at) continue;
        // Fresh chunks (a stream's): views are safe; the data is read before the next push.
        for (const l of s.push(Buffer.from(bytes.subarray(at, c)))) see(l);
        at = c;
      }
      const last = s.end();
      if (last) see(last);
      assert.deepEqual(got, want.map((w) => (w.text === undefined ? { bytes: w.bytes, offset: w.offset } : { data: w.text, bytes: w.bytes, offset: w.offset })), JSON.stringify({ bytes: bytes.toString(), max, cuts, copyChunks }));
    }
  }
});

test('LineSplitter: a line of exactly the limit is text (also with CRLF); one byte more is too long', () => {
  const lines = splitAll(Buffer.from('abcd\nabcd\r\nabcde\nabcde\r\n'), 4, [2, 5, 9, 10, 13]);
  assert.deepEqual(lines.map((l) => [l.tooLong, l.bytes]), [[false, 4], [false, 4], [true, 5], [true, 5]]);
});

test('a line of 256 MiB without a newline is counted through in bounded memory (never held)', async () => {
  const chunk = Buffer.alloc(1 << 20, 0x61);
  const total = 256;
  async function* source() {
    for (let i = 0; i < total; i++) yield chunk;
    yield Buffer.from('\nafter\n');
  }
  global.gc?.();
  const before = process.memoryUsage();
  let peak = 0;
  const lines: Line[] = [];
  for await (const line of readLines(source(), { maxLineBytes: 4096 })) {
    lines.push(line);
    const m = process.memoryUsage();
    peak = Math.max(peak, m.heapUsed - before.heapUsed + m.arrayBuffers - before.arrayBuffers);
  }
  assert.deepEqual(lines.map((l) => [l.lineNo, l.tooLong, l.bytes, l.offset]), [[1, true, total << 20, 0], [2, false, 5, (total << 20) + 1]]);
  assert.equal(lines[0].tooLong && lines[0].head, 'a'.repeat(256));
  assert.ok(peak < 32 << 20, `memory grew by ${peak} bytes`);
});

// ---------------------------------------------------------------------------------------------
// validate-json's path list
// ---------------------------------------------------------------------------------------------

test('pathList: a line over the limit is one unusable entry in its place (never a path), the lines after it are read', async () => {
  const long = 'x'.repeat(5000);
  const input = Readable.from([Buffer.from(`a.json\r\n\n${long.slice(0, 3000)}`), Buffer.from(`${long.slice(3000)}\nb.json\n${'y'.repeat(1024)}\nc.json`)]);
  const got: ListedPath[] = [];
  for await (const p of pathList(input, { maxLineBytes: 1024, name: 'L' })) got.push(p);
  assert.equal(got.length, 5);
  assert.deepEqual([got[0], got[2], got[3], got[4]], ['a.json', 'b.json', 'y'.repeat(1024), 'c.json']);
  const bad = got[1];
  assert.ok(typeof bad !== 'string');
  assert.equal(bad.label, 'L:3');
  assert.equal(bad.bytes, 5000);
  assert.match(bad.message, /^line 3 of the list is 5000 bytes, longer than a path may be \(limit 1 KiB\); it starts "x{40}"$/);
});

test('validateFiles reports an unusable list entry as one invalid result in list order, the run goes on', async (t) => {
  const dir = testDir(t);
  const a = putFile(dir, 'a.json', encodeSidecar(sidecarData('a.jpg') as JsonObject, 'json'));
  const b = putFile(dir, 'b.json', '{"broken": ');
  const bad = (n: number) => ({ label: `list:${n}`, message: `line ${n} is too long`, bytes: 9999 });
  for (const engine of [{ engine: 'inline' as const }, { engine: 'threads' as const, workers: 2 }]) {
    const r = await validateFiles([bad(1), a, bad(3), bad(4), b, a, bad(7)], { ...engine, batchSize: 2 });
    assert.deepEqual(r.results!.map((x) => [x.file_path, x.is_valid]), [
      ['list:1', false],
      [a, true],
      ['list:3', false],
      ['list:4', false],
      [b, false],
      [a, true],
      ['list:7', false],
    ]);
    assert.deepEqual([r.total_files, r.valid_files, r.invalid_files], [7, 2, 5]);
    const row = r.results![0];
    assert.deepEqual([row.error, row.file_size, row.category, row.format, row.problems], ['list:1: line 1 is too long', 9999, 'unreadable', null, []]);
  }
  // With --operation-type the unusable entries are still reported (like files that cannot be read).
  const only = await validateFiles([a, bad(2)], { ...ENGINE, operationType: 'no_such_op' });
  assert.deepEqual(only.results!.map((x) => x.file_path), ['list:2']);
});

// ---------------------------------------------------------------------------------------------
// shard outputs
// ---------------------------------------------------------------------------------------------

class Collect implements LineSink {
  text = '';
  write(s: string): undefined {
    this.text += s;
    return undefined;
  }
}

/** A small tree: a few ordinary sidecars and one whose data text is ~200 KB. */
function tree(root: string): void {
  for (let i = 0; i < 6; i++) {
    putFile(root, `p/IMG_${i}.jpg`, FAKE_JPEG);
    putFile(root, `p/IMG_${i}.json`, encodeSidecar(sidecarData(`IMG_${i}.jpg`, 1, i === 3 ? 12_000 : 8) as JsonObject, i % 2 ? 'bin' : 'json'));
  }
  putFile(root, 'p/broken.json', '{"face_detection": ');
}

test('merge copies an export item longer than the text-line limit in pieces, byte for byte; validate and hash items read by position parse the same', async (t) => {
  const root = testDir(t);
  const out = testDir(t, 'isc-lines-out-');
  tree(root);
  const whole = join(out, 'whole.jsonl');
  await exportSidecars(root, { ...ENGINE, format: 'jsonl', output: whole });
  const expected = readFileSync(whole, 'utf8');
  assert.ok(expected.split('\n').some((l) => l.length > 100_000), 'one entry is long');
  const paths = [0, 1].map((i) => join(out, `e${i}.jsonl`));
  for (const [i, p] of paths.entries()) await exportShard(root, { ...ENGINE, shard: { index: i, count: 2 }, output: p });
  for (const textLineBytes of [undefined, 4096, 1]) {
    let text = '';
    const pieces: number[] = [];
    await mergeShards(paths, { textLineBytes, out: { write: (s) => void ((text += s), pieces.push(s.length)) } });
    assert.equal(text, expected, `textLineBytes ${textLineBytes}`);
    if (textLineBytes === 4096) assert.ok(Math.max(...pieces) < 2 << 20);
  }
  // validate and hash parse their items: read back by position when the line is long.
  const vPaths: string[] = [];
  const hPaths: string[] = [];
  for (let i = 0; i < 2; i++) {
    const v = new Collect();
    await validateShard(root, { ...ENGINE, shard: { index: i, count: 2 } }, v);
    vPaths.push(join(out, `v${i}`));
    writeFileSync(vPaths[i], v.text);
    const h = new Collect();
    await hashShard(root, { ...ENGINE, shard: { index: i, count: 2 } }, h);
    hPaths.push(join(out, `h${i}`));
    writeFileSync(hPaths[i], h.text);
  }
  const plain: unknown[] = [];
  await validate(root, { ...ENGINE, onResult: (r) => void plain.push({ ...r, processing_time: 0 }) });
  const merged: unknown[] = [];
  await mergeShards(vPaths, { textLineBytes: 16, onResult: (r) => void merged.push({ ...r, processing_time: 0 }) });
  assert.deepEqual(merged, plain);
  const h = await mergeShards(hPaths, { textLineBytes: 16 });
  assert.deepEqual(h.result, await hashTree(root, ENGINE));
});

test('merge refuses a long line that is not an item from its first bytes, naming the file (USAGE), without reading it whole', async (t) => {
  const root = testDir(t);
  const out = testDir(t, 'isc-lines-out-');
  tree(root);
  const paths: string[] = [];
  for (let i = 0; i < 2; i++) {
    const v = new Collect();
    await validateShard(root, { ...ENGINE, shard: { index: i, count: 2 } }, v);
    paths.push(join(out, `v${i}`));
    const lines = v.text.split('\n');
    if (i === 1) lines.splice(2, 0, 'z'.repeat(300_000));
    writeFileSync(paths[i], lines.join('\n'));
  }
  const file = await openShardFile(paths[1], { textLineBytes: 1024 });
  await assert.rejects(
    (async () => {
      for await (const _ of file.items()) void _;
    })(),
    (e: unknown) => isSidecarError(e) && e.code === 'USAGE' && e.message === `${paths[1]}: not a complete shard output: line 3 is neither an item nor the end line (300000 bytes)`,
  );
  await assert.rejects(mergeShards(paths, { textLineBytes: 1024 }), (e: unknown) => isSidecarError(e) && e.code === 'USAGE' && e.message.startsWith(`${paths[1]}: not a complete shard output: line 3 `));
  // The same file with the default limit: the line is held as text, and refused the same way.
  await assert.rejects(mergeShards(paths), (e: unknown) => isSidecarError(e) && e.code === 'USAGE' && /line 3 is neither an item nor the end line$/.test(e.message));
});

test('merge names the file and line of a damaged item (cut short, cut at a brace, blanks after it, an item that is no object) in validate, hash and export shards: USAGE, not an INTERNAL error naming nothing, nor invalid JSON copied into the export', async (t) => {
  const root = testDir(t);
  const out = testDir(t, 'isc-lines-out-');
  tree(root);
  for (const [what, damage] of [['cut', (l: string) => l.slice(0, 50)], ['blanks', (l: string) => `${l}  `], ['null', (l: string) => l.replace(/"item":.*$/, '"item":null}')], ['cut at a brace', (l: string) => l.slice(0, l.indexOf('}') + 1)]] as const) {
    for (const command of ['validate', 'hash', 'export'] as const) {
      const paths: string[] = [];
      for (let i = 0; i < 2; i++) {
        const v = new Collect();
        paths.push(join(out, `${command}-${what}-${i}`));
        if (command === 'validate') await validateShard(root, { ...ENGINE, shard: { index: i, count: 2 } }, v);
        else if (command === 'hash') await hashShard(root, { ...ENGINE, shard: { index: i, count: 2 } }, v);
        else {
          await exportShard(root, { ...ENGINE, shard: { index: i, count: 2 }, output: paths[i] });
          v.text = readFileSync(paths[i], 'utf8');
        }
        const lines = v.text.split('\n');
        if (i === 0) lines[1] = damage(lines[1]);
        writeFileSync(paths[i], lines.join('\n'));
      }
      await assert.rejects(mergeShards(paths, { out: { write: () => undefined } }), (e: unknown) => isSidecarError(e) && e.code === 'USAGE' && e.message.startsWith(`${paths[0]}: not a complete shard output: line 2 `), `${command} ${what}`);
    }
  }
});
