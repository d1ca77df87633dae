/**
 * The CLI's libuv thread pool (cli/thread-pool-size.ts): CLI_THREAD_POOL_SIZE threads unless the
 * user's UV_THREADPOOL_SIZE says otherwise. Counted as the threads of a running `serve` process
 * after a request that made asynchronous file-system calls (the pool starts all its threads at
 * its first call): the only difference between two such processes is the pool.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI_THREAD_POOL_SIZE } from '../src/tuning.js';
import { CLI_PATH } from './helpers/cli.js';
import { FAKE_JPEG, testDir } from './helpers/tree.js';

const linux = process.platform === 'linux' && fs.existsSync('/proc/self/task');

/** The threads of a `serve --stdio` process once it answered a validate of `dir` (with `env` set, or removed when undefined). */
async function threadsAfterARequest(dir: string, env: Record<string, string | undefined>): Promise<number> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, IMAGE_SIDECAR_ENGINE: 'inline' };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  else childEnv[k] = v;
  const child = spawn(process.execPath, [CLI_PATH, 'serve', '--stdio'], { env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  try {
    const answered = new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString('utf8');
        if (!out.includes('\n')) return;
        const answer = JSON.parse(out.slice(0, out.indexOf('\n'))) as { result?: { scan_complete?: boolean } };
        // A walk reads its folders asynchronously: the pool has started.
        if (answer.result?.scan_complete === true) resolve();
        else reject(new Error(`not a validate of the folder: ${out}`));
      });
      child.once('exit', (code) => reject(new Error(`serve exited (${code}) before answering`)));
    });
    child.stdin.write(JSON.stringify({ id: 1, method: 'validate', params: { dir } }) + '\n');
    await answered;
    return fs.readdirSync(`/proc/${child.pid}/task`).length;
  } finally {
    child.stdin.end();
    child.kill();
  }
}

test('CLI thread pool: 16 threads unless UV_THREADPOOL_SIZE is set, as the user sets it; empty is unset', { skip: !linux && 'counts threads in /proc' }, async (t) => {
  const dir = testDir(t, 'isc-thread-pool-');
  fs.writeFileSync(path.join(dir, 'a.jpg'), FAKE_JPEG);
  const ours = await threadsAfterARequest(dir, { UV_THREADPOOL_SIZE: undefined });
  const four = await threadsAfterARequest(dir, { UV_THREADPOOL_SIZE: '4' });
  const same = await threadsAfterARequest(dir, { UV_THREADPOOL_SIZE: String(CLI_THREAD_POOL_SIZE) });
  const empty = await threadsAfterARequest(dir, { UV_THREADPOOL_SIZE: '' });
  const more = await threadsAfterARequest(dir, { UV_THREADPOOL_SIZE: String(CLI_THREAD_POOL_SIZE + 8) });
  assert.equal(ours - four, CLI_THREAD_POOL_SIZE - 4, `threads: ${ours} by default, ${four} with UV_THREADPOOL_SIZE=4`);
  assert.equal(ours, same, 'the default is CLI_THREAD_POOL_SIZE');
  assert.equal(empty, ours, 'set but empty is the default (libuv would make it one thread)');
  assert.equal(more - ours, 8, "the user's own size is kept");
});
