import type { ErrorCode } from '../errors.js';

/** Main → worker: one batch. */
export interface BatchRequest {
  id: number;
  task: string;
  items: readonly unknown[];
  options: unknown;
}

/** Worker → main: the batch's results, or the error that stopped the whole batch. */
export type BatchResponse =
  | { id: number; results: unknown[] }
  | { id: number; error: { code: ErrorCode; message: string; path?: string; details?: Record<string, unknown> } };
