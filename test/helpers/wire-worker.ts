/**
 * A worker for test/inspect-wire.test.ts: the real tasks, but a packing that always fails, so the
 * pool's fallback (results sent as they are) is what answers.
 */
import { runTaskByName, unpackItemsByName } from '../../src/tasks/index.js';
import { serveBatches } from '../../src/engine/worker-loop.js';

serveBatches(
  runTaskByName,
  () => {
    throw new Error('packing refused on purpose');
  },
  unpackItemsByName,
);
