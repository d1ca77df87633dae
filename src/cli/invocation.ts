/**
 * Who started us and what exit code they expect. The earlier tool exited 0 even when it found
 * invalid files, and its Python wrappers raise on any non-zero exit; so under its names
 * (`image-sidecar-rust`, `sportball-sidecar-rust`: the bin links npm installs, seen in
 * process.argv[1]) and with `--exit-zero` (the flake8/ruff convention) findings exit 0. Usage and
 * fatal errors exit 2 in every mode: a wrapper must still see a real failure.
 */
import { basename } from 'node:path';
import { EXIT_CLEAN, EXIT_FINDINGS } from '../exit-codes.js';

/** The earlier tool's executable names (package.json "bin" links to our dist/bundle/cli.cjs under both). */
export const LEGACY_COMMAND_NAMES: readonly string[] = ['image-sidecar-rust', 'sportball-sidecar-rust'];

/** The command name a script path stands for: `/usr/bin/image-sidecar-rust` → `image-sidecar-rust`; Windows shims drop their suffix. */
export function commandName(scriptPath: string | undefined): string {
  if (!scriptPath) return '';
  return basename(scriptPath).replace(/\.(cmd|ps1|exe|bat)$/i, '');
}

/**
 * Run under one of the earlier tool's names? npm installs `bin/image-sidecar-rust` as a symlink
 * to `…/dist/bundle/cli.cjs` (or links to the standalone executable); Node keeps the link's path in argv[1] (it resolves only the module path).
 */
export function isLegacyInvocation(scriptPath: string | undefined): boolean {
  return LEGACY_COMMAND_NAMES.includes(commandName(scriptPath));
}

export interface ExitPolicy {
  /** Findings (exit 1) become 0: legacy name or --exit-zero. */
  findingsExitZero: boolean;
}

/** The process exit code for a command's result under the policy (2 is never masked). */
export function finalExitCode(code: number, policy: ExitPolicy): number {
  return code === EXIT_FINDINGS && policy.findingsExitZero ? EXIT_CLEAN : code;
}
