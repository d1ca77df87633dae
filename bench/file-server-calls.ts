/**
 * Section file-server's bound (file-server.ts): the file-system calls a run cannot skip on a file
 * server, all many at once (64 in flight on libuv's pool, as the library makes them), deciding
 * nothing. Every folder listed and every image link resolved (readlink, then an lstat of the target
 * its text names); then each sidecar stat'ed (`reads` false: what a warm run that serves no link
 * must do, a second run) or read whole (open, fstat, read, close: what `--no-index` must do). On a
 * mount where each call is a round trip these calls, not the CPU, bound the runs: a run can come
 * near this figure, not below it.
 */
import { close, fstat, lstat, open, read, readdir, readdirSync, readlink, stat } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const SIDECAR = /\.(json|bin|rkyv)$/;
const IN_FLIGHT = 64;

function many(items: readonly string[], call: (item: string, done: () => void) => void): Promise<void> {
  return new Promise((done) => {
    let next = 0;
    let inFlight = 0;
    const issue = (): void => {
      if (next >= items.length) {
        if (inFlight === 0) done();
        return;
      }
      const item = items[next++];
      inFlight++;
      call(item, () => {
        inFlight--;
        issue();
      });
    };
    if (items.length === 0) done();
    for (let i = 0; i < IN_FLIGHT; i++) issue();
  });
}

/** `root`'s calls as above, timed; the names are listed first from `listFrom` (the same tree off the mount), before the clock. */
export async function fileServerCalls(root: string, listFrom: string, reads: boolean): Promise<{ ms: number; detail: Record<string, unknown> }> {
  const folders: string[] = [];
  const sidecars: string[] = [];
  const links: string[] = [];
  const walk = (rel: string): void => {
    folders.push(rel);
    for (const e of readdirSync(join(listFrom, rel), { withFileTypes: true })) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r);
      else if (e.isSymbolicLink()) links.push(r);
      else if (e.isFile() && SIDECAR.test(e.name)) sidecars.push(r);
    }
  };
  walk('');
  const t0 = performance.now();
  const listed = many(folders, (r, done) => readdir(join(root, r), { withFileTypes: true }, () => done()));
  const resolved = many(links, (r, done) =>
    readlink(join(root, r), (err, text) => {
      if (err) return done();
      lstat(resolve(dirname(join(root, r)), text), () => done());
    }),
  );
  const sidecarCall = reads
    ? (r: string, done: () => void) =>
        open(join(root, r), 'r', (err, fd) => {
          if (err) return done();
          fstat(fd, (e2, st) => {
            if (e2) return close(fd, () => done());
            read(fd, Buffer.allocUnsafe(st.size), 0, st.size, 0, () => close(fd, () => done()));
          });
        })
    : (r: string, done: () => void) => stat(join(root, r), () => done());
  await Promise.all([listed, resolved, many(sidecars, sidecarCall)]);
  return { ms: performance.now() - t0, detail: { folders: folders.length, sidecars: sidecars.length, links: links.length } };
}
