// Worker entry: run each batch with the same task code the inline runtime uses.
import { watchThreadPool } from '../fs/thread-pool-watch.js';
import { packResultsByName, runTaskByName, unpackItemsByName } from '../tasks/index.js';
import { serveBatches } from './worker-loop.js';

// A thread's own async fs calls (convert's fsyncs in flight together) wait on the process's one
// libuv pool: this thread watches its own pending requests (fs/thread-pool-watch.ts).
watchThreadPool();
serveBatches(runTaskByName, packResultsByName, unpackItemsByName);
