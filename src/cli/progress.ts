/**
 * A one-line progress bar on stderr. It appears only for a person at a terminal (stderr is a TTY,
 * no --quiet) and only once the work has run for a while, so quick commands print nothing; it
 * redraws at most ~10 times a second and clears its line at the end.
 */

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
  private readonly delay: number;
  private readonly interval: number;
  private readonly now: () => number;

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly opts: ProgressOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.start = this.now();
    this.delay = opts.delayMs ?? 1000;
    this.interval = opts.intervalMs ?? 100;
  }

  /** Report progress; cheap when nothing is drawn (one clock read). */
  update = (done: number, total?: number): void => {
    if (!this.opts.enabled) return;
    const t = this.now();
    if (t - this.start < this.delay || t - this.lastDraw < this.interval) return;
    this.lastDraw = t;
    this.drawn = true;
    this.stream.write(`\r${this.render(done, total, t)}\x1b[K`);
  };

  /** Text of the bar (exported for tests through `render`). */
  render(done: number, total: number | undefined, t: number = this.now()): string {
    const secs = Math.max(0.001, (t - this.start) / 1000);
    const rate = done / secs;
    let line = `${this.opts.label} `;
    if (total !== undefined && total > 0) {
      const frac = Math.min(1, done / total);
      const filled = Math.round(frac * BAR_WIDTH);
      line += `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${done}/${total} ${Math.floor(frac * 100)}%`;
      line += ` ${formatRate(rate)}`;
      if (rate > 0 && done < total) line += ` ETA ${formatDuration((total - done) / rate)}`;
    } else {
      line += `${done} ${formatRate(rate)}`;
    }
    const cols = this.opts.columns ?? 80;
    return line.length >= cols ? line.slice(0, cols - 1) : line;
  }

  /** Remove the bar for now (a line is about to be printed on the same terminal); the next update redraws it. */
  clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }

  /** Remove the bar (if it was ever drawn) so that later stderr lines start clean. */
  finish(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
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

/** The bar for a command: on only when stderr is a terminal and --quiet was not given. */
export function progressFor(ctx: { io: { stderr: NodeJS.WritableStream; stderrIsTTY: boolean }; opts: { quiet?: boolean } }, label: string): Progress {
  const cols = (ctx.io.stderr as { columns?: number }).columns;
  return new Progress(ctx.io.stderr, { enabled: ctx.io.stderrIsTTY && !ctx.opts.quiet, label, columns: cols });
}
