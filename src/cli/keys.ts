/**
 * Where the CLI gets keys: `--key-file FILE`, else `IMAGE_SIDECAR_KEY_FILE`, else
 * `IMAGE_SIDECAR_PASSPHRASE` (both variables set: the key file encrypts, the passphrase still
 * decrypts). Key material is never a command-line value: argv is visible to every local user.
 */
import { existsSync, statSync } from 'node:fs';
import { errors } from '../errors.js';
import { keyringIds, loadKeyFile, mergeKeyrings, passphraseKeyring } from '../crypto/keys.js';
import { assertUtf8Env } from '../fs/byte-names.js';
import type { Keyring } from '../types.js';

/** What the key rules read of a command's context (cli/context.ts CommandContext): its key options and environment. */
export interface KeyInputs {
  opts: { keyFile?: unknown; newKeyFile?: unknown; quiet?: unknown };
  io: { env: NodeJS.ProcessEnv; stderr?: { write(line: string): unknown } };
}

export const KEY_FILE_ENV = 'IMAGE_SIDECAR_KEY_FILE';
export const PASSPHRASE_ENV = 'IMAGE_SIDECAR_PASSPHRASE';

/**
 * A key pasted where its path belongs must not be echoed back in a NOT_FOUND message (it is in
 * argv already, but need not be in logs too).
 */
function loadKeyPath(file: string, where: string, ctx: KeyInputs): Keyring {
  if (/^(?:[0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=)$/.test(file) && !existsSync(file)) {
    throw errors.usage(`${where} takes the path of a key file, not a key (make one with \`image-sidecar keygen -o FILE\`)`);
  }
  const ring = loadKeyFile(file);
  warnIfExposed(file, ctx);
  return ring;
}

/** The key files a command has warned of (each once). */
const warned = new WeakMap<object, Set<string>>();

/**
 * A key file other users may read opens every sidecar it encrypts (face embeddings are biometric
 * data): said once per command on stderr, as ssh says of a private key (keygen writes 0600).
 */
function warnIfExposed(file: string, ctx: KeyInputs): void {
  const st = statSync(file, { throwIfNoEntry: false });
  if (!st || (st.mode & 0o077) === 0 || !ctx.io.stderr || ctx.opts.quiet === true) return;
  const seen = warned.get(ctx) ?? new Set<string>();
  if (seen.has(file)) return;
  warned.set(ctx, seen.add(file));
  ctx.io.stderr.write(`image-sidecar: warning: the key file ${file} can be read by other users (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}): chmod 600 it\n`);
}

/**
 * The environment for a program we start that needs no keys (`report --open`'s browser, detached,
 * long-lived, free to pass its environment on): without the passphrase, key material the user gave
 * us alone. A key file's path is not a secret, yet the browser has no use for it either.
 */
export function envWithoutKeys(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  delete out[PASSPHRASE_ENV];
  delete out[KEY_FILE_ENV];
  return out;
}

/** Where the keys came from (for `doctor`): the source and the public key ids, never key material. */
export function keySource(ctx: KeyInputs): { source: string; key_file?: string; key_ids: string[]; passphrase_id?: string } | null {
  const ring = keyringFromCli(ctx);
  if (!ring) return null;
  const file = ctx.opts.keyFile;
  const env = ctx.io.env;
  const source = typeof file === 'string' && file !== '' ? '--key-file' : [env[KEY_FILE_ENV] ? KEY_FILE_ENV : '', env[PASSPHRASE_ENV] ? PASSPHRASE_ENV : ''].filter(Boolean).join(' + ');
  const keyFile = typeof file === 'string' && file !== '' ? file : env[KEY_FILE_ENV];
  // Ids the same in every run (keyringIds): the key a passphrase makes here has a random salt.
  const ids = keyringIds(ring);
  return { source, ...(keyFile ? { key_file: keyFile } : {}), key_ids: ids.keys, ...(ids.passphrase !== null ? { passphrase_id: ids.passphrase } : {}) };
}

export function keyringFromCli(ctx: KeyInputs, flag: 'keyFile' | 'newKeyFile' = 'keyFile'): Keyring | undefined {
  const file = ctx.opts[flag];
  const option = flag === 'keyFile' ? '--key-file' : '--new-key-file';
  if (file === '') throw errors.usage(`${option} needs the path of a key file (got an empty one)`);
  if (typeof file === 'string') return loadKeyPath(file, option, ctx);
  const env = ctx.io.env;
  // Values Node decoded with loss: another key file, or one key for many passphrases.
  assertUtf8Env(env, KEY_FILE_ENV);
  assertUtf8Env(env, PASSPHRASE_ENV, { secret: true });
  // Set but empty (`export IMAGE_SIDECAR_PASSPHRASE="$PASS"` with PASS unset): taken as no key, the
  // saves of someone who meant to encrypt would write face embeddings in plaintext.
  for (const name of [KEY_FILE_ENV, PASSPHRASE_ENV]) {
    if (env[name] === '') throw errors.usage(`${name} is set but empty: give it a value, or unset it to run without a key`);
  }
  const envFile = env[KEY_FILE_ENV];
  const pass = env[PASSPHRASE_ENV];
  const fromFile = envFile ? loadKeyPath(envFile, KEY_FILE_ENV, ctx) : undefined;
  const fromPass = pass ? passphraseKeyring(pass) : undefined;
  if (fromFile) return mergeKeyrings(fromFile, fromPass);
  return fromPass;
}
