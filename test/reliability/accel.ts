/**
 * Reliability rows for the WebAssembly scanner (issue 13, docs/ACCEL.md): the accelerated
 * inspection and the reference one compared on every file of a sample library, on hostile JSON
 * and bin inputs of the fuzz corpus, and on every file the hostile-tree cases leave behind.
 */
import { generateSampleLibrary } from '../../src/sample/index.js';
import { checkFuzzParity, checkTreeParity, newTally, type ParityTally } from '../helpers/accel-parity.js';
import { fail, newRow, timed, type ReliabilityRow } from './tally.js';
import { freshDir, removeDir } from './fs-util.js';

function fillRow(row: ReliabilityRow, t: ParityTally): void {
  row.count += t.files;
  for (const m of t.mismatches) fail(row, m);
  const json = t.json - t.bin;
  const jsonDeferred = t.deferred - (t.bin - t.binCertified);
  row.notes.push(`${json} JSON inputs: ${t.certified - t.binCertified} certified, ${jsonDeferred} deferred (${json ? ((100 * jsonDeferred) / json).toFixed(1) : 0} %)`);
  if (t.bin > 0) row.notes.push(`${t.bin} plain bin inputs: ${t.binCertified} certified on the tape, ${t.bin - t.binCertified} deferred`);
}

export async function runAccelSampleLibrary(opts: { images: number; seed: number }): Promise<ReliabilityRow> {
  const row = newRow('accel', `fast path = reference on a ${opts.images}-image sample library`, 'files');
  return timed(row, async () => {
    const root = freshDir('accel-sample');
    try {
      await generateSampleLibrary(root, { images: opts.images, seed: opts.seed });
      const t = newTally();
      checkTreeParity(root, t);
      fillRow(row, t);
    } finally {
      removeDir(root);
    }
  });
}

/** The fuzz corpus of `decoder` (JSON text, or bin: the body scan, accel/decode.ts binScan) and its hostile mutations. */
export async function runAccelFuzz(opts: { cases: number; seed: number; decoder?: 'json' | 'bin' }): Promise<ReliabilityRow> {
  const decoder = opts.decoder ?? 'json';
  const row = newRow('accel', `fast path = reference on hostile ${decoder === 'json' ? 'JSON' : 'bin'} (fuzz corpus + mutations)`, 'cases');
  return timed(row, async () => {
    const t = newTally();
    checkFuzzParity(decoder, { runs: opts.cases, seed: opts.seed }, t);
    fillRow(row, t);
  });
}

/** Sweeps each hostile tree before it is removed (runTreeCase's afterRun), then gives one row. */
export function accelTreeSweeper(): { sweep(root: string): void; row(): ReliabilityRow } {
  const t = newTally();
  let ms = 0;
  return {
    sweep: (root) => {
      const t0 = performance.now();
      checkTreeParity(root, t);
      ms += performance.now() - t0;
    },
    row: () => {
      const row = newRow('accel', 'fast path = reference on every file the hostile trees leave', 'files');
      fillRow(row, t);
      row.ms = ms;
      return row;
    },
  };
}
