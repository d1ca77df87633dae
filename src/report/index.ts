export { buildReportModel, DEFAULT_LIMITS, MAX_REPORT_BYTES, clip } from './model.js';
export { renderReport } from './page.js';
export type { RenderedReport } from './page.js';
export type { ReportInputs, ReportLimits, ReportMeta, ReportModel, ValidationDigest, Series } from './model.js';
export { renderReportHtml } from './html.js';
