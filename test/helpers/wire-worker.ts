/**
 * A worker for test/inspect-wire.test.ts: the real tasks, but a packing that always fails, so the
 * batch fails (there is no second form to fall back on).
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
