/**
 * The report page: one self-contained HTML document — inline CSS, SVG charts, no script, no
 * external resource (a Content-Security-Policy forbids any), so it opens from disk, offline, and
 * prints. Every piece of user data goes through `esc`.
 */
import type { ReportModel } from './model.js';
import { barChart, esc, fmtInt, meter, pct } from './svg.js';

const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

const CSS = `
:root{--fg:#1d232b;--muted:#5b6673;--bg:#fff;--panel:#f5f7fa;--line:#dde3ea;--bar:#3b78c4;--bar2:#9aa7b6;--warn:#a15c00;--bad:#b3261e;--good:#2e7d32}
@media (prefers-color-scheme:dark){:root{--fg:#e6e9ee;--muted:#9aa5b1;--bg:#14181d;--panel:#1d232b;--line:#2f3842;--bar:#6ea8f0;--bar2:#5d6b7a;--warn:#f0a84a;--bad:#ff8a80;--good:#81c784}}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:var(--fg);background:var(--bg)}
header,main,footer{max-width:1180px;margin:0 auto;padding:0 20px}
header{padding-top:20px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}h3{font-size:15px;margin:0}
.dir{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all;margin:0 0 8px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0;color:var(--muted);font-size:13px}dl.meta dt{font-weight:600}dl.meta dd{margin:0;word-break:break-all}
nav{margin:10px 0;font-size:13px}nav a{margin-right:12px;color:var(--bar)}
.banner{border:1px solid var(--warn);color:var(--warn);padding:8px 12px;border-radius:6px;margin:12px 0}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:10px;margin:0;padding:0;list-style:none}
.card{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:10px 12px}.card .k{color:var(--muted);font-size:12px}.card .v{font-size:20px;font-weight:600;font-variant-numeric:tabular-nums}
.card.bad .v{color:var(--bad)}.card.good .v{color:var(--good)}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px}
figure.chart{margin:0;background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:12px}
figcaption .note{margin:2px 0 8px;color:var(--muted);font-size:12px}
.chart-body{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:12px;align-items:start}
svg.bars{width:100%;height:auto}svg.bars .bar{fill:var(--bar)}svg.bars .others .bar{fill:var(--bar2)}
svg.bars text{font-size:12px;fill:var(--fg);font-variant-numeric:tabular-nums}svg.bars text.value{fill:var(--muted)}
table{border-collapse:collapse;font-size:12.5px}th,td{padding:3px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{color:var(--muted);font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.numbers{justify-self:start}table.numbers tbody th{font-weight:normal;word-break:break-all;max-width:260px}tfoot th,tfoot td{font-weight:600;border-bottom:0}
.wide{width:100%}
code,.path{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
svg.meter .meter-bg{fill:var(--line)}svg.meter .meter-fill{fill:var(--bar)}
ol.invalid{padding-left:22px}ol.invalid>li{margin:6px 0}ol.invalid ul{margin:2px 0;padding-left:18px;color:var(--muted)}
.tag{display:inline-block;font-size:11px;padding:0 6px;border-radius:9px;border:1px solid var(--line);margin-left:6px;color:var(--muted)}
.more{color:var(--muted);font-style:italic}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
footer{color:var(--muted);font-size:12px;padding:24px 20px}
@media print{nav{display:none}.charts{display:block}figure.chart{break-inside:avoid;margin-bottom:12px}}
`;

export function renderReportHtml(m: ReportModel): string {
  const o = m.overview;
  const title = `Sidecar report — ${m.meta.directory}`;
  const parts: string[] = [];
  parts.push(
    `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">`,
    `<meta http-equiv="Content-Security-Policy" content="${CSP}">`,
    `<meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<meta name="generator" content="image-sidecar ${esc(m.meta.version)}">`,
    `<title>${esc(title)}</title><style>${CSS}</style></head><body>`,
  );
  parts.push(
    `<header><h1>Sidecar report</h1><p class="dir" id="directory">${esc(m.meta.directory)}</p>`,
    `<dl class="meta" id="made">`,
    meta('Generated', m.meta.generatedAt, 'generated-at'),
    meta('Host', m.meta.host, 'host'),
    meta('image-sidecar', m.meta.version, 'version'),
    meta('Node.js', `${m.meta.node} on ${m.meta.platform}`, 'node'),
    meta('Engine', m.meta.engine, 'engine'),
    meta('Took', `${(m.meta.durationMs / 1000).toFixed(1)} s`, 'duration'),
    m.meta.operationType !== null ? meta('Filter', `operation ${m.meta.operationType}`, 'filter') : '',
    m.meta.schema !== null ? meta('Schema', m.meta.schema, 'schema') : '',
    `</dl>`,
    `<nav aria-label="Sections"><a href="#overview">Overview</a><a href="#coverage">Coverage per folder</a><a href="#operations">Operations</a><a href="#detections">Faces and objects</a><a href="#quality">Quality</a><a href="#files">Formats and categories</a><a href="#invalid">Invalid files</a></nav></header><main>`,
  );
  if (m.shrunk) parts.push(`<p class="banner" role="status">Lists and labels were shortened to keep this page within its size limit.</p>`);
  if (!o.scanComplete) {
    parts.push(`<p class="banner" role="status">The scan was incomplete: ${fmtInt(o.scanProblems)} path(s) could not be read (listed at the end). Figures cover what could be read.</p>`);
  }

  parts.push(
    `<section id="overview" aria-labelledby="h-overview"><h2 id="h-overview">Overview</h2><ul class="cards">`,
    card('Images', o.images, 'images'),
    card('Images with a sidecar', o.imagesWithSidecar, 'images-with-sidecar'),
    card('Coverage', `${o.coverage} %`, 'coverage', o.coverage >= 100 ? 'good' : ''),
    card('Counted sidecars', o.sidecars, 'sidecars'),
    card('Sidecar files', o.sidecarFiles, 'sidecar-files'),
    card('Invalid files', o.invalidFiles, 'invalid-files', o.invalidFiles > 0 ? 'bad' : 'good'),
    card('Faces', o.faces, 'faces'),
    card('Faces with embedding', o.facesWithEmbedding, 'faces-with-embedding'),
    card('Objects', o.objects, 'objects'),
    card('Image symlinks', o.symlinks, 'symlinks'),
    card('Broken symlinks', o.brokenSymlinks, 'broken-symlinks', o.brokenSymlinks > 0 ? 'bad' : ''),
    card('Scan', o.scanComplete ? 'complete' : 'incomplete', 'scan', o.scanComplete ? 'good' : 'bad'),
    `</ul></section>`,
  );

  parts.push(`<section id="coverage" aria-labelledby="h-coverage"><h2 id="h-coverage">Coverage per folder</h2>`, folderTable(m), `</section>`);

  parts.push(`<section id="operations" aria-labelledby="h-operations"><h2 id="h-operations">Operations</h2><div class="charts">`, barChart(m.charts.operations), `</div>`, operationTable(m), `</section>`);
  parts.push(`<section id="detections" aria-labelledby="h-detections"><h2 id="h-detections">Faces and objects</h2><div class="charts">`, barChart(m.charts.faces), barChart(m.charts.objects), `</div></section>`);
  parts.push(`<section id="quality" aria-labelledby="h-quality"><h2 id="h-quality">Quality grades</h2><div class="charts">`, barChart(m.charts.grades), `</div></section>`);
  parts.push(
    `<section id="files" aria-labelledby="h-files"><h2 id="h-files">Formats and categories</h2>`,
    m.charts.freshness ? '' : `<p class="note">Freshness (<em>stale</em> sidecars) is not reported: this version does not record which image a sidecar was computed from.</p>`,
    `<div class="charts">`,
    barChart(m.charts.categories),
    m.charts.freshness ? barChart(m.charts.freshness) : '',
    barChart(m.charts.formats),
    barChart(m.charts.extensions),
    barChart(m.charts.effectiveFormats),
    `</div></section>`,
  );
  parts.push(`<section id="invalid" aria-labelledby="h-invalid"><h2 id="h-invalid">Invalid files</h2>`, invalidList(m), `</section>`);
  if (m.scanProblems.total > 0) parts.push(`<section id="scan-problems" aria-labelledby="h-scan"><h2 id="h-scan">Paths that could not be read</h2>`, scanProblemList(m), `</section>`);
  parts.push(
    `</main><footer>Made by image-sidecar ${esc(m.meta.version)} on ${esc(m.meta.host)} at ${esc(m.meta.generatedAt)}. `,
    `This page holds aggregates only and loads nothing from the network. JSON for programs: <code>image-sidecar stats</code>, <code>validate</code>, <code>format-stats</code>.</footer></body></html>\n`,
  );
  return parts.join('');
}

function meta(k: string, v: string, id: string): string {
  return `<dt>${esc(k)}</dt><dd id="meta-${id}">${esc(v)}</dd>`;
}

function card(k: string, v: number | string, id: string, cls = ''): string {
  const value = typeof v === 'number' ? fmtInt(v) : v;
  return `<li class="card ${cls}" id="card-${id}" data-value="${esc(String(v))}"><div class="k">${esc(k)}</div><div class="v">${esc(value)}</div></li>`;
}

function folderTable(m: ReportModel): string {
  const f = m.folders;
  if (!f) return `<p class="empty">Not computed.</p>`;
  if (f.total_folders === 0) return `<p class="empty">No folder holds images.</p>`;
  const lead =
    f.others.folders === 0
      ? `<p class="note">All ${fmtInt(f.total_folders)} folders that hold images, in path order. A folder's own images only, not its subfolders'.</p>`
      : `<p class="note">${fmtInt(f.folders.length)} of ${fmtInt(f.total_folders)} folders that hold images: those with the most images lacking a sidecar, in path order. A folder's own images only.</p>`;
  const rows = f.folders
    .map(
      (r) =>
        `<tr data-dir="${esc(r.dir)}" data-images="${r.images}" data-with-sidecar="${r.images_with_sidecar}" data-coverage="${r.coverage_percentage}">` +
        `<th scope="row" class="path">${esc(r.dir === '' ? '(root)' : r.dir)}</th><td class="num">${fmtInt(r.images)}</td><td class="num">${fmtInt(r.images_with_sidecar)}</td>` +
        `<td class="num">${fmtInt(r.images - r.images_with_sidecar)}</td><td class="num">${r.coverage_percentage} %</td><td>${meter(r.coverage_percentage)}</td></tr>`,
    )
    .join('');
  const others =
    f.others.folders === 0
      ? ''
      : `<tr class="others" data-others="true" data-folders="${f.others.folders}" data-images="${f.others.images}" data-with-sidecar="${f.others.images_with_sidecar}"><th scope="row">${fmtInt(f.others.folders)} other folders</th><td class="num">${fmtInt(f.others.images)}</td><td class="num">${fmtInt(f.others.images_with_sidecar)}</td><td class="num">${fmtInt(f.others.images - f.others.images_with_sidecar)}</td><td class="num">${pct(f.others.images_with_sidecar, f.others.images)}</td><td></td></tr>`;
  return (
    lead +
    `<table class="wide" id="folder-coverage" aria-label="Coverage per folder"><thead><tr><th scope="col">Folder</th><th scope="col" class="num">Images</th><th scope="col" class="num">With sidecar</th><th scope="col" class="num">Without</th><th scope="col" class="num">Coverage</th><th scope="col"><span class="sr">Bar</span></th></tr></thead>` +
    `<tbody>${rows}${others}</tbody></table>`
  );
}

function operationTable(m: ReportModel): string {
  const rows = m.operations.rows
    .map(
      (r) =>
        `<tr data-operation="${esc(r.operation)}"><th scope="row"><code>${esc(r.operation)}</code></th><td class="num">${fmtInt(r.images)}</td><td class="num">${pct(r.images, m.overview.images)}</td>` +
        `<td class="num">${r.avgProcessingTime === null ? '–' : `${fmtSeconds(r.avgProcessingTime)}`}</td><td class="num">${r.successRate === null ? '–' : `${r.successRate.toFixed(1)} %`}</td><td class="num">${r.avgDataSize === null ? '–' : `${fmtInt(Math.round(r.avgDataSize))} B`}</td></tr>`,
    )
    .join('');
  const others = m.operations.others ? `<tr class="others"><th scope="row">${fmtInt(m.operations.others.keys)} other operations</th><td class="num">${fmtInt(m.operations.others.value)}</td><td colspan="4"></td></tr>` : '';
  if (!rows) return '';
  return (
    `<h3 style="margin-top:14px">Per operation</h3><table class="wide" id="operation-details" aria-label="Per-operation figures"><thead><tr><th scope="col">Operation</th><th scope="col" class="num">Images</th><th scope="col" class="num">Of all images</th><th scope="col" class="num">Avg. processing time</th><th scope="col" class="num">Success rate</th><th scope="col" class="num">Avg. data size</th></tr></thead>` +
    `<tbody>${rows}${others}</tbody></table>`
  );
}

function invalidList(m: ReportModel): string {
  const v = m.invalid;
  const head = `<p id="invalid-summary" data-invalid="${v.total}" data-checked="${v.checked}" data-valid="${v.valid}">${fmtInt(v.checked)} sidecar files checked: ${fmtInt(v.valid)} valid, ${fmtInt(v.total)} invalid.</p>`;
  if (v.total === 0) return head;
  const items = v.shown
    .map((f) => {
      const probs = f.problems.map((p) => `<li><code>${esc(p.pointer === '' ? '(file)' : p.pointer)}</code> ${esc(p.message)}${p.severity === 'warning' ? ' <span class="tag">warning</span>' : ''}</li>`).join('');
      const more = f.moreProblems > 0 ? `<li class="more">and ${fmtInt(f.moreProblems)} more problems</li>` : '';
      const error = f.problems.length === 0 && f.error !== null ? `<li>${esc(f.error)}</li>` : '';
      return `<li data-path="${esc(f.path)}"><span class="path">${esc(f.path)}</span><span class="tag">${esc(f.category)}</span>${f.format ? `<span class="tag">${esc(f.format)}</span>` : ''}<ul>${error}${probs}${more}</ul></li>`;
    })
    .join('');
  const rest = v.more > 0 ? `<p class="more" id="invalid-more" data-more="${v.more}">and ${fmtInt(v.more)} more invalid files — <code>image-sidecar validate DIR --jsonl</code> lists them all.</p>` : '';
  return `${head}<p class="note">The first ${fmtInt(v.shown.length)}, in tree order:</p><ol class="invalid" id="invalid-files">${items}</ol>${rest}`;
}

function scanProblemList(m: ReportModel): string {
  const s = m.scanProblems;
  const items = s.shown.map((p) => `<li><span class="path">${esc(p.path)}</span><span class="tag">${esc(p.code)}</span> ${esc(p.message)}</li>`).join('');
  const rest = s.total > s.shown.length ? `<p class="more">and ${fmtInt(s.total - s.shown.length)} more.</p>` : '';
  return `<ol class="invalid">${items}</ol>${rest}`;
}

function fmtSeconds(s: number): string {
  return s >= 10 ? `${s.toFixed(1)} s` : s >= 0.001 || s === 0 ? `${Number(s.toPrecision(3))} s` : `${Number((s * 1000).toPrecision(3))} ms`;
}
