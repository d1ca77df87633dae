/**
 * Big files (issue 10 §5): sidecars just under the 64 MiB read limit. Every tree command runs in
 * a child process and must stay within 8 × the largest file + 300 MB of peak RSS (worker threads
 * included); the data of every sidecar must come through unchanged (convert to bin and the
 * refused convert back included), and a save that would grow a sidecar past the read limit is
 * refused before anything is written. `test/long/memory.test.ts` runs this row in `npm run test:long`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isSidecarError } from '../../src/errors.js';
import { canonicalDigest } from '../../src/formats/digest.js';
import { readSidecar } from '../../src/ops/read.js';
import { saveSidecar } from '../../src/ops/save.js';
import { writeBigSidecars } from '../helpers/big-sidecars.js';
import { rssBoundKb, runCliMeasured } from '../helpers/measure-rss.js';
import { freshDir, lostFiles, removeDir, snapshotTree } from './fs-util.js';
import { fail, newRow, timed, type ReliabilityRow } from './tally.js';

export interface BigFilesOptions {
  files: number;
  bytes: number;
  /** Called with each command's peak RSS (for test diagnostics). */
  onCommand?: (name: string, maxRssKb: number, limitKb: number) => void;
}

const MB = 1024 * 1024;

export async function runBigFiles(opts: BigFilesOptions): Promise<ReliabilityRow> {
  const row = newRow('hostile files', `${opts.files} sidecars of ${Math.round(opts.bytes / MB)} MiB: RSS ≤ 8 × largest + 300 MB, data kept`, 'checks');
  const root = freshDir('big');
  const out = freshDir('big-out');
  try {
    return await timed(row, async () => {
      const bigs = writeBigSidecars(path.join(root, 'big'), opts.files, opts.bytes);
      writeBigSidecars(path.join(root, 'small'), 5, 4096);
      const images = [...bigs, ...fs.readdirSync(path.join(root, 'small')).filter((n) => n.endsWith('.json')).map((n) => path.join(root, 'small', n))].map((p) =>
        p.replace(/\.json$/, '.jpg'),
      );
      const digests = new Map<string, string>();
      for (const img of images) digests.set(img, canonicalDigest(await readSidecar(img)));
      const largest = Math.max(...bigs.map((p) => fs.statSync(p).size));
      const limitKb = rssBoundKb(largest);

      // A save that would take a big sidecar past the read limit: refused, nothing written.
      row.count++;
      const before = snapshotTree(root);
      try {
        await saveSidecar(images[0], 'padding_probe', { success: true, blob: 'x'.repeat(8 * MB) });
        fail(row, 'a save past the read limit was accepted');
      } catch (e) {
        if (!isSidecarError(e) || e.code !== 'TOO_LARGE') fail(row, `save past the read limit: ${String(e)}`);
      }
      const changed = lostFiles(before, snapshotTree(root));
      for (const f of changed.files) fail(row, `the refused save changed ${f}`);

      const threads = ['--engine', 'threads', '-w', '2'];
      const commands: [string, string[], number][] = [
        ['stats', ['stats', root, '--json'], 0],
        ['validate, 2 threads', ['validate', root, '--json', ...threads], 0],
        ['export json', ['export', root, '--format', 'json', '-o', path.join(out, 'inline.json'), '--engine', 'inline'], 0],
        // Each worker has a heap of its own: 962 MB here before workers collected after big batches
        // and handed big texts back as moved bytes, about 600 MB after.
        ['export json, 2 threads', ['export', root, '--format', 'json', '-o', path.join(out, 'threads.json'), ...threads], 0],
        ['export csv', ['export', root, '--format', 'csv', '-o', path.join(out, 'all.csv')], 0],
        ['format-stats, 2 threads', ['format-stats', root, '--json', ...threads], 0],
        ['find --where, 2 threads', ['find', root, '--where', 'has face_detection', ...threads], 0],
        ['hash --canonical', ['hash', root, '--canonical', '--json'], 0],
        ['convert to bin, 2 threads', ['convert', root, '--format', 'bin', '--json', ...threads], 0],
        // Indented JSON of these files is above the 64 MiB read limit: refused (exit 1), sources kept.
        ['convert back to json', ['convert', root, '--format', 'json', '--json'], 1],
      ];
      for (const [name, args, want] of commands) {
        row.count++;
        const r = await runCliMeasured(args);
        opts.onCommand?.(name, r.maxRssKb, limitKb);
        row.notes.push(`${name}: peak RSS ${Math.round(r.maxRssKb / 1024)} MB (bound ${Math.round(limitKb / 1024)} MB)`);
        if (r.code !== want) fail(row, `${name}: exit ${r.code}, expected ${want}: ${r.stderr.slice(-300)}`);
        if (!Number.isFinite(r.maxRssKb)) fail(row, `${name}: no RSS reported`);
        else if (r.maxRssKb > limitKb) fail(row, `${name}: peak RSS ${Math.round(r.maxRssKb / 1024)} MB > ${Math.round(limitKb / 1024)} MB`);
      }

      row.count++;
      const inline = fs.readFileSync(path.join(out, 'inline.json'));
      if (inline.length < opts.files * opts.bytes * 0.5) fail(row, `the export is only ${inline.length} bytes`);
      if (!inline.equals(fs.readFileSync(path.join(out, 'threads.json')))) fail(row, 'export json differs between the inline and threads engines');

      // Every image's data, after the conversions: the same values and types.
      for (const [img, digest] of digests) {
        row.count++;
        let now: string | null = null;
        try {
          now = canonicalDigest(await readSidecar(img));
        } catch (e) {
          fail(row, `${path.basename(img)}: ${String(e)}`);
        }
        if (now !== digest) {
          row.recordsLost++;
          row.bytesLost += opts.bytes;
          fail(row, `${path.basename(img)}: its data changed`);
        }
      }
    });
  } finally {
    removeDir(root);
    removeDir(out);
  }
}
