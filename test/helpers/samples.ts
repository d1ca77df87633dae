import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The real sample files of the earlier tool and the pipeline, copied into the repository
 * (test/fixtures/reference-samples) so a fresh clone tests itself; IMAGE_SIDECAR_SAMPLES overrides.
 * Resolved from the compiled location dist-test/test/helpers/ → ../../../test/fixtures/...
 */
export const SAMPLES_DIR: string =
  process.env.IMAGE_SIDECAR_SAMPLES ?? fileURLToPath(new URL('../../../test/fixtures/reference-samples', import.meta.url));

if (!existsSync(SAMPLES_DIR)) {
  throw new Error(`reference samples not found at ${SAMPLES_DIR} (set IMAGE_SIDECAR_SAMPLES)`);
}
