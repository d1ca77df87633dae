/** The index entries a reading thread makes (tasks/index-entry.ts makes them, incremental/scan-index.ts stores them). */

/** What the inspecting thread needs to make entries (InspectOptions.indexEntries). */
export interface EntryOptions {
  /** Files whose ctime is at or after this (ms since the epoch, an integer) are not stored. */
  racyCutoffMs: number;
  /** The scan's root as given, resolved: a file's entry is keyed by its path relative to it (as incremental/scan-index.ts looks it up). */
  root: string;
  /** The number of this run's option set in the index it writes: the number of the result in a file entry. */
  keyNo: number;
  /**
   * A first run (the index holds nothing, so every entry made is stored, none is compared with a
   * stored one): a reading thread's batch hands its entries to the main thread as one block
   * (`EntryBlock`), not one entry per result.
   */
  first?: boolean;
}

/**
 * A batch's entries as one block (a first run's, from a reading thread: tasks/inspect-wire.ts
 * InspectWire.entries): the entries one after another in `raw`, `ends[i]` where result i's ends
 * (the previous end: it has none). It rides on the batch's first result that has an entry
 * (FileInspection.indexEntries) and is stored whole when that result is recorded
 * (incremental/scan-index.ts recordFirst): a first run stores every entry made.
 */
export interface EntryBlock {
  raw: Uint8Array;
  ends: Uint32Array;
}

/**
 * A result's entry as it leaves the thread that made it: the entry's bytes as the index file holds
 * them (tasks/entry-format.ts writeFileEntry: length, CRC, table, key, identity, payload), so the main
 * thread only copies them into the spool (`IndexWriter.addMade`).
 */
export type IndexEntryOut = Uint8Array;
