import { parentPort } from 'node:worker_threads';
import { errors, isSidecarError } from '../errors.js';
import { runTask } from '../tasks/index.js';
import type { BatchRequest, BatchResponse } from './messages.js';

// Worker entry: run each batch with the same task code the inline runtime uses.
parentPort!.on('message', (req: BatchRequest) => {
  let res: BatchResponse;
  try {
    res = { id: req.id, results: runTask(req.task, req.items, req.options) };
  } catch (e) {
    const err = isSidecarError(e) ? e : errors.internal(`task ${req.task} failed: ${(e as Error)?.message ?? e}`, e);
    res = { id: req.id, error: err.toJSON() };
  }
  parentPort!.postMessage(res);
});
