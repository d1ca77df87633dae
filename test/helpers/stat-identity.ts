/**
 * The identity fs.statSync gives a path (following links), a folder or a file: what tests hold the
 * fast stat paths (fs/identity.ts IdentityScratch, BatchStats) equal to.
 */
import { spawnSync } from 'node:child_process';
import fs, { mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import type { TestContext } from 'node:test';
import { join } from 'node:path';
import { IdentityScratch, identityOf, STAT_NONE, type FileIdentity } from '../../src/fs/identity.js';

/** stat (following links) of anything there, a folder or a file; null when nothing can be seen. */
export function statIdentityAny(path: string): FileIdentity | null {
  try {
    const st = statSync(path, { bigint: true, throwIfNoEntry: false });
    return st ? identityOf(st) : null;
  } catch {
    return null;
  }
}

/** Paths of every kind a check meets, made under `dir`: folder, file, links to each, a dangling link, a loop, a FIFO, nothing, a path through a file, Unicode. */
export function pathsOfEveryKind(dir: string): string[] {
  mkdirSync(join(dir, 'd'));
  writeFileSync(join(dir, 'd/a.json'), '{"a": 1}');
  writeFileSync(join(dir, 'd/Ünïcødé 名前.json'), '{}');
  symlinkSync('a.json', join(dir, 'd/link.json'));
  symlinkSync('../d', join(dir, 'd/up'));
  symlinkSync('missing.json', join(dir, 'd/dangling.json'));
  symlinkSync('loop2', join(dir, 'd/loop1'));
  symlinkSync('loop1', join(dir, 'd/loop2'));
  const fifo = join(dir, 'd/fifo');
  const mk = spawnSync('mkfifo', [fifo]);
  const out = ['d', 'd/a.json', 'd/Ünïcødé 名前.json', 'd/link.json', 'd/up', 'd/dangling.json', 'd/loop1', 'd/none.json', 'd/a.json/below', 'd/', '.'].map((p) => join(dir, p));
  if (mk.status === 0) out.push(fifo);
  return out;
}

/** What the reference stat (IdentityScratch without the binding, one path at a time) gives a path: its kind and identity bytes. */
export function referenceStat(p: string): [number, string | null] {
  const s = new IdentityScratch({ fast: false });
  const kind = s.stat(p);
  return [kind, kind === STAT_NONE ? null : s.bytes.toString('hex')];
}

/** fs.stat (the calls taken ahead) spied until the test ends: the paths asked, in order (each also as `stat PATH` in `events`). */
export function spyAsyncStat(t: TestContext, events: string[] = []): string[] {
  const paths: string[] = [];
  const orig = fs.stat;
  (fs as unknown as Record<string, unknown>).stat = function (...a: unknown[]) {
    paths.push(String(a[0]));
    events.push(`stat ${String(a[0])}`);
    return (orig as unknown as (...x: unknown[]) => unknown).apply(fs, a);
  };
  syncBuiltinESMExports();
  t.after(() => {
    (fs as unknown as Record<string, unknown>).stat = orig;
    syncBuiltinESMExports();
  });
  return paths;
}
