/**
 * The irreducible floor: the work no validate or stats of a tree can skip, on two threads, with no
 * pipeline at all — list every folder, resolve every image symlink (readlink + a stat of its
 * target: what a broken link is told by), read every sidecar (and, for the bin copy, decode it).
 * No pairing, no results, no output, no worker messages but one per half; the worker thread starts
 * before the clock. A lower bound of the tree targets on this machine: how far a target sits
 * below what the machine allows (docs/BENCHMARKS.md, "What each figure means").
 *
 * Folders are dealt alternately to the two threads. Run as a module in a worker thread too
 * (`isMainThread` false: it does its half and posts its counts). irreducible-whole.ts does the same
 * work as a process of its own (section earlier's bound).
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { foldersOf } from './lists.js';

const SIDECAR = /\.(json|bin|rkyv)$/;

interface Half {
  dirs: string[];
  decode: boolean;
}

export interface Counts {
  files: number;
  links: number;
  notDecodable: number;
}

/** The reference decoder, loaded only for a run that decodes (the whole-process bound does not load it). */
let decodeSidecar: typeof import('../src/formats/codec.js').decodeSidecar | null = null;
async function loadDecoder(): Promise<void> {
  decodeSidecar ??= (await import('../src/formats/codec.js')).decodeSidecar;
}

/** A listed entry's share of the work: a symlink resolved (readlink + a stat of its target), a sidecar read (and decoded). */
export function touch(p: string, link: boolean, c: Counts, decode: boolean): void {
  if (link) {
    readlinkSync(p);
    statSync(p, { throwIfNoEntry: false });
    c.links++;
    return;
  }
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

/** Is this listed entry part of the work: a symlink (an image link, or any other the walk meets) or a sidecar file? */
export function touched(e: { name: string; isSymbolicLink(): boolean; isFile(): boolean }): boolean {
  return e.isSymbolicLink() || (e.isFile() && SIDECAR.test(e.name));
}

function work({ dirs, decode }: Half): Counts {
  const c: Counts = { files: 0, links: 0, notDecodable: 0 };
  for (const d of dirs) for (const e of readdirSync(d, { withFileTypes: true })) if (touched(e)) touch(join(d, e.name), e.isSymbolicLink(), c, decode);
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
