/** `read IMAGE` and `write IMAGE --operation OP --data FILE|-`: one image's sidecar. */
import { errors, EXIT_CLEAN, EXIT_FINDINGS, isSidecarError } from '../errors.js';
import { parseJsonText, stringifyTyped } from '../formats/json.js';
import { numberNoteOf, putNote, type NumberNote } from '../formats/numbers.js';
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_FILE_SIZE } from '../formats/value.js';
import { readInputLimited } from '../fs/read-file.js';
import { physicalPath } from '../fs/physical-path.js';
import { saveFormatFromEnv, statBindingFromEnv } from '../settings.js';
import type { JsonValue } from '../types.js';
import { imageExtensionOptions, inputPath, note, optString, type CommandContext } from './context.js';
import { emit } from './emit.js';
import { readConfigFile } from '../discovery/config.js';
import { isLegacyInvocation } from './invocation.js';
import type { FormatName } from '../types.js';
import { keyringFromCli } from './keys.js';

function keyOptions(ctx: CommandContext): { keyring?: ReturnType<typeof keyringFromCli> } {
  const keyring = keyringFromCli(ctx);
  return keyring ? { keyring } : {};
}

export async function run(ctx: CommandContext): Promise<number> {
  return ctx.command === 'write' ? runWrite(ctx) : runRead(ctx);
}

async function runRead(ctx: CommandContext): Promise<number> {
  // As the kernel names it (a `..` after a symlinked folder): its config is found from there too.
  const image = physicalPath(inputPath(ctx, 'image'));
  const { readSidecarDetailed } = await import('../ops/read.js');
  const view = await import('./read-view.js');
  // Node's stat binding unless IMAGE_SIDECAR_FAST_STAT=off, as for tree operations (and the server's `read`).
  const fastStat = statBindingFromEnv(ctx.io.env);
  const r = await readSidecarDetailed(image, { ...keyOptions(ctx), imageExtensions: imageExtensionOptions(ctx, image), fastStat });
  const detailed = ctx.opts.detailed === true;
  if (!detailed) for (const f of r.findings) note(ctx, `${f.code}: ${f.message}`);
  const operation = optString(ctx, 'operation');
  if (ctx.opts.summary === true) {
    if (operation !== undefined) throw errors.usage('give either --summary or --operation, not both');
    const summary = view.readSummary(image, r.path, r.format, r.data);
    const result = detailed ? { ...summary, findings: r.findings } : summary;
    await emit(ctx, { result, what: 'sidecar summary', human: (style) => view.readSummaryLines(summary, style) });
    return EXIT_CLEAN;
  }
  let data: JsonValue = r.data;
  let code = EXIT_CLEAN;
  // An operation's value that is a bare number keeps its type (25.0, an int beyond 2^53) by the
  // note its container, the sidecar, holds: taken out alone it printed 25, and rounded big ints.
  let dataNote: NumberNote | undefined;
  if (operation !== undefined) {
    const found = view.findOperation(r.data, operation);
    // A lookup that finds nothing prints null and exits 1, as grep does; no sidecar at all is the same miss.
    if (found === null) {
      note(ctx, `${r.path ?? image}: no ${operation} data${r.path === null ? ' (the image has no sidecar)' : ''}`);
      code = EXIT_FINDINGS;
    }
    data = found === null ? null : found.holder[found.key]!;
    if (found !== null) dataNote = numberNoteOf(found.holder, found.key);
  }
  const result = detailed
    ? { path: r.path, format: r.format, ...(r.encryptedKeyId ? { encrypted_key_id: r.encryptedKeyId } : {}), findings: r.findings, ...(operation !== undefined ? { operation } : {}), data }
    : data;
  if (detailed && dataNote !== undefined) putNote(result as object, 'data', dataNote);
  const rootNote = detailed ? undefined : dataNote;
  // The data is the answer, for people too: indented JSON (number types kept), with 512-float
  // embeddings shortened on a terminal.
  const text = (v: JsonValue) => (view.hasLongNumberArray(v) ? view.abbreviatedJson(v) : stringifyTyped(v, '  ', '', rootNote));
  await emit(ctx, { result: result as object, what: 'sidecar data', note: rootNote, human: () => text(result as JsonValue).split('\n') });
  return code;
}

/** --data text: JSON is bigger than the sidecar it makes (a float's ~19 characters are 8 bytes in bin), so four sidecar limits. */
const DATA_MAX_BYTES = 4 * DEFAULT_MAX_FILE_SIZE;

/** The --data JSON: strict UTF-8 JSON text (a BOM is tolerated), from a file or stdin; a bare number with its note (`25.0`, an int beyond 2^53). */
async function readData(ctx: CommandContext, source: string): Promise<{ data: JsonValue; note?: NumberNote }> {
  const bytes = await readInputLimited(source === '-' ? ctx.io.stdin : source, DATA_MAX_BYTES, source === '-' ? 'stdin' : source);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw errors.usage(`--data ${source}: not valid UTF-8`);
  }
  try {
    // The number model: 25.0 stays a float and big ints stay exact, as in the sidecar itself. A
    // number's type is noted on its container: a bare number is read again inside one.
    const data = parseJsonText(text, { maxDepth: DEFAULT_MAX_DEPTH });
    if (typeof data !== 'number') return { data };
    return { data, note: numberNoteOf(parseJsonText(`[${text}]`, { maxDepth: DEFAULT_MAX_DEPTH }) as JsonValue[], 0) };
  } catch (e) {
    if (isSidecarError(e) && e.code === 'TOO_DEEP') throw e;
    throw errors.usage(`--data ${source}: not valid JSON (${(e as Error).message})`);
  }
}

async function runWrite(ctx: CommandContext): Promise<number> {
  const image = physicalPath(inputPath(ctx, 'image'));
  const operation = optString(ctx, 'operation');
  const source = optString(ctx, 'data');
  if (!operation) throw errors.usage('write needs --operation OP');
  if (!source) throw errors.usage("write needs --data FILE (or '-' for stdin)");
  const { data, note } = await readData(ctx, source);
  const { saveSidecar } = await import('../ops/save.js');
  // The format: --format, else IMAGE_SIDECAR_FORMAT, else the --config file's defaultFormat (the
  // library reads the folder's own configuration file); under the earlier tool's names, bin.
  const configPath = optString(ctx, 'config');
  const format = (optString(ctx, 'format') ?? saveFormatFromEnv(process.env) ?? (configPath ? readConfigFile(configPath).defaultFormat : undefined)) as FormatName | undefined;
  const naming = optString(ctx, 'naming') as 'stem' | 'name-ext' | undefined;
  const backend = optString(ctx, 'backend');
  const saved = await saveSidecar(image, operation, data, {
    format,
    defaultFormat: isLegacyInvocation(process.argv[1]) ? 'bin' : undefined,
    naming,
    backend,
    ...keyOptions(ctx),
    imageExtensions: imageExtensionOptions(ctx, image),
    hashImage: ctx.opts.hashImages === true,
    dataNote: note,
  });
  const result = { image, operation, ...saved };
  const kept = saved.kept !== undefined ? `; ${saved.kept} kept beside it` : '';
  const message = `${saved.written ? 'Saved' : 'Unchanged'}: ${operation}${backend !== undefined ? ` (backend ${backend})` : ''} in ${saved.path} (${saved.format}${saved.created ? ', new sidecar' : ''}${kept})`;
  await emit(ctx, { result, message, what: 'save result', human: () => [] });
  return EXIT_CLEAN;
}
