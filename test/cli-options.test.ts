/**
 * One vocabulary: every flag in the command table is a typed key of CliOptions (no option read by
 * a misspelt string key), and commander's choices, the server's checks and the library all use
 * the lists in src/vocabulary.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COMMANDS, EXPORT_FORMATS as CLI_EXPORT_FORMATS } from '../src/cli/commands.js';
import type { CliOptions } from '../src/cli/context.js';
import { normalizeFormat } from '../src/formats/codec.js';
import { runCli } from './helpers/cli.js';
import * as lib from '../src/index.js';
import { ENGINE_KINDS, EXPORT_FORMATS, FORMAT_ALIASES, FORMAT_NAMES, SIDECAR_FORMATS } from '../src/vocabulary.js';

// Type-level: exactly the keys of CliOptions (a missing or an extra key fails to compile).
const KNOWN: Record<keyof CliOptions, true> = {
  input: true, output: true, workers: true, engine: true, json: true, jsonl: true, quiet: true, dryRun: true, list: true,
  operationType: true, schema: true, format: true, keepSource: true, verify: true, encrypt: true, decrypt: true, keyFile: true,
  newKeyFile: true, delete: true, force: true, maxFraction: true, from: true, prefer: true, csvRaw: true, detailed: true,
  operation: true, summary: true, data: true, canonical: true, manifest: true, allFiles: true, images: true, seed: true,
  stdio: true, open: true, maxInvalid: true, maxFolders: true, imageExt: true, config: true, naming: true, backend: true,
  print0: true, verifyHash: true, hashImages: true, where: true, shard: true, index: true, include: true, dim: true, copyImages: true,
};

function attributeName(flags: string): string {
  const long = /--(?:no-)?([a-z0-9-]+)/.exec(flags)![1]!;
  return long.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

test('every flag of every command is a typed CliOptions key', () => {
  const missing: string[] = [];
  const all = COMMANDS.flatMap((c) => [c, ...(c.subcommands ?? []).map((s) => ({ ...s, name: `${c.name} ${s.name}` }))]);
  for (const c of all) for (const o of c.options) if (!(attributeName(o.flags) in KNOWN)) missing.push(`${c.name} ${o.flags}`);
  assert.deepEqual(missing, []);
});

test('commander choices come from the vocabulary; the library exports each list once', () => {
  const convertFormat = COMMANDS.find((c) => c.name === 'convert')!.options.find((o) => o.flags.startsWith('-f, --format'))!;
  assert.equal(convertFormat.choices, FORMAT_NAMES);
  assert.equal(CLI_EXPORT_FORMATS, EXPORT_FORMATS);
  const engine = COMMANDS.find((c) => c.name === 'validate')!.options.find((o) => o.flags.startsWith('--engine'))!;
  assert.deepEqual(engine.choices, ENGINE_KINDS);
  assert.equal(lib.FORMAT_NAMES, FORMAT_NAMES);
  assert.equal(lib.ENGINE_KINDS, ENGINE_KINDS);
  // Every name normalises, aliases to their format.
  for (const f of FORMAT_NAMES) assert.ok((SIDECAR_FORMATS as readonly string[]).includes(normalizeFormat(f)));
  for (const [alias, f] of Object.entries(FORMAT_ALIASES)) assert.equal(normalizeFormat(alias), f);
  assert.throws(() => normalizeFormat('yaml'), /expected json, bin, rkyv, legacy, binary/);
});

test('the server checks parameters against the same lists (and saves under `binary` without mapping it itself)', async () => {
  const lines = [
    { id: 1, method: 'export', params: { dir: '.', output: '/dev/null', format: 'xml' } },
    { id: 2, method: 'validate', params: { dir: '.', engine: 'gpu' } },
    { id: 3, method: 'convert', params: { dir: '.', format: 'yaml' } },
  ].map((l) => JSON.stringify(l)).join('\n') + '\n';
  const r = await runCli(['serve', '--stdio'], { input: lines });
  const res = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: number; error?: { message: string } });
  const msg = (id: number) => res.find((x) => x.id === id)!.error!.message;
  assert.match(msg(1), new RegExp(`must be one of ${EXPORT_FORMATS.join(', ')}`));
  assert.match(msg(2), new RegExp(`must be one of ${ENGINE_KINDS.join(', ')}`));
  assert.match(msg(3), new RegExp(`must be one of ${FORMAT_NAMES.join(', ')}`));
});
