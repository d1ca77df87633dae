import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The CLI the suite runs (helpers/cli.ts CLI_PATH): the tests' bundle of the compiled tree. */
export { CLI_PATH as CLI } from './cli.js';

/** The Python client: the nearest folder above this file that holds clients/python. */
function findClient(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'clients', 'python');
    if (fs.existsSync(path.join(candidate, 'pyproject.toml'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('clients/python not found above the compiled test');
    dir = parent;
  }
}
export const CLIENT = findClient();

/** Two images in `lib` (made here): a.json a valid yolov8 sidecar, b.json cut short (a finding). */
export function twoSidecarLibrary(lib: string): void {
  fs.mkdirSync(lib);
  fs.writeFileSync(path.join(lib, 'a.jpg'), 'jpeg');
  fs.writeFileSync(path.join(lib, 'a.json'), JSON.stringify({ yolov8: { success: true, objects: [] } }, null, 2));
  fs.writeFileSync(path.join(lib, 'b.jpg'), 'jpeg');
  fs.writeFileSync(path.join(lib, 'b.json'), '{"yolov8": {"success": tr');
}

/** A python3 >= 3.9 that can import `modules` (e.g. venv, ensurepip), or null. */
export function findPython(modules: readonly string[] = []): string | null {
  const imports = ['sys', ...modules].join(', ');
  for (const name of ['python3', 'python']) {
    const r = spawnSync(name, ['-c', `import ${imports}; print(sys.version_info >= (3, 9))`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() === 'True') return name;
  }
  return null;
}
