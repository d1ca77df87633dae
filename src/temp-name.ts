/**
 * The grammar of our temp-file names (fs/temp-files.ts makes and sweeps the files): on the ground
 * floor because an error's path never shows one (errors.ts names the file it was going to replace).
 *
 *   .<basename>.isc-tmp-<host>-<pid>-<unique>   or, before host marks,   .<basename>.isc-tmp-<pid>-<unique>
 */

// The basename itself may contain anything, so match from the end. The unique part has no '-', so
// the two forms cannot be mistaken for each other. Groups: 1 host mark (absent: the old form), 2 pid.
export const TEMP_NAME_RE = /\.isc-tmp-(?:([0-9a-f]{8})-)?(\d+)-[0-9a-z]+$/;

/** The file a temp file was going to replace ("IMG_1.json" for ".IMG_1.json.isc-tmp-<host>-12-ab"; its first 200 bytes for a longer name), or null. */
export function tempTargetName(name: string): string | null {
  if (name.charCodeAt(0) !== 46) return null;
  const m = TEMP_NAME_RE.exec(name);
  return m ? name.slice(1, m.index) : null;
}
