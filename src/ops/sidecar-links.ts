/**
 * Sidecar symlinks of a tree, by the file each reads: a file one of them leads to is not removed
 * (convert), quarantined (cleanup, resolve) nor moved (relink) while the link is there. Links
 * outside the tree walked are not seen.
 */
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { isSidecarName } from '../discovery/pair.js';
import { SKIP_DIR_NAMES } from '../discovery/own-folders.js';
import { walkTree } from '../discovery/walk.js';

/**
 * The files the tree's sidecar symlinks lead to (real path → the link): converting one removes the
 * file a link reads (B.json → A.json: image B lost its data when A.json became A.bin). One walk of
 * names before the conversion; a realpath per sidecar-named symlink only. Links from outside the
 * tree converted are not seen.
 */
export async function sidecarLinkTargets(root: string, signal?: AbortSignal): Promise<{ targets: Map<string, string>; unlisted?: string }> {
  const out = new Map<string, string>();
  let unlisted: string | undefined;
  for await (const dir of walkTree(root, { skipDirNames: SKIP_DIR_NAMES, signal, onProblem: (p) => void (unlisted ??= p.path) })) {
    for (const e of dir.entries) {
      if (e.kind !== 'symlink' || e.unaddressable === true || !isSidecarName(e.name)) continue;
      const link = join(dir.path, e.name);
      try {
        out.set(realpathSync(link), link);
      } catch {
        /* a broken link reads nothing */
      }
    }
  }
  return unlisted === undefined ? { targets: out } : { targets: out, unlisted };
}
