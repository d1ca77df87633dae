/**
 * The engine break-even: `stats` inline vs threads on small trees, runs interleaved. Two answers:
 * - measured: the smallest tree (in sidecar files, the unit THREADS_BREAK_EVEN_FILES counts) from
 *   which threads win at that size and every larger one measured;
 * - fitted: where the least-squares lines time = fixed + per-file × files of the two engines cross
 *   (less sensitive to one noisy size, and it extrapolates past the largest tree).
 */
import * as path from 'node:path';
import { THREADS_BREAK_EVEN_FILES } from '../src/tuning.js';
import { generateSampleLibrary } from '../src/sample/generate.js';
import { listLibrary, removeTree } from './library.js';
import { isFailure, log, measurePair } from './measure.js';
import type { BreakEven, BreakEvenRow } from './results.js';

export interface BreakEvenOptions {
  sizes: number[];
  seed: number;
  runs: number;
  workers?: number;
  workDir: string;
}

/** Small trees are cheap: take more runs than the big figures. */
const MIN_RUNS = 5;

interface Line {
  fixedMs: number;
  perFileMs: number;
}

function fitLine(xs: number[], ys: number[]): Line | null {
  const n = xs.length;
  if (n < 2) return null;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  if (sxx === 0) return null;
  const perFileMs = sxy / sxx;
  return { fixedMs: my - perFileMs * mx, perFileMs };
}

/** Files at which the threads line drops below the inline line; null when it never does. */
function crossing(inline: Line, threads: Line): number | null {
  if (threads.perFileMs >= inline.perFileMs) return null;
  return Math.max(0, (threads.fixedMs - inline.fixedMs) / (inline.perFileMs - threads.perFileMs));
}

export async function measureBreakEven(o: BreakEvenOptions): Promise<BreakEven> {
  const rows: BreakEvenRow[] = [];
  const runs = Math.max(MIN_RUNS, o.runs);
  for (const images of [...o.sizes].sort((a, b) => a - b)) {
    const root = path.join(o.workDir, `break-even-${images}`);
    removeTree(root); // left by an earlier --keep run
    await generateSampleLibrary(root, { images, seed: o.seed });
    const lists = listLibrary(root, o.workDir, `break-even-${images}`);
    const [t, i] = measurePair(
      [`break-even ${images} images, stats threads`, `break-even ${images} images, stats inline`],
      [
        { op: 'stats', root, engine: 'threads', workers: o.workers },
        { op: 'stats', root, engine: 'inline', workers: o.workers },
      ],
      runs,
    );
    const threadsMs = isFailure(t) ? null : t.ms;
    const inlineMs = isFailure(i) ? null : i.ms;
    const winner = inlineMs === null || threadsMs === null ? null : threadsMs < inlineMs ? 'threads' : 'inline';
    rows.push({ images, sidecarFiles: lists.sidecarFiles, inlineMs, threadsMs, winner });
  }
  return decide(rows);
}

function decide(rows: BreakEvenRow[]): BreakEven {
  const configured = THREADS_BREAK_EVEN_FILES;
  if (rows.length === 0 || rows.some((r) => r.winner === null)) {
    return { rows, measuredFiles: null, fittedFiles: null, configuredFiles: configured, agrees: null, note: 'break-even: some sizes could not be measured.' };
  }
  let measuredFiles: number | null = null;
  for (let i = rows.length - 1; i >= 0 && rows[i].winner === 'threads'; i--) measuredFiles = rows[i].sidecarFiles;
  const xs = rows.map((r) => r.sidecarFiles);
  const inline = fitLine(xs, rows.map((r) => r.inlineMs!));
  const threads = fitLine(xs, rows.map((r) => r.threadsMs!));
  const fitted = inline && threads ? crossing(inline, threads) : null;
  const fittedFiles = fitted === null ? null : Math.round(fitted);
  const largest = xs[xs.length - 1];

  const parts: string[] = [];
  if (measuredFiles !== null) {
    const idx = rows.findIndex((r) => r.sidecarFiles === measuredFiles);
    parts.push(`threads win from ${measuredFiles} sidecar files on (inline still won at ${idx > 0 ? rows[idx - 1].sidecarFiles : 0})`);
  } else {
    parts.push(`threads did not win at every size from some point up to ${largest} sidecar files`);
  }
  if (inline && threads) {
    parts.push(
      `fitted lines: inline ${inline.fixedMs.toFixed(0)} ms + ${(inline.perFileMs * 1000).toFixed(0)} µs/file, ` +
        `threads ${threads.fixedMs.toFixed(0)} ms + ${(threads.perFileMs * 1000).toFixed(0)} µs/file → ` +
        (fittedFiles === null ? 'threads never catch up' : `cross at ≈ ${fittedFiles} files`),
    );
  }
  // agreement: the threshold is within a factor of 2 of the fitted crossing (sizes are a factor 2 apart)
  const agrees = fittedFiles === null ? false : configured >= fittedFiles / 2 && configured <= fittedFiles * 2;
  parts.push(`THREADS_BREAK_EVEN_FILES = ${configured} ${agrees ? 'agrees (within 2×)' : 'does not agree'}`);
  log(`break-even: ${parts.join('; ')}`);
  return { rows, measuredFiles, fittedFiles, configuredFiles: configured, agrees, note: `break-even: ${parts.join('; ')}.` };
}
