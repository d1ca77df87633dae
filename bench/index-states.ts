/**
 * The index states a bench section measures runs from: `live`, the index its runs use, in `dir`,
 * and copies of it saved beside it, each an index file and its delta when there is one
 * (docs/INDEX.md). A run is measured from a state by `place(state)` (untimed), which leaves the
 * state's files as `live`'s and nothing else of an index.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface IndexStates {
  live: string;
  /** Remove the live index's files (its delta and last-run file too). */
  clear(): void;
  /** Copy the live index to `to` (a path beside it). */
  save(to: string): void;
  /** A round's preparation: the live index becomes the state saved at `from`. */
  place(from: string): () => void;
}

export function indexStates(dir: string): IndexStates {
  const live = path.join(dir, 'index');
  const copy = (from: string, to: string) => {
    fs.copyFileSync(from, to);
    fs.rmSync(`${to}.delta`, { force: true });
    if (fs.existsSync(`${from}.delta`)) fs.copyFileSync(`${from}.delta`, `${to}.delta`);
  };
  const clear = () => {
    for (const n of fs.readdirSync(dir)) if (n === 'index' || n.startsWith('index.')) fs.rmSync(path.join(dir, n), { force: true });
  };
  return {
    live,
    clear,
    save: (to) => copy(live, to),
    place: (from) => () => {
      clear();
      copy(from, live);
    },
  };
}
