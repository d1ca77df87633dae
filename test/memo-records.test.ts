/**
 * A tree memo's record columns (src/discovery/memo-records.ts): which records a patch makes again
 * (`readingAny`, one pass over the deps column) is what each record's own deps say.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeMemoRecords, groupEntriesOf, groupNamesOf, MemoRecordsView, type MemoRecordColumns } from '../src/discovery/memo-records.js';
import type { ScanRecord } from '../src/discovery/scan.js';
import { generator } from './helpers/accel-parity.js';


test('memo records: readingAny marks exactly the records whose deps hold a changed check', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const { rnd } = generator(seed);
    const fileChecks = 1 + Math.floor(rnd() * 300);
    const n = Math.floor(rnd() * 200);
    const c: MemoRecordColumns = { keys: [], seqs: [], deps: [], tallies: [], bytes: [], groups: [] };
    for (let i = 0; i < n; i++) {
      c.keys.push(`k${Math.floor(rnd() * 50)}/é${i}`);
      c.seqs.push(i, Math.floor(rnd() * 10));
      // No deps (a record read nothing), one, or several (a link record: its target's sidecars).
      const d = Math.floor(rnd() * 4);
      c.deps.push(Array.from({ length: d }, () => Math.floor(rnd() * fileChecks)));
      c.tallies.push([0, 1, 2, 3, 4, 5]);
      c.bytes.push(rnd() * 1e6);
      c.groups.push(rnd() < 0.2 ? '' : `F.jpg/F.json/S\u00e9.bin`);
    }
    const view = new MemoRecordsView(encodeMemoRecords(c), fileChecks);
    // Every column read back as written.
    assert.deepEqual(view.columns(), c);
    const changed = new Set(Array.from({ length: Math.floor(rnd() * 6) }, () => Math.floor(rnd() * fileChecks)));
    // Numbers no memo holds are no check (a delta's, checked elsewhere): never a record's.
    const asked = [...changed, fileChecks, fileChecks + 7, -1];
    const got = view.readingAny(asked, fileChecks);
    assert.equal(got.length, n);
    for (let i = 0; i < n; i++) assert.equal(got[i] === 1, view.deps(i).some((d) => changed.has(d)), `seed ${seed}, record ${i}`);
  }
  const empty = new MemoRecordsView(encodeMemoRecords({ keys: [], seqs: [], deps: [], tallies: [], bytes: [], groups: [] }), 5);
  assert.equal(empty.readingAny([1, 2], 5).length, 0);
});

/** A record as the scan makes one, with just what groupNamesOf looks at. */
function recordOf(images: { name: string; isSymlink?: boolean }[], sidecars: { name: string; side?: 'local' | 'target'; isLink?: boolean }[]): ScanRecord {
  return {
    images: images.map((i) => ({ name: i.name, isSymlink: i.isSymlink === true })),
    sidecars: sidecars.map((s) => ({ name: s.name, side: s.side ?? 'local', ...(s.isLink ? { isLink: true } : {}) })),
  } as unknown as ScanRecord;
}

test('memo records: a group\'s names in name order, kinds kept; none for what its names alone cannot make again', () => {
  // Preference order (json before the name-ext bin) is not name order: the names are sorted as a folder lists them.
  const rec = recordOf([{ name: 'IMG_1.jpg' }, { name: 'IMG_1.JPG' }], [{ name: 'IMG_1.json' }, { name: 'IMG_1.jpg.bin', isLink: true }]);
  // Each name after the record's name root (its partition key's), or whole.
  const text = groupNamesOf(rec, 'IMG_1');
  assert.equal(text, 'F.JPG/F.jpg/S.jpg.bin/F.json');
  assert.equal(groupNamesOf(rec, ''), 'fIMG_1.JPG/fIMG_1.jpg/sIMG_1.jpg.bin/fIMG_1.json');
  assert.deepEqual(groupEntriesOf(groupNamesOf(rec, ''), ''), groupEntriesOf(text, 'IMG_1'));
  assert.deepEqual(groupEntriesOf(text, 'IMG_1'), [
    { name: 'IMG_1.JPG', kind: 'file' },
    { name: 'IMG_1.jpg', kind: 'file' },
    { name: 'IMG_1.jpg.bin', kind: 'symlink' },
    { name: 'IMG_1.json', kind: 'file' },
  ]);
  // Non-ASCII names (NFD and NFC twins are two names) keep their code units; the root is NFC: an NFD name is kept whole.
  const twins = groupNamesOf(recordOf([{ name: 'Cafe\u0301.jpg' }], [{ name: 'Caf\u00e9.json' }, { name: 'Cafe\u0301.json' }]), 'Caf\u00e9');
  assert.equal(twins, 'fCafe\u0301.jpg/fCafe\u0301.json/F.json');
  assert.deepEqual(groupEntriesOf(twins, 'Caf\u00e9')?.map((e) => e.name), ['Cafe\u0301.jpg', 'Cafe\u0301.json', 'Caf\u00e9.json']);
  // A lone sidecar (the unknown-image rule reads the folder's other names), a symlinked image (its
  // resolution), a link target's sidecar: made again by listing the folder.
  assert.equal(groupNamesOf(recordOf([], [{ name: 'x.json' }]), 'x'), '');
  assert.equal(groupNamesOf(recordOf([{ name: 'a.jpg', isSymlink: true }], []), 'a'), '');
  assert.equal(groupNamesOf(recordOf([{ name: 'a.jpg' }], [{ name: 'a.json', side: 'target' }]), 'a'), '');
  assert.equal(groupEntriesOf('', 'a'), null);
});

test('memo records: group names no run writes are refused (a crafted memo)', () => {
  for (const bad of ['IMG.jpg', 'xIMG.jpg', 'f', 'f.', 'f..', 'fa.jpg/f', 'fa\u0000b.jpg', 'fb.jpg/fa.json', 'fa.jpg/fa.jpg', 'fa.jpg//fa.json', '/fa.jpg', 'F.jpg/F.jpg']) {
    assert.equal(groupEntriesOf(bad, 'a'), null, JSON.stringify(bad));
  }
  // A root (a crafted key's) that makes a name no run writes: '..', or one with a '/'.
  assert.equal(groupEntriesOf('F', '..'), null);
  assert.equal(groupEntriesOf('F.jpg', '../x'), null);
  assert.equal(groupEntriesOf('F.jpg', 'a\u0000'), null);
  // A name never holds '/': the text cannot name a file in another folder.
  assert.deepEqual(groupEntriesOf('f..%2f.jpg', 'a'), [{ name: '..%2f.jpg', kind: 'file' }]);
});
