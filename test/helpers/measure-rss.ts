/**
 * Run the CLI in a child process and read its peak resident set (every worker thread included)
 * from the preload in report-rss.ts: the memory tests and the reliability report's big-file row.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CLI_PATH } from './cli.js';

const RSS_PRELOAD = fileURLToPath(new URL('./report-rss.js', import.meta.url));

export interface MeasuredRun {
  code: number | null;
  /** The last 4 KiB of stdout. */
  stdout: string;
  stderr: string;
  maxRssKb: number;
}

export function runCliMeasured(args: string[]): Promise<MeasuredRun> {
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

/** Issue 10 §5: peak RSS ≤ 8 × the largest file + 300 MB, in KiB. */
export function rssBoundKb(largestFileBytes: number): number {
  return Math.round((8 * largestFileBytes + 300 * 1024 * 1024) / 1024);
}
