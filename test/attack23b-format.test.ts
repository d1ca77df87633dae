/**
 * attack23b: reading a memo file of format 11 (tree-memo.ts encode, readMemoFrame, readLazy,
 * loadMemo): the file cut at every region boundary (inside the JSON part, the rows, the check
 * paths, the identities, the lazy part), bytes appended, `head.lazyBytes` / `head.lazyCrc` crafted
 * with the main CRC-32 made to match, an older format's magic, a FIFO or a folder at the memo's
 * name. Each run (answered whole, or a patch after an in-place edit) must give what `index: false`
 * gives, and never throw.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { commands, edit, firstDiff, memoFiles, show, smallLibrary, warm, type Run } from './helpers/attack23.js';

const library = (t: TestContext) => smallLibrary(t, 'attack23b-format-');

interface Layout {
  buf: Buffer;
  magicLen: number;
  body: number;
  jsonEnd: number;
  pathsEnd: number;
  /** The identities' end: the payload's byte strings from here to the lazy part. */
  idsEnd: number;
  lazyAt: number;
  /** The rows' end in the lazy part (the records follow). */
  rowsEnd: number;
  main: { head: Record<string, unknown>; payload: unknown };
}

function layout(file: string): Layout {
  const buf = readFileSync(file);
  const magicLen = buf.indexOf(0x0a) + 1;
  const body = magicLen + 8;
  const jsonEnd = body + buf.readUInt32LE(magicLen);
  const main = JSON.parse(buf.toString('utf8', body, jsonEnd)) as Layout['main'];
  const head = main.head as { rowBytes: number; bytes: number[]; lazyBytes: number; blobBytes: number };
  const pathsEnd = jsonEnd + head.bytes.reduce((a, b) => a + b, 0);
  const lazyAt = buf.length - head.lazyBytes;
  const idsEnd = lazyAt - head.blobBytes;
  return { buf, magicLen, body, jsonEnd, pathsEnd, idsEnd, lazyAt, rowsEnd: lazyAt + head.rowBytes, main };
}

/** The memo written again with this JSON part and tail (the main CRC-32 over [body, length - sealedTail's unsealed bytes)). */
function rewrite(file: string, l: Layout, main: unknown, unsealed: number, tail: Buffer = l.buf.subarray(l.jsonEnd)): void {
  const json = Buffer.from(JSON.stringify(main));
  const out = Buffer.concat([l.buf.subarray(0, l.magicLen), Buffer.alloc(8), json, tail]);
  out.writeUInt32LE(json.length, l.magicLen);
  const sealedEnd = Math.max(l.magicLen + 8, Math.min(out.length, out.length - unsealed));
  out.writeUInt32LE(crc32(out.subarray(l.magicLen + 8, sealedEnd)) >>> 0, l.magicLen + 4);
  writeFileSync(file, out);
}

/** A damage: its name, what it does to the memo file, how the whole run and the patched run after it are answered (default: not by the memo). */
type Damage = [string, (file: string, l: Layout) => void, [string, string]?];

/** Warm validate, keep the memo's bytes; `damage` then runs against a fresh copy of them before a whole run and a patched run. */
async function attack(t: TestContext, label: string, damages: Damage[]): Promise<void> {
  const { root, indexPath, idx } = library(t);
  const runs: Run[] = [];
  const cmd = commands(root, indexPath, runs).validate;
  await warm(cmd, runs, label);
  let [file] = memoFiles(idx);
  let good = readFileSync(file);
  let want = await cmd(false);
  let round = 0;
  for (const [what, damage, expect = ['none', 'none']] of damages) {
    // Answered whole (or not at all) from the damaged memo.
    rmSync(`${file}.delta`, { force: true });
    damage(file, layout(file));
    const from = runs.length;
    const got = await cmd(true);
    assert.ok(got === want, `${label} ${what}: whole (${show(runs.slice(from))}): ${firstDiff(got, want)}`);
    // A patch from the damaged memo (the memo's bytes put back, damaged again, a sidecar edited).
    rmSync(file, { recursive: true, force: true });
    writeFileSync(file, good);
    rmSync(`${file}.delta`, { force: true });
    damage(file, layout(file));
    edit(join(root, 'top.json'), round++);
    want = await cmd(false);
    const from2 = runs.length;
    const got2 = await cmd(true);
    assert.ok(got2 === want, `${label} ${what}: patched (${show(runs.slice(from2))}): ${firstDiff(got2, want)}`);
    // How each run was answered: the damaged memo whole or not at all; the patch from it or not at all.
    assert.deepEqual([runs[from]?.how, runs[from2]?.how], expect, `${label} ${what}: answered ${show(runs.slice(from, from + 1))} / ${show(runs.slice(from2))}`);
    const got3 = await cmd(true);
    assert.ok(got3 === want, `${label} ${what}: the run after (${show(runs.slice(from2))}): ${firstDiff(got3, want)}`);
    // A fresh memo of the tree now, the next damage's.
    rmSync(idx, { recursive: true, force: true });
    mkdirSync(idx, { recursive: true });
    runs.length = 0;
    await warm(cmd, runs, `${label} ${what}: warm again`);
    [file] = memoFiles(idx);
    good = readFileSync(file);
  }
}

test('a memo cut at every region boundary (and one byte either side), or grown: a miss, never a crash or a wrong answer', async (t) => {
  const cuts: Damage[] = [];
  const at = (name: string, pick: (l: Layout) => number) => {
    for (const d of [-1, 0, 1]) cuts.push([`cut at ${name}${d === 0 ? '' : d > 0 ? '+1' : '-1'}`, (file, l) => writeFileSync(file, l.buf.subarray(0, Math.max(0, pick(l) + d))), name === 'the end' && d >= 0 ? ['whole', 'patched'] : undefined]);
  };
  at('the magic', (l) => l.magicLen);
  at('the JSON part\'s start', (l) => l.body);
  at('the JSON part\'s middle', (l) => (l.body + l.jsonEnd) >> 1);
  at('the JSON part\'s end', (l) => l.jsonEnd);
  at('the paths\' end', (l) => l.pathsEnd);
  at('the identities\' end', (l) => l.idsEnd);
  at('the byte strings\' middle', (l) => (l.idsEnd + l.lazyAt) >> 1);
  at('the byte strings\' end (the lazy part\'s start)', (l) => l.lazyAt);
  at('the rows\' end', (l) => l.rowsEnd);
  at('the lazy part\'s middle', (l) => (l.lazyAt + l.buf.length) >> 1);
  at('the end', (l) => l.buf.length);
  cuts.push(['a byte appended', (file, l) => writeFileSync(file, Buffer.concat([l.buf, Buffer.from([0])]))]);
  cuts.push(['the lazy part repeated', (file, l) => writeFileSync(file, Buffer.concat([l.buf, l.buf.subarray(l.lazyAt)]))]);
  cuts.push(['an identity byte flipped', (file, l) => writeFileSync(file, Buffer.from(l.buf).fill(l.buf[l.idsEnd - 1] ^ 1, l.idsEnd - 1, l.idsEnd))]);
  cuts.push(['a byte string\'s byte flipped', (file, l) => writeFileSync(file, Buffer.from(l.buf).fill(l.buf[l.lazyAt - 1] ^ 1, l.lazyAt - 1, l.lazyAt))]);
  await attack(t, 'cut', cuts);
});

test('crafted head.lazyBytes / head.lazyCrc with the main CRC-32 made to match: a miss (or the patch a miss), never a crash', async (t) => {
  const crafts: Damage[] = [];
  // (A craft the lazy part only is read wrong by: the whole run is answered, the patch is a miss.)
  const withHead = (name: string, change: (h: Record<string, unknown>, l: Layout) => void, unsealed: (l: Layout) => number, tail?: (l: Layout) => Buffer, expect?: [string, string]) =>
    crafts.push([name, (file, l) => {
      const main = structuredClone(l.main);
      change(main.head, l);
      rewrite(file, l, main, unsealed(l), tail?.(l));
    }, expect]);
  const lazyOnly: [string, string] = ['whole', 'none'];
  const lazyLen = (l: Layout) => l.buf.length - l.lazyAt;
  withHead('lazyBytes over the file', (h, l) => void (h.lazyBytes = l.buf.length), lazyLen);
  withHead('lazyBytes huge', (h) => void (h.lazyBytes = 2 ** 53 + 2), lazyLen);
  withHead('lazyBytes negative', (h) => void (h.lazyBytes = -1), () => -1);
  withHead('lazyBytes 1.5', (h) => void (h.lazyBytes = 1.5), lazyLen);
  withHead('lazyBytes a string', (h, l) => void (h.lazyBytes = String(lazyLen(l))), lazyLen);
  withHead('lazyBytes 0 (the lazy part sealed)', (h) => void (h.lazyBytes = 0), () => 0);
  withHead('lazyBytes 4 more (the identities\' end in it)', (h, l) => void (h.lazyBytes = lazyLen(l) + 4), (l) => lazyLen(l) + 4);
  withHead('lazyBytes 4 less', (h, l) => void (h.lazyBytes = lazyLen(l) - 4), (l) => lazyLen(l) - 4);
  withHead('lazyCrc missing', (h) => void delete h.lazyCrc, lazyLen);
  withHead('lazyCrc null', (h) => void (h.lazyCrc = null), lazyLen);
  withHead('lazyCrc 1.5', (h) => void (h.lazyCrc = 1.5), lazyLen);
  withHead('lazyCrc 2^32 + crc', (h) => void (h.lazyCrc = 2 ** 32 + (h.lazyCrc as number)), lazyLen, undefined, lazyOnly);
  withHead('lazyCrc negative', (h) => void (h.lazyCrc = (h.lazyCrc as number) - 2 ** 32), lazyLen, undefined, lazyOnly);
  withHead('lazyCrc wrong', (h) => void (h.lazyCrc = ((h.lazyCrc as number) ^ 1) >>> 0), lazyLen, undefined, lazyOnly);
  // The lazy part's bytes empty, with their CRC (0): the lazy part is not memo records.
  withHead('an empty lazy part', (h) => {
    h.lazyBytes = 0;
    h.lazyCrc = 0;
  }, () => 0, (l) => l.buf.subarray(l.jsonEnd, l.lazyAt), lazyOnly);
  // The lazy part 4 zero bytes (n = 0 records), its CRC to match.
  withHead('no records in the lazy part', (h) => {
    h.lazyBytes = 4;
    h.lazyCrc = crc32(Buffer.alloc(4)) >>> 0;
  }, () => 4, (l) => Buffer.concat([l.buf.subarray(l.jsonEnd, l.lazyAt), Buffer.alloc(4)]), lazyOnly);
  await attack(t, 'craft', crafts);
});

test('an older format\'s memo (format 8, 9 and 10 magics, format 9\'s layout: the lazy part after the JSON part, one CRC), a FIFO, a folder: a miss', async (t) => {
  const older: Damage[] = [];
  for (const v of ['8', '9', '10']) {
    older.push([`format ${v}'s magic`, (file, l) => {
      const magic = Buffer.from(`image-sidecar tree memo ${v}\n`, 'latin1');
      const out = Buffer.concat([magic, l.buf.subarray(l.magicLen)]);
      out.writeUInt32LE(crc32(out.subarray(magic.length + 8, out.length - (l.buf.length - l.lazyAt))) >>> 0, magic.length + 4);
      writeFileSync(file, out);
    }]);
    // Format 9's layout under its own magic: MAGIC, len, CRC of all after, JSON, lazy, rows, paths, identities.
    older.push([`format ${v}'s layout`, (file, l) => {
      const magic = Buffer.from(`image-sidecar tree memo ${v}\n`, 'latin1');
      const main = structuredClone(l.main);
      delete (main.head as Record<string, unknown>).lazyCrc;
      const json = Buffer.from(JSON.stringify(main));
      const out = Buffer.concat([magic, Buffer.alloc(8), json, l.buf.subarray(l.lazyAt), l.buf.subarray(l.jsonEnd, l.lazyAt)]);
      out.writeUInt32LE(json.length, magic.length);
      out.writeUInt32LE(crc32(out.subarray(magic.length + 8)) >>> 0, magic.length + 4);
      writeFileSync(file, out);
    }]);
  }
  // Format 9's layout under this format's magic (one CRC over everything after the field).
  older.push(['format 9\'s layout, this format\'s magic', (file, l) => {
    const json = Buffer.from(JSON.stringify(l.main));
    const out = Buffer.concat([l.buf.subarray(0, l.magicLen), Buffer.alloc(8), json, l.buf.subarray(l.lazyAt), l.buf.subarray(l.jsonEnd, l.lazyAt)]);
    out.writeUInt32LE(json.length, l.magicLen);
    out.writeUInt32LE(crc32(out.subarray(l.magicLen + 8)) >>> 0, l.magicLen + 4);
    writeFileSync(file, out);
  }]);
  older.push(['a FIFO at the memo\'s name', (file) => {
    rmSync(file);
    execFileSync('mkfifo', [file]);
  }]);
  older.push(['a folder at the memo\'s name', (file) => {
    rmSync(file);
    mkdirSync(file);
  }]);
  await attack(t, 'older', older);
});
