/** Run the CLI as a child process, the way wrappers do. */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * The CLI the suite runs: the tests' build bundles its compiled tree as the package build does
 * (`build:test`: scripts/bundle.mjs dist-test/src, beside the tree as dist/bundle is beside dist, so
 * both find the same code digest), so the suite runs the CLI as it is installed, and each of its
 * ~1,500 CLI processes starts sooner than from the ~190 modules of the compiled tree (`stats` of a
 * small tree: ~145 against ~240 ms here, the bundle run from its code cache).
 */
export const CLI_PATH = fileURLToPath(new URL('../../src/bundle/cli.cjs', import.meta.url));
/** The compiled tree's CLI (dist-test/src/cli.js): for the tests that compare it with a bundle or watch which modules a command loads. */
export const TREE_CLI_PATH = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
/** The CLI as installed (`bin`): the package build's one-file bundle (scripts/bundle.mjs). */
export const BUNDLE_CLI_PATH = fileURLToPath(new URL('../../../dist/bundle/cli.cjs', import.meta.url));

/**
 * A CLI's output with what differs from run to run made equal: timings, a process id, a
 * quarantine's time stamp. Two programs given the same input must print the same text after it.
 */
export function withoutRunFacts(s: string): string {
  return s.replace(/"(processing_time|elapsed_ms|elapsedMs|duration_ms|seconds|pid)":[-0-9.e+]+/g, '"$1":0').replace(/\d{8}T\d{6}Z/g, 'STAMP');
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall time of the whole process, ms. */
  ms: number;
}

export interface CliOptions {
  cwd?: string;
  /** Written to the child's stdin (then closed). */
  input?: string | Buffer;
  /** Extra environment variables (added to a clean copy of process.env). */
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  /** The CLI script to run (default CLI_PATH); its file name is the command's name (`argv[1]`). */
  cli?: string;
}

function childEnv(extra: CliOptions['env']): NodeJS.ProcessEnv {
  // Engine settings of the machine running the tests must not leak into results.
  const env: NodeJS.ProcessEnv = { ...process.env, IMAGE_SIDECAR_ENGINE: undefined, IMAGE_SIDECAR_WORKERS: undefined, IMAGE_SIDECAR_DEBUG: undefined, IMAGE_SIDECAR_ACCEL: undefined };
  for (const [k, v] of Object.entries(extra ?? {})) env[k] = v;
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return env;
}

const DEFAULT_CLI_TIMEOUT_MS = 90_000;

/** Spawn `node cli.js ...args` with pipes (stdout is not a TTY: JSON output). */
export function runCli(args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [opts.cli ?? CLI_PATH, ...args], { cwd: opts.cwd, env: childEnv(opts.env), stdio: 'pipe' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    // Generous: a loaded 2-core machine can take many seconds for a scrypt passphrase or a tree.
    // A child that is killed fails the test with what it was, never with an empty stdout.
    const limit = opts.timeoutMs ?? DEFAULT_CLI_TIMEOUT_MS;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, limit);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) return reject(new Error(`image-sidecar ${args.join(' ')}: killed after ${limit} ms (stderr: ${Buffer.concat(err).toString('utf8').slice(-500)})`));
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), ms: performance.now() - start });
    });
    child.stdin.on('error', () => undefined); // the CLI may exit before reading its input
    child.stdin.end(opts.input ?? '');
  });
}

let scriptAvailable: boolean | undefined;

/** Is util-linux `script` available to give the CLI a pseudo-terminal? */
export function hasScript(): boolean {
  if (scriptAvailable === undefined) {
    scriptAvailable = spawnSync('script', ['-qec', 'true', '/dev/null'], { stdio: 'ignore' }).status === 0;
  }
  return scriptAvailable;
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

/**
 * Run the CLI with stdout and stderr on a pseudo-terminal (as a person at a terminal would):
 * human output. Both streams arrive mixed in `stdout`, with CRLF line ends.
 */
export async function runCliTty(args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  // util-linux `script` on a loaded machine has returned a transcript of NUL bytes (the terminal
  // emulation, not the CLI): such a run says nothing about the CLI, so it is run again (twice at most).
  for (let attempt = 1; ; attempt++) {
    const r = await runCliTtyOnce(args, opts);
    if (!r.stdout.includes('\u0000') || attempt === 3) return r;
  }
}

function runCliTtyOnce(args: readonly string[], opts: CliOptions): Promise<CliResult> {
  const cmd = [process.execPath, opts.cli ?? CLI_PATH, ...args].map(shellQuote).join(' ');
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: opts.cwd, env: childEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const text = Buffer.concat(out).toString('utf8').replaceAll('\r\n', '\n');
      resolve({ code, stdout: text, stderr: Buffer.concat(err).toString('utf8'), ms: performance.now() - start });
    });
  });
}

/** Parse stdout as one JSON document, with the output in the message when it is not JSON. */
export function parseJson<T = Record<string, unknown>>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch (e) {
    throw new Error(`stdout is not JSON (${(e as Error).message}):\n${r.stdout.slice(0, 2000)}\n--- stderr:\n${r.stderr.slice(0, 2000)}`);
  }
}

export { FAKE_JPEG, makeTree, removeTree, sidecarData, tempDir } from './tree.js';
import { FAKE_JPEG, makeTree, sidecarData } from './tree.js';

/** A quality-only sidecar (no faces, no objects): for --operation-type filters. */
export function qualityOnly(imageName: string): Record<string, unknown> {
  return {
    quality_assessment: {
      success: true,
      quality: { overall_score: 0.71, sharpness: 0.8, focus: 0.7, exposure: 0.6, composition: 0.5, action: 0.4, color: 0.6, noise: 0.9, contrast: 0.5, grade: 'B', recommendations: [] },
      processing_time: 0.12,
      image_path: imageName,
      image_width: 4000,
      image_height: 3000,
    },
    sidecar_info: { operation_type: 'quality_assessment', created_at: '2025-10-01T12:40:11.886386', last_updated: '2025-10-01T12:40:11.886386', last_operation: 'quality_assessment', image_path: imageName },
  };
}

/**
 * The core corner cases in one small tree:
 *   photos/IMG_1.jpg            + IMG_1.json                 plain pair (faces + objects)
 *   photos/DSC_0042.JPG         + DSC_0042.json              upper-case image extension
 *   photos/2025/09/20/…143022.jpg, …143022_001.jpg + sidecars  nested folders, a burst name
 *   photos/Ünïcode café.jpg     + Ünïcode café.json          non-ASCII name with a space
 *   photos/q.jpg                + q.json                     quality_assessment only
 *   photos/broken.jpg           + broken.json                corrupt (truncated JSON)
 *   photos/game_detection.json                               directory report (not a sidecar)
 *   photos/lost.json                                         orphan (its image is gone)
 *   games/Game1/IMG_1.jpg → ../../photos/IMG_1.jpg           symlinked image
 * Valid sidecars: 6 (+1 orphan, which is valid too); corrupt: 1.
 */
export function makeCornerTree(): string {
  return makeTree({
    'photos/IMG_1.jpg': FAKE_JPEG,
    'photos/IMG_1.json': { json: sidecarData('IMG_1.jpg', 2, 8) },
    'photos/DSC_0042.JPG': FAKE_JPEG,
    'photos/DSC_0042.json': { json: sidecarData('DSC_0042.JPG', 1, 8) },
    'photos/2025/09/20/20250920_143022.jpg': FAKE_JPEG,
    'photos/2025/09/20/20250920_143022.json': { json: sidecarData('20250920_143022.jpg', 3, 8) },
    'photos/2025/09/20/20250920_143022_001.jpg': FAKE_JPEG,
    'photos/2025/09/20/20250920_143022_001.json': { json: sidecarData('20250920_143022_001.jpg', 0, 8) },
    'photos/Ünïcode café.jpg': FAKE_JPEG,
    'photos/Ünïcode café.json': { json: sidecarData('Ünïcode café.jpg', 1, 8) },
    'photos/q.jpg': FAKE_JPEG,
    'photos/q.json': { json: qualityOnly('q.jpg') },
    'photos/broken.jpg': FAKE_JPEG,
    'photos/broken.json': '{"face_detection": {"success": true, "faces": [',
    'photos/game_detection.json': { json: { success: true, games: [{ game_id: 1, photo_count: 2, photo_files: ['IMG_1.jpg', 'q.jpg'] }], summary: { total_games: 1 } } },
    'photos/lost.json': { json: sidecarData('lost.jpg', 1, 8) },
    'games/Game1/IMG_1.jpg': { symlink: '../../photos/IMG_1.jpg' },
  });
}
