/**
 * The library leaves its host alone: a library call sets no V8 flag, changes no process option,
 * forces no collection of the caller's heap, calls no internal binding, and prints no deprecation
 * warning, whatever engine it runs on. Only an entry point that owns its process tunes it
 * (engine/host.ts tuneHost: the CLI, the bench runner); the stat binding runs only for a caller
 * that asks (Options.fastStat: true), and then never under --pending-deprecation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAKE_JPEG, makeTree, sidecarData, testDir } from './helpers/tree.js';

const url = (rel: string) => JSON.stringify(new URL(rel, import.meta.url).href);

/** A tree whose batches (tuning.ts DEFAULT_BATCH_FILES) end on the main thread (in-process below the threads' break-even). */
function tree(t: { after: (fn: () => void) => void }): string {
  const spec: Record<string, Parameters<typeof makeTree>[0][string]> = {};
  for (let i = 0; i < 200; i++) {
    spec[`p${i % 4}/IMG_${i}.jpg`] = FAKE_JPEG;
    spec[`p${i % 4}/IMG_${i}.json`] = { json: sidecarData(`IMG_${i}.jpg`, 2, 64) };
  }
  return makeTree(spec, join(testDir(t, 'isc-host-'), 'lib'));
}

/**
 * In a child process (flags and bindings are process-wide): the library's calls on `root` with a
 * heap held above the main thread's bound, watched for V8 flags, forced collections, binding calls
 * and warnings. `before` runs first (the control's consent).
 */
function watchedRun(root: string, before: string, execArgv: string[] = []): { flags: string[]; forced: number; bindingCalls: number; warnings: string[]; execArgv: boolean; gc: string; results: string[] } {
  const script = `
    const v8 = await import('node:v8');
    const { syncBuiltinESMExports } = await import('node:module');
    const { runInNewContext } = await import('node:vm');
    const { PerformanceObserver, constants } = await import('node:perf_hooks');
    const flags = [];
    const setFlags = v8.default.setFlagsFromString;
    v8.default.setFlagsFromString = (f) => { flags.push(f); setFlags(f); };
    syncBuiltinESMExports();
    let bindingCalls = 0;
    const binding = process.binding;
    process.binding = function (...a) { bindingCalls++; return binding.apply(this, a); };
    Object.defineProperty(process.binding, 'name', { value: 'binding' });
    const warnings = [];
    process.on('warning', (w) => warnings.push(w.name + ': ' + w.message));
    let forced = 0;
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (e.detail.flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) forced++;
    });
    observer.observe({ entryTypes: ['gc'] });
    const execArgv = JSON.stringify(process.execArgv);
    ${before}
    // ~100 MB held: above MAIN_HEAP_BOUND (64 MB), where a tuned main thread collects after a batch.
    const held = [];
    for (let i = 0; i < 6400; i++) held.push(new Array(2048).fill(i));
    const lib = await import(${url('../src/index.js')});
    const root = ${JSON.stringify(root)};
    const results = [];
    for (const engine of ['inline', 'threads']) {
      const s = await lib.stats(root, { engine, workers: 2, index: false });
      const v = await lib.validate(root, { engine, workers: 2, index: false, onResult: () => undefined });
      results.push(JSON.stringify([s.total_images, v.valid]));
    }
    results.push(JSON.stringify(lib.readSidecar(root + '/p0/IMG_0.jpg') !== null));
    await new Promise((r) => setTimeout(r, 50)); // the observer's last entries
    console.log(JSON.stringify({ flags, forced, bindingCalls, warnings, execArgv: execArgv === JSON.stringify(process.execArgv), gc: typeof globalThis.gc + ' ' + runInNewContext('typeof gc'), results, held: held.length }));
  `;
  // A file, not -e: the pool's threads take the process's execArgv, where --input-type is refused.
  const file = join(root, `../watched-${before ? 'tuned' : 'host'}.mjs`);
  writeFileSync(file, script);
  const r = spawnSync(process.execPath, [...execArgv, file], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim());
}

test('a library call (stats, validate, read; inline and threads) sets no V8 flag, forces no collection of the caller\'s heap, calls no internal binding and warns of nothing', (t) => {
  const root = tree(t);
  const host = watchedRun(root, '', ['--throw-deprecation', '--pending-deprecation']);
  assert.deepEqual(host.flags, [], 'no V8 flag set');
  assert.equal(host.forced, 0, 'no forced collection on the main thread');
  assert.equal(host.bindingCalls, 0, 'no process.binding call');
  assert.deepEqual(host.warnings, [], 'no warning');
  assert.equal(host.execArgv, true, 'process.execArgv unchanged');
  assert.equal(host.gc, 'undefined undefined', 'no gc exposed to the host, in its context or in new ones');
  // The control: the same calls in a process its entry point tuned (as the CLI does) collect and set flags.
  const tuned = watchedRun(root, `(await import(${url('../src/engine/host.js')})).tuneHost([], undefined);`);
  assert.ok(tuned.forced > 0, `a tuned main thread collects past its bound (${tuned.forced})`);
  assert.ok(tuned.flags.some((f) => f.startsWith('--interrupt-budget=')), `tuneHost set its flags (${tuned.flags})`);
  assert.deepEqual(tuned.results, host.results, 'the same results either way');
});

test('the stat binding runs for a caller that asks (fastStat: true), never under --pending-deprecation, and warns of nothing there', (t) => {
  const root = tree(t);
  // fastStat: true through the public options: the binding is looked up.
  const script = (execArgv: string[]) =>
    spawnSync(
      process.execPath,
      [...execArgv, '--input-type=module', '-e', `
        let bindingCalls = 0;
        const binding = process.binding;
        process.binding = function (...a) { bindingCalls++; return binding.apply(this, a); };
        Object.defineProperty(process.binding, 'name', { value: 'binding' });
        const warnings = [];
        process.on('warning', (w) => warnings.push(w.name));
        const lib = await import(${url('../src/index.js')});
        // (readAhead: false: on a busy machine a cold stat may pass for a file server's, whose reads do not use the binding.)
        const s = await lib.stats(${JSON.stringify(root)}, { engine: 'inline', index: false, fastStat: true, readAhead: false });
        const read = lib.readSidecar(${JSON.stringify(root)} + '/p0/IMG_0.jpg', { fastStat: true }) !== null;
        console.log(JSON.stringify({ bindingCalls: bindingCalls > 0, warnings, read, images: JSON.stringify(s).length > 0 }));
      `],
      { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } },
    );
  const on = script([]);
  assert.equal(on.status, 0, on.stderr);
  assert.deepEqual(JSON.parse(on.stdout), { bindingCalls: true, warnings: [], read: true, images: true });
  const pending = script(['--pending-deprecation', '--throw-deprecation']);
  assert.equal(pending.status, 0, pending.stderr);
  assert.deepEqual(JSON.parse(pending.stdout), { bindingCalls: false, warnings: [], read: true, images: true });
});
