/**
 * Files the program ships beside its code (the WebAssembly modules, the worker thread's script, the
 * code-digest manifest, package.json): read from the file next to the module that names it, or,
 * when the program runs as a standalone executable (Node's single-executable applications:
 * `npm run build:exe`), from the assets embedded in it, so that nothing outside the executable is
 * read at run time.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

interface SeaApi {
  isSea(): boolean;
  getAsset(key: string): ArrayBuffer;
}

let sea: SeaApi | null | undefined;

/** node:sea when this process is a single-executable application (null otherwise, and on a Node without it). */
function seaApi(): SeaApi | null {
  if (sea === undefined) {
    try {
      const api = createRequire(import.meta.url)('node:sea') as SeaApi;
      sea = api.isSea() ? api : null;
    } catch {
      sea = null;
    }
  }
  return sea;
}

/** Is this process the standalone executable (its shipped files embedded in it)? */
export function inExecutable(): boolean {
  return seaApi() !== null;
}

/** The shipped file `name`: the executable's asset of that name, else the file at `url` (throws as readFileSync does). */
export function shippedFile(name: string, url: URL): Buffer<ArrayBuffer> {
  const api = seaApi();
  return api !== null ? Buffer.from(api.getAsset(name)) : readFileSync(url);
}
