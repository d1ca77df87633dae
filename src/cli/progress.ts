/**
 * A one-line progress bar on stderr. It appears only for a person at a terminal (stderr is a TTY,
 * no --quiet) and only once the work has run for a while, so quick commands print nothing; it
 * redraws at most ~10 times a second and clears its line at the end.
 *
 *   validating [########............] 41,200/100,000 files 41% · 310.2 MiB · 8.1k/s · ETA 0:07
 *
 * The total comes from the operation when it knows it, else from a directory-only pre-walk of the
 * input (readdir with file types: no stat, no file read) that runs beside the command. The count
 * shown never exceeds the total: when an operation counts past the pre-walk (files added during
 * the run, or an operation that makes several passes), the total is dropped rather than shown wrong.
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SKIP_DIR_NAMES } from '../discovery/own-folders.js';
import { bytes as formatBytes } from './style.js';

export interface ProgressOptions {
  /** Draw at all (stderr is a TTY and not --quiet). */
  enabled: boolean;
  label: string;
  /** Wait this long before the first draw. Default 1000 ms. */
  delayMs?: number;
  /** Minimum time between redraws. Default 100 ms. */
  intervalMs?: number;
  /** Terminal width. Default 80. */
  columns?: number;
  /** Clock (ms), injectable for tests. */
  now?: () => number;
}

const BAR_WIDTH = 20;

export class Progress {
  private readonly start: number;
  private lastDraw = 0;
  private drawn = false;
  private finished = false;
  private readonly delay: number;
  private readonly interval: number;
  private readonly now: () => number;
  /** Files in the tree, from the pre-walk (undefined until it is done, or when it is not run). */
  private counted: number | undefined;
  /** The pre-walk's total stopped being valid (the operation counted past it). */
  private countInvalid = false;
  /** A pre-walk is running. */
  private counting = false;

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly opts: ProgressOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.start = this.now();
    this.delay = opts.delayMs ?? 1000;
    this.interval = opts.intervalMs ?? 100;
  }

  get enabled(): boolean {
    return this.opts.enabled;
  }

  /** A pre-walk started: the bar says "counting…" until its total arrives. */
  startCounting(): void {
    this.counting = true;
  }

  /** The total from a pre-walk (used when the operation gives none); null: it found none. */
  setCounted(files: number | null): void {
    this.counting = false;
    if (files !== null) this.counted = files;
  }

  /** True while a pre-walk may still be useful. */
  get active(): boolean {
    return !this.finished;
  }

  /** Report progress; cheap when nothing is drawn (one clock read). */
  update = (done: number, total?: number, bytes?: number): void => {
    if (!this.opts.enabled) return;
    const t = this.now();
    if (t - this.start < this.delay || t - this.lastDraw < this.interval) return;
    this.lastDraw = t;
    this.drawn = true;
    this.stream.write(`\r${this.render(done, total, bytes, t)}\x1b[K`);
  };

  /** The total to show for `done`, never below it (an invalid total is dropped, not exceeded). */
  totalFor(done: number, total?: number): number | undefined {
    if (total !== undefined) return total >= done ? total : undefined;
    if (this.counted === undefined || this.countInvalid) return undefined;
    if (done > this.counted) {
      this.countInvalid = true;
      return undefined;
    }
    return this.counted;
  }

  /** Text of the bar; the bar itself takes the width the numbers leave (none on a narrow terminal). */
  render(done: number, opTotal: number | undefined, bytes?: number, t: number = this.now()): string {
    const secs = Math.max(0.001, (t - this.start) / 1000);
    const rate = done / secs;
    const total = this.totalFor(done, opTotal);
    const cols = this.opts.columns ?? 80;
    const extras: string[] = [];
    if (bytes !== undefined) extras.push(formatBytes(bytes));
    extras.push(formatRate(rate));
    if (total !== undefined && total > 0) {
      const frac = Math.min(1, done / total);
      if (rate > 0 && done < total) extras.push(`ETA ${formatDuration((total - done) / rate)}`);
      const numbers = `${count(done)}/${count(total)} files ${Math.floor(frac * 100)}% · ${extras.join(' · ')}`;
      const room = cols - 1 - this.opts.label.length - numbers.length - 4;
      const width = Math.min(BAR_WIDTH, room);
      if (width < 5) return clip(`${this.opts.label} ${numbers}`, cols);
      const filled = Math.round(frac * width);
      return clip(`${this.opts.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${numbers}`, cols);
    }
    if (this.counting) extras.push('counting…');
    return clip(`${this.opts.label} ${count(done)} files · ${extras.join(' · ')}`, cols);
  }

  /** Remove the bar for now (a line is about to be printed on the same terminal); the next update redraws it. */
  clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }

  /** Remove the bar (if it was ever drawn) so that later stderr lines start clean; stops the pre-walk. */
  finish(): void {
    this.finished = true;
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}

function clip(line: string, cols: number): string {
  return line.length >= cols ? line.slice(0, cols - 1) : line;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatRate(perSecond: number): string {
  if (perSecond >= 10_000) return `${Math.round(perSecond / 1000)}k/s`;
  return `${Math.round(perSecond)}/s`;
}

/** 75 → "1:15", 3700 → "1:01:40". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Main-thread time one slice of the pre-walk may take before it yields to the command. */
const SLICE_MS = 8;

/**
 * Files (every entry that is not a directory) under `root`, as the scan walks it: directory
 * symlinks not followed, the quarantine folder skipped, unreadable folders skipped. Only
 * directories are read. Returns null when `root` is not a directory or `keepGoing()` turns false.
 *
 * Synchronous readdir in short slices, yielding between them: async readdir would queue behind
 * the command's own file reads in libuv's thread pool and finish only when the command does.
 */
export async function countFiles(root: string, keepGoing: () => boolean = () => true): Promise<number | null> {
  let files = 0;
  const stack: string[] = [root];
  let first = true;
  while (stack.length > 0) {
    if (!keepGoing()) return null;
    const sliceEnd = performance.now() + SLICE_MS;
    while (stack.length > 0 && performance.now() < sliceEnd) {
      const dir = stack.pop()!;
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        if (first) return null; // not a directory (e.g. validate-json's list file)
        continue;
      }
      const atRoot = first;
      first = false;
      for (const e of entries) {
        if (e.isDirectory()) {
          if (!(atRoot && SKIP_DIR_NAMES.has(e.name))) stack.push(join(dir, e.name));
        } else files++;
      }
    }
    if (stack.length > 0) await new Promise<void>((r) => setImmediate(r));
  }
  return files;
}

type ProgressContext = {
  io: { stderr: NodeJS.WritableStream; stderrIsTTY: boolean };
  opts: { quiet?: boolean; input?: string };
  arg?: string;
};

/** The bar for a command: on only when stderr is a terminal and --quiet was not given; counts the input tree beside the command. */
export function progressFor(ctx: ProgressContext, label: string): Progress {
  const cols = (ctx.io.stderr as { columns?: number }).columns;
  const p = new Progress(ctx.io.stderr, { enabled: ctx.io.stderrIsTTY && !ctx.opts.quiet, label, columns: cols });
  const input = ctx.arg ?? ctx.opts.input;
  if (p.enabled && typeof input === 'string' && input !== '') {
    p.startCounting();
    countFiles(resolve(input), () => p.active).then(
      (n) => p.setCounted(n),
      () => p.setCounted(null),
    );
  }
  return p;
}
