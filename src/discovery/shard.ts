/**
 * THE partition of a tree into N shards (docs/SCALE.md states it for other implementations).
 *
 *   root    a file name, NFC, without its sidecar extension (`.json` / `.bin` / `.rkyv`, as pair.ts
 *           reads them), then without image extensions as long as it ends in one:
 *           IMG_1.jpg, IMG_1.json, IMG_1.jpg.bin → IMG_1
 *   key     `<folder relative to the root, POSIX, NFC>/<root>` (`<root>` alone at the top)
 *   hash    h = fmix32(FNV-1a-32(UTF-8(key)))   (murmur3's finaliser mixes the low bits)
 *   shard   h mod N
 *
 * Every name claim of pair.ts (a sidecar's base is an image's stem or its full name) joins names
 * with the same root, so a group never splits; and a file's shard follows from its own name and
 * folder alone: the same on every machine and every run, whatever else the folder holds. The scan
 * drops other shards' names before pairing, so a shard never opens or stats their sidecars.
 */
import { errors } from '../errors.js';
import { nfc, splitName } from './extensions.js';
import { sidecarExtOf } from './pair.js';

/** Name and version of the partition rule, recorded in every shard output. */
export const PARTITION = 'isc-shard-v1';

export interface ShardSpec {
  /** 0-based. */
  index: number;
  count: number;
}

/** Environment variables `--shard auto/N` reads, in this order, with the base of their numbering. */
export const SHARD_ENV_SOURCES: ReadonlyArray<{ name: string; base: 0 | 1; scheduler: string }> = [
  { name: 'JOB_COMPLETION_INDEX', base: 0, scheduler: 'Kubernetes Indexed Job' },
  { name: 'SLURM_ARRAY_TASK_ID', base: 0, scheduler: 'Slurm job array' },
  { name: 'PARALLEL_SEQ', base: 1, scheduler: 'GNU parallel' },
];

/** The most shards a partition may have (a shard per job, not per file). */
export const MAX_SHARDS = 65_536;

export interface ParsedShard extends ShardSpec {
  /** Where the index came from: 'argument' or the environment variable's name. */
  source: string;
  /** A sentence for stderr when the index came from the environment. */
  note?: string;
}

const wholeNumber = (s: string) => /^\d{1,9}$/.test(s);

/**
 * `I/N` (0-based I) or `auto/N`. For `auto`, the first of JOB_COMPLETION_INDEX (0-based),
 * SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN when that is set, so `--array=1-8` works as
 * well as `--array=0-7`) and PARALLEL_SEQ (1-based) that is set.
 */
export function parseShard(text: string, env: NodeJS.ProcessEnv): ParsedShard {
  const m = /^\s*([^/\s]+)\s*\/\s*([^/\s]+)\s*$/.exec(text);
  if (!m) throw errors.badShard(text, 'expected I/N (e.g. 0/8) or auto/N');
  const [, first, second] = m;
  if (!wholeNumber(second) || Number(second) < 1 || Number(second) > MAX_SHARDS) throw errors.badShard(text, `N must be a whole number from 1 to ${MAX_SHARDS}`);
  const count = Number(second);
  if (first !== 'auto') {
    if (!wholeNumber(first)) throw errors.badShard(text, 'I must be a whole number (0-based) or "auto"');
    const index = Number(first);
    if (index >= count) throw errors.badShard(text, `I is 0-based: it must be below N (0 to ${count - 1})`);
    return { index, count, source: 'argument' };
  }
  for (const src of SHARD_ENV_SOURCES) {
    const raw = env[src.name];
    if (raw === undefined || raw.trim() === '') continue;
    const value = raw.trim();
    if (!wholeNumber(value)) throw errors.badShard(text, `${src.name}=${raw} is not a whole number`);
    let index = Number(value) - src.base;
    let how = `${src.name}=${value}`;
    if (src.name === 'SLURM_ARRAY_TASK_ID') {
      const min = env.SLURM_ARRAY_TASK_MIN?.trim();
      if (min !== undefined && min !== '') {
        if (!wholeNumber(min)) throw errors.badShard(text, `SLURM_ARRAY_TASK_MIN=${min} is not a whole number`);
        index = Number(value) - Number(min);
        how += ` - SLURM_ARRAY_TASK_MIN=${min}`;
      }
    } else if (src.base === 1) {
      how += ' - 1';
    }
    if (index < 0 || index >= count) throw errors.badShard(text, `${how} gives shard ${index}, outside 0 to ${count - 1}`);
    return { index, count, source: src.name, note: `shard ${index}/${count} from ${how} (${src.scheduler})` };
  }
  throw errors.badShard(text, `auto needs one of ${SHARD_ENV_SOURCES.map((s) => s.name).join(', ')} in the environment`);
}

/** FNV-1a (32 bit) over the UTF-8 bytes of `s`, then murmur3's fmix32. */
export function shardHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, 0x01000193);
      continue;
    }
    // Encode the code point as UTF-8 (a lone surrogate as U+FFFD, as Buffer.from would).
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      } else c = 0xfffd;
    } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    const bytes = c < 0x800 ? [0xc0 | (c >> 6), 0x80 | (c & 63)] : c < 0x10000 ? [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63)] : [0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63)];
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The shard a key belongs to. */
export function shardOfKey(key: string, count: number): number {
  return count === 1 ? 0 : shardHash(nfc(key)) % count;
}

/** The partition root of a file name (see the header). */
export function nameRoot(name: string, imageExts: ReadonlySet<string>): string {
  let n = nfc(name);
  const ext = sidecarExtOf(n);
  if (ext !== null) n = n.slice(0, n.length - ext.length - 1);
  for (;;) {
    const { stem, ext: e } = splitName(n);
    if (e === '' || !imageExts.has(e)) return n;
    n = stem;
  }
}

/** The partition key of a file of folder `dirRel` (POSIX, relative to the root). */
export function shardKey(dirRel: string, name: string, imageExts: ReadonlySet<string>): string {
  const r = nameRoot(name, imageExts);
  return dirRel === '' ? r : `${nfc(dirRel)}/${r}`;
}

/** Decides membership; built once per command, used in the walk loop. */
export class ShardFilter {
  constructor(
    readonly spec: ShardSpec,
    protected readonly imageExts: ReadonlySet<string>,
  ) {}

  ownsKey(key: string): boolean {
    return this.spec.count === 1 || shardHash(key) % this.spec.count === this.spec.index;
  }

  /** Membership of the names of one folder (its NFC prefix computed once). */
  folder(dirRel: string): (name: string) => boolean {
    if (this.spec.count === 1) return () => true;
    const prefix = dirRel === '' ? '' : `${nfc(dirRel)}/`;
    return (name) => this.ownsKey(prefix + nameRoot(name, this.imageExts));
  }

  /** The positions, in order, of the names of a folder's listing (sorted by name, walk.ts) this filter owns. */
  namesOf(dirRel: string, names: readonly { name: string }[]): number[] {
    const owns = this.folder(dirRel);
    const out: number[] = [];
    for (let i = 0; i < names.length; i++) if (owns(names[i].name)) out.push(i);
    return out;
  }
}

export function shardFilter(spec: ShardSpec | undefined, imageExts: ReadonlySet<string>): ShardFilter | null {
  return spec ? new ShardFilter(spec, imageExts) : null;
}
