/** The CLI's output pieces: streamed JSON, the result sink, the progress bar, wrapper sentences. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { writeJson } from '../src/cli/json-writer.js';
import { needsTypedJson } from '../src/formats/numbers.js';
import { openSink, type Sink } from '../src/cli/sink.js';
import { Progress, formatDuration } from '../src/cli/progress.js';
import { cleanupMessage, convertMessage, exportMessage } from '../src/messages.js';
import { removeTree, tempDir } from './helpers/cli.js';

/** A sink that keeps everything in memory. */
function memorySink(): Sink & { text: () => string } {
  const parts: string[] = [];
  return {
    target: '-',
    write: (s: string) => {
      parts.push(s);
      return undefined;
    },
    close: async () => undefined,
    abort: async () => undefined,
    text: () => parts.join(''),
  };
}

class Capture extends Writable {
  chunks: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.chunks.push(chunk.toString('utf8'));
    cb();
  }
}

describe('cli output', () => {
  it('writeJson gives exactly JSON.stringify(v, null, 2) + newline, also for streamed large arrays', async () => {
    const big = { b: Array.from({ length: 600 }, (_, i) => ({ path: `p/${i}.json`, n: i, ops: ['a', 'b'], nested: { e: [], o: {} } })), a: { list: Array.from({ length: 300 }, (_, i) => i / 3) }, s: 'x"\n\u2028' };
    const sink = memorySink();
    await writeJson(sink, big);
    assert.equal(sink.text(), JSON.stringify(big, null, 2) + '\n');
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), fc.integer({ min: 0, max: 400 }), async (v, n) => {
        const value = { v, arr: Array.from({ length: n }, () => v), u: undefined };
        // A -0 is written typed (-0.0, formats/numbers.ts: lossless), where JSON.stringify writes 0: below.
        fc.pre(!needsTypedJson(value));
        const s = memorySink();
        await writeJson(s, value);
        assert.equal(s.text(), JSON.stringify(value, null, 2) + '\n');
      }),
      { numRuns: 60 },
    );
    // fast-check's JSON values include -0 now and then (seed 2096229466: [-0, 0]): written typed, in one piece.
    const negativeZero = { v: [-0, 0], arr: [] };
    const typed = memorySink();
    await writeJson(typed, negativeZero);
    assert.equal(typed.text(), '{\n  "v": [\n    -0.0,\n    0\n  ],\n  "arr": []\n}\n');
  });

  it('a file sink shows the file only complete (temp + rename); abort leaves the old file and no temp', async () => {
    const dir = tempDir();
    const target = join(dir, 'out.json');
    writeFileSync(target, 'old');
    const sink = await openSink(target, process.stdout);
    assert.equal(sink.target, target);
    for (let i = 0; i < 5000; i++) await sink.write(`{"i":${i}}\n`);
    assert.equal(readFileSync(target, 'utf8'), 'old', 'not replaced before close');
    await sink.close();
    const lines = readFileSync(target, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 5000);
    assert.deepEqual(JSON.parse(lines[4999]), { i: 4999 });
    const aborted = await openSink(target, process.stdout);
    await aborted.write('partial');
    await aborted.abort();
    assert.equal(readFileSync(target, 'utf8').split('\n').length, 5001);
    assert.deepEqual(readdirSync(dir), ['out.json']);
    removeTree(dir);
  });

  it('a stream sink buffers small writes into larger chunks', async () => {
    const cap = new Capture();
    const sink = await openSink(null, cap);
    for (let i = 0; i < 20000; i++) sink.write('0123456789');
    await sink.close();
    assert.equal(cap.chunks.join('').length, 200000);
    assert.ok(cap.chunks.length < 10, `few writes (${cap.chunks.length})`);
  });

  it('progress: nothing before 1 s, at most one redraw per 100 ms, ETA with a total, cleared at the end', () => {
    let now = 0;
    const cap = new Capture();
    const p = new Progress(cap, { enabled: true, label: 'validating', now: () => now, columns: 200 });
    p.update(10, 100);
    now = 900;
    p.update(50, 100);
    assert.equal(cap.chunks.length, 0, 'quick work prints nothing');
    now = 1000;
    p.update(50, 100);
    now = 1050;
    p.update(60, 100);
    assert.equal(cap.chunks.length, 1, 'redraws are throttled');
    assert.match(cap.chunks[0], /^\rvalidating \[#{10}\.{10}\] 50\/100 files 50% · 50\/s · ETA 0:01\x1b\[K$/);
    now = 2000;
    p.update(300);
    assert.match(cap.chunks[1], /^\rvalidating 300 files · 150\/s\x1b\[K$/);
    p.finish();
    assert.equal(cap.chunks[2], '\r\x1b[K');
    const off = new Capture();
    const q = new Progress(off, { enabled: false, label: 'x', now: () => 5000 });
    q.update(1, 2);
    q.finish();
    assert.equal(off.chunks.length, 0);
    assert.equal(formatDuration(3700), '1:01:40');
  });

  it('wrapper sentences: `Removed (\\d+)` only for a real removal, `Exported (\\d+)`, `Converted N`', () => {
    assert.equal(/Removed (\d+)/.exec(cleanupMessage(false, 12))![1], '12');
    assert.equal(/Removed (\d+)/i.exec(cleanupMessage(true, 12)), null);
    assert.equal(/Exported (\d+)/.exec(exportMessage(7, '/x/y.csv'))![1], '7');
    assert.equal(convertMessage(false, 3, 'bin'), 'Converted 3 sidecar files to bin');
    assert.doesNotMatch(convertMessage(true, 3, 'bin'), /Converted/);
  });
});
