/**
 * The index file's reads (src/incremental/store.ts WindowReader): a warm run reads several streams
 * of entries at once (each folder's listing, then its records, kept apart in the file); each
 * stream keeps a window of its own, so the file is read about once, not once per access.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WindowReader } from '../src/incremental/store.js';
import { wordFile } from './helpers/tree.js';

const MiB = 1 << 20;

test('two streams read in turn: each window is read once (one window read 1 MiB again at every turn: 481 MB for a 28 MB index)', (t) => {
  const { fd, data: bytes } = wordFile(t, 6 * MiB);
  const r = new WindowReader(fd, bytes.length);
  // Stream A from 0, stream B from 3 MiB, 4 KiB steps, in turn: 2 MiB of each.
  for (let k = 0; k < 512; k++) {
    for (const base of [0, 3 * MiB]) {
      const off = base + k * 4096;
      const [buf, at] = r.bytes(off, 4096);
      assert.equal(buf.readUInt32LE(at), off, 'the bytes at the offset asked');
      assert.equal(buf.readUInt32LE(at + 4092), off + 4092);
    }
  }
  // Once each, but for read-ahead past each stream's end (at most a window: 1 MiB).
  assert.ok(r.bytesRead <= 4 * MiB + 2 * MiB, `read ${r.bytesRead} bytes for 4 MiB of entries`);
  // Each stream's window grew to 1 MiB (read-ahead per stream): a few dozen reads, not one per 4 KiB.
  assert.ok(r.reads <= 24, `${r.reads} reads for two streams of 2 MiB`);
  // A range bigger than a window, and the end of the file.
  const [big, at] = r.bytes(MiB - 8, 2 * MiB);
  assert.equal(big.readUInt32LE(at + 8), MiB);
  const [end, e] = r.bytes(bytes.length - 4, 4);
  assert.equal(end.readUInt32LE(e), bytes.length - 4);
  assert.throws(() => r.bytes(bytes.length - 2, 4), /out of range/);
});

test('lookups scattered across the file read about what they ask for (1 MiB windows read 40 MB of a 44 MB index for a patch\'s 400 lookups)', (t) => {
  const { fd, data: bytes } = wordFile(t, 32 * MiB);
  const r = new WindowReader(fd, bytes.length);
  // 200 entries of 2 KiB, 160 KiB apart (a folder listing per folder, across the file).
  for (let k = 0; k < 200; k++) {
    const off = k * 160 * 1024 + 1000;
    const [buf, at] = r.bytes(off, 2048);
    assert.equal(buf.readUInt32LE(at), off);
  }
  assert.ok(r.bytesRead <= 200 * 8 * 1024, `read ${r.bytesRead} bytes for 200 entries of 2 KiB`);
  assert.equal(r.reads, 200);
});
