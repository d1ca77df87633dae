/**
 * The one atomic streaming sink (src/fs/output-sink.ts), used by the CLI's reports and by export:
 * a file target appears only complete, an aborted one leaves the previous file and no temp file,
 * strings and big byte pieces keep their order, and a stream closed early fails the run instead of
 * buffering without end.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { openOutputSink } from '../src/fs/output-sink.js';
import { TEMP_MARK, tempNameFor } from '../src/fs/temp-files.js';
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

  it('a device or FIFO target is written in place, never replaced by a regular file; a folder is refused with no temp file left', async () => {
    const dir = tempDir('isc-sink-');
    try {
      // A link to /dev/null: a rename over it would replace the link (over /dev/null itself, as root, the device node).
      const toNull = path.join(dir, 'null-link');
      fs.symlinkSync('/dev/null', toNull);
      let sink = await openOutputSink(toNull, process.stdout);
      await sink.write('{"a":1}\n');
      await sink.close();
      assert.ok(fs.lstatSync(toNull).isSymbolicLink(), 'the link to /dev/null was replaced');
      assert.ok(fs.statSync('/dev/null').isCharacterDevice());

      // A FIFO with a reader: the reader gets the bytes, the FIFO stays a FIFO.
      const fifo = path.join(dir, 'pipe');
      const made = spawnSync('mkfifo', [fifo]);
      if (made.status === 0) {
        const reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
        try {
          sink = await openOutputSink(fifo, process.stdout);
          await sink.write('hello');
          await sink.close();
          assert.ok(fs.lstatSync(fifo).isFIFO(), 'the FIFO was replaced by a regular file');
          const buf = Buffer.alloc(16);
          assert.equal(buf.toString('utf8', 0, fs.readSync(reader, buf)), 'hello');
        } finally {
          fs.closeSync(reader);
        }
      }

      // A folder: a clear error, and nothing left in the parent.
      const folder = path.join(dir, 'folder');
      fs.mkdirSync(folder);
      const before = fs.readdirSync(dir).sort();
      await assert.rejects(
        (async () => {
          const s = await openOutputSink(folder, process.stdout);
          await s.write('x');
          await s.close();
        })(),
        (e: Error & { code?: string }) => e.code === 'IO' && /directory/.test(e.message),
      );
      assert.deepEqual(fs.readdirSync(dir).sort(), before);
    } finally {
      removeTree(dir);
    }
  });
  it('an existing file keeps its mode; a symlink to a file is written through, not replaced (as every atomic write)', async () => {
    const dir = tempDir('isc-sink-');
    try {
      // A user made the export file 0600 (decrypted face embeddings): the new bytes stay 0600.
      const target = path.join(dir, 'export.jsonl');
      fs.writeFileSync(target, 'previous');
      fs.chmodSync(target, 0o600);
      let sink = await openOutputSink(target, process.stdout);
      await sink.write('{"a":1}\n');
      await sink.close();
      assert.equal(fs.readFileSync(target, 'utf8'), '{"a":1}\n');
      assert.equal(fs.statSync(target).mode & 0o777, 0o600, 'the 0600 output file became world-readable');

      // A link to a file: the file gets the bytes, the link stays a link.
      fs.mkdirSync(path.join(dir, 'real'));
      const real = path.join(dir, 'real', 'out.csv');
      fs.writeFileSync(real, 'old');
      fs.chmodSync(real, 0o640);
      const link = path.join(dir, 'link.csv');
      fs.symlinkSync(real, link);
      sink = await openOutputSink(link, process.stdout);
      assert.equal(sink.target, link);
      await sink.write('new');
      await sink.close();
      assert.ok(fs.lstatSync(link).isSymbolicLink(), 'the link was replaced by a regular file');
      assert.equal(fs.readFileSync(real, 'utf8'), 'new');
      assert.equal(fs.statSync(real).mode & 0o777, 0o640);
      assert.deepEqual(fs.readdirSync(path.join(dir, 'real')), ['out.csv'], 'a temp file was left');

      // A dangling link is simply replaced (nothing to write through), and a new file is a plain new file.
      const dangling = path.join(dir, 'dangling.json');
      fs.symlinkSync(path.join(dir, 'nowhere', 'x.json'), dangling);
      sink = await openOutputSink(dangling, process.stdout);
      await sink.write('x');
      await sink.close();
      assert.ok(fs.lstatSync(dangling).isFile());
      assert.equal(fs.readFileSync(dangling, 'utf8'), 'x');
    } finally {
      removeTree(dir);
    }
  });
  it("a killed writer's temp file of this target is removed by the next write (a retried pod does not pile up half exports); a live or unrelated one stays", async () => {
    const dir = tempDir('isc-sink-');
    try {
      const target = path.join(dir, 'stats-3.jsonl');
      const dead = spawnSync(process.execPath, ['-e', '']).pid;
      assert.ok(dead);
      // What `export -o stats-3.jsonl` killed mid-write leaves: its temp file, named with its (now dead) pid.
      const abandoned = path.join(dir, tempNameFor('stats-3.jsonl').replace(`-${process.pid}-`, `-${dead}-`));
      fs.writeFileSync(abandoned, 'half an export');
      const live = path.join(dir, tempNameFor('stats-3.jsonl')); // a writer still running (this process)
      fs.writeFileSync(live, 'being written');
      const other = path.join(dir, tempNameFor('other.jsonl').replace(`-${process.pid}-`, `-${dead}-`));
      fs.writeFileSync(other, 'not this target');
      const sink = await openOutputSink(target, process.stdout);
      await sink.write('done\n');
      await sink.close();
      assert.equal(fs.readFileSync(target, 'utf8'), 'done\n');
      assert.ok(!fs.existsSync(abandoned), 'the killed run\'s temp file was left behind');
      assert.ok(fs.existsSync(live), "a live writer's temp file was removed");
      assert.ok(fs.existsSync(other), "another target's temp file was removed");
      assert.deepEqual(fs.readdirSync(dir).filter((n) => n.includes(TEMP_MARK)).sort(), [path.basename(live), path.basename(other)].sort());
    } finally {
      removeTree(dir);
    }
  });
});
