/**
 * Sidecar symlinks, by the file each reads: a file one of them leads to is not removed (convert),
 * quarantined (cleanup, resolve) nor moved (relink, mv) while the link is there. Links outside the
 * folders looked at are not seen.
 */
import { readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { errors } from '../errors.js';
import { isSidecarName } from '../discovery/pair.js';
import { SKIP_DIR_NAMES } from '../discovery/own-folders.js';
import { walkTree } from '../discovery/walk.js';

/** Real path → the link that leads there. */
export type SidecarLinks = Map<string, string>;

/**
 * The files the tree's sidecar symlinks lead to: converting one removes the file a link reads
 * (B.json → A.json: image B lost its data when A.json became A.bin). One walk of names; a realpath
 * per sidecar-named symlink only. Links from outside the tree are not seen.
 */
export async function sidecarLinkTargets(root: string, signal?: AbortSignal): Promise<{ targets: SidecarLinks; unlisted?: string }> {
  const out: SidecarLinks = new Map();
  let unlisted: string | undefined;
  for await (const dir of walkTree(root, { skipDirNames: SKIP_DIR_NAMES, signal, onProblem: (p) => void (unlisted ??= p.shown ?? p.path) })) {
    for (const e of dir.entries) if (e.kind === 'symlink' && e.unaddressable !== true) addLink(out, dir.path, e.name);
  }
  return unlisted === undefined ? { targets: out } : { targets: out, unlisted };
}

/**
 * `sidecarLinkTargets` for a command about to remove or move files: a folder the walk could not
 * list may hold a link reading any of them, so then nothing goes (INCOMPLETE_SCAN: `what` it may
 * read, and what is not done: `consequence`).
 */
export async function sidecarLinksOrRefuse(root: string, what: string, consequence: string): Promise<SidecarLinks> {
  const { targets, unlisted } = await sidecarLinkTargets(root);
  if (unlisted !== undefined) throw errors.incompleteScan(`${unlisted} could not be listed (a sidecar link there may read ${what}); ${consequence}`);
  return targets;
}

/** The sidecar links of one folder (none when it cannot be listed: its own finding comes from elsewhere). */
export function sidecarLinksIn(dir: string): SidecarLinks {
  const out: SidecarLinks = new Map();
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isSymbolicLink()) addLink(out, dir, e.name);
  } catch {
    // unreadable
  }
  return out;
}

/** The link of `links` that reads the file at `path` (followed to its real path), if any. */
export function linkReading(links: SidecarLinks, path: string): string | undefined {
  if (links.size === 0) return undefined;
  try {
    return links.get(realpathSync(path));
  } catch {
    return links.get(path);
  }
}

function addLink(out: SidecarLinks, dir: string, name: string): void {
  if (!isSidecarName(name)) return;
  const link = join(dir, name);
  try {
    out.set(realpathSync(link), link);
  } catch {
    // a broken link reads nothing
  }
}
