import { closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { staleAsideLockName } from '../../src/fs/temp-files.js';

/** What to put at a relative path in a generated test tree. */
export type TreeNode =
  | string // file with this UTF-8 text
  | Buffer // file with these bytes
  | { json: unknown; indent?: number } // JSON file (pipeline style: 2-space indent)
  | { symlink: string } // symlink with this target (relative or absolute)
  | { dir: true }; // empty directory

/** A fake but plausible JPEG body (SOI ... EOI). */
export const FAKE_JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0xff, 0xd9]);

/** Create a fresh temp dir. */
export function tempDir(prefix = 'isc-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Build a tree under a fresh temp dir (or `root`); returns the root. */
export function makeTree(spec: Record<string, TreeNode>, root: string = tempDir()): string {
  for (const [rel, node] of Object.entries(spec)) {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    if (typeof node === 'string' || Buffer.isBuffer(node)) writeFileSync(p, node);
    else if ('json' in node) writeFileSync(p, JSON.stringify(node.json, null, node.indent ?? 2));
    else if ('symlink' in node) symlinkSync(node.symlink, p);
    else mkdirSync(p, { recursive: true });
  }
  return root;
}

/** Everything under `dir`: relative path → file text (latin1), or `-> target` for a symlink. */
export function listTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out[relative(dir, p)] = `-> ${readlinkSync(p)}`;
      else if (st.isDirectory()) walk(p);
      else out[relative(dir, p)] = readFileSync(p, 'latin1');
    }
  };
  walk(dir);
  return out;
}

export function removeTree(root: string): void {
  rmSync(root, { recursive: true, force: true });
}

/** A small but realistic merged sidecar (face_detection + yolov8 + sidecar_info). */
export function sidecarData(imageName: string, faces = 1, embeddingLength = 512): Record<string, unknown> {
  let x = 0.123456789;
  const rnd = () => (x = (x * 9301 + 0.49297) % 1);
  return {
    face_detection: {
      success: true,
      faces: Array.from({ length: faces }, (_, i) => ({
        face_id: i,
        bbox: { x: rnd(), y: rnd(), width: rnd() / 4, height: rnd() / 4 },
        confidence: 0.5 + rnd() / 2,
        landmarks: Array.from({ length: 5 }, () => [rnd(), rnd()]),
        encoding: Array.from({ length: embeddingLength }, () => rnd() - 0.5),
      })),
      metadata: { image_path: imageName, image_width: 4000, image_height: 3000, faces_found: faces, processing_time: 0.25, detector: 'insightface' },
    },
    yolov8: {
      success: true,
      objects: [{ object_id: 1, class_name: 'person', class_id: 0, coordinates_pixels: { x: 10, y: 20, width: 100, height: 200 }, confidence: 0.9 }],
      metadata: { image_path: imageName, objects_found: 1, detection_time: 0.5, model_path: 'yolov8n.pt' },
    },
    sidecar_info: {
      operation_type: 'face_detection',
      created_at: '2025-10-01T12:40:11.886386',
      last_updated: '2025-10-01T15:51:02.205516',
      last_operation: 'yolov8',
      image_path: imageName,
    },
  };
}

/**
 * A fresh temp dir removed when the test ends. Real path: os.tmpdir() may sit behind a symlink,
 * and symlink targets are compared as real paths.
 */
export function testDir(t: { after: (fn: () => void) => void }, prefix = 'isc-test-'): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A file of `bytes` bytes in a test folder: 32-bit words (LE), each its own offset, a tail shorter
 * than a word 0xa5; open read-write for the test (`fd`, closed after it): a reader's bytes can be
 * checked anywhere.
 */
export function wordFile(t: { after: (fn: () => void) => void }, bytes: number): { fd: number; path: string; data: Buffer } {
  const dir = testDir(t, 'isc-words-');
  const data = Buffer.alloc(bytes);
  for (let i = 0; i + 4 <= bytes; i += 4) data.writeUInt32LE(i, i);
  for (let i = bytes & ~3; i < bytes; i++) data[i] = 0xa5;
  const path = join(dir, 'f');
  writeFileSync(path, data);
  const fd = openSync(path, 'r+');
  t.after(() => closeSync(fd));
  return { fd, path, data };
}

/** Write `content` at `rel` under `root` (creating folders); returns the absolute path. */
export function putFile(root: string, rel: string, content: string | Buffer): string {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
  return p;
}

/** Plant a lock folder as a holder leaves it (fs/lock.ts): its owner token, its heartbeat `ageMs` ago. */
export function plantLock(lockDir: string, token: string, ageMs: number): void {
  mkdirSync(lockDir);
  writeFileSync(join(lockDir, 'owner'), token);
  const then = new Date(Date.now() - ageMs);
  utimesSync(lockDir, then, then);
}

/** The pid of a process of this host that has exited (a child run to its end). */
export function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  if (r.status !== 0 || !r.pid) throw new Error('could not run a child to its end');
  return r.pid;
}

/**
 * The pid of a process of this host that has exited but is not reaped (a zombie: kill(pid, 0)
 * still succeeds on it). Its parent is a `sleep` that never waits for it, ended when the test ends.
 * Linux (its state is read in /proc).
 */
export async function zombiePid(t: { after: (fn: () => void) => void }): Promise<number> {
  // sh starts a child and then becomes `sleep`, which never reaps it; the child exits only once
  // that is done (sh itself would reap a child that exited before).
  const script = '(until [ "$(cat /proc/$$/comm)" = sleep ]; do sleep 0.01; done) & echo $!; exec sleep 30';
  const parent = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.after(() => parent.kill('SIGKILL'));
  const pid = await new Promise<number>((resolve, reject) => {
    let out = '';
    parent.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    parent.on('exit', () => reject(new Error(`the zombie's parent exited: ${out}`)));
  });
  const state = () => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.charAt(stat.lastIndexOf(')') + 2);
  };
  for (const deadline = Date.now() + 2_000; state() !== 'Z'; ) {
    if (Date.now() > deadline) throw new Error(`process ${pid} did not become a zombie (state ${state()})`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return pid;
}

/** A stale lock taken aside as lock.ts leaves it (`seen`: what named it), moved `ageMs` ago; its path. */
export function plantLockAside(dir: string, seen: string, ageMs: number): string {
  const p = join(dir, staleAsideLockName(seen));
  mkdirSync(p);
  writeFileSync(join(p, 'owner'), 'token');
  const at = new Date(Date.now() - ageMs);
  utimesSync(p, at, at);
  return p;
}

/** Every sidecar-named file (.json, .bin, .rkyv) under `root`, in name order, as inspect items. */
export function sidecarFiles(root: string): { path: string; name: string }[] {
  const out: { path: string; name: string }[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(json|bin|rkyv)$/.test(e.name)) out.push({ path: p, name: e.name });
    }
  };
  walk(root);
  return out;
}
