/**
 * The process's own standard output as an output's name: `-`, or a path naming it (`/dev/stdout`,
 * `/dev/fd/1`, `/proc/self/fd/1`). Opened as a path, a shell's `>> log.txt` behind it was followed
 * to the file and a new file renamed over it (the log was lost), an export named its rows after
 * `/dev/stdout`, and the server wrote an export into its own responses.
 */
export function isStdoutName(p: string): boolean {
  return p === '-' || p === '/dev/stdout' || p === '/dev/fd/1' || p === '/proc/self/fd/1';
}
