/**
 * `todo`, `stale`, `find`: lists of images for pipelines, streamed in tree order.
 *
 * Output (the same for a terminal and a pipe: the list IS the answer):
 *   default   one image path per line (the DIR as given joined with the path inside it)
 *   --print0  paths ended by NUL, for `xargs -0`
 *   --jsonl   one JSON record per line, each saying why the image is listed
 *   --json    one JSON document: {"<list>": [records...], ...totals}
 * A one-line count goes to stderr (not with --quiet). Exit code 1 when some images could not be
 * decided (corrupt / unreadable / ambiguous sidecars) or part of the tree could not be read.
 */
import { EXIT_CLEAN, EXIT_FINDINGS, errors } from '../errors.js';
import { engineOptions, indexOptions, inputDirectory, note, optString, outputFile, type CommandContext } from './context.js';
import { openSink, type Sink } from './sink.js';

type Mode = 'lines' | 'print0' | 'jsonl' | 'json';

function modeOf(ctx: CommandContext): Mode {
  const chosen = (['print0', 'jsonl', 'json'] as const).filter((m) => ctx.opts[m] === true);
  if (chosen.length > 1) throw errors.usage(`--${chosen.join(' and --')} exclude each other`);
  return chosen[0] ?? 'lines';
}

/** Streams records in the chosen mode; the JSON document's totals come after the list. */
export class ListWriter {
  private first = true;
  constructor(
    private readonly sink: Sink,
    private readonly mode: Mode,
    private readonly listKey: string,
  ) {}

  write(printed: string, record: object): Promise<void> | undefined {
    switch (this.mode) {
      case 'lines':
        if (/[\n\r]/.test(printed)) {
          // A newline in a name would split it in two: such names need --print0 or JSON.
          return this.sink.write(`${JSON.stringify(printed)}\n`);
        }
        return this.sink.write(printed + '\n');
      case 'print0':
        return this.sink.write(printed + '\0');
      case 'jsonl':
        return this.sink.write(JSON.stringify(record) + '\n');
      case 'json': {
        const head = this.first ? `{${JSON.stringify(this.listKey)}:[\n` : ',\n';
        this.first = false;
        return this.sink.write(head + JSON.stringify(record));
      }
    }
  }

  async end(totals: object): Promise<void> {
    if (this.mode === 'json') {
      const rest = JSON.stringify(totals).slice(1);
      await this.sink.write(`${this.first ? `{${JSON.stringify(this.listKey)}:[\n` : '\n'}],${rest}\n`);
    }
    await this.sink.close();
  }
}

interface Listing {
  writer: ListWriter;
  sink: Sink;
  dir: string;
}

async function openListing(ctx: CommandContext, listKey: string): Promise<Listing> {
  const dir = await inputDirectory(ctx);
  const mode = modeOf(ctx);
  const sink = await openSink(outputFile(ctx), ctx.io.stdout);
  return { writer: new ListWriter(sink, mode, listKey), sink, dir };
}

/** Records and totals come from ops/image-lists.ts: the server answers with the same shapes. */
async function runTodo(ctx: CommandContext): Promise<number> {
  const operation = optString(ctx, 'operation');
  if (!operation) throw errors.usage('todo needs --operation OP (e.g. --operation yolov8)');
  const [{ todo }, lists] = await Promise.all([import('../ops/todo.js'), import('../ops/image-lists.js')]);
  const out = await openListing(ctx, lists.LIST_KEYS.todo);
  let report;
  try {
    report = await todo(out.dir, {
      ...engineOptions(ctx),
      ...indexOptions(ctx),
      operation,
      verifyHash: ctx.opts.verifyHash === true,
      onEntry: (e) => {
        const rec = lists.todoRecord(out.dir, e);
        return out.writer.write(rec.image as string, rec);
      },
    });
  } catch (e) {
    await out.sink.abort();
    throw e;
  }
  const listed = lists.todoListed(report);
  await out.writer.end(lists.todoTotals(out.dir, report));
  const c = report.counts;
  note(ctx, `${listed} image(s) to process for ${report.operation}: ${c['no-sidecar']} without sidecar, ${c['no-result']} without a result, ${c.failed} failed, ${c.stale} stale; ${c.done} done`);
  noteProblems(ctx, out.dir, report, lists.printedPath);
  noteUnread(ctx, report.scan);
  return lists.listHasFindings(report) ? EXIT_FINDINGS : EXIT_CLEAN;
}

async function runStale(ctx: CommandContext): Promise<number> {
  const [{ staleSidecars }, lists] = await Promise.all([import('../ops/todo.js'), import('../ops/image-lists.js')]);
  const out = await openListing(ctx, lists.LIST_KEYS.stale);
  let report;
  try {
    report = await staleSidecars(out.dir, {
      ...engineOptions(ctx),
      ...indexOptions(ctx),
      verifyHash: ctx.opts.verifyHash === true,
      onEntry: (e) => {
        const rec = lists.staleRecord(out.dir, e);
        return out.writer.write(rec.image as string, rec);
      },
    });
  } catch (e) {
    await out.sink.abort();
    throw e;
  }
  await out.writer.end(lists.staleTotals(out.dir, report));
  const c = report.counts;
  note(ctx, `${c.stale} stale sidecar(s); ${c.current} current; ${c.unknown} unknown (saved without an image record)`);
  noteProblems(ctx, out.dir, report, lists.printedPath);
  noteUnread(ctx, report.scan);
  return lists.listHasFindings(report) ? EXIT_FINDINGS : EXIT_CLEAN;
}

async function runFind(ctx: CommandContext): Promise<number> {
  const where = optString(ctx, 'where');
  if (where === undefined) throw errors.usage('find needs --where EXPR (e.g. --where "faces >= 3"); see docs/QUERY.md');
  const [{ find }, { compileQuery }, lists] = await Promise.all([import('../ops/find.js'), import('../analysis/query.js'), import('../ops/image-lists.js')]);
  compileQuery(where); // a bad expression is a usage error before anything is opened
  const out = await openListing(ctx, lists.LIST_KEYS.find);
  let report;
  try {
    report = await find(out.dir, {
      ...engineOptions(ctx),
      ...indexOptions(ctx),
      where,
      operationType: optString(ctx, 'operationType'),
      onEntry: (e) => {
        const rec = lists.findRecord(out.dir, e);
        return out.writer.write(rec.image as string, rec);
      },
    });
  } catch (e) {
    await out.sink.abort();
    throw e;
  }
  await out.writer.end(lists.findTotals(out.dir, report, where));
  note(ctx, `${report.matched} image(s) match (${report.examined} sidecars examined)`);
  noteProblems(ctx, out.dir, report, lists.printedPath);
  noteUnread(ctx, report.scan);
  return lists.listHasFindings(report) ? EXIT_FINDINGS : EXIT_CLEAN;
}

/** Paths the scan could not read: counted, and the first named (they were counted only; `scan_problem_list` in --json has them). */
function noteUnread(ctx: CommandContext, scan: { complete: boolean; problemCount: number; problems: readonly { path: string; message: string }[] }): void {
  if (scan.complete) return;
  note(ctx, `warning: ${scan.problemCount} path(s) could not be read; the list may be incomplete`);
  for (const p of scan.problems.slice(0, 10)) note(ctx, `  not read: ${p.message}`);
  if (scan.problemCount > 10) note(ctx, `  ... and ${scan.problemCount - 10} more (see scan_problem_list in --json)`);
}

/** The first images a list command could not decide, on stderr (all of them in --json). */
function noteProblems(ctx: CommandContext, dir: string, report: { problems: readonly { rel: string; category: string; message: string }[]; problemCount: number }, printedPath: (dir: string, rel: string) => string): void {
  for (const p of report.problems.slice(0, 10)) note(ctx, `not listed (${p.category}): ${printedPath(dir, p.rel)}: ${p.message}`);
  if (report.problemCount > 10) note(ctx, `... and ${report.problemCount - 10} more not listed (see --json)`);
}

export async function run(ctx: CommandContext): Promise<number> {
  switch (ctx.command) {
    case 'find':
      return runFind(ctx);
    case 'todo':
      return runTodo(ctx);
    case 'stale':
      return runStale(ctx);
    default:
      throw errors.internal(`cmd-query cannot run ${ctx.command}`);
  }
}
