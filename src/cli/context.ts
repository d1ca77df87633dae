/**
 * What a command implementation receives: its arguments, parsed options and the process I/O,
 * plus the small decisions every command shares (input directory, output mode, engine options).
 */
import { statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { resolveImageExtensions } from '../discovery/config.js';
import { errors } from '../errors.js';
import { assertOneFolder } from '../fs/physical-path.js';
import { isStdoutName } from '../fs/stdout-name.js';
import { engineFromEnv, racyMarginFromEnv, statAheadFromEnv } from '../settings.js';
import type { EngineKind, Keyring } from '../types.js';
import type { ResolvePreference } from '../ops/resolve.js';
import { keyringFromCli } from './keys.js';
import { parseShard, type ShardSpec } from '../discovery/shard.js';
import type { IndexOptions } from '../model/index-options.js';

/** The process streams and environment, injectable so that commands never reach for globals. */
export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  env: NodeJS.ProcessEnv;
}

/**
 * Every option a command defines, as commander parses it (camelCase keys; `--no-list` sets
 * `list: false`). A command receives only its own; the table in commands.ts is checked against
 * this list by a test, so a new flag cannot be read under a misspelt name.
 */
export interface CliOptions {
  input?: string;
  output?: string;
  workers?: number;
  engine?: EngineKind;
  json?: boolean;
  jsonl?: boolean;
  quiet?: boolean;
  dryRun?: boolean;
  list?: boolean;
  operationType?: string;
  schema?: string;
  format?: string;
  keepSource?: boolean;
  verify?: boolean;
  encrypt?: boolean;
  decrypt?: boolean;
  keyFile?: string;
  newKeyFile?: string;
  delete?: boolean;
  force?: boolean;
  maxFraction?: number;
  from?: string;
  prefer?: ResolvePreference;
  csvRaw?: boolean;
  detailed?: boolean;
  operation?: string;
  summary?: boolean;
  data?: string;
  canonical?: boolean;
  manifest?: string;
  allFiles?: boolean;
  images?: number;
  seed?: number;
  stdio?: boolean;
  open?: boolean;
  maxInvalid?: number;
  maxFolders?: number;
  imageExt?: string;
  naming?: string;
  backend?: string;
  config?: string;
  print0?: boolean;
  verifyHash?: boolean;
  hashImages?: boolean;
  where?: string;
  shard?: string;
  include?: string;
  dim?: number;
  copyImages?: boolean;
  /** `--index PATH` (a string), `--no-index` (false); absent: true (commander's default for --no-). */
  index?: string | boolean;
}

export interface CommandContext {
  command: string;
  /** The positional argument (DIR or IMAGE), when given. */
  arg: string | undefined;
  /** Options as commander parsed them. */
  opts: CliOptions;
  /** A variadic argument (`merge FILE...`). */
  args?: string[];
  io: Io;
}

/** A command implementation: returns the exit code; throws SidecarError for fatal problems. */
export type CommandRun = (ctx: CommandContext) => Promise<number>;

export function processIo(): Io {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    stdoutIsTTY: process.stdout.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    env: process.env,
  };
}

/** `-o FILE` given (anything but '-')? */
export function outputFile(ctx: CommandContext): string | null {
  const o = ctx.opts.output;
  return typeof o === 'string' && o !== '' && !isStdoutName(o) ? o : null;
}

/**
 * `-o FILE` never replaces an image or a sidecar, inside the tree read or not (output-guard.ts):
 * `validate lib -o lib/IMG_1.json` replaced that image's data with the report, `stats lib -o
 * lib/IMG_1.jpg` the photo itself. Checked before every command runs (cli.ts), so nothing is done
 * first.
 */
export async function checkOutputFile(ctx: CommandContext): Promise<void> {
  const file = outputFile(ctx);
  await assertOutputsNotGivenFiles(ctx, file);
  if (file === null) return;
  const abs = resolve(file);
  const { assertOutputNotManaged } = await import('../analysis/output-guard.js');
  assertOutputNotManaged(abs, 'output', imageExtensionOptions(ctx, dirname(abs)));
}

/** The options that name a file a command reads (or, `--manifest` of hash and merge, writes beside its output). */
const FILE_OPTIONS: readonly [key: keyof CliOptions, flag: string][] = [
  ['keyFile', '--key-file'],
  ['newKeyFile', '--new-key-file'],
  ['config', '--config'],
  ['schema', '--schema'],
  ['manifest', '--manifest'],
  ['data', '--data'],
  ['index', '--index'],
];

/** Commands whose `--manifest` is an output (verify reads its). */
const WRITES_MANIFEST = new Set(['hash', 'merge']);

/**
 * No output of the command (`-o`, hash's and merge's `--manifest`, the rows file an embeddings
 * export writes beside its `.npy`) is another file it is given: its key file (`--key-file`, or
 * `IMAGE_SIDECAR_KEY_FILE` for a command that reads keys), `--config`, `--schema`, `--data`,
 * `--index`, a list given with `-i`, or its other output (output-guard.ts assertNotGivenFile).
 */
async function assertOutputsNotGivenFiles(ctx: CommandContext, output: string | null): Promise<void> {
  // keygen's -o is the key it makes (and never replaces one).
  const readsKeys = ctx.command !== 'keygen';
  const manifest = ctx.opts.manifest;
  const writesManifest = WRITES_MANIFEST.has(ctx.command) && typeof manifest === 'string' && manifest !== '';
  const given: [string, string][] = [];
  for (const [key, flag] of FILE_OPTIONS) {
    const v = ctx.opts[key];
    if (typeof v !== 'string' || v === '' || isStdoutName(v) || (flag === '--key-file' && !readsKeys)) continue;
    // An output among them is taken as its writer takes it (its `..` as text).
    given.push([flag, flag === '--manifest' && writesManifest ? resolve(v) : v]);
  }
  const envKey = ctx.io.env.IMAGE_SIDECAR_KEY_FILE;
  if (readsKeys && typeof ctx.opts.keyFile !== 'string' && envKey) given.push(['IMAGE_SIDECAR_KEY_FILE', envKey]);
  const input = typeof ctx.opts.input === 'string' ? ctx.opts.input : ctx.arg;
  if (input !== undefined && statSync(input, { throwIfNoEntry: false })?.isFile() === true) given.push([ctx.opts.input !== undefined ? '-i' : 'input', input]);
  const outputs: [string, string][] = [];
  if (output !== null) outputs.push(['output', output]);
  if (writesManifest) outputs.push(['manifest', manifest as string]);
  if (output !== null && ctx.command === 'export' && ctx.opts.format === 'embeddings') {
    const { embeddingRowsPath } = await import('../ops/datasets.js');
    outputs.push(['rows file', embeddingRowsPath(resolve(output))]);
  }
  const { assertNotGivenFile } = await import('../analysis/output-guard.js');
  for (const [what, path] of outputs) {
    const others = given.filter(([flag]) => !(what === 'manifest' && flag === '--manifest'));
    if (what !== 'output' && output !== null) others.push(['-o', resolve(output)]);
    assertNotGivenFile(path, what, others, new Set(writesManifest ? ['--manifest', '-o'] : ['-o']));
  }
}

/**
 * Human summary only for a person at a terminal: stdout is a TTY and neither --output nor
 * --json/--jsonl asked for machine output. Every subprocess wrapper therefore gets JSON.
 */
export function wantsHuman(ctx: CommandContext): boolean {
  return ctx.io.stdoutIsTTY && outputFile(ctx) === null && !ctx.opts.json && !ctx.opts.jsonl;
}

/** Colour only on a terminal and only when NO_COLOR is unset (https://no-color.org). */
export function colorEnabled(io: Io): boolean {
  return io.stdoutIsTTY && !io.env.NO_COLOR;
}

/** The DIR argument or --input (both may be given only if they agree). */
export function inputPath(ctx: CommandContext, what = 'directory'): string {
  const pos = ctx.arg;
  const flag = typeof ctx.opts.input === 'string' ? ctx.opts.input : undefined;
  if (pos !== undefined && flag !== undefined && resolve(pos) !== resolve(flag)) {
    throw errors.usage(`${what} given twice, as an argument (${pos}) and as --input (${flag})`);
  }
  const p = pos ?? flag;
  if (p === undefined || p === '') throw errors.usage(`missing ${what}: give it as an argument or with --input`);
  return p;
}

/**
 * The input directory, checked up front so that every command reports a missing one the same
 * way (the earlier tool silently returned an empty result).
 */
export async function inputDirectory(ctx: CommandContext): Promise<string> {
  const dir = inputPath(ctx);
  assertOneFolder(dir);
  const abs = resolve(dir);
  let st;
  try {
    st = await stat(abs);
  } catch (e) {
    const err = errors.fromFs(e, abs);
    throw err.code === 'NOT_FOUND' ? errors.notFound(abs, 'input directory') : err;
  }
  if (!st.isDirectory()) throw errors.notADirectory(abs);
  return dir;
}

/** Engine options shared by every tree operation: flags, then IMAGE_SIDECAR_ENGINE/WORKERS (read here, once); keys for encrypted sidecars; image extensions of --image-ext / the config file). */
export function engineOptions(ctx: CommandContext): { workers?: number; engine?: EngineKind; keyring?: Keyring; imageExtensions?: string[]; shard?: ShardSpec & { source: string } } {
  const out: { workers?: number; engine?: EngineKind; keyring?: Keyring; imageExtensions?: string[]; shard?: ShardSpec & { source: string } } = {};
  const shard = shardOption(ctx);
  if (shard) out.shard = shard;
  const keyring = keyringFromCli(ctx);
  if (keyring) out.keyring = keyring;
  if (typeof ctx.opts.workers === 'number') out.workers = ctx.opts.workers;
  if (typeof ctx.opts.engine === 'string') out.engine = ctx.opts.engine;
  let start = '.';
  try {
    start = inputPath(ctx);
  } catch {
    /* no directory argument: look for the config file from the current folder */
  }
  const exts = imageExtensionOptions(ctx, start);
  if (exts) out.imageExtensions = exts;
  return engineFromEnv(ctx.io.env, out);
}

const shardCache = new WeakMap<CommandContext, ShardSpec & { source: string }>();

/** `--shard I/N` or `auto/N` (parsed once per command; says on stderr where an auto index came from). */
export function shardOption(ctx: CommandContext): (ShardSpec & { source: string }) | undefined {
  const text = ctx.opts.shard;
  if (typeof text !== 'string') return undefined;
  let s = shardCache.get(ctx);
  if (!s) {
    const parsed = parseShard(text, ctx.io.env);
    s = { index: parsed.index, count: parsed.count, source: parsed.source };
    shardCache.set(ctx, s);
    if (parsed.note) note(ctx, parsed.note);
  }
  return s;
}

/** `--image-ext a,b` + `--config FILE` or the nearest `.image-sidecar.json` at or above `start`. */
export function imageExtensionOptions(ctx: CommandContext, start: string): string[] | undefined {
  const cliExtra = typeof ctx.opts.imageExt === 'string' ? ctx.opts.imageExt : undefined;
  const configPath = typeof ctx.opts.config === 'string' ? ctx.opts.config : undefined;
  let startDir = resolve(start);
  try {
    if (!statSync(startDir).isDirectory()) startDir = dirname(startDir);
  } catch {
    startDir = dirname(startDir);
  }
  return resolveImageExtensions({ cliExtra, configPath, startDir });
}

/** A string option (undefined when absent or, defensively, not a string). */
export function optString(ctx: CommandContext, key: keyof CliOptions): string | undefined {
  const v = ctx.opts[key];
  return typeof v === 'string' ? v : undefined;
}

/** Notes for the person running the command (stderr; silenced by --quiet). */
export function note(ctx: CommandContext, line: string): void {
  if (!ctx.opts.quiet) ctx.io.stderr.write(`image-sidecar: ${line}\n`);
}

/** The user's cache directory: $XDG_CACHE_HOME when absolute (XDG spec), else ~/.cache. */
export function userCacheDir(env: NodeJS.ProcessEnv): string | undefined {
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && isAbsolute(xdg)) return xdg;
  return env.HOME ? join(env.HOME, '.cache') : undefined;
}

/**
 * The incremental index of commands that inspect (validate, stats, format-stats, export, find, todo,
 * stale, report): on by default, `--index PATH` places it, `--no-index` turns it off.
 * IMAGE_SIDECAR_INDEX_RACY_MS sets the margin under which a just-changed file is not recorded (tests);
 * (IMAGE_SIDECAR_FAST_STAT=off, read with the engine's options, turns off the warm checks' stat
 * through Node's binding with the reads'.)
 */
export function indexOptions(ctx: CommandContext): { index: IndexOptions | false } {
  const v = ctx.opts.index;
  if (v === false) return { index: false };
  const out: IndexOptions = { onWarning: (m) => note(ctx, `warning: ${m}`) };
  if (typeof v === 'string') {
    if (v === '') throw errors.usage('--index needs a file path');
    out.path = v;
  }
  const cacheDir = userCacheDir(ctx.io.env);
  if (cacheDir) out.cacheDir = cacheDir;
  const racy = racyMarginFromEnv(ctx.io.env);
  if (racy !== undefined) out.racyMarginMs = racy;
  if (statAheadFromEnv(ctx.io.env) === false) out.statAhead = false;
  return { index: out };
}
