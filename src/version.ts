/**
 * The package version, read from package.json at run time so that it can never drift from the
 * published package. Kept tiny: `--version` loads only this and commander.
 */
import { shippedFile } from './shipped.js';

let cached: string | undefined;

/**
 * package.json is one level up from dist/ (the installed package's compiled tree), two from
 * dist/bundle/ (its CLI) and dist-test/src/ (the test build), three from dist-test/src/bundle/ (the
 * tests' CLI); the first one found that names this package wins.
 */
export function packageVersion(): string {
  if (cached !== undefined) return cached;
  for (const rel of ['../package.json', '../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(shippedFile('package.json', new URL(rel, import.meta.url)).toString('utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'image-sidecar' && typeof pkg.version === 'string') return (cached = pkg.version);
    } catch {
      // not at this level: try the next one
    }
  }
  return (cached = '0.0.0-unknown');
}
