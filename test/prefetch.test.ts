/**
 * Early inspections (src/engine/prefetch.ts): a link target's folder is inspected while the
 * threads would idle, and its results answer the pipeline's batches later — the same results, each
 * once, in order; never for other options, an inline or undecided engine, or beyond the bound.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_HELD, PrefetchingRuntime } from '../src/engine/prefetch.js';
import type { Runtime } from '../src/engine/runtime.js';
import type { FileInspection, InspectItem, InspectOptions } from '../src/tasks/inspect.js';
import { scan } from '../src/discovery/scan.js';
import { validate } from '../src/ops/validate.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir } from './helpers/tree.js';

/** A runtime answering each item with its path; records the batches it ran; `fail`: the first batch holding that path fails. */
function fakeRuntime(kind: 'inline' | 'threads', opts: { undecided?: boolean; fail?: string; workers?: number } = {}) {
  const batches: string[][] = [];
  let failed = false;
  const rt = {
    kind,
    workers: opts.workers ?? 2,
    undecided: opts.undecided,
    run: async (_task: string, items: readonly InspectItem[]) => {
      batches.push(items.map((i) => i.path));
      await new Promise((r) => setImmediate(r));
      if (!failed && opts.fail !== undefined && items.some((i) => i.path === opts.fail)) {
        failed = true; // once: the item's next batch goes through
        throw new Error('batch failed');
      }
      return items.map((i) => ({ path: i.path, size: 0, status: 'ok', format: 'json', notes: [], shape: 'sidecar', elapsedMs: 0, name: i.name }) as unknown as FileInspection);
    },
    close: async () => undefined,
  };
  return { rt: rt as unknown as Runtime, batches };
}

const items = (...names: string[]): InspectItem[] => names.map((n) => ({ path: `/lib/p/${n}`, name: n }));
const paths = (rs: FileInspection[]) => rs.map((r) => r.path);

describe('prefetch: early inspections answer later batches', () => {
  it('offered items run at once; a later batch gets their results and sends only the others, in order', async () => {
    const opts: InspectOptions = { validate: true };
    const { rt, batches } = fakeRuntime('threads');
    const p = new PrefetchingRuntime(rt, opts);
    p.offer(items('a.json', 'b.json', 'c.json'));
    assert.deepEqual(batches, [['/lib/p/a.json', '/lib/p/b.json', '/lib/p/c.json']]);
    const got = await p.run('inspect', items('x.json', 'b.json', 'a.json', 'y.json'), opts);
    assert.deepEqual(paths(got), ['/lib/p/x.json', '/lib/p/b.json', '/lib/p/a.json', '/lib/p/y.json']);
    assert.deepEqual(batches[1], ['/lib/p/x.json', '/lib/p/y.json'], 'only the others went to the engine');
    assert.equal(p.answered, 2);
    // Each early result answers once: asked again, it runs.
    await p.run('inspect', items('a.json'), opts);
    assert.deepEqual(batches[2], ['/lib/p/a.json']);
    // c.json was never asked for: dropped at close.
    await p.close();
  });

  it('never for other options, another name at the path, a link item; never on an inline or undecided engine', async () => {
    const opts: InspectOptions = { validate: true };
    const { rt, batches } = fakeRuntime('threads');
    const p = new PrefetchingRuntime(rt, opts);
    p.offer(items('a.json', 'b.json'));
    await p.run('inspect', items('a.json'), { validate: true }); // equal options, another object: not ours
    assert.deepEqual(batches[1], ['/lib/p/a.json']);
    await p.run('inspect', [{ path: '/lib/p/b.json', name: 'other' }], opts);
    assert.deepEqual(batches[2], ['/lib/p/b.json']);
    assert.equal(p.answered, 0);
    for (const f of [fakeRuntime('inline'), fakeRuntime('threads', { undecided: true })]) {
      const q = new PrefetchingRuntime(f.rt, opts);
      q.offer(items('a.json'));
      assert.equal(f.batches.length, 0);
    }
  });

  it('a batch that failed early runs again when asked; an item offered but not started runs once, with the batch that asks for it', async () => {
    const opts: InspectOptions = {};
    const { rt, batches } = fakeRuntime('threads', { fail: '/lib/p/bad.json', workers: 1 });
    const p = new PrefetchingRuntime(rt, opts);
    const many = items(...Array.from({ length: 70 }, (_, i) => `f${i}.json`), 'bad.json');
    p.offer(many); // one thread: one early batch of 64 in flight, 7 queued
    assert.equal(batches.length, 1);
    const got = await p.run('inspect', items('f1.json', 'f65.json'), opts);
    assert.deepEqual(paths(got), ['/lib/p/f1.json', '/lib/p/f65.json']);
    assert.ok(batches.some((b) => b.length === 1 && b[0] === '/lib/p/f65.json'), 'the queued item ran with the asking batch');
    await new Promise((r) => setTimeout(r, 20)); // the queued rest runs early (bad.json's batch fails)
    assert.equal(batches.filter((b) => b.includes('/lib/p/f65.json')).length, 1, 'never twice');
    const again = await p.run('inspect', items('bad.json'), opts);
    assert.deepEqual(paths(again), ['/lib/p/bad.json']);
    assert.equal(batches.at(-1)!.join(), '/lib/p/bad.json', 'ran again after its early batch failed');
  });

  it('holds at most MAX_HELD items', async () => {
    const { rt } = fakeRuntime('threads');
    const p = new PrefetchingRuntime(rt, {});
    p.offer(items(...Array.from({ length: MAX_HELD + 100 }, (_, i) => `f${i}.json`)));
    await new Promise((r) => setTimeout(r, 50));
    const got = await p.run('inspect', items(`f${MAX_HELD - 1}.json`, `f${MAX_HELD}.json`), {});
    assert.equal(got.length, 2);
    assert.equal(p.answered, 0, 'another options object');
  });
});

describe('prefetch in a scan: a game folder of links before the photo folders', () => {
  it('the photos are inspected early on threads, and every output is what the inline engine gives', async (t) => {
    const root = testDir(t, 'isc-prefetch-');
    const spec: Record<string, Parameters<typeof makeTree>[0][string]> = {};
    for (let d = 0; d < 3; d++) {
      for (let i = 0; i < 40; i++) {
        const name = `IMG_${d}_${i}`;
        spec[`photos/d${d}/${name}.jpg`] = FAKE_JPEG;
        spec[`photos/d${d}/${name}.json`] = i === 7 ? '{"broken": ' : { json: sidecarData(`${name}.jpg`, 2, 16) };
        spec[`games/g${d}/${name}.jpg`] = { symlink: `../../photos/d${d}/${name}.jpg` };
      }
    }
    makeTree(spec, root);
    writeFileSync(join(root, 'photos', 'd1', 'lone.json'), '{}');
    const outputs: string[] = [];
    let prefetched = 0;
    for (const engine of ['inline', 'threads'] as const) {
      // Small batches: the walk's read-ahead (batches in flight) ends inside the game folders, as it
      // does on a real library, so the photo folders are paired for links before they are walked.
      const session = scan(root, { engine, workers: 2, batchSize: 2, inspect: { brief: true, validate: true } });
      const recs: unknown[] = [];
      for await (const r of session) recs.push(r);
      if (engine === 'threads') prefetched = session.prefetched;
      const strip = (k: string, v: unknown) => (k === 'elapsedMs' || k === 'accel' ? undefined : v);
      outputs.push(JSON.stringify({ recs, summary: { ...session.summary, engine: null } }, strip));
      const report = await validate(root, { engine, workers: 2 });
      outputs.push(JSON.stringify(report.results!.map((r) => ({ ...r, processing_time: 0 }))));
    }
    assert.equal(outputs[2], outputs[0], 'scan records: threads (with early inspections) = inline');
    assert.equal(outputs[3], outputs[1], 'validate: threads = inline');
    assert.ok(prefetched > 0, `some photos were inspected early (${prefetched})`);
  });
});
