/**
 * stats' counts taken out again (ops/stats.ts StatsAccumulator.removeRow: what a tree memo's patch
 * does to the stored counts): adding rows and taking some out must give exactly the counts of the
 * rows left, key for key and bit for bit (exact sums of times; counts that fall to 0 gone).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { finishStats, StatsAccumulator, type StatsRow } from '../src/ops/stats.js';
import type { ScanSummary } from '../src/discovery/scan.js';

const SUMMARY = { root: '/r', images: 0, imageSymlinks: 0, brokenSymlinks: 0, complete: true, problemCount: 0, counts: {} } as unknown as ScanSummary;
const OPS = ['face_detection', 'yolov8', '__proto__', 'constructor', 'quality'];

const time = fc.oneof(fc.constant(null), fc.double({ min: -1e15, max: 1e15, noNaN: true }).filter((t) => !Object.is(t, -0)), fc.constantFrom(0.1, 0.2, 0.3, 1e-300, 5e-324));
const row: fc.Arbitrary<StatsRow> = fc.record({
  files: fc.nat(3),
  kept: fc.nat(3),
  images: fc.nat(3),
  covered: fc.boolean(),
  dir: fc.constant(null),
  eff: fc.oneof(
    fc.constant(null),
    fc.record({
      format: fc.constantFrom('json', 'bin', '__proto__'),
      ops: fc.uniqueArray(fc.tuple(fc.constantFrom(...OPS), fc.nat(10_000_000), time, fc.constantFrom(null, true, false)), { selector: (o) => o[0], maxLength: 4 }),
      faces: fc.nat(14),
      embeddings: fc.nat(14),
      objects: fc.nat(14),
      grade: fc.constantFrom(null, 'A', 'B', 'constructor'),
      identity: fc.constantFrom(null, 'current' as const, 'stale' as const, 'unknown' as const),
      entry: fc.constant(null),
    }),
  ),
}).map((r) => ({ ...r, kept: Math.min(r.kept, r.files) })) as fc.Arbitrary<StatsRow>;

test('stats counts: rows added, some taken out again = the rows left counted from scratch (property)', () => {
  fc.assert(
    fc.property(fc.array(row, { maxLength: 30 }), fc.array(fc.boolean(), { maxLength: 30 }), (rows, out) => {
      const all = new StatsAccumulator('/r', null, {});
      for (const r of rows) all.addRow(r);
      const stored = StatsAccumulator.from(structuredClone(all.raw(SUMMARY)), {})!;
      assert.ok(stored, 'the counts of raw() are taken back');
      const left = new StatsAccumulator('/r', null, {});
      rows.forEach((r, i) => {
        if (out[i]) assert.equal(stored.removeRow(r), true);
        else left.addRow(r);
      });
      // Same keys, same counts (time sums: their partials may differ, never their value), the same report.
      const a = stored.raw(SUMMARY);
      const b = left.raw(SUMMARY);
      const { timeSum: ta, ...ra } = a;
      const { timeSum: tb, ...rb } = b;
      assert.deepEqual(ra, rb);
      assert.deepEqual(Object.keys(ta).sort(), Object.keys(tb).sort());
      assert.deepEqual(finishStats(a, {}), finishStats(b, {}));
    }),
    { numRuns: 300 },
  );
});

test('stats counts: a row that was never added, or one of a list or folder table, is not taken out (false: the counts are not used)', () => {
  const acc = new StatsAccumulator('/r', null, {});
  const r1: StatsRow = { files: 1, kept: 0, images: 1, covered: true, dir: null, eff: { format: 'json', ops: [['yolov8', 10, 0.5, true]], faces: 1, embeddings: 1, objects: 0, grade: null, identity: null, entry: null } };
  acc.addRow(r1);
  const counts = structuredClone(acc.raw(SUMMARY));
  const from = () => StatsAccumulator.from(structuredClone(counts), {})!;
  assert.equal(acc.removeRow({ ...r1, eff: { ...r1.eff!, format: 'bin' } }), false, 'a format never counted');
  // Counts a failed removal left half changed are not counts raw() makes (a sidecar counted, no format).
  assert.equal(StatsAccumulator.from(acc.raw(SUMMARY), {}), null, 'counts left by a failed removal');
  assert.equal(from().removeRow({ ...r1, dir: 'a' }), false, 'a folder table row');
  assert.equal(from().removeRow({ ...r1, eff: { ...r1.eff!, ops: [['yolov8', 10.5, 0.5, true]] } }), false, 'a size that is not an integer');
  assert.equal(StatsAccumulator.from({ root: 5 }, {}), null, 'counts not shaped as raw() makes them');
  assert.equal(from().removeRow(r1), true);
});
