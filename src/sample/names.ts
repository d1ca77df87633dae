/**
 * File names as cameras, phones and people make them: `20250920_143022.jpg`, bursts
 * `20250920_143022_001.jpg`, `IMG_1234.JPG` / `DSC_0042.JPG`, RAW+JPEG pairs, screenshots with
 * spaces and dots, and non-ASCII names (one family stored decomposed, NFD, as macOS leaves them).
 */
import type { Rng } from './prng.js';
import { compactStamp, timeParts } from './time.js';

/** Non-ASCII (and spaced) name prefixes; those listed in NFD_PREFIXES are written decomposed. */
const NON_ASCII_PREFIXES = ['Équipe_été_', '日本_', 'Zürich Derby ', 'Ñandú_', 'Команда_', 'Größe Finale '];
const NFD_PREFIXES = new Set([0, 2]);

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

export class NameMaker {
  private imgCounter: number;
  private dscCounter: number;
  private nonAsciiCount = 0;
  private cameraCount = 0;

  constructor(rng: Rng) {
    this.imgCounter = rng.int(1000, 7000);
    this.dscCounter = rng.int(1, 900);
  }

  /** Camera counters run 0001–9999 and wrap, like the cameras do. */
  private nextImg(): string {
    this.imgCounter = (this.imgCounter % 9999) + 1;
    return `IMG_${pad(this.imgCounter, 4)}`;
  }

  private nextDsc(): string {
    this.dscCounter = (this.dscCounter % 9999) + 1;
    return `DSC_${pad(this.dscCounter, 4)}`;
  }

  stamp(us: number): string {
    return compactStamp(timeParts(us));
  }

  /** `20250920_143022.jpg` */
  regular(us: number): string {
    return `${this.stamp(us)}.jpg`;
  }

  /** `20250920_143022_001.jpg` … `_00<count>.jpg`, optionally after the plain `20250920_143022.jpg`. */
  burst(us: number, count: number, withBase: boolean): string[] {
    const stamp = this.stamp(us);
    const out: string[] = withBase ? [`${stamp}.jpg`] : [];
    for (let i = 1; i <= count; i++) out.push(`${stamp}_${pad(i, 3)}.jpg`);
    return out;
  }

  /** `IMG_1234.JPG` or `DSC_0042.JPG` (upper-case extension). */
  camera(): string {
    return `${this.cameraCount++ % 2 === 0 ? this.nextImg() : this.nextDsc()}.JPG`;
  }

  /** `IMG_1235.HEIC` */
  heic(): string {
    return `${this.nextImg()}.HEIC`;
  }

  /** RAW+JPEG pair sharing one stem: `DSC_0043.JPG`, `DSC_0043.CR2`. */
  rawPair(): [string, string] {
    const stem = this.nextDsc();
    return [`${stem}.JPG`, `${stem}.CR2`];
  }

  /** `Screenshot 2025-09-20 at 14.30.22.png` — spaces, and dots inside the stem. */
  screenshot(us: number): string {
    const p = timeParts(us);
    return `Screenshot ${p.year}-${pad(p.month, 2)}-${pad(p.day, 2)} at ${pad(p.hour, 2)}.${pad(p.minute, 2)}.${pad(p.second, 2)}.png`;
  }

  /** `Équipe_été_01.jpg` (NFD on disk), `日本_02.jpg`, `Zürich Derby 03.jpg`, … */
  nonAscii(): string {
    const i = this.nonAsciiCount++;
    const prefix = NON_ASCII_PREFIXES[i % NON_ASCII_PREFIXES.length];
    const name = `${prefix}${pad(i + 1, 2)}.jpg`;
    return NFD_PREFIXES.has(i % NON_ASCII_PREFIXES.length) ? name.normalize('NFD') : name;
  }
}
