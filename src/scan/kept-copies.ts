/**
 * Kept copies written after the file reads take (docs/PAIRING.md §4): a tool writing `<stem>.json`
 * itself after a migration to `.bin` leaves its newest results in a file every read passes over.
 * One rule for the scan's `kept-newer` finding (validate's warning) and read's `kept` message.
 */
import { decodeSidecar, deepEqualJson } from '../formats/codec.js';
import { DEFAULT_MAX_FILE_SIZE, readFileLimitedSync } from '../fs/read-file.js';
import { statIdentity } from '../fs/identity.js';

/**
 * Of `kept`, the copies modified after `read` whose data is not `read`'s (a copy made newer with
 * the same data — `cp`, an unzip, a checkout — holds nothing reads miss). A file that cannot be
 * decoded here (encrypted, damaged) counts as different: what it holds cannot be told.
 */
export function newerKeptCopies(read: string, kept: readonly string[]): string[] {
  const readAt = mtimeNsOf(read);
  if (readAt === null) return [];
  const newer = kept.filter((k) => (mtimeNsOf(k) ?? -1n) > readAt);
  if (newer.length === 0) return newer;
  const data = dataOf(read);
  return newer.filter((k) => {
    const other = data === undefined ? undefined : dataOf(k);
    return other === undefined || !deepEqualJson(other, data!);
  });
}

/** A sidecar's mtime (ns), through its symlink; null when no regular file is there. */
function mtimeNsOf(path: string): bigint | null {
  return statIdentity(path)?.mtimeNs ?? null;
}

function dataOf(path: string): ReturnType<typeof decodeSidecar>['data'] | undefined {
  try {
    return decodeSidecar(readFileLimitedSync(path, DEFAULT_MAX_FILE_SIZE), { path }).data;
  } catch {
    return undefined;
  }
}
