/**
 * A worker for the pool's own tests, speaking the engine's batch protocol with tasks that
 * misbehave on purpose: echo, spin (busy for `ms`), exit (process.exit mid-batch), crash (an
 * uncaught exception: 'error' then 'exit'), fail (a task error answered as a message), young (allocate
 * briefly-kept objects, answer the largest size the young generation reached, in bytes), big (spin
 * for `ms` holding the big-file turn: answers when it started and ended, Date.now(), and the ms it
 * waited for the turn), big-exit (take the turn, then process.exit).
 */
import { getHeapSpaceStatistics } from 'node:v8';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { BIG_FILE_BYTES } from '../../src/tuning.js';
import { passBigFileTurn, useBigFileTurn, waitForBigFileTurn } from '../../src/tasks/big-file-turn.js';
import type { BatchRequest, BatchResponse } from '../../src/engine/messages.js';

interface Probe {
  ms?: number;
}

useBigFileTurn((workerData as { bigFileTurn?: unknown } | null)?.bigFileTurn);

const spin = (ms: number) => {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    /* busy: a sync task cannot be interrupted from outside */
  }
};

parentPort!.on('message', (req: BatchRequest) => {
  const items = req.items as Probe[];
  let res: BatchResponse;
  switch (req.task) {
    case 'spin':
      spin(items[0]?.ms ?? 0);
      res = { id: req.id, results: items.map(() => threadId) };
      break;
    case 'big': {
      const waited = waitForBigFileTurn(BIG_FILE_BYTES + 1);
      const from = Date.now();
      spin(items[0]?.ms ?? 0);
      const to = Date.now();
      passBigFileTurn();
      res = { id: req.id, results: [from, to, waited] };
      break;
    }
    case 'big-exit':
      waitForBigFileTurn(BIG_FILE_BYTES + 1);
      process.exit(7);
      return;
    case 'exit':
      process.exit(7);
      return;
    case 'crash':
      setImmediate(() => {
        throw new Error('probe crash');
      });
      return;
    case 'young': {
      // Objects kept a little while (a ring): V8 grows a young generation it may up to its limit.
      let max = 0;
      const ring = new Array<unknown>(20_000);
      for (let i = 0; i < 3_000_000; i++) {
        ring[i % ring.length] = { a: i, b: `x${i % 1000}`, c: [i, i + 1] };
        if (i % 10_000 === 0) for (const s of getHeapSpaceStatistics()) if (s.space_name === 'new_space') max = Math.max(max, s.space_size);
      }
      res = { id: req.id, results: [max] };
      break;
    }
    case 'fail':
      res = { id: req.id, error: { code: 'CORRUPT', message: 'probe failure', path: '/x' } };
      break;
    default:
      res = { id: req.id, results: items.map(() => threadId) };
  }
  parentPort!.postMessage(res);
});
