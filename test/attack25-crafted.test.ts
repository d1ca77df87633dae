/**
 * attack25: memo format 11 crafted by hand (a CRC-32 made to match): the head's counts and path
 * lengths shaped as no run writes them (negative, fractional), a blob region that overlaps the
 * identities or the paths, stand-ins pointing anywhere in it, a delta's blobBytes out of range,
 * a memo of format 10 at the memo's name. checksHold now walks each kind's paths as bytes (no
 * split whose length checked the count), so a count no longer has to be the number of paths.
 * A run must give what `index: false` gives, and never throw.
 *
 * The two tests named "regression" failed on 7d7e7e5 (validate() rejected with a RangeError):
 * loadMemo did not check that head.counts / head.bytes are non-negative integers. Before format 11
 * the split in checksHold refused any count that was not the number of paths (for every kind); the
 * byte walk only checks that the region ends after `counts[kind]` NULs, which a negative count with
 * an empty region passes. Fixed in loadMemo (isCount: every count and length a safe integer >= 0).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { commands, edit, firstDiff, memoFiles, deltaFiles, show, smallLibrary, warm, type Run } from './helpers/attack23.js';
import { encodeFrameJson, parseFrameText } from '../src/incremental/frame-json.js';

interface Parts {
  magic: Buffer;
  head: Record<string, unknown> & { counts: number[]; bytes: number[]; blobBytes: number; lazyBytes: number };
  /** The payload's JSON text as written (its stand-ins relative to the blob region). */
  payloadText: string;
  paths: Buffer[];
  ids: Buffer[];
  blobs: Buffer;
  lazy: Buffer;
}

const SLOT = [40, 40, 40, 64];

function parts(file: string): Parts {
  const buf = readFileSync(file);
  const magicLen = buf.indexOf(0x0a) + 1;
  const body = magicLen + 8;
  const end = body + buf.readUInt32LE(magicLen);
  const text = buf.toString('latin1', body, end).trimEnd();
  const main = parseFrameText(buf, body, end) as { head: Parts['head'] };
  const head = main.head;
  // The payload's text: after `{"head":<head>,"payload":`, to the last '}'.
  const headText = encodeFrameJson(head).text;
  const prefix = `{"head":${headText},"payload":`;
  assert.ok(text.startsWith(prefix));
  const payloadText = text.slice(prefix.length, -1);
  let at = end;
  const paths = head.bytes.map((n) => buf.subarray(at, (at += n)));
  const ids = head.counts.map((c, k) => buf.subarray(at, (at += c * SLOT[k])));
  const lazyAt = buf.length - head.lazyBytes;
  assert.equal(at + head.blobBytes, lazyAt);
  return { magic: buf.subarray(0, magicLen), head, payloadText, paths, ids, blobs: buf.subarray(at, lazyAt), lazy: buf.subarray(lazyAt) };
}

/** Write a memo of these parts: `rest` the bytes between the JSON part and the lazy part, as given; the CRC-32s made to match. */
function write(file: string, p: Parts, rest: Buffer): void {
  p.head.lazyBytes = p.lazy.length;
  p.head.lazyCrc = crc32(p.lazy) >>> 0;
  const json = Buffer.from(`{"head":${encodeFrameJson(p.head).text},"payload":${p.payloadText}}`, 'latin1');
  const out = Buffer.concat([p.magic, Buffer.alloc(8), json, rest, p.lazy]);
  out.writeUInt32LE(json.length, p.magic.length);
  out.writeUInt32LE(crc32(out.subarray(p.magic.length + 8, out.length - p.lazy.length)) >>> 0, p.magic.length + 4);
  writeFileSync(file, out);
}

/** Every stand-in's offset in the payload's text moved by `by` (the blob region made to start `by` bytes earlier). */
const shiftStandIns = (text: string, by: number) => text.replace(/\{"\\u0000bytes":\[(\d+),(\d+)\]\}/g, (_m, a: string, n: string) => `{"\\u0000bytes":[${Number(a) + by},${n}]}`);

async function run(t: TestContext, label: string, craft: (file: string, p: Parts) => void, withDelta = false, afterCraft?: (sidecars: string[]) => void) {
  const { root, indexPath, idx } = smallLibrary(t, `attack25-crafted-`);
  const runs: Run[] = [];
  const cmd = commands(root, indexPath, runs).validate;
  await warm(cmd, runs, label);
  if (withDelta) {
    // A patch: its delta on the memo's generation.
    edit(`${root}/top.json`);
    const want = await cmd(false);
    assert.equal(await cmd(true), want);
    assert.equal(deltaFiles(idx).length, 1, `${label}: a delta (${show(runs)})`);
  }
  const [file] = memoFiles(idx);
  const before = parts(file);
  const sidecars = before.paths[1].toString('utf8').split('\0').slice(0, -1);
  craft(file, before);
  afterCraft?.(sidecars);
  const want = await cmd(false);
  for (let i = 0; i < 2; i++) {
    const from = runs.length;
    let got: string;
    try {
      got = await cmd(true);
    } catch (e) {
      assert.fail(`${label} run ${i}: threw ${(e as Error).stack?.split('\n').slice(0, 4).join(' | ')}`);
    }
    assert.ok(got === want, `${label} run ${i} (${show(runs.slice(from))}): ${firstDiff(got, want)}`);
    t.diagnostic(`${label} run ${i}: ${show(runs.slice(from))}`);
  }
}

test('attack25 regression (failed on 7d7e7e5: RangeError out of loadMemo/checksHold) crafted: a negative folder count, the ids cut short (checksHold reads past the file)', async (t) => {
  await run(t, 'neg-count-short', (file, p) => {
    // The folder checks gone, their count -1: the other kinds' ids are read 40 bytes past the region the head gives them.
    const [, F, I, N] = p.head.counts;
    p.head.counts = [-1, F, I, N];
    p.head.bytes = [0, p.head.bytes[1], p.head.bytes[2], p.head.bytes[3]];
    const ids = Buffer.concat([p.ids[1], p.ids[2], p.ids[3]]);
    // No payload bytes, no lazy part: the ids' last 40 bytes are cut, and nothing follows them.
    p.payloadText = '{}';
    p.head.blobBytes = 0;
    p.lazy = Buffer.alloc(0);
    p.head.rowBytes = 0;
    write(file, p, Buffer.concat([p.paths[1], p.paths[2], p.paths[3], ids.subarray(0, ids.length - 40)]));
  });
});

/** F - 0.5 sidecars: the walk makes F checks, the layout pays for F - 0.5 (20 bytes short): the blob region made 20 bytes longer. */
const fractionalCount: Parameters<typeof run>[2] = (file, p) => {
  const [D, F, I, N] = p.head.counts;
  p.head.counts = [D, F - 0.5, I, N];
  p.head.blobBytes += 20;
  p.payloadText = shiftStandIns(p.payloadText, 20);
  write(file, p, Buffer.concat([...p.paths, ...p.ids, p.blobs]));
};

test('attack25 crafted: a fractional sidecar count (one path more walked than the head pays for)', async (t) => {
  await run(t, 'frac-count', fractionalCount);
});

test('attack25 regression (failed on 7d7e7e5: RangeError out of loadMemo\'s delta copy) crafted: a negative folder count with a delta (the delta\'s ids copied before the memo\'s start)', async (t) => {
  await run(t, 'neg-count-delta', (file, p) => {
    const [, F, I, N] = p.head.counts;
    // The folder checks gone, their count -x; the blob region made 40x longer (over the ids and paths), its stand-ins moved.
    const rest = Buffer.concat([p.paths[1], p.paths[2], p.paths[3], p.ids[1], p.ids[2], p.ids[3], p.blobs]);
    // As far back as the blob region can start (the file's first bytes): the delta's sidecar ids land before the buffer.
    const jsonEnd = readFileSync(file).length - p.lazy.length - Buffer.concat([...p.paths, ...p.ids, p.blobs]).length;
    const x = Math.floor((jsonEnd + rest.length - p.blobs.length) / 40);
    p.head.counts = [-x, F, I, N];
    p.head.bytes = [0, p.head.bytes[1], p.head.bytes[2], p.head.bytes[3]];
    p.head.blobBytes += 40 * x;
    p.payloadText = shiftStandIns(p.payloadText, 40 * x);
    write(file, p, rest);
  }, true);
});

test('attack25 crafted: a fractional sidecar count, the last sidecar then edited in place (a patch decodes its path)', async (t) => {
  await run(t, 'frac-count-edit', fractionalCount, false, (sidecars) => edit(sidecars[sidecars.length - 1]));
});

/** A delta's parts (tree-memo.ts readDelta), written again with `json` its JSON part's value and `tail` after it; the CRC-32 made to match. */
function rewriteDelta(file: string, change: (v: Record<string, unknown>, blobs: Buffer, ids: Buffer) => { json: string; tail: Buffer }): void {
  const b = readFileSync(file);
  const magicLen = b.indexOf(0x0a) + 1;
  const at = magicLen + 8;
  const end = at + b.readUInt32LE(magicLen);
  const v = parseFrameText(b, at, end) as Record<string, unknown>;
  const blobBytes = v.blobBytes as number;
  const { json, tail } = change(v, b.subarray(end, end + blobBytes), b.subarray(end + blobBytes));
  const jb = Buffer.from(json, 'latin1');
  const out = Buffer.concat([b.subarray(0, magicLen), Buffer.alloc(8), jb, tail]);
  out.writeUInt32LE(jb.length, magicLen);
  out.writeUInt32LE(crc32(out.subarray(at)) >>> 0, magicLen + 4);
  writeFileSync(file, out);
}

test('attack25 crafted delta: blobBytes out of range or over the identities, stand-ins anywhere in the region', async (t) => {
  const crafts: [string, (v: Record<string, unknown>, blobs: Buffer, ids: Buffer) => { json: string; tail: Buffer }][] = [
    ['blobBytes past the end', (v, blobs, ids) => ({ json: JSON.stringify({ ...v, blobBytes: blobs.length + ids.length + 44 }), tail: Buffer.concat([blobs, ids]) })],
    ['blobBytes negative', (v, blobs, ids) => ({ json: JSON.stringify({ ...v, blobBytes: -44 }), tail: Buffer.concat([blobs, ids]) })],
    ['blobBytes fractional', (v, blobs, ids) => ({ json: JSON.stringify({ ...v, blobBytes: blobs.length + 0.5 }), tail: Buffer.concat([blobs, ids]) })],
    ['blobBytes a string', (v, blobs, ids) => ({ json: JSON.stringify({ ...v, blobBytes: String(blobs.length) }), tail: Buffer.concat([blobs, ids]) })],
    ['blobBytes over the identities (none left)', (v, blobs, ids) => ({ json: JSON.stringify({ ...v, blobBytes: blobs.length + ids.length }), tail: Buffer.concat([blobs, ids]) })],
    ['a stand-in of the whole region, one of 2^53', (v, blobs, ids) => {
      const s = JSON.stringify({ ...v, body: { ...(v.body as object), extra: { '\u0000bytes': [0, blobs.length] }, far: { '\u0000bytes': [2 ** 53, 0] } } });
      return { json: s, tail: Buffer.concat([blobs, ids]) };
    }],
    ['a stand-in with a third number', (v, blobs, ids) => ({ json: JSON.stringify({ ...v, body: { ...(v.body as object), rows: { '\u0000bytes': [0, 0, 1] } } }), tail: Buffer.concat([blobs, ids]) })],
    ['rows a stand-in of the identities\' bytes', (v, blobs, ids) => ({ json: JSON.stringify({ ...v, blobBytes: blobs.length + 44, body: { ...(v.body as object), rows: { '\u0000bytes': [blobs.length, 44] } } }), tail: Buffer.concat([blobs, ids, ids.subarray(0, 44)]) })],
    ['a sidecar number past the checks', (v, blobs, ids) => {
      const bad = Buffer.from(ids);
      if (bad.length >= 44) bad.writeUInt32LE(0xffffffff, 0);
      return { json: JSON.stringify(v), tail: Buffer.concat([blobs, bad]) };
    }],
  ];
  const failed: string[] = [];
  for (const [label, craft] of crafts) {
    const { root, indexPath, idx } = smallLibrary(t, `attack25-delta-`);
    const runs: Run[] = [];
    for (const name of ['validate', 'stats op'] as const) {
      const cmd = commands(root, indexPath, runs)[name];
      await warm(cmd, runs, `${label} ${name}`);
    }
    edit(`${root}/top.json`);
    for (const name of ['validate', 'stats op'] as const) {
      const cmd = commands(root, indexPath, runs)[name];
      assert.equal(await cmd(true), await cmd(false));
    }
    const deltas = deltaFiles(idx);
    assert.ok(deltas.length >= 1, `${label}: deltas ${show(runs)}`);
    for (const d of deltas) rewriteDelta(d, craft);
    for (const name of ['validate', 'stats op'] as const) {
      const cmd = commands(root, indexPath, runs)[name];
      const want = await cmd(false);
      for (let i = 0; i < 2; i++) {
        try {
          const got = await cmd(true);
          if (got !== want) failed.push(`${label} ${name} ${i}: ${firstDiff(got, want)}`);
        } catch (e) {
          failed.push(`${label} ${name} ${i}: threw ${(e as Error).message}`);
        }
      }
    }
    t.diagnostic(`${label}: ${show(runs.slice(-4))}`);
  }
  assert.deepEqual(failed, []);
});
