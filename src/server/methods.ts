/**
 * The stdio server's methods: name → how it is scheduled + a handler that checks its params and
 * calls the library. Per-image calls (read/save) are imported up front because they are the hot
 * path; tree operations are imported on first use, which keeps server start-up short (ajv, the
 * scanner and the worker engine are not loaded by a client that only reads and saves).
 */
import { dirname } from 'node:path';
import { resolveImageExtensions } from '../discovery/config.js';
import { physicalPath } from '../fs/physical-path.js';
import { isStdoutName } from '../fs/stdout-name.js';
import { engineFromEnv, saveFormatFromEnv, statBindingFromEnv } from '../settings.js';
import { errors } from '../errors.js';
import { readSidecarText } from '../ops/read.js';
import { saveSidecar } from '../ops/save.js';
import { numberNoteOf } from '../formats/numbers.js';
import type { JsonObject, Options, Keyring } from '../types.js';
import { DATASET_FORMATS, ENGINE_KINDS, EXPORT_FORMATS, FORMAT_NAMES, SAVE_MERGE_MODES, isOneOf } from '../vocabulary.js';
import { RawJsonResult } from './responses.js';
import {
  type Params,
  optionalBoolean,
  optionalChoice,
  optionalObject,
  optionalPositiveInt,
  optionalPath,
  optionalString,
  optionalStringList,
  requireChoice,
  requireDir,
  requirePath,
  requireString,
} from './params.js';

/**
 * How the dispatcher orders a request against others:
 * - image-read: runs at once, but after any earlier save to the same image (read-your-writes);
 * - image-write: after every earlier save to the same image (request order, no lock contention);
 * - tree: one tree operation at a time (each already uses every core);
 * - free: at once.
 */
export type Scheduling = 'image-read' | 'image-write' | 'tree' | 'free';

export interface MethodSpec {
  scheduling: Scheduling;
  handle(params: Params): Promise<unknown>;
}

/** Failed or conflicting convert items kept in a response. */
const MAX_PROBLEMS = 20;

// The server's keys (serve --key-file / the environment): one server process, one keyring, or the
// keys as they are now (`keys`: asked at each request; the CLI's reads a rotated key file again).
let keyring: Keyring | undefined;
let keysNow: (() => Keyring | undefined) | undefined;
/** Where those keys were read from: a request's output is never one of them (the key replaced by a CSV). */
let keyFiles: readonly string[] = [];
export function useKeyring(k: Keyring | undefined, files: readonly string[] = [], keys?: () => Keyring | undefined): void {
  keyring = k;
  keyFiles = files;
  keysNow = keys;
}
/** Throw USAGE when `output` is one of the server's key files. */
async function notAKeyFile(output: string, what: string): Promise<void> {
  if (keyFiles.length === 0) return;
  const { assertNotGivenFile } = await import('../analysis/output-guard.js');
  assertNotGivenFile(output, what, keyFiles.map((f) => ['key', f] as const));
}
const keyOpts = (): Options => {
  const k = keysNow !== undefined ? keysNow() : keyring;
  return k ? { keyring: k } : {};
};

/** Per-image reads: the keys, IMAGE_SIDECAR_ACCEL (off: every sidecar through the reference decoder) and IMAGE_SIDECAR_FAST_STAT (off: fs.fstatSync only). */
const readOpts = (): Options => {
  const o = keyOpts();
  const accel = engineFromEnv(process.env).accel;
  if (accel !== undefined) o.accel = accel;
  o.fastStat = statBindingFromEnv(process.env);
  return o;
};

/**
 * A per-image call's image extensions: `imageExt` + `config` or the nearest `.image-sidecar.json`
 * at or above the image's folder, as the CLI's read and write take them (which file is whose
 * depends on which names are images: docs/PAIRING.md §3). A few stats up the tree per call.
 */
function imageOptions(p: Params, image: string): Options {
  // From the folder the kernel reaches (a `..` after a symlinked folder is not collapsed as text).
  const exts = resolveImageExtensions({ cliExtra: optionalStringList(p, 'imageExt'), configPath: optionalPath(p, 'config'), startDir: dirname(physicalPath(image)) });
  return exts ? { imageExtensions: exts } : {};
}

/**
 * Options every tree operation understands — as the CLI's tree-reading options (TREE_READING):
 * workers, engine, the server's keys, and the image extensions of `imageExt` + `config` or the
 * nearest `.image-sidecar.json` at or above `dir` (so a tree reads the same over both).
 */
function treeOptions(p: Params): Options {
  const opts: Options = keyOpts();
  const workers = optionalPositiveInt(p, 'workers');
  if (workers !== undefined) opts.workers = workers;
  const engine = optionalChoice(p, 'engine', ENGINE_KINDS);
  if (engine !== undefined) opts.engine = engine;
  const dir = typeof p.dir === 'string' && p.dir !== '' ? p.dir : '.';
  const exts = resolveImageExtensions({ cliExtra: optionalStringList(p, 'imageExt'), configPath: optionalPath(p, 'config'), startDir: dir });
  if (exts) opts.imageExtensions = exts;
  // The server's thread answers requests: a tree operation never runs its batches there.
  return { ...opts, ...engineFromEnv(process.env, opts), callerRuns: false };
}

const methods = new Map<string, MethodSpec>();

methods.set('ping', {
  scheduling: 'free',
  handle: async () => ({ pong: true, pid: process.pid, methods: [...methods.keys()] }),
});

// Typed JSON text on one line (ops/read.ts readSidecarText): a plain JSON sidecar goes out as its own bytes.
methods.set('read', {
  scheduling: 'image-read',
  handle: async (p) => {
    const image = requirePath(p, 'image');
    return new RawJsonResult((await readSidecarText(image, { ...readOpts(), ...imageOptions(p, image) })).text);
  },
});

methods.set('readDetailed', {
  scheduling: 'image-read',
  handle: async (p) => {
    const image = requirePath(p, 'image');
    const { text, ...rest } = await readSidecarText(image, { ...readOpts(), ...imageOptions(p, image) });
    return new RawJsonResult([`${JSON.stringify(rest).slice(0, -1)},"data":`, text, '}']);
  },
});

methods.set('save', {
  scheduling: 'image-write',
  handle: (p) => {
    const image = requirePath(p, 'image');
    const operation = requireString(p, 'operation');
    // `format`: the caller's, else the server's IMAGE_SIDECAR_FORMAT; `defaultFormat`: when neither
    // it nor the folder's configuration file names one (the earlier package's clients send bin).
    const format = optionalChoice(p, 'format', FORMAT_NAMES) ?? (saveFormatFromEnv(process.env) as (typeof FORMAT_NAMES)[number] | undefined);
    const defaultFormat = optionalChoice(p, 'defaultFormat', FORMAT_NAMES);
    const merge = optionalChoice(p, 'merge', SAVE_MERGE_MODES);
    const naming = optionalChoice(p, 'naming', ['stem', 'name-ext'] as const);
    const backend = optionalString(p, 'backend');
    // A whole document's base: the sidecar as the caller read it (SaveOptions.base).
    const base = merge === 'document' ? (optionalObject(p, 'base') as JsonObject | undefined) : undefined;
    // saveSidecar itself rejects a missing `data` with a USAGE error, and maps `binary` to `bin`.
    // A bare number's type (25.0, an int beyond 2^53) is noted on the params it was parsed in.
    return saveSidecar(image, operation, p.data as never, { format, defaultFormat, merge, naming, backend, base, dataNote: numberNoteOf(p, 'data'), ...keyOpts(), ...imageOptions(p, image) });
  },
});

methods.set('validate', {
  scheduling: 'tree',
  handle: async (p) => {
    const { validate, validationTotals } = await import('../ops/validate.js');
    const report = await validate(requireDir(p), {
      ...treeOptions(p),
      operationType: optionalString(p, 'operationType'),
      schema: optionalPath(p, 'schema'),
    });
    // The same keys as `validate --json`, so callers get one shape over the server and the CLI.
    return { results: report.results, ...validationTotals(report, report.scan) };
  },
});

methods.set('stats', {
  scheduling: 'tree',
  handle: async (p) => {
    const { stats } = await import('../ops/stats.js');
    return stats(requireDir(p), {
      ...treeOptions(p),
      operationType: optionalString(p, 'operationType'),
      list: optionalBoolean(p, 'list', false),
    });
  },
});

methods.set('formatStats', {
  scheduling: 'tree',
  handle: async (p) => {
    const { formatStats } = await import('../ops/format-stats.js');
    return formatStats(requireDir(p), treeOptions(p));
  },
});

methods.set('convert', {
  scheduling: 'tree',
  handle: async (p) => {
    const [{ convert }, { convertMessage }] = await Promise.all([import('../ops/convert.js'), import('../messages.js')]);
    const dryRun = optionalBoolean(p, 'dryRun', false);
    // Like `convert --json`: only the items that went wrong, never one entry per file of a big tree.
    const problems: unknown[] = [];
    let problemCount = 0;
    const report = await convert(requireDir(p), requireChoice(p, 'format', FORMAT_NAMES), {
      ...treeOptions(p),
      dryRun,
      keepSource: optionalBoolean(p, 'keepSource', false),
      verify: optionalBoolean(p, 'verify', false),
      onItem: (item) => {
        if (item.ok && item.action !== 'conflict') return;
        problemCount++;
        if (problems.length < MAX_PROBLEMS) problems.push(item);
      },
    });
    return {
      message: convertMessage(dryRun, report.converted, report.format),
      ...report,
      problems,
      problems_truncated: problemCount > problems.length,
    };
  },
});

methods.set('cleanup', {
  scheduling: 'tree',
  handle: async (p) => {
    const [{ cleanup }, { cleanupMessage }] = await Promise.all([import('../ops/cleanup.js'), import('../messages.js')]);
    // Over the server a cleanup only reports unless the caller asks for the change explicitly.
    const dryRun = optionalBoolean(p, 'dryRun', true);
    const report = await cleanup(requireDir(p), {
      ...treeOptions(p),
      dryRun,
      force: optionalBoolean(p, 'force', false),
      delete: optionalBoolean(p, 'delete', false),
    });
    return { message: cleanupMessage(dryRun, dryRun ? report.actions.length : report.removed), ...report };
  },
});

methods.set('export', {
  scheduling: 'tree',
  handle: async (p) => {
    const [{ exportSidecars }, { exportMessage }] = await Promise.all([import('../ops/export.js'), import('../messages.js')]);
    // A path only: stdout carries responses, so '-' and every other name of it are refused.
    const output = requirePath(p, 'output');
    if (isStdoutName(output)) throw errors.usage(`export over the server needs an output file, not standard output ("${output}")`);
    const format = optionalChoice(p, 'format', EXPORT_FORMATS) ?? 'json';
    await notAKeyFile(output, 'export');
    if (format === 'embeddings') await notAKeyFile((await import('../ops/datasets.js')).embeddingRowsPath(output), 'rows file');
    if (isOneOf(DATASET_FORMATS, format)) {
      const { exportDataset } = await import('../ops/datasets.js');
      const report = await exportDataset(requireDir(p), {
        ...treeOptions(p),
        output,
        format,
        operationType: optionalString(p, 'operationType'),
        where: optionalString(p, 'where'),
        faces: optionalBoolean(p, 'faces', false),
        dim: optionalPositiveInt(p, 'dim'),
        copyImages: optionalBoolean(p, 'copyImages', false),
      });
      return { message: exportMessage(report.images, report.output ?? output), ...report };
    }
    const report = await exportSidecars(requireDir(p), {
      ...treeOptions(p),
      output,
      format,
      operationType: optionalString(p, 'operationType'),
    });
    return { message: exportMessage(report.exported, report.output ?? output), ...report };
  },
});

methods.set('hash', {
  scheduling: 'tree',
  handle: async (p) => {
    const { hashTree } = await import('../ops/hash.js');
    const manifest = optionalPath(p, 'manifest');
    if (manifest !== undefined) await notAKeyFile(manifest, 'manifest');
    return hashTree(requireDir(p), {
      ...treeOptions(p),
      canonical: optionalBoolean(p, 'canonical', false),
      allFiles: optionalBoolean(p, 'allFiles', false),
      manifest: optionalPath(p, 'manifest'),
    });
  },
});

// The image lists (docs/QUERY.md): the same records and totals as `todo|stale|find --json`
// (ops/image-lists.ts), image paths joined to `dir` as sent.
methods.set('todo', {
  scheduling: 'tree',
  handle: async (p) => {
    const [{ todo }, lists] = await Promise.all([import('../ops/todo.js'), import('../ops/image-lists.js')]);
    const dir = requireDir(p);
    const records: Record<string, unknown>[] = [];
    const report = await todo(dir, {
      ...treeOptions(p),
      operation: requireString(p, 'operation'),
      verifyHash: optionalBoolean(p, 'verifyHash', false),
      onEntry: (e) => void records.push(lists.todoRecord(dir, e)),
    });
    return { [lists.LIST_KEYS.todo]: records, ...lists.todoTotals(dir, report) };
  },
});

methods.set('stale', {
  scheduling: 'tree',
  handle: async (p) => {
    const [{ staleSidecars }, lists] = await Promise.all([import('../ops/todo.js'), import('../ops/image-lists.js')]);
    const dir = requireDir(p);
    const records: Record<string, unknown>[] = [];
    const report = await staleSidecars(dir, {
      ...treeOptions(p),
      verifyHash: optionalBoolean(p, 'verifyHash', false),
      onEntry: (e) => void records.push(lists.staleRecord(dir, e)),
    });
    return { [lists.LIST_KEYS.stale]: records, ...lists.staleTotals(dir, report) };
  },
});

methods.set('find', {
  scheduling: 'tree',
  handle: async (p) => {
    const [{ find }, lists] = await Promise.all([import('../ops/find.js'), import('../ops/image-lists.js')]);
    const dir = requireDir(p);
    const where = requireString(p, 'where');
    const records: Record<string, unknown>[] = [];
    const report = await find(dir, {
      ...treeOptions(p),
      where,
      operationType: optionalString(p, 'operationType'),
      onEntry: (e) => void records.push(lists.findRecord(dir, e)),
    });
    return { [lists.LIST_KEYS.find]: records, ...lists.findTotals(dir, report, where) };
  },
});

methods.set('performanceInfo', {
  scheduling: 'free',
  handle: async () => {
    const { performanceInfo } = await import('../ops/performance.js');
    return performanceInfo(engineFromEnv(process.env));
  },
});

export const METHODS: ReadonlyMap<string, MethodSpec> = methods;
