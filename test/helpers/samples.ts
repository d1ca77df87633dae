import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The real sample files of the earlier tool and the pipeline (shared/reference/samples, beside
 * the repository; IMAGE_SIDECAR_SAMPLES overrides). Copy them before changing anything.
 * Resolved from the compiled location dist-test/test/helpers/ → ../../../../shared/...
 */
export const SAMPLES_DIR: string =
  process.env.IMAGE_SIDECAR_SAMPLES ?? fileURLToPath(new URL('../../../../shared/reference/samples', import.meta.url));

if (!existsSync(SAMPLES_DIR)) {
  throw new Error(`reference samples not found at ${SAMPLES_DIR} (expected shared/ beside the repository, or set IMAGE_SIDECAR_SAMPLES)`);
}
