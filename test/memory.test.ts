/**
 * Bounded memory (issue 10 §5): on a tree of sidecars just under the 64 MiB read limit, every
 * tree command stays under 8 × the largest file + 300 MB of peak RSS (worker threads included),
 * measured in a child process. Batches are bounded by bytes as well as by count, so big files
 * travel (almost) alone instead of 64 at a time.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI_PATH, removeTree, tempDir } from './helpers/cli.js';
import { writeBigSidecars } from './helpers/big-sidecars.js';

const RSS_PRELOAD = fileURLToPath(new URL('./helpers/report-rss.js', import.meta.url));
const FILE_BYTES = 60 * 1024 * 1024;
const FILES = 3;
const LIMIT_KB = Math.round((8 * FILE_BYTES + 300 * 1024 * 1024) / 1024);

function runMeasured(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; maxRssKb: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', RSS_PRELOAD, CLI_PATH, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout = (stdout + c).slice(-4096)));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => {
      const m = /ISC_MAX_RSS_KB=(\d+)/.exec(stderr);
      resolve({ code, stdout, stderr, maxRssKb: m ? Number(m[1]) : NaN });
    });
  });
}

describe(`memory: ${FILES} sidecars of ${FILE_BYTES / 2 ** 20} MiB`, () => {
  let root = '';
  let out = '';
  before(() => {
    root = tempDir('isc-memory-');
    out = tempDir('isc-memory-out-');
    writeBigSidecars(path.join(root, 'big'), FILES, FILE_BYTES);
    writeBigSidecars(path.join(root, 'small'), 5, 4096);
  });
  after(() => {
    removeTree(root);
    removeTree(out);
  });

  const commands: [string, () => string[], number][] = [
    ['stats', () => ['stats', root, '--json'], 0],
    ['validate', () => ['validate', root, '--json', '-w', '2', '--engine', 'threads'], 0],
    ['export json', () => ['export', root, '--format', 'json', '-o', path.join(out, 'all.json')], 0],
    // Worker threads: each has a heap of its own (962 MB before workers collected after big batches
    // and handed big texts over as moved bytes; about 610 MB after).
    ['export json, 2 threads', () => ['export', root, '--format', 'json', '-o', path.join(out, 'threads.json'), '--engine', 'threads', '-w', '2'], 0],
    ['format-stats, 2 threads', () => ['format-stats', root, '--json', '--engine', 'threads', '-w', '2'], 0],
    ['find --where, 2 threads', () => ['find', root, '--where', 'has face_detection', '--engine', 'threads', '-w', '2'], 0],
    ['export csv', () => ['export', root, '--format', 'csv', '-o', path.join(out, 'all.csv')], 0],
    ['hash --canonical', () => ['hash', root, '--canonical', '--json'], 0],
    ['convert to bin', () => ['convert', root, '--format', 'bin', '--json', '--engine', 'threads', '-w', '2'], 0],
    // Indented JSON of these files is above the 64 MiB read limit: refused (exit 1), sources kept.
    ['convert back to json', () => ['convert', root, '--format', 'json', '--json'], 1],
  ];
  for (const [name, args, want] of commands) {
    it(`${name}: peak RSS ≤ 8 × largest file + 300 MB`, async (t) => {
      const r = await runMeasured(args());
      t.diagnostic(`${name}: peak RSS ${Math.round(r.maxRssKb / 1024)} MB (limit ${Math.round(LIMIT_KB / 1024)} MB)`);
      assert.equal(r.code, want, r.stderr.slice(-2000));
      assert.ok(Number.isFinite(r.maxRssKb), 'no RSS reported');
      assert.ok(r.maxRssKb <= LIMIT_KB, `${name}: peak RSS ${Math.round(r.maxRssKb / 1024)} MB > ${Math.round(LIMIT_KB / 1024)} MB`);
    });
  }

  it('the exported JSON holds the big sidecars whole, the same bytes from either engine', () => {
    const st = fs.statSync(path.join(out, 'all.json'));
    assert.ok(st.size > FILES * FILE_BYTES * 0.5, `export is only ${st.size} bytes`);
    assert.ok(fs.readFileSync(path.join(out, 'all.json')).equals(fs.readFileSync(path.join(out, 'threads.json'))), 'threads export differs');
  });
});
