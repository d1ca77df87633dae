/**
 * `serve --stdio` keeps nothing per request: a soak of saves with a 512-float embedding (~10 KB a
 * request line) on a small tree, the server's heap sampled after a full collection (heap-probe.ts).
 * The server kept every byte it had read (a race against a promise pending for its life held each
 * chunk: +10.7 KB of live memory a request, +64 MB over this test's 6,000 measured saves); now what
 * it keeps after its warm-up stays flat. The 10^5-save figure is `npm run bench -- --only server-soak`.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { test } from 'node:test';
import { soakServer, soakTreeDir, type SoakSample } from '../../bench/server-soak.js';
import { CLI_PATH } from '../helpers/cli.js';

const WARM_UP = 2_000;
const SAVES = 8_000;
const EVERY = 1_000;
/** Live memory (heap + array buffers after a collection) the measured saves may add: 1.4 KB a save, an eighth of what the leak kept. */
const LIVE_BOUND = 8 * 2 ** 20;
/** The resident set may move more (the collector keeps free pages), but not with the request bytes. */
const RSS_BOUND_KB = 40 * 1024;

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const live = (s: SoakSample) => (s.heapUsed ?? NaN) + (s.arrayBuffers ?? NaN);

test(`serve --stdio: ${SAVES} saves of a 512-float embedding, live memory and RSS flat after ${WARM_UP}`, { skip: process.platform === 'win32' ? 'no SIGUSR2 for the heap probe' : false, timeout: 120_000 }, async (t) => {
  let base: SoakSample | undefined;
  const dir = soakTreeDir(os.tmpdir()); // tmpfs where there is one: a save's fsyncs cost little there
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const r = await soakServer({
    cli: CLI_PATH,
    dir,
    saves: SAVES,
    every: EVERY,
    heapProbe: true,
    onSample: (s) => {
      t.diagnostic(`after ${s.saves} saves: heap ${mb(s.heapUsed!)}, array buffers ${mb(s.arrayBuffers!)}, RSS ${mb((s.rssKB ?? NaN) * 1024)}`);
      if (s.saves === WARM_UP) base = s;
      // Stop early once the bound is broken: a leaking server need not be soaked further.
      return base === undefined || live(s) - live(base) <= LIVE_BOUND;
    },
  });
  assert.equal(r.failed, 0, `every save answered with a result (first error: ${r.firstError})`);
  assert.equal(r.exitCode, 0, 'the server exits 0 when its input ends');
  assert.ok(base, 'a sample after the warm-up');
  const last = r.samples[r.samples.length - 1];
  const saves = last.saves - base.saves;
  t.diagnostic(`${saves} saves after the warm-up: live ${mb(live(last) - live(base))}, RSS ${mb(((last.rssKB ?? 0) - (base.rssKB ?? 0)) * 1024)}; ${(r.ms / r.saves).toFixed(2)} ms a save`);
  assert.ok(live(last) - live(base) <= LIVE_BOUND, `live memory grew ${mb(live(last) - live(base))} over ${saves} saves (bound ${mb(LIVE_BOUND)}): ${((live(last) - live(base)) / saves).toFixed(0)} B a save`);
  assert.equal(r.saves, SAVES);
  if (last.rssKB !== null && base.rssKB !== null) {
    assert.ok(last.rssKB - base.rssKB <= RSS_BOUND_KB, `RSS grew ${mb((last.rssKB - base.rssKB) * 1024)} over ${saves} saves (bound ${mb(RSS_BOUND_KB * 1024)})`);
  }
});
