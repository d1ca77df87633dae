/**
 * The process's own standard output by a path's name (`/dev/stdout`, `/dev/fd/1`, `/proc/self/fd/1`):
 * the same as `-`. Opened as a path, a shell's `>> log.txt` behind it was followed to the file and
 * a new file renamed over it (the log was lost), and an export named its rows after `/dev/stdout`.
 */
export function isStdoutName(p: string): boolean {
  return p === '/dev/stdout' || p === '/dev/fd/1' || p === '/proc/self/fd/1';
}
