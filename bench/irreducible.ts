/**
 * The irreducible floor: the work no validate or stats of a tree can skip, on two threads, with no
 * pipeline at all — list every folder, resolve every image symlink (readlink + a stat of its
 * target: what a broken link is told by), read every sidecar (and, for the bin copy, decode it).
 * No pairing, no results, no output, no worker messages but one per half; the worker thread starts
 * before the clock. A lower bound of the tree targets on this machine: how far a target sits
 * below what the machine allows (docs/BENCHMARKS.md, "What each figure means").
 *
 * Folders are dealt alternately to the two threads. Run as a module in a worker thread too
 * (`isMainThread` false: it does its half and posts its counts), and as a process of its own
 * (`node irreducible.js --whole ROOT`: section earlier's bound, timed from spawn to exit like the
 * tools' whole processes, Node's start and the worker's included; nothing decoded; its counts as
 * JSON on stdout).
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { foldersOf } from './lists.js';

const SIDECAR = /\.(json|bin|rkyv)$/;

interface Half {
  dirs: string[];
  decode: boolean;
}

interface Counts {
  files: number;
  links: number;
  notDecodable: number;
}

/** The reference decoder, loaded only for a run that decodes (the whole-process bound does not load it). */
let decodeSidecar: typeof import('../src/formats/codec.js').decodeSidecar | null = null;
async function loadDecoder(): Promise<void> {
  decodeSidecar ??= (await import('../src/formats/codec.js')).decodeSidecar;
}

function work({ dirs, decode }: Half): Counts {
  const c: Counts = { files: 0, links: 0, notDecodable: 0 };
  for (const d of dirs) {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isSymbolicLink()) {
        readlinkSync(p);
        statSync(p, { throwIfNoEntry: false });
        c.links++;
      } else if (e.isFile() && SIDECAR.test(e.name)) {
        const buf = readFileSync(p);
        if (decode) {
          try {
            decodeSidecar!(buf, { path: p });
          } catch {
            c.notDecodable++;
          }
        }
        c.files++;
      }
    }
  }
  return c;
}

if (!isMainThread && workerData?.irreducible === true) {
  parentPort!.once('message', (h: Half) => {
    void (h.decode ? loadDecoder() : Promise.resolve()).then(() => parentPort!.postMessage(work(h)));
  });
}

/** The irreducible work of `root` on two threads (this one and one worker); `decode`: decodeSidecar each file (the bin copy's floor (d) does). */
export async function irreducible(root: string, decode: boolean): Promise<{ ms: number; detail: Record<string, unknown> }> {
  if (decode) await loadDecoder();
  const dirs = foldersOf(root);
  const halves: [Half, Half] = [{ dirs: [], decode }, { dirs: [], decode }];
  dirs.forEach((d, i) => halves[i % 2].dirs.push(d));
  const worker = new Worker(new URL(import.meta.url), { workerData: { irreducible: true } });
  try {
    await new Promise((resolve, reject) => worker.once('online', resolve).once('error', reject));
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const theirs = new Promise<Counts>((resolve, reject) => worker.once('message', resolve).once('error', reject));
    worker.postMessage(halves[1]);
    const mine = work(halves[0]);
    const other = await theirs;
    const ms = performance.now() - t0;
    const u = process.cpuUsage(c0);
    return { ms, detail: { files: mine.files + other.files, links: mine.links + other.links, notDecodable: mine.notDecodable + other.notDecodable, cpuMs: Math.round((u.user + u.system) / 1000) } };
  } finally {
    await worker.terminate();
  }
}

if (isMainThread && process.argv[2] === '--whole' && process.argv[3] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { detail } = await irreducible(process.argv[3], false);
  process.stdout.write(`${JSON.stringify(detail)}\n`);
}
