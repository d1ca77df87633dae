/**
 * `convert --list --json` streams its items: the document's bytes are those the in-memory
 * construction gives (computed here the old way, from the library's items), and the number of
 * items kept alive does not grow with the plan (a generated plan of 60,000 items, counted with
 * weak references after a full GC — not timed).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ConvertListing, convertItemJson } from '../src/cli/convert-list.js';
import { SpooledArray, writeJson } from '../src/cli/json-writer.js';
import type { Sink } from '../src/cli/sink.js';
import { convertMessage } from '../src/messages.js';
import { convert, type ConvertItem } from '../src/ops/convert.js';
import { generateSampleLibrary } from '../src/sample/index.js';
import { runCli } from './helpers/cli.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir } from './helpers/tree.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** What `convert --dry-run --list --json` printed when it kept every item in memory. */
async function inMemoryDocument(root: string): Promise<string> {
  const items: ConvertItem[] = [];
  const r = await convert(root, 'bin', { dryRun: true, onItem: (i) => void items.push(i) });
  const problems = items.filter((i) => !i.ok || i.action === 'conflict');
  const doc = { message: convertMessage(true, r.converted, r.format), ...r, problems: problems.slice(0, 1000), problems_truncated: problems.length > 1000, items: items.map(convertItemJson) };
  return JSON.stringify(doc, null, 2) + '\n';
}

class StringSink implements Sink {
  readonly target = '-';
  text = '';
  write(t: string): undefined {
    this.text += t;
    return undefined;
  }
  async close(): Promise<void> {}
  async abort(): Promise<void> {}
}

function item(i: number): ConvertItem {
  const action = (['convert', 'skip-already', 'conflict', 'skip-not-sidecar'] as const)[i % 4];
  return {
    source: `/lib/photos/${i}/IMG_${i}.json`,
    target: action === 'skip-not-sidecar' ? null : `/lib/photos/${i}/IMG_${i}.bin`,
    action,
    ok: action !== 'conflict',
    sourceRemoved: false,
    ...(action === 'conflict' ? { error: { code: 'CONFLICT', message: `two files of IMG_${i} disagree "quoted"\n` } } : {}),
  };
}

describe('convert --list --json streams its items', () => {
  it('the same bytes as the in-memory document on the sample library, on stdout and with -o', async (t) => {
    const root = testDir(t);
    await generateSampleLibrary(root, { images: 900, seed: 2 });
    const want = await inMemoryDocument(root);
    assert.ok(want.length > 128 * 1024, `the items outgrow the spool's write buffer (${want.length} bytes)`);
    const r = await runCli(['convert', root, '-f', 'bin', '--dry-run', '--list', '--json', '-q']);
    assert.equal(r.code, 1, r.stderr); // the sample has conflicts
    assert.equal(r.stdout, want);
    const out = join(testDir(t), 'plan.json');
    await runCli(['convert', root, '-f', 'bin', '--dry-run', '--list', '-o', out, '-q']);
    assert.equal(readFileSync(out, 'utf8'), want);
  });

  it('the same bytes for a short plan (kept in the buffer) and an empty one', async (t) => {
    const small = makeTree({ 'a/A.jpg': FAKE_JPEG, 'a/A.json': { json: sidecarData('A.jpg', 1, 4) }, 'a/report.json': { json: { games: [] } } }, testDir(t));
    const empty = makeTree({ 'x/only.jpg': FAKE_JPEG }, testDir(t));
    for (const root of [small, empty]) {
      const r = await runCli(['convert', root, '-f', 'bin', '--dry-run', '--list', '--json', '-q']);
      assert.equal(r.stdout, await inMemoryDocument(root), root);
    }
    assert.match((await runCli(['convert', empty, '-f', 'bin', '--dry-run', '--list', '--json', '-q'])).stdout, /"items": \[\]\n\}\n$/);
  });

  it('items kept alive do not grow with the plan (60,000 generated items); the spool file is removed', async (t) => {
    const retained = async (n: number): Promise<number> => {
      const listing = new ConvertListing('all', false);
      // The listing must not hold the items: count the ones still reachable after a full GC.
      const refs: WeakRef<ConvertItem>[] = [];
      for (let i = 0; i < n; i++) {
        const it = item(i);
        refs.push(new WeakRef(it));
        listing.add(it);
      }
      assert.equal(listing.count, n);
      // A WeakRef keeps its target alive until the current job ends: collect in a later one.
      await new Promise((r) => setImmediate(r));
      gc();
      const alive = refs.filter((r) => r.deref() !== undefined).length;
      listing.dispose();
      return alive;
    };
    const small = await retained(2_000);
    const large = await retained(60_000);
    t.diagnostic(`items alive after GC: ${small} of 2,000; ${large} of 60,000`);
    assert.ok(large <= 64, `items retained: ${large} of 60,000`);
    assert.ok(large <= small + 64, 'retention does not grow with the plan');
    // The attack works: a listing that keeps its items (what --list --json did) is seen.
    const kept: ConvertItem[] = [];
    const refs = Array.from({ length: 5_000 }, (_, i) => {
      const it = item(i);
      kept.push(it);
      return new WeakRef(it);
    });
    await new Promise((r) => setImmediate(r));
    gc();
    assert.equal(refs.filter((r) => r.deref() !== undefined).length, kept.length);

    const dir = testDir(t);

    // The streamed array is the array JSON.stringify writes, nested at any depth, and its temp file goes away.
    const spool = new SpooledArray(dir);
    const expected: unknown[] = [];
    for (let i = 0; i < 60_000; i++) {
      const json = convertItemJson(item(i));
      spool.push(json);
      expected.push(json);
    }
    assert.equal(readdirSync(dir).length, 1, 'spooled to a file, not kept');
    const sink = new StringSink();
    await writeJson(sink, { a: 1, nested: { items: spool, after: true } });
    assert.equal(sink.text, JSON.stringify({ a: 1, nested: { items: expected, after: true } }, null, 2) + '\n');
    spool.dispose();
    assert.deepEqual(readdirSync(dir), []);
  });
});
