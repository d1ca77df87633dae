/**
 * The big-file turn's purpose (tasks/big-file-turn.ts; its mechanics: test/big-file-turn.test.ts):
 * the resident set of `stats` on a tree of big sidecars of small objects is about what one of them
 * costs (Reliability finding 3: 1.3 GB of peak RSS for one 25 MB sidecar of 8 million small
 * objects, 3.0 GB for three). Nine sidecars of 16 MiB (~300 MB decoded each) and three CLI runs on
 * two threads: a long test (npm run test:long).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeObjectSidecars, writeSmallSidecars } from '../helpers/big-sidecars.js';
import { runCliMeasured } from '../helpers/measure-rss.js';

/**
 * Peak RSS of `stats` on 2 threads: one big sidecar of small objects (~16 MiB, ~300 MB decoded)
 * among small ones, against several. Small sidecars after each big one (more than a batch holds)
 * put each big file in a batch of its own when they are in folders of their own.
 */
describe('stats on a tree of big sidecars costs about what one of them costs', () => {
  const FILE_BYTES = 16 * 1024 * 1024;
  const BIG_FILES = 4;
  const SMALL_PER_FOLDER = 80;
  const threads = ['--engine', 'threads', '-w', '2'];
  let root = '';
  let oneKb = 0;

  const peakKb = async (dir: string): Promise<number> => {
    const r = await runCliMeasured(['stats', join(root, dir), '--json', '--no-index', ...threads]);
    assert.equal(r.code, 0, r.stderr.slice(-500));
    assert.ok(Number.isFinite(r.maxRssKb), 'peak RSS reported');
    return r.maxRssKb;
  };
  const mb = (kb: number) => Math.round(kb / 1024);

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'isc-big-turn-'));
    writeObjectSidecars(join(root, 'one', 'd0'), 1, FILE_BYTES);
    writeSmallSidecars(join(root, 'one', 'd0'), SMALL_PER_FOLDER);
    writeObjectSidecars(join(root, 'together', 'd0'), BIG_FILES, FILE_BYTES);
    writeSmallSidecars(join(root, 'together', 'd0'), SMALL_PER_FOLDER);
    for (let i = 0; i < BIG_FILES; i++) {
      writeObjectSidecars(join(root, 'apart', `d${i}`), 1, FILE_BYTES);
      writeSmallSidecars(join(root, 'apart', `d${i}`), SMALL_PER_FOLDER);
    }
    oneKb = await peakKb('one');
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it(`${BIG_FILES} in one batch: each one's garbage is collected before the next is decoded`, async (t) => {
    const kb = await peakKb('together');
    t.diagnostic(`peak RSS: one big file ${mb(oneKb)} MB, ${BIG_FILES} in one batch ${mb(kb)} MB`);
    // Before: 644 MB against 388 MB (1.66×): the thread collected only after the batch.
    assert.ok(kb < 1.5 * oneKb, `${BIG_FILES} big files in one batch: ${mb(kb)} MB, one: ${mb(oneKb)} MB`);
  });

  it(`${BIG_FILES} in batches of their own: the two threads never decode two at once`, async (t) => {
    const kb = await peakKb('apart');
    t.diagnostic(`peak RSS: one big file ${mb(oneKb)} MB, ${BIG_FILES} in batches of their own ${mb(kb)} MB`);
    // Before: 701 MB against 388 MB (1.81×): both threads decoded a big file at once.
    assert.ok(kb < 1.5 * oneKb, `${BIG_FILES} big files in separate batches: ${mb(kb)} MB, one: ${mb(oneKb)} MB`);
  });
});
