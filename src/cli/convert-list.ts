/**
 * `convert --list`: every action of a conversion (or of its plan, with --dry-run) as one line —
 * source → target, the skip reason or the conflict. Paths are shown relative to the root.
 */
import { relative } from 'node:path';
import type { ConvertItem } from '../ops/convert.js';
import { SpooledArray } from './json-writer.js';
import type { Style } from './style.js';

/** Without --list / --no-list, a terminal gets the whole plan when it has at most this many actions. */
export const SHORT_PLAN = 40;

const SKIP_REASONS: Record<string, string> = {
  'skip-already': 'already in the target format',
  'skip-corrupt': 'cannot be read or decoded',
  'skip-outside-root': 'next to a symlink target outside the root',
  'skip-symlink': 'a symlinked sidecar (never written through)',
  'skip-not-sidecar': 'not a sidecar (report or other JSON)',
  'skip-orphan': 'no image (an orphan, or beside a file of an unknown type): never converted',
};

function rel(root: string, p: string | null): string {
  if (p === null) return '-';
  const r = relative(root, p);
  return r === '' ? '.' : r;
}

/** The message without the path the line already shows. */
function why(item: ConvertItem, fallback: string): string {
  const m = item.error?.message ?? fallback;
  return m.startsWith(`${item.source}: `) ? m.slice(item.source.length + 2) : m;
}

/** One line for an item: `convert  a/x.json → a/x.bin`, `skip  a/r.json: not a sidecar …`, `conflict  …: why`. */
export function convertItemLine(root: string, item: ConvertItem, dryRun: boolean, style: Style): string {
  const src = rel(root, item.source);
  const arrow = item.target !== null && item.target !== item.source ? ` → ${rel(root, item.target)}` : '';
  if (item.action === 'conflict') return `${style.yellow('conflict')}  ${src}${arrow}: ${why(item, 'the files of this image disagree')}`;
  const reason = SKIP_REASONS[item.action];
  if (!item.ok) return `${style.red('failed')}    ${src}${arrow}: ${reason !== undefined ? `${reason}: ` : ''}${why(item, 'failed')}`;
  if (reason !== undefined) {
    return `${style.dim('skip')}      ${src}: ${item.action === 'skip-corrupt' && item.error ? `${reason}: ${why(item, '')}` : reason}`;
  }
  if (item.action === 'dedupe') return `${dryRun ? 'remove' : 'removed'}    ${src} (same data as ${rel(root, item.target)})`;
  const verb = item.action === 'rewrite' ? 'rewrite' : 'convert';
  return `${verb}   ${src}${arrow}${item.action === 'rewrite' ? ' (in place)' : ''}`;
}

/** The JSON form of an item in `items`: paths as given, plus a readable reason. */
export function convertItemJson(item: ConvertItem): ConvertItem & { reason?: string } {
  const reason = SKIP_REASONS[item.action];
  return reason === undefined ? item : { ...item, reason };
}

/**
 * What `convert` keeps of its items for the output, by list mode:
 *   'all' + JSON   every item, for `items` — spooled to a temp file as it comes (SpooledArray), so
 *                  memory does not grow with the tree; the document's bytes are unchanged;
 *   'all' + human  nothing: each line is printed as it happens (by the caller);
 *   'short'        the first SHORT_PLAN + 1 items (enough to know the plan was longer);
 *   'none'         nothing.
 * Problems (failed, conflicts) are kept apart by the caller, bounded.
 */
export class ConvertListing {
  /** Items kept in memory (short mode only; bounded by SHORT_PLAN + 1). */
  readonly shown: ConvertItem[] = [];
  /** Every item, in JSON form, for `items` ('all' + JSON only). */
  readonly items: SpooledArray | null;
  count = 0;

  constructor(private readonly mode: 'all' | 'short' | 'none', human: boolean) {
    this.items = mode === 'all' && !human ? new SpooledArray() : null;
  }

  add(item: ConvertItem): void {
    this.count++;
    if (this.items) this.items.push(convertItemJson(item));
    else if (this.mode === 'short' && this.shown.length <= SHORT_PLAN) this.shown.push(item);
  }

  /** Remove the spool file (after the output is written, or on failure). */
  dispose(): void {
    this.items?.dispose();
  }
}

/**
 * The warning for files in the quarantine not encrypted as an encrypting, decrypting or
 * re-encrypting run asks (ConvertReport.quarantinedFiles): no command converts the quarantine, and
 * restore puts its files back as they are (an orphan stays one, which no run converts either).
 */
export function quarantinedWarning(n: number, run: 'encrypt' | 'decrypt' | 'rekey'): string {
  const where = `${n} file(s) in the quarantine (.image-sidecar-quarantine; restore --list shows its folders)`;
  if (run === 'encrypt') return `warning: ${where} are not encrypted as this run asks (in plaintext, or under another key; no command converts the quarantine): keep any key they need while you may restore them, and delete those folders once you no longer need them`;
  return `warning: ${where} are still under ${run === 'rekey' ? 'the old key' : 'their key'} (no command converts the quarantine): keep that key while you may restore them, or delete those folders once you no longer need them`;
}

/** The warning for a quarantine that could not be looked at (ConvertReport.quarantineUnchecked). */
export function quarantineUncheckedWarning(why: string): string {
  return `warning: the quarantine could not be looked at (${why}): files there may still need the key; keep it until that is settled`;
}
