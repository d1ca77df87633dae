/**
 * `restore --list`: the quarantine folders of a root, oldest first, with what each holds
 * (from its manifest). Read only. A folder whose manifest cannot be read is listed with the
 * reason, never skipped: it may hold files someone wants back. A folder a cleanup killed before its
 * manifest left (nothing but that unfinished manifest in it: quarantine-folder.ts) is no quarantine:
 * it is listed apart, under `abandoned`, and the next cleanup or restore removes it.
 */
import { lstat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isSidecarError } from '../errors.js';
import { QUARANTINE_DIR } from '../discovery/own-folders.js';
import { ABANDONED_REASON, MANIFEST_NAME, quarantineBase, quarantineFolderNames, quarantineFolderState, type QuarantineManifest } from './quarantine-folder.js';
import { folderKey, readManifest } from './restore.js';

export interface QuarantineFolder {
  name: string;
  path: string;
  /** From the manifest; null when there is none, it cannot be read, or its created_at names no time (`problem` says so). */
  created_at: string | null;
  /** 'complete', 'planned' (a run that stopped before the end), or null without a manifest. */
  status: string | null;
  /** Files listed in the manifest (still in the quarantine). */
  files: number;
  bytes: number;
  /** Why the manifest could not be read (the folder is then not restorable as is), or what is damaged in it. */
  problem: string | null;
}

export interface AbandonedFolder {
  name: string;
  path: string;
  /** Why it holds nothing to restore. */
  reason: string;
}

export interface QuarantineList {
  quarantine: string;
  folders: QuarantineFolder[];
  /** Folders with nothing to restore that the next cleanup or restore removes; never in `folders`. */
  abandoned: AbandonedFolder[];
}

/**
 * A manifest whose created_at names no time is still restored (restore.ts): a file that lists the
 * sidecars beside it needs no time, one that does not stays wherever a sidecar stands beside it now.
 */
function timeDamageProblem(damage: string, m: QuarantineManifest): string {
  const undated = m.entries.filter((e) => e.beside === undefined).length;
  if (undated === 0) return `the manifest's ${damage}; restore does not need it (each file lists the sidecars beside it)`;
  return `the manifest's ${damage}: of the ${undated} file(s) it lists without the sidecars beside them, restore leaves in the quarantine each one a sidecar of its image now stands beside (whether that sidecar was saved since cannot be told)`;
}

export async function listQuarantines(root: string): Promise<QuarantineList> {
  const rootAbs = resolve(root);
  // A symlink planted as the quarantine is refused, as restore refuses it (never read through).
  const base = await quarantineBase(rootAbs);
  if (base === null) return { quarantine: join(rootAbs, QUARANTINE_DIR), folders: [], abandoned: [] };
  const names = await quarantineFolderNames(base);
  if (names === null) return { quarantine: base, folders: [], abandoned: [] };
  names.sort((a, b) => {
    const [sa, na] = folderKey(a);
    const [sb, nb] = folderKey(b);
    return sa < sb ? -1 : sa > sb ? 1 : na - nb;
  });
  const folders: QuarantineFolder[] = [];
  const abandoned: AbandonedFolder[] = [];
  for (const name of names) {
    const path = join(base, name);
    const entry: QuarantineFolder = { name, path, created_at: null, status: null, files: 0, bytes: 0, problem: null };
    const manifest = join(path, MANIFEST_NAME);
    const exists = await lstat(manifest).then(
      () => true,
      () => false,
    );
    if (!exists) {
      const state = await quarantineFolderState(path);
      if (state.kind === 'gone') continue;
      if (state.kind === 'abandoned') {
        abandoned.push({ name, path, reason: `${ABANDONED_REASON}: nothing to restore` });
        continue;
      }
      if (state.kind === 'no-manifest') entry.problem = `no manifest, but it holds ${state.entries} entr${state.entries === 1 ? 'y' : 'ies'}: restore cannot put them back`;
      else if (state.kind === 'being-written') entry.problem = 'no manifest yet (a cleanup running now is writing it: nothing has moved yet)';
      else entry.problem = 'no manifest (nothing was moved into it)'; // written meanwhile; read it next time
    } else {
      try {
        const { manifest: m, createdAtDamage } = await readManifest(manifest);
        entry.created_at = createdAtDamage === null ? m.created_at : null;
        entry.status = m.status;
        entry.files = m.entries.length;
        entry.bytes = m.entries.reduce((n, e) => n + e.size, 0);
        if (createdAtDamage !== null) entry.problem = timeDamageProblem(createdAtDamage, m);
      } catch (e) {
        if (!isSidecarError(e)) throw e;
        if (e.code === 'NOT_FOUND' && (await quarantineFolderState(path)).kind === 'gone') continue; // a restore removed it meanwhile
        entry.problem = e.message;
      }
    }
    folders.push(entry);
  }
  return { quarantine: base, folders, abandoned };
}
