/**
 * Model → page under a byte budget. The default limits keep real pages far below it (tens of
 * KiB); the budget is the guarantee for hostile input, where escaping can multiply a label's
 * bytes by six (`"` → `&quot;`): while the page is too big, halve the rows and text and rebuild.
 */
import { renderReportHtml } from './html.js';
import { buildReportModel, DEFAULT_LIMITS, MAX_REPORT_BYTES, type ReportInputs, type ReportLimits, type ReportModel } from './model.js';

export interface RenderedReport {
  html: string;
  bytes: number;
  model: ReportModel;
  /** The limits had to be lowered to fit the budget. */
  shrunk: boolean;
}

export function renderReport(inputs: ReportInputs, limits: ReportLimits, maxBytes: number = MAX_REPORT_BYTES): RenderedReport {
  let l = limits;
  for (let round = 0; ; round++) {
    const model = buildReportModel(inputs, l);
    model.shrunk = round > 0;
    const html = renderReportHtml(model);
    const bytes = Buffer.byteLength(html, 'utf8');
    if (bytes <= maxBytes) return { html, bytes, model, shrunk: round > 0 };
    // Limits asked above the defaults first come down to them, then everything is halved: from
    // `--max-folders 100000000` on 4,000 folders the halving kept them all while every other list
    // was cut to a few rows.
    const capped = capAt(l, DEFAULT_LIMITS);
    if (capped !== null) {
      l = capped;
      continue;
    }
    const half = (n: number, min: number) => Math.max(min, Math.floor(n / 2));
    const next = {
      folders: half(l.folders, 1),
      invalidFiles: half(l.invalidFiles, 1),
      problemsPerFile: half(l.problemsPerFile, 1),
      chartRows: half(l.chartRows, 4),
      scanProblems: half(l.scanProblems, 1),
      text: half(l.text, 24),
    };
    // Halved until every limit is at its least (not a fixed number of rounds: `--max-folders
    // 100000000` was still ~24,000 folders after 12, an INTERNAL error on a library of 5,000).
    if (Object.keys(next).every((k) => next[k as keyof ReportLimits] === l[k as keyof ReportLimits])) {
      throw new Error(`report page is ${bytes} bytes even with minimal limits (budget ${maxBytes})`);
    }
    l = next;
  }
}

/** `l` with each limit above `cap`'s brought down to it; null when none is above. */
function capAt(l: ReportLimits, cap: ReportLimits): ReportLimits | null {
  let changed = false;
  const out = { ...l };
  for (const k of Object.keys(cap) as (keyof ReportLimits)[]) {
    if (out[k] > cap[k]) {
      out[k] = cap[k];
      changed = true;
    }
  }
  return changed ? out : null;
}
