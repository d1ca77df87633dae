/**
 * User JSON Schemas (ajv 8), compiled once per run (once per worker thread) and reused for
 * every file. The plain schema object travels to workers as `schemaSource`; each worker
 * recompiles it with `compileSchema`, since compiled functions cannot cross threads.
 */
import { createRequire } from 'node:module';
import type AjvModule from 'ajv';
import type Ajv2019Module from 'ajv/dist/2019.js';
import type Ajv2020Module from 'ajv/dist/2020.js';
import type { ErrorObject, Options as AjvOptions, ValidateFunction } from 'ajv';
import { errors, isSidecarError } from '../errors.js';
import { DEFAULT_MAX_FILE_SIZE, readInputLimited } from '../fs/read-file.js';
import { ProblemList } from './rules.js';
import type { Problem } from '../model/inspection.js';

const require = createRequire(import.meta.url);

/**
 * ajv is loaded on the first schema, not at import: every worker thread and most commands load
 * this module and never see a schema, and ajv's CommonJS load cost about 100 ms per thread.
 * It is CommonJS: `module.exports.default` is the class, at runtime and in its types.
 */
const ajvClass = {
  draft7: () => (require('ajv') as typeof AjvModule).default,
  draft2019: () => (require('ajv/dist/2019.js') as typeof Ajv2019Module).default,
  draft2020: () => (require('ajv/dist/2020.js') as typeof Ajv2020Module).default,
};

/**
 * ajv's version: its checks and messages are part of a schema's verdict, and a dependency update
 * (ajv ^8) changes them without a version of ours: the index keys results by it (incremental/key.ts).
 */
export function schemaEngineVersion(): string {
  return `ajv ${(require('ajv/package.json') as { version: string }).version}`;
}

export interface CompiledSchema {
  /** The schema as given (a plain object or boolean): send this to workers and recompile there. */
  readonly schemaSource: unknown;
  /** Where the schema was loaded from, when it came from a file. */
  readonly path?: string;
  /** What ajv warned about while compiling (e.g. unknown formats, which are then not checked). */
  readonly warnings: readonly string[];
  /** The compiled validator, reused for every file. */
  readonly validate: ValidateFunction;
}

const DRAFT_06 = 'http://json-schema.org/draft-06/schema';

/** ajv's class for the draft the schema declares in `$schema` (draft-07 when it declares none). */
function createAjv(schema: unknown, options: AjvOptions, path?: string) {
  const declared = typeof schema === 'object' && schema !== null ? (schema as { $schema?: unknown }).$schema : undefined;
  const uri = typeof declared === 'string' ? declared : '';
  if (uri.includes('draft/2020-12')) return new (ajvClass.draft2020())(options);
  if (uri.includes('draft/2019-09')) return new (ajvClass.draft2019())(options);
  if (uri.includes('draft-04') || uri.includes('draft-03')) {
    throw errors.schema(`$schema ${uri} is not supported; use draft-07, 2019-09 or 2020-12`, path);
  }
  const ajv = new (ajvClass.draft7())(options);
  if (uri.includes('draft-06')) {
    ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json') as object, DRAFT_06);
  }
  return ajv;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Compile a schema object (or boolean schema). Throws SCHEMA for anything ajv rejects. */
export function compileSchema(schemaObject: unknown, opts: { path?: string } = {}): CompiledSchema {
  const path = opts.path;
  if (typeof schemaObject !== 'boolean' && (typeof schemaObject !== 'object' || schemaObject === null || Array.isArray(schemaObject))) {
    throw errors.schema(`a schema must be a JSON object or a boolean, not ${Array.isArray(schemaObject) ? 'an array' : schemaObject === null ? 'null' : typeof schemaObject}`, path);
  }
  const warnings: string[] = [];
  const collect = (...args: unknown[]): void => {
    const text = args.map(String).join(' ');
    if (!warnings.includes(text)) warnings.push(text);
  };
  const options: AjvOptions = {
    allErrors: true,
    strict: false,
    // Never print: stdout may carry JSON. Warnings are kept on the compiled schema instead.
    logger: { log: () => undefined, warn: collect, error: collect },
  };
  let validate: ValidateFunction;
  try {
    validate = createAjv(schemaObject, options, path).compile(schemaObject as object | boolean);
  } catch (e) {
    if (isSidecarError(e)) throw e;
    throw errors.schema(messageOf(e), path);
  }
  if ((validate as { $async?: unknown }).$async === true) {
    throw errors.schema('asynchronous schemas ($async) are not supported', path);
  }
  return path === undefined ? { schemaSource: schemaObject, warnings, validate } : { schemaSource: schemaObject, path, warnings, validate };
}

/** Read and compile a schema file. I/O errors keep their fs code; bad JSON or schema → SCHEMA. */
export async function loadSchema(path: string): Promise<CompiledSchema> {
  let text: string;
  try {
    text = (await readInputLimited(path, DEFAULT_MAX_FILE_SIZE)).toString('utf8');
  } catch (e) {
    throw errors.fromFs(e, path);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let source: unknown;
  try {
    source = JSON.parse(text);
  } catch (e) {
    throw errors.schema(`the file is not valid JSON (${messageOf(e)})`, path);
  }
  return compileSchema(source, { path });
}

/** ajv's message plus the detail it keeps in params (which property, which values). */
function describe(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  let msg = e.message ?? `fails ${e.keyword}`;
  if (e.keyword === 'additionalProperties' && typeof p.additionalProperty === 'string') msg += `: "${p.additionalProperty}"`;
  else if (e.keyword === 'unevaluatedProperties' && typeof p.unevaluatedProperty === 'string') msg += `: "${p.unevaluatedProperty}"`;
  else if ((e.keyword === 'enum' || e.keyword === 'const') && (Array.isArray(p.allowedValues) || 'allowedValue' in p)) {
    const values = Array.isArray(p.allowedValues) ? p.allowedValues : [p.allowedValue];
    const shown = values.slice(0, 10).map((v) => (typeof v === 'string' ? `"${v}"` : String(v)));
    msg += `: ${shown.join(', ')}${values.length > 10 ? ', …' : ''}`;
  }
  return `${msg} (schema ${e.schemaPath})`;
}

/** Validate one decoded sidecar; ajv's instancePath (an RFC 6901 pointer) becomes the problem's pointer. */
export function checkSchema(compiled: CompiledSchema, data: unknown): Problem[] {
  const validate = compiled.validate;
  if (validate(data) === true) return [];
  const list = new ProblemList();
  const errs = validate.errors ?? [];
  for (let i = 0; i < errs.length; i++) list.error(errs[i].instancePath, describe(errs[i]));
  if (errs.length === 0) list.error('', 'does not match the schema');
  return list.finish();
}
