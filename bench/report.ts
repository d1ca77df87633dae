/**
 * Rendering the results: Markdown tables on stdout (pasteable into docs/BENCHMARKS.md) and the
 * JSON file under bench-results/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BenchResults, OperationFigure } from './results.js';
import { isFailed } from './results.js';

function num(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (Number.isInteger(v) && Math.abs(v) < 10_000) return String(v);
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
  if (Math.abs(v) >= 10_000) return Math.round(v).toLocaleString('en-US');
  return v.toFixed(digits);
}

const x = (v: number | null | undefined) => (v === null || v === undefined ? '—' : `${v.toFixed(2)}×`);

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

function engineRows(r: BenchResults): string[][] {
  const ms = (id: string) => {
    const f = r.operations.find((o) => o.id === id);
    return f && !isFailed(f) ? f.ms : null;
  };
  const rows: string[][] = [];
  for (const op of ['validate', 'stats']) {
    const t = ms(`${op}.json.threads`);
    const i = ms(`${op}.json.inline`);
    if (t !== null && i !== null) rows.push([op, num(t), num(i), x(t / i)]);
  }
  return rows;
}

function codecTable(c: Record<string, unknown>): string {
  const n = (k: string) => (typeof c[k] === 'number' ? (c[k] as number) : null);
  const json = n('indentJsonBytes');
  const share = (k: string) => (json && n(k) !== null ? `${((n(k)! / json) * 100).toFixed(0)} %` : '—');
  const speed = (base: string, k: string) => (n(base) !== null && n(k) ? x(n(base)! / n(k)!) : '—');
  return [
    `${String(c.sidecars)} sidecars from sampleSidecar; mean per sidecar; bin round trip exact: ${String(c.roundTripExact)}.`,
    '',
    table(
      ['figure', 'value', 'share / speed-up'],
      [
        ['size, indent JSON', `${num(json, 0)} B`, '100 %'],
        ['size, compact JSON', `${num(n('compactJsonBytes'), 0)} B`, share('compactJsonBytes')],
        ['size, bin', `${num(n('binBytes'), 0)} B`, share('binBytes')],
        ['decode, JSON.parse (indent JSON text)', `${num(n('jsonParseUs'))} µs`, '1.00×'],
        ['decode, decodeSidecar (indent JSON bytes)', `${num(n('jsonDecodeSidecarUs'))} µs`, speed('jsonParseUs', 'jsonDecodeSidecarUs')],
        ['decode, decodeSidecar (bin)', `${num(n('binDecodeUs'))} µs`, speed('jsonParseUs', 'binDecodeUs')],
        ['encode, JSON.stringify(x, null, 2)', `${num(n('jsonStringifyUs'))} µs`, '1.00×'],
        ['encode, encodeSidecar(x, "bin")', `${num(n('binEncodeUs'))} µs`, speed('jsonStringifyUs', 'binEncodeUs')],
      ],
    ),
  ].join('\n');
}

export function renderTables(r: BenchResults): string {
  const out: string[] = [];
  const lib = r.library;
  out.push(
    `## image-sidecar benchmark — ${r.startedAt}`,
    '',
    `${r.machine.cpus} CPU (${r.machine.cpuModel}), ${r.machine.memoryGB} GB, Node ${r.machine.node}; ` +
      `library: ${String(lib.images)} images, seed ${String(lib.seed)}, ${String(lib.jsonSidecarFiles)} sidecar files, ` +
      `${num(Number(lib.jsonSidecarBytes) / 1e6)} MB as JSON; median of ${String(r.args.runs)} runs after 1 warm-up, one process per run; ` +
      `load average ${r.machine.loadAverageAtStart.join(' / ')} at the start${r.machine.loadAverageAtEnd ? `, ${r.machine.loadAverageAtEnd.join(' / ')} at the end` : ''}.`,
    '',
    '### Operations',
    '',
  );
  out.push(
    table(
      ['operation', 'median ms', 'files/s', 'MB/s', 'peak RSS MB', '× floor (a)', '× floor (b)'],
      r.operations.map((f) =>
        isFailed(f)
          ? [f.label, `FAILED: ${f.error.slice(0, 80)}`, '', '', '', '', '']
          : [f.label, num(f.ms), num(f.filesPerSec, 0), num(f.mbPerSec), num(f.peakRssMB), x(f.xFloorA), x(f.xFloorB)],
      ),
    ),
  );
  out.push('', '### Targets (printed, not asserted)', '', "A ratio of two figures measured in the same rounds is the median of the rounds' own ratios (measure.ts timeRatio); of figures measured apart, the ratio of their medians.", '');
  out.push(
    table(
      ['target', 'measured', 'goal', 'result'],
      r.targets.map((t) => [
        t.name + (t.note ? ` (${t.note})` : ''),
        t.measured === null ? '—' : `${num(t.measured, 2)}${t.unit}`,
        t.goal,
        t.pass === null ? 'n/a' : t.pass ? 'PASS' : 'MISS',
      ]),
    ),
  );
  out.push('', '### Against the earlier Rust tool (20,000 images, time × floor (b))', '');
  out.push(
    table(
      ['operation', 'Rust', 'ours', 'ours ÷ Rust'],
      r.reference.map((ref) => [ref.operation, x(ref.rustXFloorB), x(ref.oursXFloorB), x(ref.oursOverRust)]),
    ),
  );
  const converts = r.operations.filter((f): f is OperationFigure => !isFailed(f) && f.xFloorC !== undefined);
  if (converts.length > 0) {
    out.push('', '### Convert against its durability floor (c)', '');
    out.push(table(['operation', 'median ms', '× floor (c)'], converts.map((f) => [f.label, num(f.ms), x(f.xFloorC)])));
  }
  const engines = engineRows(r);
  if (engines.length > 0) {
    out.push('', '### Threads vs in-process (JSON library)', '');
    out.push(table(['operation', 'threads ms', 'inline ms', 'threads ÷ inline'], engines));
  }
  if (r.codec) out.push('', '### Codec (in memory, realistic sidecars)', '', codecTable(r.codec));
  if (r.breakEven) {
    const be = r.breakEven;
    out.push('', '### Engine break-even (stats, inline vs threads)', '');
    out.push(
      table(
        ['images', 'sidecar files', 'inline ms', 'threads ms', 'faster'],
        be.rows.map((row) => [String(row.images), String(row.sidecarFiles), num(row.inlineMs), num(row.threadsMs), row.winner ?? '—']),
      ),
    );
    out.push('', be.note);
  }
  const extraLines = Object.entries(r.extra).map(([k, v]) => `- ${k}: ${typeof v === 'number' ? num(v, 3) : JSON.stringify(v).replace(/,"/g, ', "')}`);
  if (extraLines.length > 0) out.push('', '### Other figures', '', ...extraLines);
  if (r.notes.length > 0) out.push('', '### Notes', '', ...r.notes.map((n) => `- ${n}`));
  return out.join('\n') + '\n';
}

/** Write the JSON results to bench-results/bench-<timestamp>.json (and to `extra` if given). */
export function writeResults(r: BenchResults, baseDir: string, extra?: string): string[] {
  const dir = path.join(baseDir, 'bench-results');
  fs.mkdirSync(dir, { recursive: true });
  const stamp = r.startedAt.replace(/[:.]/g, '-');
  const files = [path.join(dir, `bench-${stamp}.json`)];
  if (extra) files.push(path.resolve(extra));
  const text = JSON.stringify(r, null, 2) + '\n';
  for (const f of files) fs.writeFileSync(f, text);
  return files;
}
