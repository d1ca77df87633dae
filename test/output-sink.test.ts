/**
 * The one atomic streaming sink (src/fs/output-sink.ts), used by the CLI's reports and by export:
 * a file target appears only complete, an aborted one leaves the previous file and no temp file,
 * strings and big byte pieces keep their order, and a stream closed early fails the run instead of
 * buffering without end.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { openOutputSink } from '../src/fs/output-sink.js';
import { removeTree, tempDir } from './helpers/cli.js';

describe('output sink', () => {
  it('a file target appears only at close, complete, in order (strings and big byte pieces), with no temp file left', async () => {
    const dir = tempDir('isc-sink-');
    try {
      const target = path.join(dir, 'out.json');
      fs.writeFileSync(target, 'previous');
      const sink = await openOutputSink(target, process.stdout);
      const big = Buffer.alloc(3 * 1024 * 1024, 0x61);
      const pieces: (string | Uint8Array)[] = ['[', 'x'.repeat(70_000), big, '"é"', ']'];
      for (const p of pieces) await sink.write(p);
      assert.equal(fs.readFileSync(target, 'utf8'), 'previous', 'the target changed before close');
      await sink.close();
      const want = Buffer.concat(pieces.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
      assert.ok(fs.readFileSync(target).equals(want));
      assert.deepEqual(fs.readdirSync(dir), ['out.json']);
    } finally {
      removeTree(dir);
    }
  });

  it('abort keeps the previous file and removes the temp file', async () => {
    const dir = tempDir('isc-sink-');
    try {
      const target = path.join(dir, 'out.csv');
      fs.writeFileSync(target, 'previous');
      const sink = await openOutputSink(target, process.stdout);
      await sink.write('x'.repeat(200_000));
      await sink.abort();
      assert.equal(fs.readFileSync(target, 'utf8'), 'previous');
      assert.deepEqual(fs.readdirSync(dir), ['out.csv']);
    } finally {
      removeTree(dir);
    }
  });

  it('a stream gets the same bytes; null and "-" mean the given stdout', async () => {
    for (const output of [null, '-'] as const) {
      const out = new PassThrough();
      const chunks: Buffer[] = [];
      out.on('data', (c: Buffer) => chunks.push(c));
      const sink = await openOutputSink(output, out);
      assert.equal(sink.target, '-');
      await sink.write('a');
      await sink.write(Buffer.from('bc'));
      await sink.write('d');
      await sink.close();
      assert.equal(Buffer.concat(chunks).toString(), 'abcd');
    }
  });

  it('a stream that closes early (EPIPE) fails the writer instead of buffering forever', async () => {
    const slow = new Writable({ highWaterMark: 1024, write: (_c, _e, cb) => setTimeout(cb, 5) });
    const sink = await openOutputSink(slow, process.stdout);
    const writing = (async () => {
      for (let i = 0; i < 1000; i++) await sink.write('y'.repeat(100_000));
      await sink.close();
    })();
    setTimeout(() => slow.destroy(), 20);
    await assert.rejects(writing);
  });
});
