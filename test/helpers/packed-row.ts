/**
 * One result's packed row, made as the reading task makes it (tasks/inspect.ts): the result packed
 * alone as a batch (inspect-wire.ts packInspections), its row 0. What tests give `fileEntry`, and
 * the bytes they hold a row among others to (packRowAt writes the same whichever batch it is in).
 */
import { packInspections, packRowAt, PACKED_RESULT_ROOM, rowStrings } from '../../src/tasks/inspect-wire.js';
import type { EntryRow } from '../../src/tasks/index-entry.js';
import type { FileInspection } from '../../src/model/inspection.js';

/** `r`'s row, packed alone. */
export function rowOf(r: FileInspection): EntryRow {
  const { packed } = packInspections([r], [{ path: r.path, name: '' }]);
  return { wire: packed, strings: rowStrings(packed), i: 0, j: 0 };
}

/** `r` in the packed form at `at` in `out` (a DataView of all of `out`), no byte at or past `end`: where it ends, or -1 (packRowAt). */
export function packResultAt(r: FileInspection, out: Buffer, view: DataView, at: number, end: number): number {
  const row = rowOf(r);
  return packRowAt(row.wire, 0, 0, row.strings, out, view, at, end);
}

/** `r` in the packed form (a copy), or null when the columns do not carry all of it. */
export function packResult(r: FileInspection): Uint8Array | null {
  const out = Buffer.alloc(PACKED_RESULT_ROOM);
  const end = packResultAt(r, out, new DataView(out.buffer, out.byteOffset, out.length), 0, PACKED_RESULT_ROOM);
  return end < 0 ? null : out.subarray(0, end);
}
