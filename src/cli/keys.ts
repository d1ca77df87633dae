/**
 * Where the CLI gets keys: `--key-file FILE`, else `IMAGE_SIDECAR_KEY_FILE`, else
 * `IMAGE_SIDECAR_PASSPHRASE` (both variables set: the key file encrypts, the passphrase still
 * decrypts). Key material is never a command-line value: argv is visible to every local user.
 */
import { loadKeyFile, mergeKeyrings, passphraseKeyring, type Keyring } from '../crypto/keys.js';
import type { CommandContext } from './context.js';

export const KEY_FILE_ENV = 'IMAGE_SIDECAR_KEY_FILE';
export const PASSPHRASE_ENV = 'IMAGE_SIDECAR_PASSPHRASE';

export function keyringFromCli(ctx: CommandContext, flag = 'keyFile'): Keyring | undefined {
  const file = ctx.opts[flag];
  if (typeof file === 'string' && file !== '') return loadKeyFile(file);
  const env = ctx.io.env;
  const envFile = env[KEY_FILE_ENV];
  const pass = env[PASSPHRASE_ENV];
  const fromFile = envFile ? loadKeyFile(envFile) : undefined;
  const fromPass = pass ? passphraseKeyring(pass) : undefined;
  if (fromFile) return mergeKeyrings(fromFile, fromPass);
  return fromPass;
}
