/**
 * A tree memo's record columns (src/discovery/memo-records.ts): which records a patch makes again
 * (`readingAny`, one pass over the deps column) is what each record's own deps say.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeMemoRecords, MemoRecordsView, type MemoRecordColumns } from '../src/discovery/memo-records.js';
import { generator } from './helpers/accel-parity.js';


test('memo records: readingAny marks exactly the records whose deps hold a changed check', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const { rnd } = generator(seed);
    const fileChecks = 1 + Math.floor(rnd() * 300);
    const n = Math.floor(rnd() * 200);
    const c: MemoRecordColumns = { keys: [], seqs: [], deps: [], tallies: [], bytes: [] };
    for (let i = 0; i < n; i++) {
      c.keys.push(`k${Math.floor(rnd() * 50)}/é${i}`);
      c.seqs.push(i, Math.floor(rnd() * 10));
      // No deps (a record read nothing), one, or several (a link record: its target's sidecars).
      const d = Math.floor(rnd() * 4);
      c.deps.push(Array.from({ length: d }, () => Math.floor(rnd() * fileChecks)));
      c.tallies.push([0, 1, 2, 3, 4, 5]);
      c.bytes.push(rnd() * 1e6);
    }
    const view = new MemoRecordsView(encodeMemoRecords(c), fileChecks);
    const changed = new Set(Array.from({ length: Math.floor(rnd() * 6) }, () => Math.floor(rnd() * fileChecks)));
    // Numbers no memo holds are no check (a delta's, checked elsewhere): never a record's.
    const asked = [...changed, fileChecks, fileChecks + 7, -1];
    const got = view.readingAny(asked, fileChecks);
    assert.equal(got.length, n);
    for (let i = 0; i < n; i++) assert.equal(got[i] === 1, view.deps(i).some((d) => changed.has(d)), `seed ${seed}, record ${i}`);
  }
  const empty = new MemoRecordsView(encodeMemoRecords({ keys: [], seqs: [], deps: [], tallies: [], bytes: [] }), 5);
  assert.equal(empty.readingAny([1, 2], 5).length, 0);
});
