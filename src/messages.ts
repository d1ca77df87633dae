/**
 * The sentences the earlier tool's Python wrappers find with regexes in stdout. Their wording is
 * a contract: `Removed (\d+)` (cleanup), `Exported (\d+)` (export); `Converted N ...` (convert).
 * Each names the unit it counts (README "Categories": sidecar files, images); digits only, no
 * thousands separators, so `\d+` reads the whole number.
 * A dry run never says "Removed": a wrapper must not mistake a plan for a removal.
 */

export function cleanupMessage(dryRun: boolean, n: number): string {
  return dryRun ? `Would remove ${n} orphaned sidecar files` : `Removed ${n} orphaned sidecar files`;
}

export function convertMessage(dryRun: boolean, n: number, format: string): string {
  return dryRun ? `Would convert ${n} sidecar files to ${format}` : `Converted ${n} sidecar files to ${format}`;
}

/** `n` counts images (one entry per image with a readable sidecar), and says so; the number stays right after "Exported ". */
export function exportMessage(n: number, output: string): string {
  return `Exported ${n} images to: ${output}`;
}

export function restoreMessage(dryRun: boolean, n: number): string {
  return dryRun ? `Would restore ${n} sidecar files` : `Restored ${n} sidecar files`;
}

export function resolveMessage(dryRun: boolean, images: number, files: number): string {
  return dryRun
    ? `Would resolve ${images} images: ${files} sidecar files to the quarantine`
    : `Resolved ${images} images: ${files} sidecar files moved to the quarantine`;
}
