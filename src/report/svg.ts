/**
 * Charts as static SVG written here: horizontal bars with their labels and values, no script.
 * The numbers are in the DOM twice — as attributes of each bar (`data-label`, `data-value`) and
 * in the table printed beside the chart — so screen readers, copy-paste and tests read them.
 */
import { clip, type Series } from './model.js';

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/**
 * Text and attribute values; the only way user data (paths, messages, keys) enters the page.
 * Control characters and the bidirectional overrides and isolates are shown as `\uXXXX`: a name
 * holding U+202E carried its reversal past itself (`IMG_<U+202E>gpj.exe_1.json` read as ending in
 * `.jpg`, the next label reversed with it), and raw control bytes went into the page.
 */
export const esc = (s: string | number): string =>
  String(s).replace(INVISIBLE_OR_MARKUP, (c) => ESC[c] ?? `\\u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`);

/**
 * Markup, controls, the bidirectional marks, overrides and isolates, and the characters that show
 * nothing (zero widths, soft hyphen, BOM, tags): a name holding them reads as another.
 */
const INVISIBLE_OR_MARKUP = /[&<>"'\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]|\u{e0000}|[\u{e0001}-\u{e007f}]/gu;

export const fmtInt = (n: number): string => (Number.isInteger(n) ? n.toLocaleString('en-US') : String(n));
export const pct = (part: number, whole: number): string => (whole === 0 ? '–' : `${((part / whole) * 100).toFixed(1)} %`);

const W = 640;
const LABEL_W = 170;
const VALUE_W = 90;
const ROW_H = 22;
const BAR_H = 14;
const LABEL_CHARS = 26;

/** One horizontal bar chart and the table of its numbers. */
export function barChart(s: Series): string {
  const rows = s.rows.map((r) => ({ ...r, others: false }));
  if (s.others) rows.push({ label: `others (${fmtInt(s.others.keys)} more)`, value: s.others.value, others: true });
  const max = Math.max(0, ...rows.map((r) => r.value));
  const total = rows.reduce((n, r) => n + r.value, 0);
  const barW = W - LABEL_W - VALUE_W;
  const h = Math.max(1, rows.length) * ROW_H + 8;
  const idT = `chart-${s.id}-title`;
  const idD = `chart-${s.id}-desc`;
  const bars = rows
    .map((r, i) => {
      const y = 4 + i * ROW_H;
      const w = max === 0 ? 0 : Math.max(r.value > 0 ? 1 : 0, Math.round((r.value / max) * barW * 10) / 10);
      return (
        `<g class="bar-row${r.others ? ' others' : ''}">` +
        `<title>${esc(r.label)}: ${esc(fmtInt(r.value))} ${esc(s.unit)}</title>` +
        `<text class="label" x="${LABEL_W - 8}" y="${y + BAR_H - 2}" text-anchor="end">${esc(clip(r.label, LABEL_CHARS))}</text>` +
        `<rect class="bar" x="${LABEL_W}" y="${y}" width="${w}" height="${BAR_H}" rx="2" data-label="${esc(r.label)}" data-value="${r.value}"${r.others ? ' data-others="true"' : ''}/>` +
        `<text class="value" x="${LABEL_W + w + 6}" y="${y + BAR_H - 2}">${esc(fmtInt(r.value))}</text>` +
        `</g>`
      );
    })
    .join('');
  const empty = rows.length === 0 || total === 0;
  const svg =
    `<svg class="bars" viewBox="0 0 ${W} ${h}" width="${W}" height="${h}" role="img" aria-labelledby="${idT} ${idD}">` +
    `<title id="${idT}">${esc(s.title)}</title><desc id="${idD}">${esc(describe(s, rows, total))}</desc>` +
    bars +
    `</svg>`;
  const body = rows
    .map(
      (r) =>
        `<tr data-value="${r.value}"${r.others ? ' data-others="true"' : ''}>` +
        `<th scope="row">${esc(r.label)}</th><td class="num">${esc(fmtInt(r.value))}</td><td class="num">${pct(r.value, total)}</td></tr>`,
    )
    .join('');
  return (
    `<figure class="chart" id="chart-${s.id}" data-chart="${s.id}">` +
    `<figcaption><h3>${esc(s.title)}</h3>${s.note ? `<p class="note">${esc(s.note)}</p>` : ''}</figcaption>` +
    `<div class="chart-body">` +
    (empty ? `<p class="empty">Nothing to chart: no ${esc(s.unit)}.</p>` : svg) +
    `<table class="numbers" aria-label="${esc(s.title)}: the numbers"><thead><tr><th scope="col">${esc(s.id === 'faces' || s.id === 'objects' ? 'Per image' : 'Key')}</th><th scope="col">${esc(cap(s.unit))}</th><th scope="col">Share</th></tr></thead>` +
    `<tbody>${body}</tbody>` +
    `<tfoot><tr><th scope="row">Total</th><td class="num">${esc(fmtInt(total))}</td><td></td></tr></tfoot></table>` +
    `</div></figure>`
  );
}

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

function describe(s: Series, rows: { label: string; value: number }[], total: number): string {
  if (total === 0) return `${s.title}: none.`;
  const top = [...rows].sort((a, b) => b.value - a.value)[0];
  return `${s.title}: ${rows.length} bars, ${fmtInt(total)} ${s.unit} in all; the largest is ${top.label} with ${fmtInt(top.value)}. The table that follows lists every value.`;
}

/** A small coverage meter for a table cell (0–100 %). */
export function meter(percent: number): string {
  const p = Math.max(0, Math.min(100, percent));
  return `<svg class="meter" viewBox="0 0 100 8" width="100" height="8" aria-hidden="true"><rect class="meter-bg" x="0" y="0" width="100" height="8" rx="2"/><rect class="meter-fill" x="0" y="0" width="${p}" height="8" rx="2"/></svg>`;
}
