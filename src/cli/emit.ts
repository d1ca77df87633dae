/**
 * Print a finished result by the output rules: JSON to `-o FILE` (complete or not at all) with a
 * one-line note on stdout; a human summary for a person at a terminal; JSON everywhere else, so
 * that every subprocess wrapper gets JSON on stdout and nothing else.
 */
import { colorEnabled, outputFile, wantsHuman, type CommandContext } from './context.js';
import type { NumberNote } from '../formats/numbers.js';
import { writeJson } from './json-writer.js';
import { openSink } from './sink.js';
import { makeStyle, type Style } from './style.js';

export interface Emission {
  /** The JSON result. */
  result: object;
  /**
   * The one-line sentence wrappers match with a regex (`Removed (\d+)`, `Exported (\d+)`,
   * `Converted (\d+)`). Human output starts with it; JSON output carries it as "message".
   */
  message?: string;
  /** Human summary lines (without the message). */
  human: (style: Style) => string[];
  /** What the result is, for "Wrote <what> to FILE". */
  what: string;
  /** A result that is a bare number of sidecar data: its type (25.0, an int beyond 2^53), as formats/numbers.ts notes it on a container. */
  note?: NumberNote;
}

/** The result with "message" as its first key (when there is one). */
export function withMessage(result: object, message: string | undefined): object {
  return message === undefined ? result : { message, ...result };
}

export async function emit(ctx: CommandContext, e: Emission): Promise<void> {
  const file = outputFile(ctx);
  const out = ctx.io.stdout;
  if (file !== null) {
    const sink = await openSink(file, out);
    try {
      await writeJson(sink, withMessage(e.result, e.message), e.note);
    } catch (err) {
      await sink.abort();
      throw err;
    }
    await sink.close();
    const line = e.message ?? `Wrote ${e.what} to ${sink.target}`;
    out.write(ctx.opts.json ? `${JSON.stringify({ message: line, output: sink.target })}\n` : `${line}\n`);
    return;
  }
  if (wantsHuman(ctx)) {
    const lines = e.human(makeStyle(colorEnabled(ctx.io)));
    // The sentence first: it is the answer; the lines below are the detail.
    if (e.message !== undefined) lines.unshift(e.message);
    out.write(lines.join('\n') + '\n');
    return;
  }
  const sink = await openSink(null, out);
  await writeJson(sink, withMessage(e.result, e.message), e.note);
  await sink.close();
}
