/**
 * A worker for the pool's own tests, speaking the engine's batch protocol with tasks that
 * misbehave on purpose: echo, spin (busy for `ms`), exit (process.exit mid-batch), crash (an
 * uncaught exception: 'error' then 'exit'), fail (a task error answered as a message).
 */
import { parentPort, threadId } from 'node:worker_threads';
import type { BatchRequest, BatchResponse } from '../../src/engine/messages.js';

interface Probe {
  ms?: number;
}

parentPort!.on('message', (req: BatchRequest) => {
  const items = req.items as Probe[];
  let res: BatchResponse;
  switch (req.task) {
    case 'spin': {
      const until = Date.now() + (items[0]?.ms ?? 0);
      while (Date.now() < until) {
        /* busy: a sync task cannot be interrupted from outside */
      }
      res = { id: req.id, results: items.map(() => threadId) };
      break;
    }
    case 'exit':
      process.exit(7);
      return;
    case 'crash':
      setImmediate(() => {
        throw new Error('probe crash');
      });
      return;
    case 'fail':
      res = { id: req.id, error: { code: 'CORRUPT', message: 'probe failure', path: '/x' } };
      break;
    default:
      res = { id: req.id, results: items.map(() => threadId) };
  }
  parentPort!.postMessage(res);
});
