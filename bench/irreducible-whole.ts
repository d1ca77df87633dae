/**
 * The irreducible work (irreducible.ts) as a process of its own, section earlier's bound: `node
 * irreducible-whole.js ROOT`, timed from spawn to exit as the tools' whole processes are (Node's
 * start and a worker thread's included). The worker starts first; meanwhile this thread lists every
 * folder once, doing alternate folders' share itself (every symlink resolved, every sidecar read;
 * nothing decoded) and handing the others' paths to the worker, a few hundred per message. Its
 * counts go to stdout as JSON. `--inline`: no worker, this thread does it all (what a second thread
 * buys this work on this machine: with the two-thread run, the bound of threads ÷ inline).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { touch, touched, type Counts } from './irreducible.js';

/** Paths handed to the worker per message (with, per path, 1 when it is a symlink). */
const HAND_OVER = 512;

interface Share {
  paths: string[];
  links: number[];
}

if (!isMainThread) {
  const c: Counts = { files: 0, links: 0, notDecodable: 0 };
  parentPort!.on('message', (m: Share | 'end') => {
    if (m === 'end') {
      parentPort!.postMessage(c);
      return;
    }
    for (let i = 0; i < m.paths.length; i++) touch(m.paths[i], m.links[i] === 1, c, false);
  });
} else {
  const root = process.argv[2];
  const inline = process.argv[3] === '--inline';
  if (!root || (process.argv.length > 3 && !inline)) {
    process.stderr.write('usage: node irreducible-whole.js ROOT [--inline]\n');
    process.exit(2);
  }
  // --inline: this thread alone does all of it (targets.ts threadsBound: the rest of an inline validate beyond it, halved, plus the two-thread run).
  const worker = inline ? null : new Worker(new URL(import.meta.url));
  const theirs = worker === null ? Promise.resolve<Counts>({ files: 0, links: 0, notDecodable: 0 }) : new Promise<Counts>((resolve, reject) => worker.once('message', resolve).once('error', reject));
  const mine: Counts = { files: 0, links: 0, notDecodable: 0 };
  let share: Share = { paths: [], links: [] };
  const stack = [root];
  for (let n = 0; stack.length > 0; n++) {
    const dir = stack.pop()!;
    const entries = readdirSync(dir, { withFileTypes: true });
    for (const e of entries) if (e.isDirectory()) stack.push(join(dir, e.name));
    for (const e of entries) {
      if (!touched(e)) continue;
      const p = join(dir, e.name);
      if (worker === null || n % 2 === 0) touch(p, e.isSymbolicLink(), mine, false);
      else {
        share.paths.push(p);
        share.links.push(e.isSymbolicLink() ? 1 : 0);
        if (share.paths.length >= HAND_OVER) {
          worker!.postMessage(share);
          share = { paths: [], links: [] };
        }
      }
    }
  }
  worker?.postMessage(share);
  worker?.postMessage('end');
  const other = await theirs;
  await worker?.terminate();
  process.stdout.write(`${JSON.stringify({ files: mine.files + other.files, links: mine.links + other.links })}\n`);
}
