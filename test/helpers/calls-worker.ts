// A worker for the pool's tests of async calls in flight (fs/calls-in-flight.ts), speaking the
// engine's batch protocol: `quick` answers at once; `calls` begins calls, sets `started[0]` (shared
// memory in its options), and answers after `ms` with how many times it has run, or fails as a
// stopped batch as soon as the pool asks its calls to stop (fs/calls-in-flight.ts withCallsInFlight);
// with `crash`, the thread dies of an uncaught exception meanwhile.
import { workerData } from 'node:worker_threads';
import { useCallsWord, withCallsInFlight } from '../../src/fs/calls-in-flight.js';
import { serveBatches } from '../../src/engine/worker-loop.js';

useCallsWord((workerData as { calls?: unknown }).calls);
let runs = 0;

serveBatches((task, items, options) => {
  if (task !== 'calls') return [...items];
  const { ms, started, crash } = options as { ms: number; started: SharedArrayBuffer; crash?: boolean };
  runs++;
  return withCallsInFlight(
    (stop) =>
      new Promise<number[]>((resolve) => {
        Atomics.store(new Int32Array(started), 0, 1);
        if (crash === true)
          setTimeout(() => {
            throw new Error('calls-worker crash, its calls in flight');
          }, 20);
        const until = Date.now() + ms;
        const tick = () => (stop.aborted || Date.now() >= until ? resolve(items.map(() => runs)) : setTimeout(tick, 5));
        tick();
      }),
  );
});
