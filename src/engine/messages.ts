import type { ErrorCode } from '../errors.js';

/** Main → worker: one batch. */
export interface BatchRequest {
  id: number;
  task: string;
  /** The batch's items, or (itemsPacked) the task's compact form of them (tasks/index.ts TaskWire.packItems). */
  items: unknown;
  itemsPacked?: boolean;
  options: unknown;
}

/** Worker → main: the batch's results (`packed`: in the task's compact form, for a task that has one), or the error that stopped the whole batch. */
export type BatchResponse =
  | { id: number; results: unknown[] }
  | { id: number; packed: unknown }
  | { id: number; error: { code: ErrorCode; message: string; path?: string; details?: Record<string, unknown> } };
