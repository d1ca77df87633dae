/**
 * THE partition of a tree into N shards (docs/SCALE.md states it for other implementations).
 *
 *   key     NFC of the image group's path without extension, relative to the root, POSIX:
 *           `<dir>/<stem>` (`<stem>` at the root). The group is pair.ts's: its stem is the
 *           smallest NFC stem of its images, or for a group without images the smallest NFC
 *           base of its sidecars (name minus `.json`/`.bin`/`.rkyv`). A file that belongs to no
 *           group (hash: reports, `--all-files`) uses its own NFC stem.
 *   hash    h = fmix32(FNV-1a-32(UTF-8(key)))   (murmur3's finaliser mixes the low bits)
 *   shard   h mod N
 *
 * A group never splits (one key per group), and the shard of a file depends only on the names in
 * its folder, never on the machine, the run or the order of the walk. The filter runs in the scan
 * before a record is built, so a shard never opens or stats the sidecars of another shard.
 */
import { errors } from '../errors.js';
import { nfc, splitName } from './extensions.js';
import type { PairGroup } from './pair.js';

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

const join = (dirRel: string, stem: string) => (dirRel === '' ? stem : `${dirRel}/${stem}`);

/** The partition key of a group of folder `dirRel` (see the header). */
export function groupShardKey(dirRel: string, group: PairGroup): string {
  let best: string | null = null;
  if (group.images.length > 0) {
    for (const i of group.images) {
      const s = nfc(splitName(i.name).stem);
      if (best === null || s < best) best = s;
    }
  } else {
    for (const sc of group.sidecars) {
      const s = nfc(sc.name.slice(0, sc.name.length - sc.ext.length - 1));
      if (best === null || s < best) best = s;
    }
  }
  return nfc(join(dirRel, best ?? ''));
}

/** The partition key of a file that is in no group (its own stem). */
export function nameShardKey(dirRel: string, name: string): string {
  return nfc(join(dirRel, splitName(name).stem));
}

/** Decides membership; built once per command, used in the walk loop. */
export class ShardFilter {
  constructor(readonly spec: ShardSpec) {}

  ownsKey(key: string): boolean {
    return this.spec.count === 1 || shardHash(key) % this.spec.count === this.spec.index;
  }

  ownsGroup(dirRel: string, group: PairGroup): boolean {
    return this.spec.count === 1 || this.ownsKey(groupShardKey(dirRel, group));
  }

  ownsName(dirRel: string, name: string): boolean {
    return this.spec.count === 1 || this.ownsKey(nameShardKey(dirRel, name));
  }

  /**
   * For walkers that see files rather than groups (hash): is this file of folder `dirRel` ours?
   * A file of a group goes with its group; any other file by its own stem.
   */
  fileOwnership(dirRel: string, groups: readonly PairGroup[]): (name: string) => boolean {
    if (this.spec.count === 1) return () => true;
    const byName = new Map<string, boolean>();
    for (const g of groups) {
      const mine = this.ownsGroup(dirRel, g);
      for (const i of g.images) byName.set(i.name, mine);
      for (const s of g.sidecars) byName.set(s.name, mine);
    }
    return (name) => byName.get(name) ?? this.ownsName(dirRel, name);
  }
}

export function shardFilter(spec: ShardSpec | undefined): ShardFilter | null {
  return spec ? new ShardFilter(spec) : null;
}
