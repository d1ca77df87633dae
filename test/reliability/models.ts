/**
 * What the child processes write, computed the same way in the child and in the checking
 * parent: the parent never needs to be told a value, only which step was acknowledged.
 */
import { Rng } from '../../src/sample/prng.js';
import type { JsonObject } from '../../src/types.js';

// ---------------------------------------------------------------------------------------------
// crash campaign: a loop of saves over a few images
// ---------------------------------------------------------------------------------------------

/** Operation names cycle, so the loop both adds new operations and overwrites older ones. */
export const CRASH_OP_KINDS = 24;
/** Fixed clock: sidecar_info timestamps are a function of the step number. */
export const CRASH_CLOCK_BASE_MS = Date.UTC(2025, 8, 20, 14, 30, 22);

export function crashOpName(k: number): string {
  return `op_${k % CRASH_OP_KINDS}`;
}

/** Which image save number k goes to (images alternate between folders, so consecutive saves do too). */
export function crashImageIndex(k: number, images: number): number {
  return k % images;
}

/**
 * The value of save number k: about 1.5 KB of JSON with full-precision floats (and one -0 and
 * the float the earlier tool's converter used to damage), so a torn or rounded write shows.
 */
export function crashOpValue(k: number): JsonObject {
  const rng = new Rng(0x5eed + k);
  const values: number[] = [];
  for (let i = 0; i < 64; i++) values.push(rng.range(-1, 1));
  values[7] = -0;
  values[11] = 0.22490839660167694;
  return { success: true, step: k, label: `step ${k} – ünïcödé ✓`, values, processing_time: rng.double() };
}

// ---------------------------------------------------------------------------------------------
// concurrency: P processes × S saves over I images, every operation distinct
// ---------------------------------------------------------------------------------------------

export interface PlannedSave {
  image: number;
  op: string;
  value: JsonObject;
}

/** The saves process `proc` makes, in its order. */
export function concurrentPlan(proc: number, saves: number, images: number, seed: number): PlannedSave[] {
  const rng = new Rng(seed * 131 + proc);
  const out: PlannedSave[] = [];
  for (let s = 0; s < saves; s++) {
    const image = rng.int(0, images - 1);
    out.push({ image, op: `p${proc}_s${s}`, value: { proc, save: s, score: rng.double(), embedding: [rng.double(), -0, rng.range(-1, 1), 1e-300] } });
  }
  return out;
}

/** New sidecars created by process `proc` use this format (the first writer decides). */
export function concurrentFormat(proc: number): 'json' | 'bin' {
  return proc % 2 === 0 ? 'bin' : 'json';
}

/** Image file names shared by both sides. */
export function imageName(i: number): string {
  return `IMG_${String(i).padStart(3, '0')}.jpg`;
}
