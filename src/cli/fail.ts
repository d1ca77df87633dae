/**
 * The one place where an error becomes an exit code and a stderr line. No stack traces unless
 * IMAGE_SIDECAR_DEBUG=1: the line says what went wrong and where, with a stable code.
 */
import { asSidecarError, EXIT_CLEAN, EXIT_FATAL, exitCodeFor } from '../errors.js';

/** commander's own errors (usage problems it already printed, or help/version shown). */
interface CommanderLikeError {
  code: string;
  exitCode: number;
}

function isCommanderError(e: unknown): e is CommanderLikeError {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' &&
    (e as { code: string }).code.startsWith('commander.') && typeof (e as { exitCode?: unknown }).exitCode === 'number';
}

/** Print the error (unless commander already did) and return the process exit code. */
export function reportError(e: unknown, stderr: NodeJS.WritableStream, env: NodeJS.ProcessEnv): number {
  if (isCommanderError(e)) {
    // Help and --version end with exit code 0; every parse error is a usage error.
    return e.exitCode === 0 ? EXIT_CLEAN : EXIT_FATAL;
  }
  const err = asSidecarError(e);
  stderr.write(`image-sidecar: error [${err.code}]: ${err.message}\n`);
  if (env.IMAGE_SIDECAR_DEBUG === '1') {
    stderr.write(`${err.stack ?? ''}\n`);
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error) stderr.write(`caused by: ${cause.stack ?? cause.message}\n`);
  }
  return exitCodeFor(err);
}
