/**
 * convert: rewrite every real sidecar of a tree in another format, verified, never losing a source.
 *
 * Planning happens here on the main thread from the scan records (which files are sidecars, what
 * their target path is, what is already done); the file work happens in the `convert` task in
 * the engine's workers. A dry run takes exactly the same path and only skips the writes and
 * removals inside the task.
 */
import { basename, dirname, join, resolve } from 'node:path';
import { lastRealFolder, lockKeyForSidecar } from '../discovery/lock-key.js';
import { nfc } from '../discovery/extensions.js';
import { candidateNames, isSidecarName } from '../discovery/pair.js';
import { errors, type SidecarError } from '../errors.js';
import { assertDirectory } from '../scan/session.js';
import { isForeign, lockedFile, type ScanRecord, type ScanSidecar } from '../scan/records.js';
import { scan } from './scan.js';
import { sidecarLinkTargets } from './sidecar-links.js';
import { MANIFEST_NAME, quarantineBase } from './quarantine-folder.js';
import { readdir, readFile } from 'node:fs/promises';
import { isEncryptedBin, readEncryptionHeader } from '../formats/encrypted-bin.js';
import { createRuntime } from '../engine/select.js';
import { removeStaleTempFiles } from '../fs/temp-files.js';
import { canonicalEntries } from '../integrity/tree-hash.js';
import { perImageSidecarsFor } from './hash.js';
import { clearIndex, clearIndexEverywhere } from '../incremental/manage.js';
import type { IndexLocationOptions } from '../model/index-options.js';
import { mapJobs } from '../engine/pipeline.js';
import type { Runtime } from '../engine/runtime.js';
import { normalizeFormat } from '../formats/codec.js';
import { derivedKeyFor, encryptionKey } from '../crypto/keys.js';
import {
  alreadyConverted,
  encryptedAsAsked,
  targetPathFor,
  type ConvertAction,
  type ConvertItem,
  type ConvertTaskOptions,
  type ConvertUnit,
} from '../tasks/convert.js';
import type { FormatName, KeyDescriptor, Keyring, Options, SidecarFormat } from '../types.js';
import { CONVERT_BATCH_FILES, CONVERT_UNIT_FILES } from '../tuning.js';

export type { ConvertAction, ConvertItem } from '../tasks/convert.js';

export interface ConvertOptions extends Options {
  /** Plan and report, write nothing. */
  dryRun?: boolean;
  /** Keep the source files after a verified conversion. */
  keepSource?: boolean;
  /** Compare every image's canonical data digest before and after (mismatches in `verify`). */
  verify?: boolean;
  /** Called with each item in path order (then the report carries no `items`). */
  onItem?: (item: ConvertItem) => void | Promise<void>;
  /** Units (usually one file each) per engine batch. */
  batchSize?: number;
  /**
   * 'encrypt' (bin only): encrypt under `keyring`'s encryption key, re-encrypting files under any
   * other key. 'rekey': the same for encrypted sidecars only. 'decrypt': write plaintext.
   * Default: encrypted stays encrypted, plaintext stays plaintext.
   */
  encryption?: 'encrypt' | 'decrypt' | 'rekey';
  /**
   * Where runs keep the library's index (the CLI gives its cache folder), which an encrypting run
   * removes (`ConvertReport.indexes`). Convert itself never reads an index.
   */
  indexPlace?: IndexLocationOptions;
}

export interface ConvertReport {
  format: SidecarFormat;
  dryRun: boolean;
  /** Items (source files) converted, rewritten or deduplicated successfully. */
  converted: number;
  /** Items skipped (already in the format, not a sidecar, outside the root). */
  skipped: number;
  /** Items that failed (source kept); includes files that cannot be read or decoded (left as they are). */
  failed: number;
  /** Items left untouched because they disagree with another file of the same image. */
  conflicts: number;
  /** Every item, in path order, when no onItem callback was given. */
  items?: ConvertItem[];
  verify?: { checked: number; mismatches: { image: string; before: string; after: string | null }[] };
  /** Temp files of an earlier killed run removed from the directories converted. */
  tempFilesRemoved: number;
  /**
   * Why every source was kept although --keep-source was not given: a folder the walk for sidecar
   * links could not list may hold a link to any file of the tree (docs/PAIRING.md §5).
   */
  sourcesKept?: string;
  /**
   * With encryption asked (--encrypt, --decrypt, rekey): files in the library's quarantine, which
   * no command walks, that are not encrypted as asked. `restore` puts them back as they are (in
   * plaintext, or under the key they had). After rekey or --decrypt the CLI exits 1 while any is
   * left under a key: giving that key up would lose them.
   */
  quarantinedFiles?: number;
  /**
   * With encryption asked: the library's quarantine, or something in it, could not be looked at (a
   * symlink or a file in its place, a symlink in it, a folder or file that cannot be read), so what
   * it holds is not all known; the first such thing, and why.
   */
  quarantineUnchecked?: string;
  /**
   * `convert --encrypt` (not a dry run) removes the indexes where runs keep them (docs/INDEX.md): the
   * library's, and those of the folders above it (a run on a parent folder stored its files too).
   * Entries made before the files were encrypted describe them in plaintext (class names, operation
   * and key names), and runs with a key never replace another option set's entries. `cleared`: the
   * index file removed (the next run builds it again); `error`: why it could not be (then
   * `index clear` does it). Absent when there was none.
   */
  indexes?: { path: string; cleared: boolean; error?: string }[];
  scanComplete: boolean;
  /**
   * Sidecar files of the tree as the scan found them (README "Categories": the count every command
   * reports). Items also cover sidecar-named files that are not sidecars (reports): skipped.
   */
  sidecar_files: number;
}

/** Convert the sidecars under `root` to `target` (json | bin | binary | rkyv | legacy). */
export async function convert(root: string, target: FormatName, opts: ConvertOptions = {}): Promise<ConvertReport> {
  const format = normalizeFormat(target);
  const encrypting = opts.encryption === 'encrypt' || opts.encryption === 'rekey';
  if (encrypting && format !== 'bin') throw errors.usage(`only the bin format can be encrypted, not ${format}`);
  if (encrypting && !encryptionKey(opts.keyring)) throw errors.usage('encrypting needs a key (--key-file, IMAGE_SIDECAR_KEY_FILE or IMAGE_SIDECAR_PASSPHRASE)');
  const abs = resolve(root);
  await assertDirectory(abs);
  const dryRun = opts.dryRun === true;
  const report: ConvertReport = { format, dryRun, converted: 0, skipped: 0, failed: 0, conflicts: 0, tempFilesRemoved: 0, scanComplete: true, sidecar_files: 0 };
  if (!opts.onItem) report.items = [];
  const runtime = createRuntime(opts);
  try {
    const before = opts.verify ? await canonicalByImage(abs, opts, runtime) : null;
    report.scanComplete = await convertTree(abs, format, opts, runtime, report);
    // The quarantine is no shard's: shard 0 reports it.
    if (opts.encryption !== undefined && (!opts.shard || opts.shard.index === 0)) {
      const q = await quarantinedNotAsAsked(abs, opts);
      if (q.unchecked !== null) report.quarantineUnchecked = q.unchecked;
      if (q.n > 0) report.quarantinedFiles = q.n;
    }
    if (before) {
      const after = await canonicalByImage(abs, opts, runtime);
      const mismatches: { image: string; before: string; after: string | null }[] = [];
      for (const [image, digest] of before) {
        const now = after.get(image) ?? null;
        if (now !== digest) mismatches.push({ image, before: digest, after: now });
      }
      report.verify = { checked: before.size, mismatches };
    }
  } finally {
    await runtime.close();
    // Also after a run that stopped part way: what it encrypted is no longer plaintext in the tree.
    if (opts.encryption === 'encrypt' && !dryRun) {
      const indexes = clearPlaintextIndexes(abs, opts.indexPlace);
      if (indexes.length > 0) report.indexes = indexes;
    }
  }
  return report;
}

/** The indexes where runs on the library or a folder above it keep them, removed after an encrypting run (those that were there). */
function clearPlaintextIndexes(root: string, place: IndexLocationOptions | undefined): NonNullable<ConvertReport['indexes']> {
  const out: NonNullable<ConvertReport['indexes']> = [];
  for (let dir = root; ; dir = dirname(dir)) {
    try {
      if (dir === root && place?.path !== undefined) {
        const { path, removed } = clearIndex(dir, { path: place.path });
        if (removed) out.push({ path, cleared: true });
      }
      for (const path of clearIndexEverywhere(dir, place?.cacheDir)) out.push({ path, cleared: true });
    } catch (e) {
      const err = e as { message?: string; path?: string };
      out.push({ path: err.path ?? dir, cleared: false, error: String(err.message ?? e) });
    }
    if (dirname(dir) === dir) return out;
  }
}

/**
 * Files in the library's quarantine folders (their manifests aside) not encrypted as the run asks
 * (encryptedAsAsked); 0 when there is none. Judged by their encryption header, never decrypted: a
 * key file's by its id, a passphrase's by deriving its key (once per salt, as a read does; at most
 * QUARANTINE_DERIVATIONS salts).
 */
async function quarantinedNotAsAsked(root: string, enc: Pick<ConvertTaskOptions, 'encryption' | 'keyring'>): Promise<{ n: number; unchecked: string | null }> {
  let base: string | null;
  try {
    base = await quarantineBase(root);
  } catch (e) {
    return { n: 0, unchecked: e instanceof Error ? e.message : String(e) }; // a symlink or a file in its place: not known, said
  }
  if (base === null) return { n: 0, unchecked: null };
  let n = 0;
  // A key derivation costs ~0.1 s: at most QUARANTINE_DERIVATIONS salts are tried; a file under
  // another one is counted (not known to be as asked), never waited on for minutes.
  const salts = new Set<string>();
  const underRing = (header: { keyId: string; descriptor: KeyDescriptor }, ring: Keyring | undefined): boolean => {
    const key = encryptionKey(ring);
    if (key === undefined) return false;
    if (header.descriptor.kind === 'file' || key.descriptor.kind === 'file' || !ring!.passphrase) return header.keyId === key.id;
    const salt = `${header.descriptor.salt}/${header.descriptor.logN}/${header.descriptor.r}/${header.descriptor.p}`;
    if (!salts.has(salt)) {
      if (salts.size >= QUARANTINE_DERIVATIONS) return false;
      salts.add(salt);
    }
    try {
      return derivedKeyFor(ring!.passphrase, header.descriptor).id === header.keyId;
    } catch {
      return false;
    }
  };
  // What could not be looked at (a folder or a file that cannot be read, a symlink): said, never
  // taken for nothing (a file there may need the key a rotation gives up).
  let unchecked: string | null = null;
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      unchecked ??= `${dir} cannot be listed: ${(e as Error).message}`;
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isSymbolicLink()) unchecked ??= `${p} is a symlink (restore refuses it)`;
      // Sidecars only: not a manifest (<base>/<stamp>/manifest.json), a killed run's temp manifest,
      // a lock set aside, nor another program's file (.DS_Store).
      else if (e.isFile() && isSidecarName(e.name) && !(e.name === MANIFEST_NAME && dirname(dir) === base)) {
        const header = await encryptionHeaderOf(p);
        if (header === undefined) unchecked ??= `${p} cannot be read`;
        else if (!encryptedAsAsked(header === null ? undefined : header.keyId, enc, header === null ? undefined : (ring) => underRing(header, ring))) n++;
      }
    }
  };
  await walk(base);
  return { n, unchecked };
}

/** Key derivations the count of a quarantine may make (quarantinedNotAsAsked). */
const QUARANTINE_DERIVATIONS = 32;

/** A file's encryption header (key id and kind), null when it is not an encrypted bin, undefined when it cannot be read. */
async function encryptionHeaderOf(path: string): Promise<{ keyId: string; descriptor: KeyDescriptor } | null | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path); // the header is checked against the whole file's length
  } catch {
    return undefined; // cannot be read: not known
  }
  if (!isEncryptedBin(bytes)) return null;
  try {
    return readEncryptionHeader(bytes, path);
  } catch {
    return null;
  }
}

/** Canonical data digest of every image's sidecar as its read takes it (ops/hash.ts), keyed by image rel path (sorted). */
async function canonicalByImage(root: string, opts: ConvertOptions, runtime: Runtime): Promise<Map<string, string>> {
  // A shard leaves symlinked images to their target's record (whose shard checks the data):
  // their target sidecars may belong to another shard, which it never reads.
  const { entries } = await canonicalEntries(root, { ...opts, onProgress: undefined, runtime, includeTargetSide: !opts.shard, strict: false, perImageSidecars: perImageSidecarsFor(opts) });
  return new Map(entries.map((e) => [e.key, e.canonical!]));
}

async function convertTree(root: string, format: SidecarFormat, opts: ConvertOptions, runtime: Runtime, report: ConvertReport): Promise<boolean> {
  const taskOpts: ConvertTaskOptions = {
    format,
    dryRun: opts.dryRun === true,
    keepSource: opts.keepSource === true,
    maxFileSize: opts.maxFileSize,
    maxDepth: opts.maxDepth,
    encryption: opts.encryption,
    keyring: opts.keyring,
  };
  const cleanedDirs = new Set<string>();
  // Progress in the scan's unit (files of the tree, as the CLI's pre-walk counts them), never in
  // items: a record's files are done when its last step is, so the last report is every file.
  let scanned = { files: 0, bytes: 0 };
  // Folders the walk found temp names in, to sweep: a killed run's leftovers (a source moved aside
  // and not yet unlinked: plaintext under --encrypt) are swept even where nothing is left to convert.
  const tempFolders: string[] = [];
  const session = scan(root, { ...opts, onProgress: (files, _total, bytes) => void (scanned = { files, bytes: bytes ?? 0 }), onTempFiles: (dir) => void tempFolders.push(dir), runtime });
  /** Per step in flight, in order: the scan's count once that step is done (mapJobs keeps order). */
  const marks: { files: number; bytes: number }[] = [];
  let markHead = 0;
  let reached = { files: 0, bytes: 0 };

  const realFolders = lastRealFolder();
  // Sidecar links read the files they lead to: none of those is removed (a source kept in place).
  // A folder the walk could not list may hold such a link to any file: then no source is removed.
  const found = taskOpts.keepSource ? null : await sidecarLinkTargets(root, opts.signal);
  // (A dry run takes the same path: its plan is the run's.)
  if (found?.unlisted !== undefined) {
    taskOpts.keepSource = true;
    report.sourcesKept = `${found.unlisted} could not be listed: a sidecar link there may read any file of the tree, so every source ${taskOpts.dryRun ? 'would be' : 'was'} kept (as with --keep-source)`;
  }
  // (With every source kept, the files links read stay too: no conflict is needed for them.)
  const linked = taskOpts.keepSource || found === null ? new Map<string, string>() : found.targets;
  // A unit costs the engine what ~20 inspected files do: `auto` sizes itself by that (tuning.ts).
  let units = 0;
  /** Leftovers of a killed earlier run in `dir` go, once per folder (a real run only). */
  const sweep = async (dir: string) => {
    if (taskOpts.dryRun || cleanedDirs.has(dir)) return;
    cleanedDirs.add(dir);
    try {
      report.tempFilesRemoved += (await removeStaleTempFiles(dir)).length;
    } catch {
      // Best effort: our temp names are unique, so a leftover we cannot remove is in nobody's way.
    }
  };
  const sweepTempFolders = async () => {
    while (tempFolders.length > 0) await sweep(tempFolders.shift()!);
  };
  // The plan, one step per job in scan order: an item known at once, or a unit for the task.
  async function* plan(): AsyncGenerator<ConvertItem | ConvertUnit> {
    for await (const rec of session) {
      await sweepTempFolders();
      const planned = planRecord(rec, format, taskOpts, realFolders);
      const steps = linked.size === 0 ? planned : planned.flatMap((st) => unlessLinked(st, linked, realFolders));
      for (const step of steps) if ('sources' in step) units++;
      runtime.expect?.(units * CONVERT_UNIT_FILES);
      const before = reached;
      reached = scanned;
      for (const [i, step] of steps.entries()) {
        marks.push(i === steps.length - 1 ? reached : before);
        // Leftovers of a killed earlier run go before we write next to them (a link target's folder too).
        if ('sources' in step) await sweep(dirname(step.target));
        yield step;
      }
    }
    // Folders of no record (nothing but temp files and ignored names) and the last ones walked.
    await sweepTempFolders();
  }

  const steps = mapJobs(runtime, 'convert', taskOpts, plan(), (step) => ('sources' in step ? [step] : []), {
    batchFiles: opts.batchSize ?? CONVERT_BATCH_FILES,
    // A unit holds its sources, their data and the encoded target in memory until its batch ends.
    weigh: (unit) => unit.bytes ?? 0,
    signal: opts.signal,
  });
  for await (const { job, results } of steps) {
    const items = 'sources' in job ? results[0] : [job];
    for (const item of items) {
      count(report, item);
      if (opts.onItem) await opts.onItem(item);
      else report.items!.push(item);
    }
    const mark = marks[markHead++]!;
    if (markHead >= 1024) {
      marks.splice(0, markHead);
      markHead = 0;
    }
    opts.onProgress?.(mark.files, undefined, mark.bytes);
  }
  // Records without a step (images without sidecars) and files the walk passed over at the end.
  opts.onProgress?.(scanned.files, undefined, scanned.bytes);
  report.sidecar_files = session.summary.sidecarFiles;
  return session.summary.complete;
}

/** A unit that would remove a file a sidecar link reads: a conflict, left untouched (with --keep-source it converts). */
function unlessLinked(step: ConvertItem | ConvertUnit, linked: ReadonlyMap<string, string>, realFolderOf: (dir: string) => string): (ConvertItem | ConvertUnit)[] {
  if (!('sources' in step)) return [step];
  const link = step.sources.map((src) => (src === step.target ? undefined : linked.get(join(realFolderOf(dirname(src)), basename(src))))).find((l) => l !== undefined);
  if (link === undefined) return [step];
  const e = errors.conflict(`the sidecar link ${link} reads this file: converting it would remove what the link reads (replace the link by a copy, or convert with --keep-source)`, [...step.sources, link]);
  return step.sources.map((source) => ({ source, target: step.target, action: 'conflict' as const, ok: false, error: errorOf(e), sourceRemoved: false }));
}

function count(report: ConvertReport, item: ConvertItem): void {
  if (item.action === 'conflict') report.conflicts++;
  else if (!item.ok) report.failed++;
  else if (item.action === 'convert' || item.action === 'rewrite' || item.action === 'dedupe') report.converted++;
  else report.skipped++;
}

const errorOf = (e: SidecarError) => ({ code: e.code, message: e.message });

function skipItem(sc: ScanSidecar, action: ConvertAction, ok = true): ConvertItem {
  const item: ConvertItem = { source: sc.path, target: null, action, ok, sourceRemoved: false };
  if (sc.inspection.error) item.error = { code: sc.inspection.error.code, message: sc.inspection.error.message };
  return item;
}

/** Why a sidecar was left as it is, as the code says: no image, a place never written, a link never written through. */
const LEFT_CODE = { 'skip-orphan': 'NOT_FOUND', 'skip-outside-root': 'OUTSIDE_ROOT', 'skip-symlink': 'CONFLICT' } as const;

/**
 * A readable sidecar convert leaves as it is (`why`). With encryption asked (`enc`), a finding
 * unless it already is encrypted as asked: its results stay in plaintext, or under another key.
 */
function leftAsItIs(sc: ScanSidecar, action: keyof typeof LEFT_CODE, enc: Pick<ConvertTaskOptions, 'encryption' | 'keyring'>, why: string): ConvertItem {
  const item: ConvertItem = { source: sc.path, target: null, action, ok: true, sourceRemoved: false };
  const keyId = sc.inspection.encryptedKeyId;
  if (encryptedAsAsked(keyId, enc)) return item;
  const state = keyId === undefined ? 'in plaintext' : enc.encryption === 'decrypt' ? 'encrypted' : `under key ${keyId}`;
  item.ok = false;
  item.error = { code: LEFT_CODE[action], message: `${sc.path}: left ${state}: ${why}` };
  return item;
}

/** A candidate that cannot be converted because it cannot be read or decoded. */
function badItem(sc: ScanSidecar, enc?: Pick<ConvertTaskOptions, 'format' | 'encryption' | 'keyring'>): ConvertItem {
  if (lockedFile(sc.inspection)) {
    // No key: fine when the target is what it already is (an encrypted bin), a failure otherwise.
    const fine = enc !== undefined && enc.format === 'bin' && enc.encryption === undefined;
    return skipItem(sc, fine ? 'skip-already' : 'skip-encrypted', fine);
  }
  // A file that cannot be read or decoded is left as it is, and is a finding (one per bad file,
  // exit 1): the library is not all in the format asked, and validate names the same file.
  return skipItem(sc, 'skip-corrupt', false);
}

/**
 * The plan for one scan record: immediate items (skips, conflicts known from the scan) and units
 * for the task. Pure: the dry run and the real run share it.
 */
export function planRecord(
  rec: ScanRecord,
  format: SidecarFormat,
  enc: Pick<ConvertTaskOptions, 'encryption' | 'keyring'> = {},
  realFolderOf?: (dir: string) => string,
): (ConvertItem | ConvertUnit)[] {
  const encOpts = { ...enc, format };
  const out: (ConvertItem | ConvertUnit)[] = [];
  const outsideRoot = rec.images.some((i) => i.outsideRoot);
  // Several images sharing files (IMG_1.jpg and IMG_1.CR2 beside IMG_1.json): each file is
  // converted where it is, in its own naming, so what it records (whose it is) goes with it.
  const real = rec.images.length > 0 && (rec.category === 'ok' || rec.category === 'encrypted' || rec.category === 'ambiguous');
  // Group the local candidates by target path, compared as pairing compares names (NFC: Café.json
  // spelled NFD is a candidate of the image whose Café.bin it sits beside); others are reported
  // and left alone.
  const groups = new Map<string, { sc: ScanSidecar; tgt: string }[]>();
  for (const sc of rec.sidecars) {
    if (sc.side !== 'local') {
      // A symlinked image's sidecar next to its target: the target's own record handles it when it
      // is inside the root; outside the root we never write or remove (with encryption asked, a
      // finding unless it already is as asked: results left in plaintext, or under the old key).
      if (outsideRoot) out.push(leftAsItIs(sc, 'skip-outside-root', enc, 'it is next to a symlink target outside the root, which is never written'));
      continue;
    }
    if (!real) {
      // A sidecar without its image (an orphan, an unknown image's) is never converted: relink or
      // cleanup decide its fate. `convert --encrypt` or `rekey` leaving its results in plaintext or
      // under the old key says so (a finding), unless it already is as asked.
      if (sc.inspection.status !== 'ok') out.push(badItem(sc, encOpts));
      else if (isForeign(sc)) out.push(skipItem(sc, 'skip-not-sidecar'));
      else out.push(leftAsItIs(sc, 'skip-orphan', enc, rec.category === 'unknown-image'
        ? 'it is beside a file of a type that is no image here (add its extension: --image-ext, or .image-sidecar.json), and is never converted'
        : 'it has no image (an orphan: relink re-attaches it, cleanup quarantines it), and is never converted'));
      continue;
    }
    const tgt = targetPathFor(sc.path, sc.naming, format);
    if (tgt === null) {
      const e = errors.unrepresentable(format, `the ${sc.naming} naming form has no .${format} variant`, sc.path);
      out.push({ source: sc.path, target: null, action: 'convert', ok: false, error: errorOf(e), sourceRemoved: false });
      continue;
    }
    const g = groups.get(nfc(tgt));
    if (g) g.push({ sc, tgt });
    else groups.set(nfc(tgt), [{ sc, tgt }]);
  }
  for (const named of groups.values()) {
    // rekey touches encrypted files only: a plaintext file (alone, or a copy beside an encrypted one:
    // kept by --keep-source, or the older JSON a save with a key leaves) is left as it is, never
    // removed as an equal copy, nor a conflict that leaves the encrypted file under the old key.
    const group = enc.encryption !== 'rekey' ? named : named.filter(({ sc }) => {
      const plain = !sc.isLink && sc.inspection.status === 'ok' && sc.inspection.encryptedKeyId === undefined && !isForeign(sc);
      if (plain) out.push({ source: sc.path, target: sc.path, action: 'skip-already', ok: true, sourceRemoved: false });
      return !plain;
    });
    if (group.length === 0) continue;
    // The target: a file already at its own target path (its spelling kept: no twin made beside it), else the first's.
    const tgt = (group.find((m) => m.sc.path === m.tgt) ?? group[0]).tgt;
    const files = group.map((m) => m.sc);
    const good: ScanSidecar[] = [];
    let blocked: ScanSidecar | null = null;
    for (const sc of files) {
      const ins = sc.inspection;
      if (sc.isLink) {
        // Writing it would write through the link. With encryption asked, a finding unless what it
        // reads already is as asked: its image reads its results in plaintext, or under the old key.
        const leftAsked = enc.encryption !== undefined && (ins.status === 'ok' || lockedFile(ins)) && !isForeign(sc);
        out.push(leftAsked ? leftAsItIs(sc, 'skip-symlink', enc, 'it is a symlinked sidecar, never written through (replace the link by a copy of the file it reads)') : skipItem(sc, 'skip-symlink'));
      }
      else if (ins.status !== 'ok') out.push(badItem(sc, encOpts));
      else if (isForeign(sc)) out.push(skipItem(sc, 'skip-not-sidecar')); // a report, another tool's file
      else {
        good.push(sc);
        continue;
      }
      if (sc.path === tgt) blocked = sc;
    }
    if (good.length === 0) continue;
    if (blocked) {
      // The target path holds a file we must not overwrite (corrupt, unreadable, a report or a symlink).
      const e = errors.conflict('the target path holds a file that is not this data', [...good.map((g) => g.path), blocked.path]);
      for (const sc of good) out.push({ source: sc.path, target: tgt, action: 'conflict', ok: false, error: errorOf(e), sourceRemoved: false });
      continue;
    }
    if (good.length === 1 && alreadyConverted({ format: good[0].inspection.format, keyId: good[0].inspection.encryptedKeyId }, encOpts)) {
      out.push({ source: good[0].path, target: good[0].path, action: 'skip-already', ok: true, sourceRemoved: false });
      continue;
    }
    const bytes = good.reduce((n, g) => n + g.inspection.size, 0);
    out.push({ sources: good.map((g) => g.path), target: tgt, lockKey: lockKeyForSidecar(tgt, good[0].naming, realFolderOf), bytes });
  }
  // The names a save of these images could write that the scan did not see (nor a unit of this
  // record makes): one there under the unit's lock is a save since the scan (another format), whose
  // results a converted copy of the older file would hide, or outlive under `resolve`.
  const units = out.filter((u): u is ConvertUnit => 'sources' in u);
  if (units.length > 0) {
    const known = new Set([...rec.sidecars.map((sc) => nfc(sc.path)), ...units.map((u) => nfc(u.target))]);
    const watch: string[] = [];
    for (const img of rec.images) {
      const dir = dirname(img.path);
      for (const c of candidateNames(basename(img.path))) {
        const p = join(dir, c.name);
        if (!known.has(nfc(p))) watch.push(p);
      }
    }
    for (const u of units) u.watch = watch;
  }
  return out;
}
