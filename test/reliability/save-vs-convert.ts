/**
 * Saves racing conversions between processes (issue 10 §2): saver processes merge distinct
 * operations into images while a converter process rewrites the whole tree json → bin → json …
 * on worker threads, for as long as the saves go on. The images are the cases where the lock
 * identities of save and convert used to differ:
 *   - NFD image names (as copied from macOS) whose sidecars are spelled in NFC;
 *   - a symlinked image whose sidecar lies next to the LINK (the link side);
 *   - plain images, as the control.
 * Every acknowledged save must be in the final data with its exact value (0 lost), every image
 * must end with exactly one sidecar, and nothing of ours may be left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeSidecar } from '../../src/formats/codec.js';
import { readSidecarDetailed } from '../../src/ops/read.js';
import type { JsonObject } from '../../src/types.js';
import { checkAsides, findLeftovers, freshDir, removeDir } from './fs-util.js';
import { addLoss, compareOperations, fail, newRow, timed, type ReliabilityRow } from './tally.js';

export interface SaveVsConvertOptions {
  /** Saver processes. */
  savers: number;
  /** Saves per saver process. */
  saves: number;
  /** Images of each kind (NFD, link-side, plain). */
  perKind: number;
}

const SRC = new URL('../../src/', import.meta.url).href;

/** The images (paths a caller would save to) and where their first sidecar goes. */
function buildTree(root: string, perKind: number): string[] {
  const images: string[] = [];
  fs.mkdirSync(path.join(root, 'photos'), { recursive: true });
  fs.mkdirSync(path.join(root, 'games', 'G1'), { recursive: true });
  fs.mkdirSync(path.join(root, 'orig'), { recursive: true });
  for (let i = 0; i < perKind; i++) {
    // NFD on disk for the image, NFC for its sidecar.
    const nfc = `\u00C9quipe_${i}`;
    const nfd = nfc.normalize('NFD');
    fs.writeFileSync(path.join(root, 'photos', `${nfd}.jpg`), 'jpeg');
    fs.writeFileSync(path.join(root, 'photos', `${nfc}.json`), encodeSidecar({ sidecar_info: {}, base: { kind: 'nfd', i } }, 'json'));
    images.push(path.join(root, 'photos', `${nfd}.jpg`));
    // A link whose sidecar lies next to the link, not next to the target.
    fs.writeFileSync(path.join(root, 'orig', `L_${i}.jpg`), 'jpeg');
    fs.symlinkSync(`../../orig/L_${i}.jpg`, path.join(root, 'games', 'G1', `L_${i}.jpg`));
    fs.writeFileSync(path.join(root, 'games', 'G1', `L_${i}.json`), encodeSidecar({ sidecar_info: {}, base: { kind: 'link', i } }, 'json'));
    images.push(path.join(root, 'games', 'G1', `L_${i}.jpg`));
    // Control.
    fs.writeFileSync(path.join(root, 'photos', `P_${i}.jpg`), 'jpeg');
    fs.writeFileSync(path.join(root, 'photos', `P_${i}.json`), encodeSidecar({ sidecar_info: {}, base: { kind: 'plain', i } }, 'json'));
    images.push(path.join(root, 'photos', `P_${i}.jpg`));
  }
  return images;
}

/** A child running `script` from a file (worker threads inherit execArgv, so no `-e --input-type`). */
function nodeChild(dir: string, name: string, script: string, args: string[]): { child: ChildProcess; out: Promise<string>; code: Promise<number | null> } {
  const file = path.join(dir, `${name}.mjs`);
  fs.writeFileSync(file, script);
  const child = spawn(process.execPath, [file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const code = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  return { child, out: code.then(() => out + (err ? `\nSTDERR ${err}` : '')), code };
}

const SAVER = `
  const { saveSidecar } = await import(${JSON.stringify(SRC + 'ops/save.js')});
  const [proc, saves, imagesJson] = process.argv.slice(2);
  const images = JSON.parse(imagesJson);
  for (let i = 0; i < Number(saves); i++) {
    const image = images[(i * 7 + Number(proc)) % images.length];
    const op = 'p' + proc + '_' + i;
    const value = { proc: Number(proc), i, score: i + 0.5, whole: 25.0 };
    try {
      await saveSidecar(image, op, value, { lockStaleMs: 3000, lockTimeoutMs: 120000 });
      process.stdout.write('ack ' + images.indexOf(image) + ' ' + op + ' ' + JSON.stringify(value) + '\\n');
    } catch (e) {
      process.stdout.write('refused ' + op + ' ' + (e.code || '') + ' ' + String(e.message).split('\\n')[0] + '\\n');
    }
  }
`;

const CONVERTER = `
  const { convert } = await import(${JSON.stringify(SRC + 'ops/convert.js')});
  const { existsSync } = await import('node:fs');
  const [root, stop] = process.argv.slice(2);
  let round = 0;
  while (!existsSync(stop) || round < 2) {
    const fmt = round % 2 === 0 ? 'bin' : 'json';
    const r = await convert(root, fmt, { engine: 'threads', workers: 2, batchSize: 4 });
    const bad = (r.items || []).filter((x) => !x.ok && x.error && x.error.code !== 'LOCK_TIMEOUT');
    process.stdout.write('round ' + round + ' ' + fmt + ' converted ' + r.converted + ' failed ' + r.failed + ' conflicts ' + r.conflicts + (bad.length ? ' ' + JSON.stringify(bad.slice(0, 3)) : '') + '\\n');
    round++;
  }
`;

export async function runSaveVsConvert(opts: SaveVsConvertOptions): Promise<ReliabilityRow> {
  const row = newRow('concurrency', `saves racing convert json⇄bin (${opts.savers} processes × ${opts.saves}, NFD names, link-side sidecars)`, 'saves');
  const root = freshDir('save-vs-convert');
  try {
    await timed(row, () => race(row, root, opts));
  } finally {
    removeDir(root);
  }
  return row;
}

async function race(row: ReliabilityRow, root: string, opts: SaveVsConvertOptions): Promise<void> {
  const images = buildTree(root, opts.perKind);
  const baseline: JsonObject[] = [];
  for (const img of images) baseline.push((await readSidecarDetailed(img)).data);
  const scripts = freshDir('save-vs-convert-scripts');
  const stop = path.join(scripts, 'stop');
  const converter = nodeChild(scripts, 'converter', CONVERTER, [root, stop]);
  const savers = Array.from({ length: opts.savers }, (_, p) => nodeChild(scripts, `saver-${p}`, SAVER, [String(p), String(opts.saves), JSON.stringify(images)]));
  const outs = await Promise.all(savers.map((s) => s.out));
  fs.writeFileSync(stop, '');
  const convOut = await converter.out;
  removeDir(scripts);

  const expected = baseline.map((b) => structuredClone(b));
  let acked = 0;
  let refused = 0;
  for (const out of outs) {
    for (const line of out.split('\n')) {
      const m = /^ack (\d+) (\S+) (.*)$/.exec(line);
      if (m) {
        acked++;
        expected[Number(m[1])][m[2]] = JSON.parse(m[3]);
      } else if (line.startsWith('refused ')) {
        refused++;
        fail(row, `save ${line}`);
      } else if (line.startsWith('STDERR')) fail(row, `saver: ${line.slice(0, 300)}`);
    }
  }
  row.count = acked;
  const rounds = convOut.split('\n').filter((l) => l.startsWith('round '));
  row.notes.push(`${acked} saves acknowledged, ${refused} refused, while convert ran ${rounds.length} rounds (json⇄bin) on worker threads`);
  if ((await converter.code) !== 0) fail(row, `converter exited with ${await converter.code}: ${convOut.slice(-400)}`);
  for (const l of rounds) if (/failed [1-9]|conflicts [1-9]/.test(l)) row.notes.push(`convert ${l.slice(0, 200)}`);
  if (rounds.length < 2) fail(row, 'convert never completed two rounds during the saves');

  for (let i = 0; i < images.length; i++) {
    let actual: JsonObject | null = null;
    try {
      actual = (await readSidecarDetailed(images[i])).data;
    } catch (e) {
      fail(row, `${images[i]}: cannot be read at the end: ${(e as Error).message}`);
    }
    const loss = compareOperations(expected[i], actual);
    if (loss.records > 0) {
      addLoss(row, loss);
      fail(row, `${path.relative(root, images[i])}: ${loss.records} acknowledged operation(s) lost: ${[...loss.missing, ...loss.changed].slice(0, 8).join(', ')}`);
    }
    const loc = (await readSidecarDetailed(images[i])).location;
    if (loc.candidates.length !== 1) fail(row, `${path.relative(root, images[i])}: ${loc.candidates.length} sidecar files at the end`);
  }
  const left = findLeftovers(root);
  for (const p of [...left.tempFiles, ...left.lockDirs]) fail(row, `left behind: ${p}`);
  checkAsides(row, left);
}
