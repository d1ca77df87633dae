/**
 * A soak of `serve --stdio`: many saves of one realistic payload (a 512-float embedding) on a
 * small tree, the server's memory sampled as it goes. A server that keeps something per request
 * grows with the count (it kept every request byte: 145 MiB of RSS after 5,000 such saves, 298 MiB
 * after 20,000); one that does not stays flat after its warm-up. Used by `npm run bench -- --only
 * server-soak` (10^5 saves, RSS) and by test/long/server-soak.test.ts (fewer, heap after a collection).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { errors } from '../src/errors.js';
import { HEAP_LINE_PREFIX } from './heap-probe.js';
import { ServerClient } from './server-client.js';

const HEAP_PROBE = fileURLToPath(new URL('./heap-probe.js', import.meta.url));

export interface SoakSample {
  /** Saves answered when the sample was taken (none in flight). */
  saves: number;
  /** The server's resident set (KiB) from /proc; null elsewhere. */
  rssKB: number | null;
  /** With `heapProbe`: after a full collection in the server, bytes. */
  heapUsed?: number;
  arrayBuffers?: number;
}

export interface SoakOptions {
  cli: string;
  /** A folder for the tree (made if missing; soakTreeDir), the images are created there. */
  dir: string;
  saves: number;
  /** Saves between samples; the first sample is taken after the first `every`. */
  every: number;
  /** Images the saves go round (default 8: every save replaces a sidecar, the tree stays small). */
  images?: number;
  /** Floats in each save's embedding (default 512). */
  floats?: number;
  /** Requests in flight (default 32). */
  window?: number;
  /** Run the server with --expose-gc and heap-probe.ts: each sample then has heap figures. */
  heapProbe?: boolean;
  /** Called with each sample; returning false ends the soak there (a test that already failed). */
  onSample?: (s: SoakSample) => boolean | void;
}

export interface SoakResult {
  samples: SoakSample[];
  saves: number;
  failed: number;
  /** The first failed response's head, if any. */
  firstError: string | null;
  ms: number;
  peakRssKB: number | null;
  exitCode: number | null;
}

/**
 * A fresh folder for a soak's tree: on tmpfs (/dev/shm) where there is one, else under `fallback`.
 * Each save fsyncs a file and a folder; on a shared disk that made a save take 5–6 ms instead of
 * 1.2–1.7, and the memory a soak measures is the same on either.
 */
export function soakTreeDir(fallback: string): string {
  try {
    return fs.mkdtempSync(path.join('/dev/shm', 'isc-soak-'));
  } catch {
    fs.mkdirSync(fallback, { recursive: true });
    return fs.mkdtempSync(path.join(fallback, 'isc-soak-'));
  }
}

/** The params of save `i`: one embedding for all (its JSON made once), a counter that differs. */
function saveParams(image: string, embeddingJson: string, i: number): string {
  return `{"image":${JSON.stringify(image)},"operation":"face_embedding","data":{"embedding":${embeddingJson},"n":${i}}}`;
}

export async function soakServer(o: SoakOptions): Promise<SoakResult> {
  const imageCount = o.images ?? 8;
  const floats = o.floats ?? 512;
  const window = o.window ?? 32;
  fs.mkdirSync(o.dir, { recursive: true });
  const images = Array.from({ length: imageCount }, (_, i) => {
    const p = path.join(o.dir, `IMG_${i}.jpg`);
    fs.writeFileSync(p, Buffer.from([0xff, 0xd8, 0xff, 0xd9]));
    return p;
  });
  const embeddingJson = JSON.stringify(Array.from({ length: floats }, (_, i) => Math.sin(i + 1) / 3));

  type Heap = { heapUsed: number; arrayBuffers: number; rss: number };
  let heapWaiter: ((h: Heap) => void) | null = null;
  const client = new ServerClient(o.cli, {
    nodeArgs: o.heapProbe ? ['--expose-gc', '--import', HEAP_PROBE] : [],
    onStderrLine: (line) => {
      if (line.startsWith(HEAP_LINE_PREFIX)) {
        const w = heapWaiter;
        heapWaiter = null;
        w?.(JSON.parse(line.slice(HEAP_LINE_PREFIX.length)) as Heap);
      } else if (line.trim() !== '') process.stderr.write(`server: ${line}\n`);
    },
  });
  const heapSample = (): Promise<Heap> =>
    new Promise<Heap>((resolve, reject) => {
      heapWaiter = resolve;
      if (!client.signal('SIGUSR2')) reject(errors.internal('the server is gone: no heap sample'));
      void client.whenExited().then((code) => reject(errors.internal(`the server exited (${code}) before its heap sample`)));
    });
  const samples: SoakSample[] = [];
  let failed = 0;
  let firstError: string | null = null;
  let sent = 0;
  let peakRssKB: number | null = null;
  let exitCode: number | null = null;
  const t0 = performance.now();
  try {
    const pong = await client.call('ping', {});
    if (!pong.ok) throw errors.internal(`server did not answer ping: ${pong.head}`);
    while (sent < o.saves) {
      // One stretch of `every` saves, `window` in flight, then a sample with none in flight.
      const end = Math.min(o.saves, sent + o.every);
      const lane = async () => {
        while (sent < end) {
          const i = sent++;
          const r = await client.callRaw('save', saveParams(images[i % imageCount], embeddingJson, i));
          if (!r.ok) {
            failed++;
            firstError ??= r.head;
          }
        }
      };
      await Promise.all(Array.from({ length: window }, lane));
      const s: SoakSample = { saves: sent, rssKB: client.rssKB() };
      if (o.heapProbe) {
        const heap = await heapSample();
        s.heapUsed = heap.heapUsed;
        s.arrayBuffers = heap.arrayBuffers;
        s.rssKB ??= Math.round(heap.rss / 1024);
      }
      samples.push(s);
      if (failed > 0) break;
      if (o.onSample?.(s) === false) break;
    }
  } finally {
    peakRssKB = client.peakRssKB();
    exitCode = await client.close();
  }
  return { samples, saves: sent, failed, firstError, ms: performance.now() - t0, peakRssKB, exitCode };
}
