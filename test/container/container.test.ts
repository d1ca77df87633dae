/**
 * The container (Dockerfile, compose.yaml at the repository's top), built and run here: no registry
 * is reachable, so the base image `debian:bookworm-slim` is made with `debootstrap --variant=minbase
 * bookworm` (Debian's mirror) and imported into buildah's storage; the image is built with
 * `buildah bud --isolation chroot` and the compose services' commands run in it with `buildah run`
 * on a mounted sample library (podman's own `run` fails in this sandbox on setrlimit). Needs root,
 * debootstrap and buildah: `npm run test:container` (README "Install").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSampleLibrary } from '../../src/index.js';

const TOP = fileURLToPath(new URL('../../../', import.meta.url));
const EXE = join(TOP, 'dist/exe/image-sidecar');
const BASE = 'localhost/debian:bookworm-slim';
const IMAGE = 'localhost/image-sidecar:test';
const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const cannot = !has('buildah') || !has('debootstrap') ? 'needs buildah and debootstrap (apt-get install buildah debootstrap)' : process.getuid?.() !== 0 ? 'needs root' : false;
// CI sets CONTAINER_REQUIRED=1: there a test that cannot run fails instead of skipping.
const missing = cannot !== false && process.env.CONTAINER_REQUIRED === '1' ? false : cannot;

function sh(cmd: string, args: string[], opts: { timeout?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', timeout: opts.timeout ?? 600_000, maxBuffer: 256 << 20 });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} (status ${r.status}):\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  return r.stdout;
}

/** The base image, made once per machine (kept in buildah's storage). */
function baseImage(work: string): void {
  if (sh('buildah', ['inspect', '--type', 'image', BASE]).status === 0) return;
  const rootfs = join(work, 'rootfs');
  ok(sh('debootstrap', ['--variant=minbase', 'bookworm', rootfs, 'http://deb.debian.org/debian']), 'debootstrap');
  const tar = join(work, 'rootfs.tar');
  ok(sh('tar', ['-C', rootfs, '-cf', tar, '.']), 'tar the root file system');
  const ctr = ok(sh('buildah', ['from', 'scratch']), 'buildah from scratch').trim();
  ok(sh('buildah', ['add', ctr, tar, '/']), 'buildah add');
  ok(sh('buildah', ['commit', '-q', '--rm', ctr, BASE]), 'buildah commit');
}

/** compose.yaml's services: each one's volumes and command (its own simple YAML: folded commands). */
function composeServices(): Map<string, { volumes: string[]; command: string }> {
  const text = readFileSync(join(TOP, 'compose.yaml'), 'utf8');
  const out = new Map<string, { volumes: string[]; command: string }>();
  let name = '';
  let mode: 'volumes' | 'command' | '' = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line) || line.trim() === '') continue;
    const svc = /^ {2}([a-z-]+):\s*$/.exec(line);
    if (svc) {
      name = svc[1];
      out.set(name, { volumes: [], command: '' });
      mode = '';
      continue;
    }
    const key = /^ {4}([a-z_]+):/.exec(line);
    if (key) {
      mode = key[1] === 'volumes' ? 'volumes' : key[1] === 'command' ? 'command' : '';
      continue;
    }
    if (!name) continue;
    if (mode === 'volumes' && /^ {6}- /.test(line)) out.get(name)!.volumes.push(line.trim().slice(2));
    else if (mode === 'command' && /^ {6}\S/.test(line)) out.get(name)!.command += `${line.trim()} `;
  }
  return out;
}

test('the container: built from debian:bookworm-slim with the executable, runs the compose services as a non-root user, healthy, threads on a tree of thousands of files', { skip: missing, timeout: 1_200_000 }, async (t) => {
  assert.equal(cannot, false, 'CONTAINER_REQUIRED=1: the container test must run here');
  assert.ok(existsSync(EXE), `${EXE} is built (npm run test:container builds it)`);
  const work = mkdtempSync(join(tmpdir(), 'isc-container-'));
  const containers: string[] = [];
  t.after(() => {
    for (const c of containers) sh('buildah', ['rm', c]);
    rmSync(work, { recursive: true, force: true });
  });
  baseImage(work);
  ok(sh('buildah', ['bud', '--isolation', 'chroot', '--pull-never', '--format', 'docker', '-t', IMAGE, '-f', join(TOP, 'Dockerfile'), TOP]), 'buildah bud');
  const config = JSON.parse(ok(sh('buildah', ['inspect', '--type', 'image', IMAGE]), 'inspect')) as { Docker: { config: { User: string; WorkingDir: string; Healthcheck?: { Test: string[] } } } };
  assert.equal(config.Docker.config.User, 'sidecar');
  assert.equal(config.Docker.config.WorkingDir, '/data');
  assert.deepEqual(config.Docker.config.Healthcheck?.Test, ['CMD', 'image-sidecar', 'doctor', '--json']);
  const ctr = ok(sh('buildah', ['from', '--pull-never', IMAGE]), 'buildah from').trim();
  containers.push(ctr);
  const run = (mounts: string[], env: string[], argv: string[]) =>
    sh('buildah', ['run', '--isolation', 'chroot', ...mounts.flatMap((m) => ['-v', m]), ...env.flatMap((e) => ['-e', e]), ctr, '--', ...argv]);

  // The health check's command, and the user it runs as.
  const doctor = JSON.parse(ok(run([], [], config.Docker.config.Healthcheck!.Test.slice(1)), 'health check')) as { acceleration: { wasm: { inUse: boolean } } };
  assert.equal(doctor.acceleration.wasm.inUse, true);
  assert.match(ok(run([], [], ['id', '-un']), 'id'), /^sidecar$/m);

  // compose.yaml's services in order, with their volumes: ./sidecars and ./output beside it.
  const here = join(work, 'compose');
  const sidecars = join(here, 'sidecars');
  const output = join(here, 'output');
  await generateSampleLibrary(sidecars, { images: 1200, seed: 8 });
  // Absolute symlinks name host paths, which the container does not have: the host's answers differ there.
  ok(sh('find', [sidecars, '-type', 'l', '-lname', '/*', '-delete']), 'drop absolute symlinks');
  mkdirSync(output);
  chmodSync(output, 0o777); // the container's user writes there
  const reference = join(work, 'reference');
  cpSync(sidecars, reference, { recursive: true, verbatimSymlinks: true });
  const services = composeServices();
  assert.deepEqual([...services.keys()], ['sidecar-processor', 'sidecar-converter']);
  const mountsOf = (volumes: string[]) => volumes.map((v) => v.replace(/^\.\//, `${here}/`));
  // The converter rewrites the library: the container's user must own it, as on a host volume.
  const writable = (p: string) => sh('chown', ['-R', '1000:1000', p]);
  writable(sidecars);
  for (const [name, svc] of services) {
    const argv = svc.command.trim().split(/\s+/);
    const r = run(mountsOf(svc.volumes), ['IMAGE_SIDECAR_ENGINE=threads'], argv);
    assert.equal(r.status, 0, `${name}: ${r.stderr.slice(-1000)}`);
  }
  const validation = JSON.parse(readFileSync(join(output, 'validation_results.json'), 'utf8')) as { total_files: number; invalid_files: number };
  const host = JSON.parse(ok(sh(EXE, ['validate', reference, '--no-index', '--engine', 'threads', '--exit-zero']), 'validate on the host')) as { total_files: number; invalid_files: number };
  const files = readdirSync(reference, { recursive: true, withFileTypes: true }).filter((e) => !e.isDirectory()).length;
  assert.ok(files > 2000, `a tree of ${files} files`);
  assert.equal(validation.total_files, host.total_files);
  assert.equal(validation.invalid_files, host.invalid_files);
  const formats = JSON.parse(ok(sh(EXE, ['format-stats', sidecars, '--no-index']), 'format-stats')) as { format_distribution: { Binary: number } };
  assert.ok(formats.format_distribution.Binary > 1000, 'the converter service converted the library to bin');
  assert.ok(existsSync(join(output, 'conversion.json')));
});
