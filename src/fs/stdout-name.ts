/**
 * The process's own standard output as an output's name: `-`, a path naming it (`/dev/stdout`,
 * `/dev/fd/1`, `/proc/self/fd/1`, however spelled: `/dev//stdout`, `/dev/./stdout`), or any other
 * path to the very file fd 1 is (`/proc/thread-self/fd/1`, `/proc/<pid>/fd/1`, a link to
 * `/dev/stdout`). Opened as a path, a shell's `>> log.txt` behind it was followed to the file and a
 * new file renamed over it (the log was lost), an export named its rows after `/dev/stdout`, and
 * the server wrote an export into its own responses.
 */
import { fstatSync, statSync } from 'node:fs';
import { normalize } from 'node:path';

const NAMES: ReadonlySet<string> = new Set(['/dev/stdout', '/dev/fd/1', '/proc/self/fd/1']);

export function isStdoutName(p: string): boolean {
  if (p === '-' || NAMES.has(normalize(p))) return true;
  try {
    const out = fstatSync(1, { bigint: true });
    const at = statSync(p, { bigint: true, throwIfNoEntry: false });
    return at !== undefined && at.dev === out.dev && at.ino === out.ino;
  } catch {
    return false; // no fd 1, or a path that cannot be looked at: not standard output
  }
}
