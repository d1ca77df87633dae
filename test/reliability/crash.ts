/**
 * Crash campaign: a child process converts the tree (json → bin → json → rkyv ...) or runs a
 * loop of saveSidecar calls, and is SIGKILLed at a random moment. After every step the parent
 * checks, against a model of what was acknowledged:
 *   - every image's data reads back and equals what it was before the step — or after it, for
 *     a save that completed but whose acknowledgement did not get out before the kill;
 *   - no candidate file is partially written (every candidate decodes; candidates agree), so a
 *     torn file can never be or hide behind the effective sidecar;
 *   - our leftovers (temp files, lock dirs) are recognised as such by the scan, never reported
 *     as sidecars, orphans or corrupt files, and the next completed run cleans them up.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isSidecarError } from '../../src/errors.js';
import { deepEqualJson, encodeSidecar } from '../../src/formats/codec.js';
import { readSidecarDetailed, readSidecarFile } from '../../src/ops/read.js';
import { saveSidecar } from '../../src/ops/save.js';
import { convert } from '../../src/ops/convert.js';
import { resolveConflicts } from '../../src/ops/resolve.js';
import { QUARANTINE_DIR } from '../../src/discovery/own-folders.js';
import { scan } from '../../src/ops/scan.js';
import { isLockName, isTempName } from '../../src/fs/temp-files.js';
import { tempTargetName } from '../../src/temp-name.js';
import { Rng } from '../../src/sample/prng.js';
import { sampleSidecar } from '../../src/sample/shapes.js';
import { isoTimestamp } from '../../src/time.js';
import type { JsonObject, Keyring } from '../../src/types.js';
import { generateKeyFile, loadKeyFile, mergeKeyrings } from '../../src/crypto/keys.js';
import { isEncryptedBin } from '../../src/formats/encrypted-bin.js';
import { Child } from './child.js';
import { checkAsides, findLeftovers, freshDir, removeDir } from './fs-util.js';
import { CRASH_CLOCK_BASE_MS, crashImageIndex, crashOpName, crashOpValue, imageName } from './models.js';
import { addLoss, compareOperations, fail, newRow, timed, type ReliabilityRow } from './tally.js';

export interface CrashOptions {
  kills: number;
  images: number;
  seed: number;
  /** Progress lines (report.ts --verbose). */
  log?: (line: string) => void;
  /** Step kinds to cycle through (default: save, convert-bin, save, convert-json, save, convert-rkyv). */
  kinds?: readonly StepKind[];
  /**
   * Harness self-check only: the child writes sidecars in place, non-atomically, the way the
   * earlier tool did. The campaign must then report torn files and lost data.
   */
  unsafeSaves?: boolean;
  /**
   * End the campaign at the first failed step that also lost data (for the self-check). A torn
   * write into an image that had no sidecar yet is a failure without a loss: which of the two
   * comes first depends on where the kill lands, so the self-check waits for a loss.
   */
  stopOnLoss?: boolean;
  /**
   * Encryption campaign: two key files; convert --encrypt under key A, rekey to B and back,
   * convert --decrypt, saves in between (into encrypted and plaintext sidecars). Every check
   * reads with both keys; temp files left by a killed encrypt/rekey must already be encrypted.
   */
  crypto?: boolean;
}

export type StepKind = 'save' | 'convert-bin' | 'convert-json' | 'convert-rkyv' | 'convert-encrypt' | 'rekey' | 'convert-decrypt';
const CYCLE: StepKind[] = ['save', 'convert-bin', 'save', 'convert-json', 'save', 'convert-rkyv'];
export const CRYPTO_CYCLE: StepKind[] = ['save', 'convert-encrypt', 'save', 'rekey', 'save', 'rekey', 'save', 'convert-decrypt'];

/** Key files of an encryption campaign (outside the tree) and the keyring that reads everything. */
interface CryptoKeys {
  files: [string, string];
  read: { keyring?: Keyring };
}
let cryptoKeys: CryptoKeys | null = null;
const readKeys = () => cryptoKeys?.read ?? {};
const LOCK_STALE_MS = 2000;

interface Library {
  root: string;
  /** Paths saves go through (one is a symlink in a game folder). */
  images: string[];
  /** Folders that hold sidecars. */
  dirs: string[];
}

/** Ten-ish images in two folders, sidecars in every format the tool meets, one image saved via a link. */
function buildLibrary(root: string, count: number, seed: number): Library {
  const rng = new Rng(seed);
  const dirs = [path.join(root, 'photos', '2025-09-20'), path.join(root, 'photos', '2025-09-21')];
  for (const d of dirs) fs.mkdirSync(d, { recursive: true });
  const images: string[] = [];
  for (let i = 0; i < count; i++) {
    const dir = dirs[i % 2];
    const img = path.join(dir, imageName(i));
    fs.writeFileSync(img, 'jpeg');
    images.push(img);
    const data = sampleSidecar(rng.fork(), { imagePath: path.relative(root, img), faces: i % 3 });
    const stem = path.join(dir, imageName(i).replace(/\.jpg$/, ''));
    switch (i % 4) {
      case 0:
        fs.writeFileSync(`${stem}.json`, encodeSidecar(data, 'json'));
        break;
      case 1:
        fs.writeFileSync(`${stem}.bin`, encodeSidecar(data, 'bin'));
        break;
      case 2:
        fs.writeFileSync(`${stem}.bin`, encodeSidecar(data, 'legacy')); // the earlier tool's layout
        break;
      default:
        break; // no sidecar yet: the first save creates one
    }
  }
  const games = path.join(root, 'games', 'Game1_20Sep2025_143000-160000');
  fs.mkdirSync(games, { recursive: true });
  const link = path.join(games, imageName(1));
  fs.symlinkSync(path.relative(games, images[1]), link);
  images[1] = link;
  return { root, images, dirs };
}

interface StepOutcome {
  kind: StepKind;
  killed: boolean;
  lines: string[];
  start: number;
  count: number;
  ms: number;
}

/** Exponential moving average of how long steps take, to aim kills inside them. */
class Estimate {
  constructor(private value: number) {}
  get(): number {
    return this.value;
  }
  add(x: number): void {
    this.value = this.value * 0.7 + x * 0.3;
  }
}

export async function runCrashCampaign(opts: CrashOptions): Promise<ReliabilityRow> {
  const row = newRow('crash', 'kills survived (save loop, convert json/bin/rkyv)', 'kills');
  const root = freshDir('crash');
  const keyDir = opts.crypto ? freshDir('crash-keys') : null;
  if (keyDir) {
    const files: [string, string] = [path.join(keyDir, 'a.key'), path.join(keyDir, 'b.key')];
    for (const f of files) generateKeyFile(f);
    cryptoKeys = { files, read: { keyring: mergeKeyrings(loadKeyFile(files[0]), loadKeyFile(files[1])) } };
    row.name = 'kills survived (save loop, convert --encrypt, rekey, convert --decrypt)';
  }
  try {
    await timed(row, () => campaign(row, root, opts));
  } finally {
    removeDir(root);
    if (keyDir) removeDir(keyDir);
    cryptoKeys = null;
  }
  return row;
}

async function campaign(row: ReliabilityRow, root: string, opts: CrashOptions): Promise<void> {
  const rng = new Rng(opts.seed);
  const lib = buildLibrary(root, opts.images, opts.seed);
  const model: JsonObject[] = [];
  for (const img of lib.images) model.push((await readSidecarDetailed(img, readKeys())).data);

  const perSave = new Estimate(30);
  const convertMs = { inline: new Estimate(150), threads: new Estimate(300) };
  const stats = { steps: 0, completed: 0, acked: 0, midWrite: 0, encryptedSeen: 0, keptCopies: 0, convertLeftovers: new Set<string>(), tempSeen: new Set<string>(), locksSeen: new Set<string>(), lostImages: new Set<number>() };
  let nextK = 0;
  const cycle = opts.kinds ?? (opts.crypto ? CRYPTO_CYCLE : CYCLE);
  let rekeys = 0;
  const childFor = (step: number) => new Child({ preload: cycle[step % cycle.length] === 'save' ? 'save' : 'convert' });
  let spare = childFor(0);
  const maxSteps = opts.kills * 4;

  try {
    while (row.count < opts.kills && stats.steps < maxSteps) {
      const kind = cycle[stats.steps % cycle.length];
      const child = spare;
      spare = childFor(stats.steps + 1); // warms up while this step runs
      const tr = performance.now();
      await child.ready;
      const readyWait = performance.now() - tr;
      const t0 = performance.now();
      let step: StepOutcome;
      if (kind === 'save') {
        const count = rng.int(3, 20);
        step = await runStep(child, kind, nextK, count, {
          cmd: 'save-loop',
          images: lib.images,
          start: nextK,
          count,
          lockTimeoutMs: 50, // a lock left by a killed step is skipped (nothing written) until it is stale
          lockStaleMs: LOCK_STALE_MS,
          unsafe: opts.unsafeSaves === true,
          ...(cryptoKeys ? { keyFiles: cryptoKeys.files } : {}),
        }, rng.int(0, Math.round(count * perSave.get() * 0.9)));
        nextK += count;
        const processed = step.lines.filter((l) => l.startsWith('ok ') || l.startsWith('refused ')).length;
        if (processed > 0) perSave.add((performance.now() - t0) / processed);
      } else {
        const engine = rng.chance(0.3) ? 'threads' : 'inline';
        const est = convertMs[engine];
        const format = kind === 'convert-json' || kind === 'convert-decrypt' ? 'json' : kind === 'convert-rkyv' ? 'rkyv' : 'bin';
        const crypto: object = !cryptoKeys
          ? {}
          : kind === 'convert-encrypt'
            ? { encryption: 'encrypt', keyFiles: cryptoKeys.files }
            : kind === 'rekey'
              ? { encryption: 'rekey', keyFiles: rekeys++ % 2 === 0 ? [cryptoKeys.files[1], cryptoKeys.files[0]] : cryptoKeys.files }
              : kind === 'convert-decrypt'
                ? { encryption: 'decrypt', keyFiles: cryptoKeys.files }
                : { keyFiles: cryptoKeys.files };
        // A share of the inline converts die at their first source removal (their targets published),
        // the state random timing rarely hits: a source and its equal target, then a save.
        const dieAtRemoval = engine === 'inline' && !cryptoKeys && rng.chance(0.2);
        const delay = dieAtRemoval ? Math.round(est.get() * 3) : rng.int(0, Math.round(est.get() * 0.9));
        step = await runStep(child, kind, 0, 0, { cmd: 'convert', root, format, engine, ...crypto, ...(dieAtRemoval ? { dieAtRemoval } : {}) }, delay, 'started');
        if (!step.killed && !dieAtRemoval) est.add(step.ms);
      }
      stats.steps++;
      if (step.killed) row.count++;
      else stats.completed++;
      const error = step.lines.find((l) => l.startsWith('error '));
      if (error) fail(row, `step ${stats.steps} (${kind}) failed in the child: ${error}`);
      stats.acked += step.lines.filter((l) => l.startsWith('ok ')).length;
      const before = stats.tempSeen.size;
      const tv = performance.now();
      await verifyStep(row, lib, model, step, stats);
      const verifyMs = performance.now() - tv;
      if (stats.tempSeen.size > before) stats.midWrite++;
      if (opts.stopOnLoss && row.recordsLost > 0) return;
      opts.log?.(`step ${stats.steps} ${kind} ${step.killed ? 'killed' : 'completed'} after ${Math.round(step.ms)} ms (step ${Math.round(tv - t0)} ms, verify ${Math.round(verifyMs)} ms, waited ${Math.round(readyWait)} ms for the child); lost so far ${row.recordsLost}`);
    }
  } finally {
    await spare.kill();
  }
  if (row.count < opts.kills) fail(row, `only ${row.count} of ${opts.kills} kills landed within ${maxSteps} steps`);

  await recoveryRun(row, lib, model, stats);
  if (cryptoKeys && stats.encryptedSeen === 0) fail(row, 'the encryption campaign never saw an encrypted sidecar');
  if (cryptoKeys) row.notes.push(`${stats.encryptedSeen} encrypted sidecars counted across the checks`);
  row.notes.push(
    `${stats.steps} steps (${stats.completed} ran to completion), ${stats.acked} saves acknowledged`,
    `${stats.midWrite} kills left a temp file behind (killed mid-write); ${stats.tempSeen.size} leftover temp files and ${stats.locksSeen.size} stale locks seen, recognised by the scan and checked to be gone after the next completed run`,
    `${stats.keptCopies} older copies kept behind an effective sidecar (a convert killed before removing its source, then a save), named 'kept' by the read and quarantined by resolve`,
  );
}

/**
 * Send the command, then SIGKILL after `delayMs` unless the child finished first. The delay
 * counts from `startLine` when given (convert says "started" once its modules and runtime are up).
 */
async function runStep(child: Child, kind: StepKind, start: number, count: number, command: object, delayMs: number, startLine?: string): Promise<StepOutcome> {
  child.send(command);
  if (startLine !== undefined) await child.waitFor((l) => l === startLine || l.startsWith('error '), 30_000);
  const t0 = performance.now();
  const finished = child.waitFor((l) => l.startsWith('done') || l.startsWith('error '));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'kill'>((resolve) => (timer = setTimeout(() => resolve('kill'), delayMs)));
  const first = await Promise.race([finished.then(() => 'done' as const), timeout]);
  clearTimeout(timer);
  let killed = false;
  if (first === 'kill') {
    const exit = await child.kill();
    killed = exit.signal === 'SIGKILL';
  } else {
    await child.exited;
  }
  return { kind, killed, lines: child.lines.slice(), start, count, ms: performance.now() - t0 };
}

/** The expected data of image `i` after the acknowledged saves of this step (null: no save hit it). */
function expectedAfterSaves(model: JsonObject, i: number, ks: number[], images: number): { data: JsonObject; last: number } | null {
  let data: JsonObject | null = null;
  let last = -1;
  for (const k of ks) {
    if (crashImageIndex(k, images) !== i) continue;
    data ??= structuredClone(model);
    data[crashOpName(k)] = crashOpValue(k);
    last = k;
  }
  return data === null ? null : { data, last };
}

function applySave(data: JsonObject, k: number): JsonObject {
  const out = structuredClone(data);
  out[crashOpName(k)] = crashOpValue(k);
  return out;
}

interface CampaignStats {
  /** Encrypted sidecars counted after the steps (an encryption campaign that never encrypted proves nothing). */
  encryptedSeen: number;
  /** Kept older copies found behind an effective sidecar, and quarantined by resolve. */
  keptCopies: number;
  /** Equal copies a killed convert left behind an effective file (its sources): the only files that may later be kept copies. */
  convertLeftovers: Set<string>;
  tempSeen: Set<string>;
  locksSeen: Set<string>;
  /** Images whose data was already counted as lost (counted once, not at every later step). */
  lostImages: Set<number>;
}

async function verifyStep(row: ReliabilityRow, lib: Library, model: JsonObject[], step: StepOutcome, stats: CampaignStats): Promise<void> {
  const label = `step ${step.kind}@${step.start}${step.killed ? ' (killed)' : ''}`;
  const acked = step.lines.filter((l) => l.startsWith('ok ')).map((l) => Number(l.split(' ')[1]));
  const processed = step.lines.filter((l) => l.startsWith('ok ') || l.startsWith('refused ')).length;
  // The save that was running when the kill came (it may have completed, unacknowledged).
  const inFlight = step.kind === 'save' && step.killed && processed < step.count ? step.start + processed : null;
  const n = lib.images.length;
  const keptCopies: string[] = [];
  for (const p of stats.convertLeftovers) if (!fs.existsSync(p)) stats.convertLeftovers.delete(p);

  for (let i = 0; i < n; i++) {
    if (stats.lostImages.has(i)) continue;
    const img = lib.images[i];
    let actual: JsonObject | null = null;
    try {
      const res = await readSidecarDetailed(img, readKeys());
      actual = res.data;
      for (const f of res.findings) {
        if (f.code === 'corrupt' || f.code === 'fallback') fail(row, `${label}: ${imageName(i)}: ${f.code}: ${f.message}`);
      }
      // Every candidate must be whole and agree with the effective one: a torn or stale file
      // must not be waiting behind it — unless it is a kept older copy (below).
      for (const c of res.location.candidates) {
        try {
          const d = await readSidecarFile(c.path, readKeys());
          if (deepEqualJson(d.data, actual)) {
            // An equal copy behind the effective file after a killed convert: its source, left.
            if (step.kind !== 'save' && step.killed && c.path !== res.path) stats.convertLeftovers.add(c.path);
            continue;
          }
          if (stats.convertLeftovers.has(c.path) && isKeptCopy(res, c.path, d.data, actual)) keptCopies.push(c.path);
          else fail(row, `${label}: ${c.path} disagrees with the effective sidecar ${res.path}`);
        } catch (e) {
          fail(row, `${label}: candidate ${c.path} does not decode: ${(e as Error).message}`);
        }
      }
    } catch (e) {
      fail(row, `${label}: ${imageName(i)} cannot be read: ${isSidecarError(e) ? e.code : ''} ${(e as Error).message}`);
    }

    if (step.kind === 'save') {
      const exp = expectedAfterSaves(model[i], i, acked, n);
      let expected = exp?.data ?? model[i];
      let last = exp?.last ?? -1;
      let loss = compareOperations(expected, actual);
      if ((loss.records > 0 || loss.unexpected.length > 0) && inFlight !== null && crashImageIndex(inFlight, n) === i) {
        const alt = applySave(expected, inFlight);
        const altLoss = compareOperations(alt, actual);
        if (altLoss.records === 0 && altLoss.unexpected.length === 0) {
          expected = alt;
          last = inFlight;
          loss = altLoss;
        }
      }
      checkLoss(row, label, i, loss);
      if (actual && last >= 0) checkInfo(row, label, i, model[i], actual, last);
    } else {
      const loss = compareOperations(model[i], actual);
      checkLoss(row, label, i, loss);
      if (actual && !deepEqualJson(actual.sidecar_info ?? null, model[i].sidecar_info ?? null)) {
        fail(row, `${label}: ${imageName(i)}: convert changed sidecar_info`);
      }
    }
    // The next step is judged from what is really there, so a loss is counted once.
    if (actual) model[i] = actual;
    else stats.lostImages.add(i);
  }
  if (keptCopies.length > 0) {
    // A convert killed between publishing a target and removing its source left both, equal; a
    // save then updated the effective one and kept the other as it was (docs/PAIRING.md §4, §9).
    // Nothing is lost and the read names it `kept`; the user's remedy is resolve, as its finding
    // says. Done here so that later converts meet no conflict.
    stats.keptCopies += keptCopies.length;
    const r = await resolveConflicts(lib.root, { engine: 'inline', ...readKeys() });
    for (const p of keptCopies) if (fs.existsSync(p)) fail(row, `${label}: resolve left the kept copy ${p} (${JSON.stringify(r.decisions).slice(0, 300)})`);
  }
  checkLeftovers(row, label, lib, step, stats);
  await checkScan(row, label, lib, model);
  if (cryptoKeys) {
    for (const dir of lib.dirs) {
      for (const name of fs.readdirSync(dir)) {
        if (!/\.bin$/.test(name) || isTempName(name)) continue;
        if (isEncryptedBin(fs.readFileSync(path.join(dir, name)).subarray(0, 16))) stats.encryptedSeen++;
      }
    }
  }
}

/**
 * An older copy of the image's data behind its effective sidecar (a killed convert's source, seen
 * equal after the kill, then a save): the read names it `kept`, and it holds no operation the
 * effective sidecar lacks (a save replaces an operation's value, never drops one).
 */
function isKeptCopy(res: { findings: { code: string; message: string }[] }, p: string, data: JsonObject, actual: JsonObject): boolean {
  if (!res.findings.some((f) => f.code === 'kept' && f.message.includes(p))) return false;
  return Object.keys(data).every((k) => k in actual);
}

function checkLoss(row: ReliabilityRow, label: string, i: number, loss: ReturnType<typeof compareOperations>): void {
  if (loss.records > 0) {
    addLoss(row, loss);
    fail(row, `${label}: ${imageName(i)} lost ${loss.records} operation(s): missing [${loss.missing.join(', ')}] changed [${loss.changed.join(', ')}]`);
  }
  if (loss.unexpected.length > 0) fail(row, `${label}: ${imageName(i)} has operations nobody wrote: ${loss.unexpected.join(', ')}`);
}

/** sidecar_info after a save: the last save's operation and clock; created_at never moves. */
function checkInfo(row: ReliabilityRow, label: string, i: number, before: JsonObject, actual: JsonObject, last: number): void {
  const info = actual.sidecar_info as JsonObject | undefined;
  const prior = before.sidecar_info as JsonObject | undefined;
  if (!info || info.last_operation !== crashOpName(last) || info.last_updated !== isoTimestamp(new Date(CRASH_CLOCK_BASE_MS + last * 1000))) {
    fail(row, `${label}: ${imageName(i)}: sidecar_info does not name the last save (${crashOpName(last)}): ${JSON.stringify(info)?.slice(0, 200)}`);
  }
  if (prior && typeof prior.created_at === 'string' && info && info.created_at !== prior.created_at) {
    fail(row, `${label}: ${imageName(i)}: created_at changed from ${String(prior.created_at)} to ${String(info.created_at)}`);
  }
}

/** Only images, their sidecars and our recognisable leftovers may be in the folders. */
function checkLeftovers(row: ReliabilityRow, label: string, lib: Library, step: StepOutcome, stats: CampaignStats): void {
  const left = findLeftovers(lib.root);
  if (step.kind === 'convert-encrypt' || step.kind === 'rekey') {
    // Never leak: a temp file of an encrypting run holds ciphertext from its first bytes on.
    for (const t of left.tempFiles) {
      if (stats.tempSeen.has(t)) continue;
      const head = fs.readFileSync(t).subarray(0, 16);
      if (head.length >= 6 && !(head[5] === 0x02 && isEncryptedBin(Buffer.concat([head, Buffer.alloc(16)])))) {
        fail(row, `${label}: temp file ${t} left by an encrypting run is not encrypted (starts ${head.toString('hex')})`);
      }
    }
  }
  for (const t of left.tempFiles) stats.tempSeen.add(t);
  for (const l of left.lockDirs) stats.locksSeen.add(l);
  for (const dir of lib.dirs) {
    for (const name of fs.readdirSync(dir)) {
      if (isTempName(name) || isLockName(name) || name === QUARANTINE_DIR) continue;
      if (!/^IMG_\d{3}\.(jpg|json|bin|rkyv)$/.test(name)) fail(row, `${label}: unexpected file ${path.join(dir, name)}`);
    }
  }
  if (step.killed) return;
  // A completed step cleaned up after the killed ones where it worked.
  if (step.kind !== 'save') {
    const done = step.lines.find((l) => l.startsWith('done '));
    const report = done ? (JSON.parse(done.slice(5)) as { failed: number; conflicts: number; targets: string[] }) : null;
    if (!report) return;
    if (report.failed > 0 || report.conflicts > 0) fail(row, `${label}: completed convert reported ${report.failed} failures, ${report.conflicts} conflicts`);
    const worked = new Set(report.targets.map((t) => path.dirname(t)));
    for (const t of left.tempFiles) if (worked.has(path.dirname(t))) fail(row, `${label}: leftover ${t} survived a completed convert of its folder`);
  } else {
    const savedImages = new Set(step.lines.filter((l) => l.startsWith('ok ')).map((l) => crashImageIndex(Number(l.split(' ')[1]), lib.images.length)));
    // saveSidecar removes the leftovers of the file it writes (the image's current sidecar).
    const targets = new Set<string>();
    for (const i of savedImages) for (const ext of ['json', 'bin', 'rkyv']) targets.add(imageName(i).replace(/jpg$/, ext));
    for (const t of left.tempFiles) {
      const target = tempTargetName(path.basename(t));
      if (target !== null && targets.has(target) && fs.existsSync(path.join(path.dirname(t), target))) {
        fail(row, `${label}: leftover ${t} survived a completed save of ${target}`);
      }
    }
  }
}

/** The scan must see exactly images, valid sidecars and our leftovers: nothing corrupt, orphaned or unreadable. */
async function checkScan(row: ReliabilityRow, label: string, lib: Library, model: JsonObject[]): Promise<void> {
  const session = scan(lib.root, { engine: 'inline', ...readKeys() });
  const s = await session.finish();
  const left = findLeftovers(lib.root);
  if (!s.complete) fail(row, `${label}: scan incomplete: ${JSON.stringify(s.problems).slice(0, 300)}`);
  for (const c of ['corrupt', 'orphan', 'unreadable', 'unrelated', 'broken-symlink', 'encrypted'] as const) {
    if (s.counts[c] > 0) fail(row, `${label}: scan found ${s.counts[c]} ${c} record(s)`);
  }
  // Images nobody has saved to yet have no sidecar; every other image must pair with its sidecar.
  const withoutData = model.filter((d) => Object.keys(d).length === 0).length;
  if (s.counts.missing !== withoutData) fail(row, `${label}: scan found ${s.counts.missing} images without a sidecar, expected ${withoutData}`);
  // Temp files are listed as ours (never as sidecars); lock directories are empty folders it may enter.
  if (s.tempFiles !== left.tempFiles.length) fail(row, `${label}: scan recognised ${s.tempFiles} temp files, ${left.tempFiles.length} exist`);
}

/**
 * The next run after the last kill: a completed convert (dedupes what a killed convert left in
 * two formats), then one save per image (takes over stale locks), then back to JSON. Nothing of
 * ours may remain and every image must hold its data plus the new operation.
 */
async function recoveryRun(row: ReliabilityRow, lib: Library, model: JsonObject[], stats: CampaignStats): Promise<void> {
  const r1 = await convert(lib.root, 'bin', { engine: 'inline', ...readKeys() });
  if (r1.failed > 0 || r1.conflicts > 0) fail(row, `recovery: convert to bin: ${r1.failed} failed, ${r1.conflicts} conflicts`);
  await Promise.all(
    lib.images.map((img, i) =>
      saveSidecar(img, 'recovery', { image: i }, { lockStaleMs: LOCK_STALE_MS, lockTimeoutMs: 30_000, ...readKeys() }).catch((e: unknown) => {
        fail(row, `recovery: save to ${imageName(i)} failed: ${(e as Error).message}`);
      }),
    ),
  );
  const r2 = await convert(lib.root, 'json', { engine: 'inline', ...readKeys(), ...(cryptoKeys ? { encryption: 'decrypt' as const } : {}) });
  if (r2.failed > 0 || r2.conflicts > 0) fail(row, `recovery: convert to json: ${r2.failed} failed, ${r2.conflicts} conflicts`);
  for (let i = 0; i < lib.images.length; i++) {
    if (stats.lostImages.has(i)) continue;
    const expected = { ...model[i], recovery: { image: i } };
    let actual: JsonObject | null = null;
    try {
      actual = (await readSidecarDetailed(lib.images[i], readKeys())).data;
    } catch (e) {
      fail(row, `recovery: ${imageName(i)} unreadable: ${(e as Error).message}`);
    }
    checkLoss(row, 'recovery', i, compareOperations(expected, actual));
  }
  const left = findLeftovers(lib.root);
  for (const p of [...left.tempFiles, ...left.lockDirs]) fail(row, `recovery: ${p} is still there after a completed run`);
  checkAsides(row, left, 'recovery: ');
  for (const t of stats.tempSeen) if (fs.existsSync(t)) fail(row, `recovery: leftover ${t} was never cleaned up`);
}
