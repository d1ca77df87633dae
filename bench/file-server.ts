/**
 * Section `file-server` (opt-in): a health check's repeat runs where every file-system call is a
 * round trip, as on a NAS. The library is mounted through bench/slowfs.c (a FUSE pass-through that
 * waits ROUND_TRIP_US in each call a file server answers over the network; no kernel caching of
 * names or attributes), and validate runs there in rounds: --no-index, the second, the third and a
 * served run, each from its state, built beforehand on the same mount. Needs /dev/fuse, gcc,
 * pkg-config's fuse3 and fusermount3 (Debian: fuse3, libfuse3-dev); without them the section says
 * why and measures nothing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { isFailure, log, measureRounds, runChild, type Outcome } from './measure.js';
import type { OpSpec } from './protocol.js';
import { indexStates } from './index-states.js';

/** What each call waits: a quick LAN file server's round trip. */
export const ROUND_TRIP_US = 200;

export interface FileServerRuns {
  none: Outcome;
  second: Outcome;
  third: Outcome;
  served: Outcome;
  /** The bounds, the calls alone (file-server-calls.ts): a second run's, --no-index's. */
  secondCalls: Outcome;
  noneCalls: Outcome;
  /** Each state's stats taken ahead (IndexRunStats.statsAhead): second, third, served. */
  statsAhead: (number | null)[];
  /** Each state's link texts and targets read ahead (IndexRunStats.linksAhead): second, third, served. */
  linksAhead: (number | null)[];
}

/** Why the mount cannot be made here (null: it can). */
function missing(): string | null {
  if (!fs.existsSync('/dev/fuse')) return 'no /dev/fuse';
  for (const [cmd, args] of [['gcc', ['--version']], ['pkg-config', ['--exists', 'fuse3']], ['fusermount3', ['-V']]] as const) {
    const r = spawnSync(cmd, [...args], { stdio: 'ignore' });
    if (r.error || r.status !== 0) return `${cmd} ${args.join(' ')} failed (Debian: apt-get install fuse3 libfuse3-dev pkg-config gcc)`;
  }
  return null;
}

/** Build slowfs into `work`; its path. */
function build(source: string, work: string): string {
  const out = path.join(work, 'slowfs');
  const flags = spawnSync('pkg-config', ['--cflags', '--libs', 'fuse3'], { encoding: 'utf8' }).stdout.trim().split(/\s+/);
  const cc = spawnSync('gcc', ['-O2', '-Wall', source, '-o', out, ...flags], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`building slowfs: ${cc.stderr}`);
  return out;
}

/**
 * The runs on the mount, or why none ran. `root`: the library; `sourceRoot`: the repository (where
 * bench/slowfs.c is).
 */
export function measureFileServer(opts: { work: string; root: string; sourceRoot: string; runs: number; workers?: number }): FileServerRuns | string {
  const why = missing();
  if (why !== null) return why;
  const dir = path.join(opts.work, 'file-server');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const slowfs = build(path.join(opts.sourceRoot, 'bench', 'slowfs.c'), dir);
  const mount = path.join(dir, 'mnt');
  fs.mkdirSync(mount);
  // fuse_main returns once the mount is up (the file system runs on in the background).
  const up = spawnSync(slowfs, [mount, '-o', 'ro'], { env: { ...process.env, SLOW_SRC: opts.root, SLOW_US: String(ROUND_TRIP_US) }, encoding: 'utf8' });
  if (up.status !== 0) return `mounting slowfs failed: ${up.stderr.trim()}`;
  try {
    const states = indexStates(dir);
    const live = states.live;
    const at = (name: string) => path.join(dir, name);
    const save = (name: string) => states.save(at(name));
    const place = (name: string) => states.place(at(name));
    const clear = states.clear;
    const spec = (index: boolean): OpSpec => ({ op: 'validate', root: mount, engine: 'auto', workers: opts.workers, ...(index ? { index: { path: live } } : {}) });
    log(`file-server: building the states on ${mount} (each call waits ${ROUND_TRIP_US} µs)`);
    clear();
    runChild(spec(true));
    save('after-first');
    runChild(spec(true));
    save('after-second');
    for (let k = 0; k < 12 && (runChild(spec(true)).detail.index as { written?: boolean } | undefined)?.written === true; k++);
    save('served');
    const calls = (reads: boolean): OpSpec => ({ op: 'floor-file-server', root: mount, listFrom: opts.root, reads });
    const [none, second, third, served, secondCalls, noneCalls] = measureRounds(
      [
        { label: 'file server: validate --no-index', spec: spec(false) },
        { label: 'file server: validate second run, unchanged tree', spec: spec(true), prepare: place('after-first') },
        { label: 'file server: validate third run, unchanged tree', spec: spec(true), prepare: place('after-second') },
        { label: 'file server: validate served run, unchanged tree', spec: spec(true), prepare: place('served') },
        { label: "file server: a second run's calls alone", spec: calls(false) },
        { label: "file server: --no-index's calls alone", spec: calls(true) },
      ],
      opts.runs,
    );
    const ahead = (o: Outcome, what: 'statsAhead' | 'linksAhead') => (isFailure(o) ? null : ((o.detail.index as Record<string, number | undefined> | undefined)?.[what] ?? null));
    return { none, second, third, served, secondCalls, noneCalls, statsAhead: [second, third, served].map((o) => ahead(o, 'statsAhead')), linksAhead: [second, third, served].map((o) => ahead(o, 'linksAhead')) };
  } finally {
    spawnSync('fusermount3', ['-u', mount], { stdio: 'ignore' });
  }
}
