/**
 * The deterministic sample-library generator.
 *
 * Layout (paths relative to the root; sidecar content uses these relative paths too, so two
 * roots get byte-identical files):
 *   photos/<yyyy-mm-dd>/<name>            originals (tiny fake images) and their sidecars
 *   photos/<yyyy-mm-dd>/game_detection.json   directory-level report (some folders)
 *   games/Game{N}_{ddMonYYYY}_{HHMMSS}-{HHMMSS}/<name>   symlinks to originals (relative or
 *                                          absolute; some broken), some with a report
 *
 * The library is produced as a stream: one date folder is planned, written and forgotten at a
 * time, and rare categories get exact quotas by sequential sampling, so 10^6 images need no
 * more memory than 1,000.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errors, isSidecarError } from '../errors.js';
import { makeFolders } from '../fs/make-folders.js';
import type { JsonObject } from '../types.js';
import { CORRUPTION_KINDS, corruptJson, encodeSample, pipelineJson, withBom, type SampleFormat } from './encode.js';
import { fakeImageBytes } from './images.js';
import { NameMaker } from './names.js';
import { Rng } from './prng.js';
import { QuotaSampler, rareQuota } from './quotas.js';
import { gameReport, type ReportGame } from './reports.js';
import { buildSidecar, drawPlan, type GameContext, type ImageContext } from './shapes.js';
import { ddMonYYYY, hhmmss, dateFolderName, timeParts, US_PER_DAY, US_PER_SECOND } from './time.js';
import { BoundedWriter } from './writer.js';

export interface SampleOptions {
  images: number;
  seed: number;
  /** Relative weights of the formats of ordinary sidecars. Default: all JSON. */
  formatMix?: { json: number; bin: number; legacy: number };
  /** Floats per face embedding (default 512, as the pipeline writes). Shorter only for checks of
   * tree scale (10^6 images), where the number of files matters and their size does not. */
  embeddingLength?: number;
}

export interface SampleCounts {
  /** Images that have at least one sidecar file of their own (stem or name-ext form, any content). */
  withSidecar: number;
  withoutSidecar: number;
  /** Sidecar files in a folder that holds no image of that stem (the image was deleted). */
  orphans: number;
  /** Sidecar files no strict decoder accepts (truncated, empty, invalid UTF-8, NaN). */
  corrupt: number;
  /** Symlinks in game folders, broken ones included. */
  symlinks: number;
  brokenSymlinks: number;
  /** Images named like `20250920_143022_001.jpg`. */
  bursts: number;
  /** Images whose extension is not lower case (`.JPG`, `.CR2`, `.HEIC`). */
  upperCaseExt: number;
  /** Images with non-ASCII letters in their names. */
  nonAscii: number;
  /** Directory-level reports (`game_detection.json`, `game_detection_report.json`). */
  reports: number;
  /** Files in the earlier tool's layout (u64-LE length + compact JSON), named `.bin`. */
  legacy: number;
  /** Files in our bin format (from `formatMix`). */
  bin: number;
  /** Images with both `X.bin` and an older `X.json` (the .json's mtime is earlier). */
  staleJsonNextToBin: number;
  /** Sidecars named `IMG_1.jpg.json`. */
  nameExt: number;
  /** Sidecars claimed by two images of one stem (RAW+JPEG: `DSC_1.JPG` + `DSC_1.CR2` → `DSC_1.json`). */
  ambiguousClaims: number;
  /** Valid JSON sidecars that start with a UTF-8 BOM (not counted as corrupt). */
  bom: number;
}

export interface SampleReport {
  root: string;
  /** Original image files (regular files under photos/; symlinks not included). */
  images: number;
  /** Sidecar files written, all formats (reports not included). */
  sidecars: number;
  counts: SampleCounts;
  /** Total sidecar bytes. */
  bytes: number;
}

type SidecarState = 'none' | 'normal' | 'corrupt' | 'bom' | 'legacy' | 'stale' | 'nameExt';

/** One planned name in a date folder: an image, or a "ghost" (an image since deleted). */
interface Entry {
  name: string;
  takenAtUs: number;
  ghost: boolean;
  /** Ghosts: a sidecar was left behind (orphan) / a game folder still links to it (broken link). */
  orphan: boolean;
  brokenLink: boolean;
  /** 'pair' writes the sidecar a RAW+JPEG pair shares; 'shared' is the RAW, which has none of its own. */
  state: SidecarState | 'pair' | 'shared';
  linkable: boolean;
  link?: 'relative' | 'absolute';
  /** The symlink the pipeline read the image through (root-relative), if any. */
  linkPath?: string;
  game?: GameContext;
}

interface PlannedGame extends GameContext {
  entries: Entry[];
}

/** Cameras of one shoot (one date folder): width × height. */
const CAMERAS: ReadonlyArray<readonly [number, number]> = [
  [6000, 4000],
  [5472, 3648],
  [4032, 3024],
  [8192, 5464],
];

const FOLDER_MIN_IMAGES = 120;
const FOLDER_MAX_IMAGES = 480;
const LINK_SHARE = 0.7;
const ABSOLUTE_LINK_SHARE = 0.3;
/** Breaks between games: a gap of at least GAME_GAP_MIN_S seconds starts a new game. */
const BREAK_CHANCE = 0.006;
const MAX_BREAKS_PER_DAY = 3;
const MIN_GAME_SHOTS = 40;
const GAME_GAP_MIN_S = 1800;
const BASE_DAY_US = Date.UTC(2023, 2, 1) * 1000;

function checkOptions(opts: SampleOptions): { images: number; seed: number; mix: number[]; embeddingLength?: number } {
  if (!Number.isSafeInteger(opts.images) || opts.images < 0) {
    throw errors.usage(`images must be a non-negative integer, got ${String(opts.images)}`);
  }
  if (!Number.isSafeInteger(opts.seed)) throw errors.usage(`seed must be an integer, got ${String(opts.seed)}`);
  const m = opts.formatMix ?? { json: 1, bin: 0, legacy: 0 };
  const mix = [m.json, m.bin, m.legacy];
  if (mix.some((w) => typeof w !== 'number' || !Number.isFinite(w) || w < 0) || mix[0] + mix[1] + mix[2] <= 0) {
    throw errors.usage('formatMix weights must be finite, non-negative numbers with a positive sum');
  }
  const len = opts.embeddingLength;
  if (len !== undefined && (!Number.isSafeInteger(len) || len < 1 || len > 4096)) {
    throw errors.usage(`embeddingLength must be an integer from 1 to 4096, got ${String(len)}`);
  }
  return len === undefined ? { images: opts.images, seed: opts.seed, mix } : { images: opts.images, seed: opts.seed, mix, embeddingLength: len };
}

/** The target must be empty or absent: never write into somebody's library. */
async function prepareRoot(dir: string): Promise<string> {
  const root = path.resolve(dir);
  let names: string[];
  try {
    names = await fs.promises.readdir(root);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      try {
        await makeFolders(root);
      } catch (e2) {
        throw errors.fromFs(e2, root);
      }
      return root;
    }
    if (code === 'ENOTDIR') throw errors.usage(`sample target is not a directory: ${root}`);
    throw errors.fromFs(e, root);
  }
  if (names.length > 0) throw errors.usage(`sample target must be empty or not exist: ${root} holds ${names.length} entries`);
  return root;
}

const SAMPLE_FORMATS: readonly SampleFormat[] = ['json', 'bin', 'legacy'];

function splitExt(name: string): { stem: string; ext: string } {
  const dot = name.lastIndexOf('.');
  return { stem: name.slice(0, dot), ext: name.slice(dot + 1) };
}

function isNonAscii(name: string): boolean {
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) > 0x7f) return true;
  return false;
}

/** "2025-10-01T15:50:14.846973" → seconds since the epoch (for utimes). */
function isoToSeconds(iso: string): number {
  return Date.parse(`${iso.slice(0, 23)}Z`) / 1000;
}

class Generator {
  private readonly rng: Rng;
  private readonly names: NameMaker;
  private readonly writer = new BoundedWriter(32);
  private readonly counts: SampleCounts = {
    withSidecar: 0,
    withoutSidecar: 0,
    orphans: 0,
    corrupt: 0,
    symlinks: 0,
    brokenSymlinks: 0,
    bursts: 0,
    upperCaseExt: 0,
    nonAscii: 0,
    reports: 0,
    legacy: 0,
    bin: 0,
    staleJsonNextToBin: 0,
    nameExt: 0,
    ambiguousClaims: 0,
    bom: 0,
  };
  private images = 0;
  private sidecars = 0;
  private bytes = 0;
  private gameNo = 0;
  private burstGroupNo = 0;
  private nfdSidecarNo = 0;
  /** mtimes to set once a folder's files are on disk (stale .json / newer .bin pairs). */
  private mtimes: Array<[string, number]> = [];

  constructor(
    private readonly root: string,
    private readonly n: number,
    seed: number,
    private readonly mix: number[],
    private readonly embeddingLength?: number,
  ) {
    this.rng = new Rng(seed);
    this.names = new NameMaker(this.rng);
  }

  async run(): Promise<SampleReport> {
    const { rng, n } = this;
    const burstGroups = rareQuota(n, 0.006);
    const burstImages = 3 * burstGroups + Math.ceil(burstGroups / 2); // even-numbered groups add the plain name
    const rawPairs = rareQuota(n, 0.002);
    const quotas = {
      burst: burstGroups,
      camera: rareQuota(n, 0.04),
      nonAscii: rareQuota(n, 0.003, 3), // Équipe (NFD), 日本, Zürich (NFD, its sidecar named in NFC)
      rawPair: rawPairs,
      png: rareQuota(n, 0.002),
      heic: rareQuota(n, 0.002),
      ghost: 0,
      regular: 0,
    };
    const orphans = rareQuota(n, 0.002);
    const broken = rareQuota(n, 0.002);
    quotas.ghost = orphans + broken;
    quotas.regular = n - burstImages - quotas.camera - quotas.nonAscii - 2 * rawPairs - quotas.png - quotas.heic;
    const events = new QuotaSampler(quotas);
    const orphanFlags = new QuotaSampler({ yes: orphans, no: quotas.ghost - orphans });
    const brokenFlags = new QuotaSampler({ yes: broken, no: quotas.ghost - broken });

    // every image but the RAW+JPEG pairs (always one shared JSON sidecar) gets a sidecar state
    const units = n - 2 * rawPairs;
    const stateQuotas: Record<SidecarState, number> = {
      none: n < 50 ? Math.round(n * 0.08) : rareQuota(n, 0.08),
      corrupt: rareQuota(n, 0.003, CORRUPTION_KINDS.length),
      bom: rareQuota(n, 0.001),
      legacy: rareQuota(n, 0.004),
      stale: rareQuota(n, 0.002),
      nameExt: rareQuota(n, 0.002),
      normal: 0,
    };
    stateQuotas.normal = units - Object.values(stateQuotas).reduce((a, b) => a + b, 0);
    const states = new QuotaSampler(stateQuotas);

    fs.mkdirSync(path.join(this.root, 'photos'));
    fs.mkdirSync(path.join(this.root, 'games'));
    let dayUs = BASE_DAY_US + rng.int(0, 700) * US_PER_DAY;
    let folderNo = 0;
    while (events.left > 0) {
      const target = rng.int(FOLDER_MIN_IMAGES, FOLDER_MAX_IMAGES);
      const [camW, camH] = rng.pick(CAMERAS);
      const entries: Entry[] = [];
      let t = dayUs + rng.int(8 * 3600, 12 * 3600) * US_PER_SECOND;
      let imageCount = 0;
      let breaks = 0;
      let lastBreak = 0;
      const image = (name: string, state: Entry['state'], linkable = true): void => {
        entries.push({ name, takenAtUs: t, ghost: false, orphan: false, brokenLink: false, state, linkable });
        imageCount++;
      };
      while (imageCount < target && events.left > 0) {
        const kind = events.next(rng)!;
        t += rng.int(1, 40) * US_PER_SECOND;
        // a break between two games (at most 3 a day, so a day never runs past midnight)
        if (entries.length - lastBreak >= MIN_GAME_SHOTS && breaks < MAX_BREAKS_PER_DAY && rng.chance(BREAK_CHANCE)) {
          t += rng.int(GAME_GAP_MIN_S, 5400) * US_PER_SECOND;
          breaks++;
          lastBreak = entries.length;
        }
        switch (kind) {
          case 'regular':
            image(this.names.regular(t), states.next(rng)!);
            break;
          case 'camera':
            image(this.names.camera(), states.next(rng)!);
            break;
          case 'heic':
            image(this.names.heic(), states.next(rng)!);
            break;
          case 'nonAscii':
            image(this.names.nonAscii(), states.next(rng)!);
            break;
          case 'png':
            image(this.names.screenshot(t), states.next(rng)!, false);
            break;
          case 'burst':
            for (const name of this.names.burst(t, 3, this.burstGroupNo++ % 2 === 0)) image(name, states.next(rng)!);
            break;
          case 'rawPair': {
            const [jpg, raw] = this.names.rawPair();
            image(jpg, 'pair');
            image(raw, 'shared', false);
            break;
          }
          case 'ghost':
            entries.push({
              name: this.names.regular(t),
              takenAtUs: t,
              ghost: true,
              orphan: orphanFlags.next(rng) === 'yes',
              brokenLink: brokenFlags.next(rng) === 'yes',
              state: 'none',
              linkable: false,
            });
            break;
        }
      }
      const date = dateFolderName(timeParts(dayUs));
      const games = this.planGames(entries);
      await this.writeDateFolder(date, entries, games, camW, camH, folderNo === 0);
      for (const game of games) await this.writeGameFolder(date, game);
      await this.writer.drain();
      this.applyMtimes();
      folderNo++;
      dayUs += rng.int(1, 4) * US_PER_DAY;
    }
    await this.writer.drain();
    this.counts.withoutSidecar = this.images - this.counts.withSidecar;
    return { root: this.root, images: this.images, sidecars: this.sidecars, counts: this.counts, bytes: this.bytes };
  }

  /** Split a day into games at the breaks (gaps of 30 min or more); decide which shots get a link. */
  private planGames(entries: Entry[]): PlannedGame[] {
    const { rng } = this;
    if (entries.length === 0) return [];
    const bounds = [0];
    for (let i = 1; i < entries.length; i++) {
      if (entries[i].takenAtUs - entries[i - 1].takenAtUs >= GAME_GAP_MIN_S * US_PER_SECOND) bounds.push(i);
    }
    bounds.push(entries.length);
    const games: PlannedGame[] = [];
    for (let g = 0; g + 1 < bounds.length; g++) {
      const chunk = entries.slice(bounds[g], bounds[g + 1]);
      const start = chunk[0].takenAtUs;
      const end = chunk[chunk.length - 1].takenAtUs;
      const s = timeParts(start);
      const id = ++this.gameNo;
      const folder = `Game${id}_${ddMonYYYY(s)}_${hhmmss(s)}-${hhmmss(timeParts(end))}`;
      const game: PlannedGame = { id, folder, startUs: start, endUs: end, entries: chunk };
      for (const e of chunk) {
        e.game = game;
        const linked = e.ghost ? e.brokenLink : e.linkable && rng.chance(LINK_SHARE);
        if (!linked) continue;
        e.link = rng.chance(ABSOLUTE_LINK_SHARE) ? 'absolute' : 'relative';
        // the pipeline mostly ran on the game folders, reading images through the links
        if (!e.ghost && rng.chance(0.8)) e.linkPath = `games/${folder}/${e.name}`;
      }
      games.push(game);
    }
    return games;
  }

  private async write(file: string, bytes: string | Buffer): Promise<number> {
    const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    await this.writer.writeFile(file, data);
    return data.length;
  }

  private async writeSidecar(file: string, bytes: string | Buffer): Promise<void> {
    this.bytes += await this.write(file, bytes);
    this.sidecars++;
  }

  private async writeDateFolder(
    date: string,
    entries: Entry[],
    games: PlannedGame[],
    width: number,
    height: number,
    firstFolder: boolean,
  ): Promise<void> {
    const { rng, counts } = this;
    const dirRel = `photos/${date}`;
    const dir = path.join(this.root, 'photos', date);
    fs.mkdirSync(dir);
    let photos = 0;
    for (const e of entries) {
      const { stem, ext } = splitExt(e.name);
      const portrait = rng.chance(0.15);
      const ctx: ImageContext = {
        imagePath: `${dirRel}/${e.name}`,
        width: portrait ? height : width,
        height: portrait ? width : height,
        takenAtUs: e.takenAtUs,
      };
      if (e.linkPath !== undefined) ctx.linkPath = e.linkPath;
      if (e.game !== undefined) ctx.game = e.game;
      if (this.embeddingLength !== undefined) ctx.embeddingLength = this.embeddingLength;

      if (e.ghost) {
        if (e.orphan) {
          await this.writeSidecar(path.join(dir, `${stem}.json`), pipelineJson(buildSidecar(rng, ctx, drawPlan(rng, ctx))));
          counts.orphans++;
        }
        continue;
      }

      await this.write(path.join(dir, e.name), fakeImageBytes(rng, ext));
      photos++;
      this.images++;
      if (/^\d{8}_\d{6}_\d{3}\./.test(e.name)) counts.bursts++;
      if (ext !== ext.toLowerCase()) counts.upperCaseExt++;
      if (isNonAscii(e.name)) counts.nonAscii++;
      if (e.state === 'none') continue;
      counts.withSidecar++;
      if (e.state === 'shared') continue;

      const plan = drawPlan(rng, ctx);
      if (e.state === 'stale') {
        // a stale snapshot needs sidecar_info and a later operation to have missed
        plan.form = 'merged';
        if (plan.operations.length < 2) plan.operations = ['face_detection', 'yolov8'];
      }
      const data = buildSidecar(rng, ctx, plan);
      const at = (name: string) => path.join(dir, name);
      switch (e.state) {
        case 'pair':
          await this.writeSidecar(at(`${stem}.json`), pipelineJson(data));
          counts.ambiguousClaims++;
          break;
        case 'normal': {
          const format = SAMPLE_FORMATS[rng.weighted(this.mix)];
          // some decomposed (NFD) image names got a composed (NFC) sidecar name
          const sidecarStem = stem !== stem.normalize('NFC') && this.nfdSidecarNo++ % 2 === 1 ? stem.normalize('NFC') : stem;
          await this.writeSidecar(at(`${sidecarStem}.${format === 'json' ? 'json' : 'bin'}`), encodeSample(data, format));
          if (format === 'bin') counts.bin++;
          if (format === 'legacy') counts.legacy++;
          break;
        }
        case 'legacy':
          await this.writeSidecar(at(`${stem}.bin`), encodeSample(data, 'legacy'));
          counts.legacy++;
          break;
        case 'nameExt':
          await this.writeSidecar(at(`${e.name}.json`), pipelineJson(data));
          counts.nameExt++;
          break;
        case 'bom':
          await this.writeSidecar(at(`${stem}.json`), withBom(pipelineJson(data)));
          counts.bom++;
          break;
        case 'corrupt': {
          const kind = CORRUPTION_KINDS[counts.corrupt % CORRUPTION_KINDS.length];
          await this.writeSidecar(at(`${stem}.json`), corruptJson(kind, pipelineJson(data), rng));
          counts.corrupt++;
          break;
        }
        case 'stale': {
          // the .bin holds every operation; the .json next to it was written after the first one
          const useBin = this.mix[1] > 0 && counts.staleJsonNextToBin % 2 === 1;
          const binFile = at(`${stem}.bin`);
          const jsonFile = at(`${stem}.json`);
          await this.writeSidecar(binFile, encodeSample(data, useBin ? 'bin' : 'legacy'));
          if (useBin) counts.bin++;
          else counts.legacy++;
          const stale = staleSnapshot(data);
          await this.writeSidecar(jsonFile, pipelineJson(stale));
          const info = data.sidecar_info as JsonObject;
          this.mtimes.push([jsonFile, isoToSeconds(info.created_at as string)]);
          this.mtimes.push([binFile, isoToSeconds(info.last_updated as string)]);
          counts.staleJsonNextToBin++;
          break;
        }
      }
    }

    const reportGames = (gs: PlannedGame[]): ReportGame[] =>
      gs.map((g) => ({ ...g, photoFiles: g.entries.filter((e) => !e.ghost).map((e) => e.name) }));
    if (firstFolder || rng.chance(0.35)) {
      await this.write(path.join(dir, 'game_detection.json'), pipelineJson(gameReport(rng, dirRel, reportGames(games), photos)));
      counts.reports++;
    }
    if (rng.chance(0.1)) {
      await this.write(path.join(dir, 'game_detection_report.json'), pipelineJson(gameReport(rng, dirRel, reportGames(games), photos)));
      counts.reports++;
    }
  }

  private async writeGameFolder(date: string, game: PlannedGame): Promise<void> {
    const { rng, counts } = this;
    const dirRel = `games/${game.folder}`;
    const dir = path.join(this.root, 'games', game.folder);
    fs.mkdirSync(dir);
    const linked: string[] = [];
    for (const e of game.entries) {
      if (e.link === undefined) continue;
      const target =
        e.link === 'absolute' ? path.join(this.root, 'photos', date, e.name) : `../../photos/${date}/${e.name}`;
      await this.writer.symlink(target, path.join(dir, e.name));
      counts.symlinks++;
      if (e.ghost) counts.brokenSymlinks++;
      else linked.push(e.name);
    }
    if (rng.chance(0.25)) {
      const report: ReportGame = { ...game, photoFiles: linked };
      await this.write(path.join(dir, 'game_detection.json'), pipelineJson(gameReport(rng, dirRel, [report], linked.length)));
      counts.reports++;
    }
  }

  private applyMtimes(): void {
    for (const [file, seconds] of this.mtimes) {
      try {
        fs.utimesSync(file, seconds, seconds);
      } catch (e) {
        throw errors.fromFs(e, file);
      }
    }
    this.mtimes = [];
  }
}

/** The sidecar as it was after its first operation: later operations missing, older times. */
function staleSnapshot(data: JsonObject): JsonObject {
  const info = data.sidecar_info as JsonObject;
  const first = info.operation_type as string;
  const out: JsonObject = {};
  out[first] = data[first];
  out.sidecar_info = { ...info, last_updated: info.created_at, last_operation: first };
  return out;
}

/**
 * Generate a realistic sample library under `dir` (which must be empty or absent).
 * Same `images`, `seed` and `formatMix` → byte-identical files and the same tree.
 */
export async function generateSampleLibrary(dir: string, opts: SampleOptions): Promise<SampleReport> {
  const { images, seed, mix, embeddingLength } = checkOptions(opts);
  const root = await prepareRoot(dir);
  try {
    return await new Generator(root, images, seed, mix, embeddingLength).run();
  } catch (e) {
    // fs failures carry an errno code; anything else is a bug here
    if (isSidecarError(e) || typeof (e as NodeJS.ErrnoException)?.code === 'string') throw errors.fromFs(e);
    throw errors.internal(`sample generation failed: ${String(e)}`, e);
  }
}
