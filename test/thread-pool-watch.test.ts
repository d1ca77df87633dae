/**
 * The thread pool watch (fs/thread-pool-watch.ts): while an asynchronous file-system request is
 * pending it adds one request a second, so a libuv pool whose wake-up glibc lost (a request queued,
 * every pool thread asleep) runs its queue again; when nothing is pending it adds none; it never
 * keeps a process alive. What is tested here is that the watch sees a pending request and adds its
 * own, and that every scan and CLI command (cli.ts, which the bundles run as it is) has it
 * running; a lost wake-up itself is made on demand (an LD_PRELOAD shim) in
 * test/long/thread-pool-lost-wakeup.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TREE_CLI_PATH } from './helpers/cli.js';
import { testDir } from './helpers/tree.js';

const WATCH = new URL('../src/fs/thread-pool-watch.js', import.meta.url).href;
const SCAN = new URL('../src/scan/session.js', import.meta.url).href;

/** Run `body` (an ES module's text, `dir` and `watch` in scope) in a fresh Node; its stdout's last line as JSON. */
function inChild(body: string, dir: string): { out: unknown; ms: number; status: number | null; stderr: string } {
  const started = Date.now();
  const src = `const dir = ${JSON.stringify(dir)}; const watch = await import(${JSON.stringify(WATCH)});\n${body}`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', src], { encoding: 'utf8', timeout: 60_000 });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return { out: last === '' ? null : JSON.parse(last), ms: Date.now() - started, status: r.status, stderr: r.stderr };
}

test('thread pool watch: a request pending for over a second gets a wake-up request beside it; none while nothing is pending', (t) => {
  const dir = testDir(t, 'isc-pool-watch-');
  if (spawnSync('mkfifo', [join(dir, 'fifo')]).status !== 0) return t.skip('no mkfifo here');
  // Opening a FIFO for reading waits in a pool thread until a writer opens it: a request that
  // stays pending as long as the test wants.
  const r = inChild(
    `
    import('node:fs').then(async ({ promises: fsp, openSync, closeSync }) => {
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      watch.watchThreadPool();
      watch.watchThreadPool(); // started once
      await sleep(200); // the loader's own requests (a module file's close) done
      const idlePending = watch.fsRequestPending();
      await sleep(2300);
      const idle = watch.threadPoolWatchStats().nudges;
      const opening = fsp.open(dir + '/fifo', 'r');
      await sleep(100);
      const pending = watch.fsRequestPending();
      await sleep(2300);
      const during = watch.threadPoolWatchStats().nudges;
      const w = openSync(dir + '/fifo', 'w');
      const fh = await opening;
      await fh.close();
      closeSync(w);
      await sleep(1200);
      const after = watch.threadPoolWatchStats();
      console.log(JSON.stringify({ idlePending, idle, pending, during, after: after.nudges, running: after.running }));
    });
    `,
    dir,
  );
  assert.equal(r.status, 0, r.stderr);
  const o = r.out as { idlePending: boolean; idle: number; pending: boolean; during: number; after: number; running: boolean };
  assert.equal(o.idlePending, false, 'nothing pending at the start');
  assert.equal(o.idle, 0, 'no request added while nothing was pending');
  assert.equal(o.pending, true, 'the FIFO open is seen pending');
  assert.ok(o.during >= 1, `a wake-up request added while the open was pending (${o.during})`);
  // The FIFO's writer came; one last tick may have run before the open's answer was taken.
  assert.ok(o.after <= o.during + 1, `none once nothing was pending (${o.during} → ${o.after})`);
  assert.equal(o.running, true);
});

test('thread pool watch: it never keeps a process alive', (t) => {
  const dir = testDir(t, 'isc-pool-watch-');
  const r = inChild(`watch.watchThreadPool(); console.log(JSON.stringify(watch.threadPoolWatchStats()));`, dir);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.out, { running: true, nudges: 0 });
  // The process ends at once, not at a tick (which only looks) and never held open by the timer.
  assert.ok(r.ms < 20_000, `exited after ${r.ms} ms`);
});

test('thread pool watch: a scan starts it (library callers), and so does a CLI command (cli.ts)', (t) => {
  const dir = testDir(t, 'isc-pool-watch-');
  // Each asked in a fresh process (this one's preload, helpers/test-env.ts, started it here).
  const scan = inChild(
    `const { ScanSession } = await import(${JSON.stringify(SCAN)});
    const before = watch.threadPoolWatchStats().running;
    new ScanSession(dir);
    console.log(JSON.stringify({ before, after: watch.threadPoolWatchStats().running }));`,
    dir,
  );
  assert.equal(scan.status, 0, scan.stderr);
  assert.deepEqual(scan.out, { before: false, after: true }, 'not started by importing it; started by a scan');
  // The CLI's process (the compiled tree's: the preload imports the very module the CLI imports), asked as it exits.
  const probe = join(dir, 'probe.mjs');
  writeFileSync(probe, `import { threadPoolWatchStats } from ${JSON.stringify(WATCH)};\nprocess.on('exit', () => process.stderr.write('watch ' + JSON.stringify(threadPoolWatchStats()) + '\\n'));\n`);
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(probe).href, TREE_CLI_PATH, 'stats', dir, '--json', '--no-index'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /watch \{"running":true,/);
});
