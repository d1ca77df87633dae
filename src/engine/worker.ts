// Worker entry: run each batch with the same task code the inline runtime uses.
import { workerData } from 'node:worker_threads';
import { watchThreadPool } from '../fs/thread-pool-watch.js';
import { useCallsWord } from '../fs/calls-in-flight.js';
import { packResultsByName, runTaskByName, unpackItemsByName } from '../tasks/index.js';
import { setBigFileRelief, useBigFileTurn } from '../tasks/big-file-turn.js';
import { allowCollections, relieveAfterBigFile } from './heap-relief.js';
import { serveBatches } from './worker-loop.js';

// A thread's own async fs calls (convert's fsyncs in flight together) wait on the process's one
// libuv pool: this thread watches its own pending requests (fs/thread-pool-watch.ts).
watchThreadPool();
// Big files are decoded one at a time across the process's threads (big-file-turn.ts).
useBigFileTurn((workerData as { bigFileTurn?: unknown } | null)?.bigFileTurn);
// The pool ends this thread only while it has no async call in flight (fs/calls-in-flight.ts).
useCallsWord((workerData as { calls?: unknown } | null)?.calls);
// This thread is ours: it collects its heap past its bound after each batch (heap-relief.ts).
allowCollections();
setBigFileRelief(relieveAfterBigFile);
serveBatches(runTaskByName, packResultsByName, unpackItemsByName);
