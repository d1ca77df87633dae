/**
 * Hostile files on disk, through the operations users run (read, save, scan, convert, cleanup):
 *   - corrupt sidecars of every kind seen in the wild are never overwritten, emptied, converted
 *     or removed (the earlier tool turned a corrupt file into an empty one on the next save);
 *   - a file above the configured size limit is rejected with a clear TOO_LARGE message and left
 *     as it is;
 *   - 10^5 levels of nesting in a file on disk give TOO_DEEP, and the file is left as it is.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isSidecarError } from '../../src/errors.js';
import { encodeSidecar } from '../../src/formats/codec.js';
import { readSidecar } from '../../src/ops/read.js';
import { saveSidecar } from '../../src/ops/save.js';
import { convert } from '../../src/ops/convert.js';
import { cleanup } from '../../src/ops/cleanup.js';
import { scan } from '../../src/ops/scan.js';
import { type ScanRecord } from '../../src/scan/records.js';
import { Rng } from '../../src/sample/prng.js';
import { sampleSidecar } from '../../src/sample/shapes.js';
import { deeplyNested } from './fuzz-inputs.js';
import { freshDir, lostFiles, removeDir, snapshotTree } from './fs-util.js';
import { fail, newRow, timed, type ReliabilityRow } from './tally.js';

/** Expect `fn` to throw SidecarError `code` whose message matches `message`; describe what happened otherwise. */
async function expectError(fn: () => Promise<unknown>, code: string, message?: RegExp): Promise<string | null> {
  try {
    await fn();
    return `succeeded, expected ${code}`;
  } catch (e) {
    if (!isSidecarError(e)) return `foreign error ${(e as Error)?.name}: ${(e as Error)?.message}`;
    if (e.code !== code) return `${e.code} (${e.message}), expected ${code}`;
    if (message && !message.test(e.message)) return `${code} with an unclear message: ${e.message}`;
    return null;
  }
}

async function scanRecords(root: string, opts: { maxFileSize?: number } = {}): Promise<ScanRecord[]> {
  const out: ScanRecord[] = [];
  for await (const r of scan(root, { engine: 'inline', ...opts })) out.push(r);
  return out;
}

/** The corruption kinds seen in the wild (SHAPES.md), plus damaged binary files. */
function corruptFiles(rng: Rng): { name: string; ext: string; bytes: Uint8Array }[] {
  const data = sampleSidecar(rng, { faces: 1 });
  const json = encodeSidecar(data, 'json');
  const bin = encodeSidecar(data, 'bin');
  const legacy = encodeSidecar(data, 'legacy');
  const badCrc = Buffer.from(bin);
  badCrc[bin.length - 5] ^= 0x40;
  return [
    { name: 'truncated', ext: 'json', bytes: json.subarray(0, Math.floor(json.length / 2)) },
    { name: 'empty', ext: 'json', bytes: new Uint8Array(0) },
    { name: 'invalid-utf8', ext: 'json', bytes: Buffer.concat([json.subarray(0, 40), Buffer.from([0xc3, 0x28]), json.subarray(42)]) },
    { name: 'nan', ext: 'json', bytes: Buffer.from(json.toString().replace(/"confidence": [0-9.e-]+/, '"confidence": NaN')) },
    { name: 'zeros', ext: 'bin', bytes: new Uint8Array(512) },
    { name: 'bad-crc', ext: 'bin', bytes: badCrc },
    { name: 'truncated-bin', ext: 'bin', bytes: bin.subarray(0, bin.length - 100) },
    { name: 'truncated-legacy', ext: 'bin', bytes: legacy.subarray(0, legacy.length - 10) },
  ];
}

/** Corrupt sidecars next to their images and alone: every operation leaves them byte for byte. */
export async function runCorruptFilesKept(seed: number): Promise<ReliabilityRow> {
  const row = newRow('hostile files', 'corrupt sidecars never overwritten, emptied or removed', 'cases');
  const root = freshDir('corrupt');
  try {
    return await timed(row, async () => {
      const files = corruptFiles(new Rng(seed));
      const dir = path.join(root, 'photos');
      fs.mkdirSync(dir);
      for (const f of files) {
        fs.writeFileSync(path.join(dir, `${f.name}.jpg`), 'jpeg');
        fs.writeFileSync(path.join(dir, `${f.name}.${f.ext}`), f.bytes);
        fs.writeFileSync(path.join(dir, `alone-${f.name}.${f.ext}`), f.bytes); // no image: must not become an orphan
      }
      // Enough healthy images that the cleanup guard would let real orphans go.
      for (let i = 0; i < 40; i++) {
        fs.writeFileSync(path.join(dir, `ok${i}.jpg`), 'jpeg');
        fs.writeFileSync(path.join(dir, `ok${i}.json`), encodeSidecar({ face_detection: { success: true, faces: [] } }, 'json'));
      }
      const before = snapshotTree(root);

      for (const f of files) {
        const img = path.join(dir, `${f.name}.jpg`);
        row.count++;
        const saved = await expectError(() => saveSidecar(img, 'yolov8', { success: true }), 'CORRUPT');
        if (saved) fail(row, `save onto ${f.name}: ${saved}`);
        row.count++;
        const read = await expectError(() => readSidecar(img), 'CORRUPT');
        if (read) fail(row, `read of ${f.name}: ${read}`);
      }
      const records = await scanRecords(root);
      for (const r of records) {
        const name = r.sidecars[0]?.name ?? r.images[0]?.name ?? '';
        const isBad = files.some((f) => name === `${f.name}.${f.ext}` || name === `alone-${f.name}.${f.ext}` || name === `${f.name}.jpg`);
        if (isBad && r.category !== 'corrupt') fail(row, `scan: ${name} is ${r.category}, expected corrupt`);
      }
      row.count++;
      const conv = await convert(root, 'bin', { engine: 'inline' });
      for (const it of conv.items ?? []) {
        if (files.some((f) => it.source.endsWith(`${f.name}.${f.ext}`)) && it.sourceRemoved) fail(row, `convert removed the corrupt ${it.source}`);
      }
      row.count++;
      const clean = await cleanup(root, { engine: 'inline' });
      if (clean.orphans !== 0) fail(row, `cleanup planned ${clean.orphans} orphans among corrupt and valid files`);

      const after = snapshotTree(root);
      // Valid JSON sidecars were converted to .bin; only the corrupt files must be exactly as they were.
      const lost = lostFiles(before, after, (rel) => /\/ok\d+\.json$/.test(rel));
      row.bytesLost += lost.bytes;
      row.recordsLost += lost.files.length;
      for (const f of lost.files) fail(row, `${f} was changed or removed`);
    });
  } finally {
    removeDir(root);
  }
}

/** A sidecar above the configured limit: TOO_LARGE with sizes in the message, file untouched. */
export async function runSizeLimit(seed: number): Promise<ReliabilityRow> {
  const row = newRow('hostile files', 'files above the size limit rejected clearly, kept', 'cases');
  const root = freshDir('size');
  try {
    return await timed(row, async () => {
      const limit = 100_000;
      const rng = new Rng(seed);
      const img = path.join(root, 'IMG_BIG.jpg');
      fs.writeFileSync(img, 'jpeg');
      const big = sampleSidecar(rng, { faces: 12 }); // about 200 KB of pipeline JSON
      const sidecar = path.join(root, 'IMG_BIG.json');
      fs.writeFileSync(sidecar, encodeSidecar(big, 'json'));
      const size = fs.statSync(sidecar).size;
      if (size <= limit) throw new Error(`fixture too small: ${size}`);
      const clear = new RegExp(`file is ${size} bytes, above the limit of ${limit} bytes`);
      const before = snapshotTree(root);

      const checks: [string, () => Promise<unknown>][] = [
        ['readSidecar', () => readSidecar(img, { maxFileSize: limit })],
        ['saveSidecar', () => saveSidecar(img, 'yolov8', { success: true }, { maxFileSize: limit })],
      ];
      for (const [what, fn] of checks) {
        row.count++;
        const problem = await expectError(fn, 'TOO_LARGE', clear);
        if (problem) fail(row, `${what}: ${problem}`);
      }
      row.count++;
      const rec = (await scanRecords(root, { maxFileSize: limit })).find((r) => r.images.some((i) => i.path === img));
      const err = rec?.sidecars[0]?.inspection.error;
      if (!rec || rec.category === 'orphan' || err?.code !== 'TOO_LARGE' || !clear.test(err.message)) {
        fail(row, `scan: ${rec?.category} ${JSON.stringify(err)}`);
      }
      row.count++;
      const conv = await convert(root, 'bin', { engine: 'inline', maxFileSize: limit });
      if (conv.converted !== 0 || fs.existsSync(path.join(root, 'IMG_BIG.bin'))) fail(row, 'convert wrote a target for a file above the limit');
      row.count++;
      const decoded = await readSidecar(img); // the default limit (64 MiB) reads it
      if (Object.keys(decoded).length !== Object.keys(big).length) fail(row, 'the file no longer reads under the default limit');

      const lost = lostFiles(before, snapshotTree(root));
      row.bytesLost += lost.bytes;
      row.recordsLost += lost.files.length;
      for (const f of lost.files) fail(row, `${f} was changed or removed`);
    });
  } finally {
    removeDir(root);
  }
}

/** 10^5 levels of nesting in sidecar files on disk, in every format. */
export async function runDeepFiles(depth: number): Promise<ReliabilityRow> {
  const row = newRow('hostile files', `files nested ${depth} levels deep: TOO_DEEP, kept`, 'cases');
  const root = freshDir('deep');
  try {
    return await timed(row, async () => {
      const kinds = [
        ['json', 'json'],
        ['bin', 'bin'],
        ['rkyv', 'rkyv'],
        ['legacy', 'bin'],
      ] as const;
      for (const [decoder, ext] of kinds) {
        fs.writeFileSync(path.join(root, `deep_${decoder}.jpg`), 'jpeg');
        fs.writeFileSync(path.join(root, `deep_${decoder}.${ext}`), deeplyNested(decoder, depth));
      }
      const before = snapshotTree(root);
      for (const [decoder] of kinds) {
        const img = path.join(root, `deep_${decoder}.jpg`);
        row.count++;
        const read = await expectError(() => readSidecar(img), 'TOO_DEEP', /nesting deeper than 512 levels/);
        if (read) fail(row, `read ${decoder}: ${read}`);
        row.count++;
        const save = await expectError(() => saveSidecar(img, 'yolov8', {}), 'TOO_DEEP', /nesting deeper than 512 levels/);
        if (save) fail(row, `save ${decoder}: ${save}`);
      }
      row.count++;
      for (const r of await scanRecords(root)) {
        if (r.category !== 'corrupt' || r.sidecars[0]?.inspection.error?.code !== 'TOO_DEEP') fail(row, `scan: ${r.images[0]?.name} is ${r.category} (${JSON.stringify(r.sidecars[0]?.inspection.error)})`);
      }
      row.count++;
      await convert(root, 'json', { engine: 'inline' });
      const lost = lostFiles(before, snapshotTree(root));
      row.bytesLost += lost.bytes;
      row.recordsLost += lost.files.length;
      for (const f of lost.files) fail(row, `${f} was changed or removed`);
    });
  } finally {
    removeDir(root);
  }
}
