/**
 * Python figures (issues 18 and 19): per-image read_data from Python, on a library of its own
 * (300 images, JSON) and its bin copy, against a plain `json.loads` loop measured in the same run.
 * The measuring is bench/python_reads.py; this file makes the libraries, runs it and turns its
 * answer into targets. Skipped (with a note) when there is no python3 >= 3.9.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { log } from './measure.js';
import type { BenchResults } from './results.js';

const PY_IMAGES = 300;
/** Passes per row (median): a pass is ~0.1 s, so a few more than the bench's default 3 keep one
 * interrupted pass on a shared machine from deciding the figure. */
const PY_RUNS = 7;

interface Timed {
  us_per_image: number;
  /** The Python process's CPU time (the server's is not in it: in-process rows only). */
  cpu_us_per_image: number;
  runs_s: number[];
}

interface PythonFigures {
  images: number;
  plain_json_loads_loop: Timed;
  client_local_json: Timed;
  client_local_bin: Timed;
  client_server_json: Timed;
  compat_json: Timed;
  read_paths_json: Record<string, number>;
  read_paths_bin: Record<string, number>;
}

/** The repository (where bench/python_reads.py and clients/python are), above this compiled file. */
function sourceRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'bench', 'python_reads.py'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('bench/python_reads.py not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

function python(): string | null {
  for (const name of ['python3', 'python']) {
    const r = spawnSync(name, ['-c', 'import sys; print(sys.version_info >= (3, 9))'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() === 'True') return name;
  }
  return null;
}

function cli(cliPath: string, args: string[]): void {
  const r = spawnSync(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0 && r.status !== 1) throw new Error(`image-sidecar ${args.join(' ')} exited ${r.status}`);
}

export function measurePythonReads(opts: { work: string; cli: string; runs: number; seed: number }, results: BenchResults): void {
  const py = python();
  const root = sourceRoot();
  if (!py || !fs.existsSync(opts.cli)) {
    results.notes.push('Python read figures skipped: no python3 >= 3.9 or no built CLI.');
    return;
  }
  const jsonLib = path.join(opts.work, 'python-json');
  const binLib = path.join(opts.work, 'python-bin');
  fs.rmSync(jsonLib, { recursive: true, force: true });
  fs.rmSync(binLib, { recursive: true, force: true });
  cli(opts.cli, ['sample', jsonLib, '--images', String(PY_IMAGES), '--seed', String(opts.seed)]);
  fs.cpSync(jsonLib, binLib, { recursive: true, verbatimSymlinks: true });
  cli(opts.cli, ['convert', binLib, '--format', 'bin']);
  log(`python reads: ${PY_IMAGES}-image library (JSON and bin copy)`);
  const r = spawnSync(
    py,
    [path.join(root, 'bench', 'python_reads.py'), '--json-lib', jsonLib, '--bin-lib', binLib, '--client', path.join(root, 'clients', 'python'), '--runs', String(Math.max(PY_RUNS, opts.runs))],
    { encoding: 'utf8', env: { ...process.env, IMAGE_SIDECAR_BIN: opts.cli, IMAGE_SIDECAR_NODE: process.execPath, PYTHONDONTWRITEBYTECODE: '1' }, maxBuffer: 16 << 20 },
  );
  if (r.status !== 0) {
    results.notes.push(`Python read figures failed: ${r.stderr.slice(-300)}`);
    return;
  }
  const f = JSON.parse(r.stdout) as PythonFigures;
  const floor = f.plain_json_loads_loop.us_per_image;
  const ms = (t: Timed) => t.us_per_image / 1000;
  const inProcess = [f.plain_json_loads_loop, f.client_local_json, f.client_local_bin];
  Object.assign(results.extra, {
    'python: images per pass (same images for every row)': f.images,
    'python: plain json.loads loop, ms per image (floor)': ms(f.plain_json_loads_loop),
    'python: ImageSidecarManager.read_data in `with`, JSON library, ms per image': ms(f.client_local_json),
    'python: ImageSidecarManager.read_data in `with`, bin copy, ms per image': ms(f.client_local_bin),
    'python: read_data through serve --stdio (local path off), JSON library, ms per image': ms(f.client_server_json),
    'python: image_sidecar_rust ImageSidecar().read_data, JSON library, ms per image': ms(f.compat_json),
    'python: CPU time of the Python process, ms per image: plain loop / read_data JSON / read_data bin': inProcess
      .map((t) => (t.cpu_us_per_image / 1000).toFixed(3))
      .join(' / '),
    'python: CPU-time ratios to the plain loop (less sensitive to a shared machine; the server time of handed-over reads is not in them): read_data JSON / bin': inProcess
      .slice(1)
      .map((t) => (t.cpu_us_per_image / f.plain_json_loads_loop.cpu_us_per_image).toFixed(2) + '×')
      .join(' / '),
    'python: reads answered locally / by the library (JSON library)': `${f.read_paths_json.local} / ${f.read_paths_json.library}`,
    'python: reads answered locally / by the library (bin copy)': `${f.read_paths_bin.local} / ${f.read_paths_bin.library}`,
  });
  const ratio = (t: Timed, base: number) => t.us_per_image / base;
  results.targets.push(
    { name: 'python read_data, JSON library ÷ plain json.loads loop', measured: ratio(f.client_local_json, floor), unit: '×', goal: '≤ 1.2×', pass: ratio(f.client_local_json, floor) <= 1.2 },
    { name: 'python read_data, bin copy ÷ plain json.loads loop (JSON)', measured: ratio(f.client_local_bin, floor), unit: '×', goal: '≤ 1.0×', pass: ratio(f.client_local_bin, floor) <= 1.0 },
    { name: 'python read_data through the server ÷ plain json.loads loop', measured: ratio(f.client_server_json, floor), unit: '×', goal: 'for comparison', pass: null },
    {
      name: 'image_sidecar_rust read_data ÷ ImageSidecarManager.read_data in `with`',
      measured: ratio(f.compat_json, f.client_local_json.us_per_image),
      unit: '×',
      goal: '≤ 2×',
      pass: ratio(f.compat_json, f.client_local_json.us_per_image) <= 2,
    },
  );
  fs.rmSync(jsonLib, { recursive: true, force: true });
  fs.rmSync(binLib, { recursive: true, force: true });
}
