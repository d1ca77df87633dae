export { buildReportModel, DEFAULT_LIMITS, clip } from './model.js';
export type { ReportInputs, ReportLimits, ReportMeta, ReportModel, ValidationDigest, Series } from './model.js';
export { renderReportHtml } from './html.js';
