/**
 * Folder records' byte layout (src/incremental/folder-records.ts): a folder rewritten after some of
 * its records changed copies the other records' bytes as they are. That is right only while each
 * record's bytes stand on their own in the v8 stream (no back-reference, which v8 numbers from the
 * stream's start): these tests try to break it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DefaultSerializer, deserialize, serialize } from 'node:v8';
import {
  decodeFolder,
  decodeRecords,
  FolderRecordsBuilder,
  folderOf,
  MAX_PATCH_SHARE,
  restoreRecord,
  writeCompact,
  type CompactRecord,
  type FolderBlob,
} from '../src/incremental/folder-records.js';
import { encodingOf } from '../src/tasks/entry-format.js';

const FOLDER = '/lib/photos/d1';
const REL = 'photos/d1';
const ID = new Uint8Array(40).fill(7);

type Rec = CompactRecord & { category: string; findings: { code: string; paths: string[] }[]; effective: unknown; sidecars: (CompactRecord['sidecars'][number] & { inspection: Record<string, unknown> })[] };

/**
 * A record as the scan makes one: `effective` is one of its sidecars (the same object). `exotic`:
 * its summary holds a bigint and -0 (stored as a v8 value; otherwise JSON).
 */
function record(n: number, effectiveAt: number | null, sidecars = 2, exotic = n % 2 === 1): Rec {
  const scs = Array.from({ length: sidecars }, (_, k) => {
    const name = `IMG_${n}.${['bin', 'json', 'rkyv'][k]}`;
    const path = `${FOLDER}/${name}`;
    return { name, path, rel: `${REL}/${name}`, side: 'local', inspection: { path, size: 10 + n, status: 'ok', notes: [], summary: exotic ? { faces: n, big: 12345678901234567890n, neg0: -0, none: undefined } : { faces: n, score: 0.1 + n, tag: 'é\ud800', ...JSON.parse('{"__proto__": {"x": 1}}') } } };
  });
  const rec = {
    category: sidecars > 1 ? 'ambiguous' : 'ok',
    dir: REL,
    images: [{ name: `IMG_${n}.jpg`, path: `${FOLDER}/IMG_${n}.jpg`, rel: `${REL}/IMG_${n}.jpg` }],
    sidecars: scs,
    effective: effectiveAt === null ? null : scs[effectiveAt],
    findings: [{ code: 'note', paths: [scs[0].path] }],
    files: 1 + sidecars,
    seq: [3, n],
  };
  return rec as unknown as Rec;
}

function builder(n: number): FolderRecordsBuilder {
  return new FolderRecordsBuilder('/real/photos/d1', FOLDER, REL, ID, '/lib', 0, 0, n, Array.from({ length: n }, (_, i) => i));
}

function blobOf(b: FolderRecordsBuilder): FolderBlob {
  const chunk = decodeFolder(Buffer.concat(b.payload()));
  assert.ok(chunk, 'the payload decodes');
  const blob = folderOf(chunk, null);
  assert.ok(blob, 'a base entry');
  return blob;
}

function served(blob: FolderBlob): (Rec | undefined)[] {
  const recs = decodeRecords<Rec>(blob, () => true);
  assert.ok(recs, 'the records decode');
  for (const r of recs) if (r) restoreRecord(r, FOLDER, REL);
  return recs;
}

/** The record as the caller sees it, with `effective` spelled as its index among the sidecars. */
function shape(r: Rec | undefined): unknown {
  if (r === undefined) return undefined;
  return { ...r, effective: r.effective === null ? null : r.sidecars.indexOf(r.effective as Rec['sidecars'][number]) };
}

test('a record written alone reads back equal, its effective sidecar the same object as that sidecar', () => {
  const b = builder(3);
  const recs = [record(0, 0), record(1, 1), record(2, null, 1)];
  recs.forEach((r, gi) => writeCompact(b, gi, r));
  // writeCompact puts back what it left out: the caller's record is as it was.
  assert.equal(recs[1].effective, recs[1].sidecars[1]);
  assert.equal(recs[0].sidecars[0].inspection.path, recs[0].sidecars[0].path);
  const blob = blobOf(b);
  assert.ok(blob.base.part.copyable);
  assert.deepEqual(blob.meta.lens.map(Math.sign), [1, -1, 1], `JSON, v8, JSON: ${blob.meta.lens}`);
  const back = served(blob);
  for (let gi = 0; gi < 3; gi++) assert.deepEqual(shape(back[gi]), shape(recs[gi]));
  assert.equal(back[1]!.effective, back[1]!.sidecars[1], 'effective is that sidecar, not a copy');
  assert.equal(back[0]!.effective, back[0]!.sidecars[0]);
  assert.equal(back[2]!.effective, null);
  const exotic = back[1]!.sidecars[0].inspection.summary as Record<string, unknown>;
  assert.equal(exotic.big, 12345678901234567890n);
  assert.ok(Object.is(exotic.neg0, -0));
  assert.ok('none' in exotic && exotic.none === undefined, 'an undefined value keeps its key');
});

test('kept records are copied byte for byte into the new entry; the others are made again; all read back right', () => {
  const first = builder(4);
  const recs = [record(0, 0), record(1, 1), record(2, 0), record(3, 1)];
  recs.forEach((r, gi) => writeCompact(first, gi, r));
  const old = blobOf(first);
  const bytesOf = (blob: FolderBlob, gi: number) => Buffer.from(blob.base.part.recs.subarray(blob.base.starts[gi], blob.base.starts[gi] + blob.meta.lens[gi]));
  // Records 1 and 3 changed (another effective sidecar, another summary); 0 and 2 are kept.
  const oldRecs = served(old);
  const second = builder(4);
  const changed1 = record(1, 0);
  (changed1.sidecars[0].inspection.summary as { faces: number }).faces = 99;
  const changed3 = record(3, null);
  second.keep(0, old, oldRecs[0]!);
  writeCompact(second, 1, changed1);
  second.keep(2, old, oldRecs[2]!);
  writeCompact(second, 3, changed3);
  const next = blobOf(second);
  assert.deepEqual(bytesOf(next, 0), bytesOf(old, 0), 'kept: the same bytes');
  assert.deepEqual(bytesOf(next, 2), bytesOf(old, 2));
  const back = served(next);
  assert.deepEqual(back.map(shape), [recs[0], changed1, recs[2], changed3].map(shape));
  for (const r of back) if (r!.effective !== null) assert.ok(r!.sidecars.includes(r!.effective as Rec['sidecars'][number]));
  // Again, keeping what the second entry kept and made: a third generation reads back the same.
  const third = builder(4);
  for (let gi = 0; gi < 4; gi++) third.keep(gi, next, back[gi]!);
  assert.deepEqual(served(blobOf(third)).map(shape), back.map(shape));
});

test('a record holding an object twice is not stored (its bytes would hold a back-reference): made again next time', () => {
  const b = builder(4);
  const shared = record(1, 0);
  shared.findings.push({ code: 'note', paths: shared.findings[0].paths }); // one array, twice
  const cyclic = record(2, 0) as Rec & { self?: unknown };
  cyclic.self = cyclic;
  // An object at a place the stored form packs (an image), twice: packed, it would come back as two.
  const twice = record(3, 0);
  twice.images.push(twice.images[0]);
  writeCompact(b, 0, record(0, 0));
  writeCompact(b, 1, shared);
  b.done(2, cyclic);
  writeCompact(b, 3, twice);
  const blob = blobOf(b);
  assert.ok(blob.meta.lens[0] !== 0);
  assert.equal(blob.meta.lens[1], 0, 'shared array: not stored');
  assert.equal(blob.meta.lens[2], 0, 'cycle: not stored');
  assert.equal(blob.meta.lens[3], 0, 'an image twice: not stored');
  const back = served(blob);
  assert.deepEqual(shape(back[0]), shape(record(0, 0)));
  assert.equal(back[1], undefined);
  assert.equal(back[2], undefined);
  // Without the check, the record's bytes would decode wrong at another position: show it.
  const s = new DefaultSerializer();
  s.writeHeader();
  s.writeValue({ a: 1 });
  const arr = [1];
  s.writeValue({ x: arr, y: arr });
  const stream = s.releaseBuffer();
  assert.ok(stream.includes(0x5e), 'v8 writes the second reference as a back-reference (^)');
});

test('encodingOf: JSON only for what JSON.parse gives back exactly; shared objects anywhere refused', () => {
  const leaf = { v: 1 };
  assert.equal(encodingOf({ a: leaf, b: [leaf] }), null);
  assert.equal(encodingOf([new Map([[1, leaf]]), leaf]), null);
  assert.equal(encodingOf({ a: 'same', b: 'same', c: 1n, d: 1n }), 'v8', 'strings and bigints are written inline (not shared objects); a bigint is v8');
  const buf = Buffer.from('x');
  assert.equal(encodingOf({ a: buf, b: buf }), null, 'a view is an object too');
  assert.equal(encodingOf({ a: buf }), 'v8');
  assert.equal(encodingOf(JSON.parse('{"__proto__": {"x": 1}, "y": {"x": 1}, "s": "\\ud800"}')), 'json', 'an own __proto__ key and a lone surrogate come back from JSON');
  assert.equal(encodingOf(record(1, 0)), null, 'a record before writeCompact: effective is one of its sidecars');
  for (const [label, v] of [['-0', -0], ['NaN', NaN], ['Infinity', Infinity], ['undefined', undefined], ['a hole', [1, , 3]], ['a Date', new Date(0)], ['an Error', new Error('x')], ['a Map', new Map()], ['an array with a property', Object.assign([1], { x: 1 })]] as const) {
    assert.equal(encodingOf({ k: [v] }), 'v8', label);
  }
  assert.equal(encodingOf({ a: 1.5, b: -2, c: 'x', d: null, e: true, f: [[], {}], g: Object.create(null) }), 'json');
  // Objects are listed while few, then kept in a Set: a shared one is caught on either side of the switch.
  for (const n of [3, 23, 24, 25, 26, 200]) {
    const many = Array.from({ length: n }, (_, i) => ({ i }));
    assert.equal(encodingOf({ many }), 'json', `${n} objects, none shared`);
    assert.equal(encodingOf({ many, again: many[0] }), null, `${n} objects, the first met again last`);
    assert.equal(encodingOf({ first: many[n - 1], many }), null, `${n} objects, the last met first`);
  }
  // What JSON cannot keep, v8 keeps: a round trip of each through the builder gives it back.
  const b = builder(1);
  const odd = record(5, null, 1, true);
  writeCompact(b, 0, odd);
  assert.ok(b.meta.lens[0] < 0, 'stored as a v8 value');
});

test('an entry of the earlier layout or one whose records do not add up is never served', () => {
  const b = builder(3);
  for (let gi = 0; gi < 3; gi++) b.file(gi, `${FOLDER}/IMG_${gi}.json`, ID);
  writeCompact(b, 0, record(0, 0));
  writeCompact(b, 1, record(1, 1));
  writeCompact(b, 2, record(2, 1));
  const good = Buffer.concat(b.payload());
  assert.ok(decodeFolder(good));
  const metaLen = good.readUInt32LE(0);
  const meta = deserialize(good.subarray(4, 4 + metaLen)) as Record<string, unknown>;
  const withMeta = (m: Record<string, unknown>) => {
    const mb = serialize(m);
    const head = Buffer.alloc(4);
    head.writeUInt32LE(mb.length, 0);
    return Buffer.concat([head, mb, good.subarray(4 + metaLen)]);
  };
  const { fmt: _fmt, ...earlier } = meta;
  assert.equal(decodeFolder(withMeta(earlier)), null, 'no fmt: the earlier layout (one stream with back-references)');
  assert.equal(decodeFolder(withMeta({ ...meta, fmt: 3 })), null, 'fmt 3: dependency arrays inside the v8 meta');
  // The dependency arrays after the meta (depAt: n + 1 ascending offsets from 0, then deps).
  const depAtAt = 4 + metaLen;
  const patched = (i: number, v: number) => {
    const c = Buffer.from(good);
    c.writeInt32LE(v, depAtAt + i * 4);
    return c;
  };
  assert.ok(decodeFolder(patched(0, 0)), 'the same bytes decode');
  assert.equal(decodeFolder(patched(0, 1)), null, 'depAt not starting at 0');
  assert.equal(decodeFolder(patched(1, good.readInt32LE(depAtAt + 8) + 1)), null, 'depAt going down');
  assert.equal(decodeFolder(patched(3, 1 << 28)), null, 'more deps than bytes');
  assert.equal(decodeFolder(patched(3, -1)), null, 'a negative count');
  assert.equal(decodeFolder(good.subarray(0, depAtAt + 8)), null, 'cut inside depAt');
  // A reference beyond its table (the builder below names one file per group).
  const depsAt = depAtAt + 4 * 4;
  const badRef = Buffer.from(good);
  badRef.writeInt32LE((7 << 2) | 0, depsAt);
  assert.equal(decodeFolder(badRef), null, 'a file reference beyond the files');
  const lens = meta.lens as number[];
  assert.ok(lens[0] > 0 && lens[1] < 0 && lens[2] > 0);
  assert.equal(decodeFolder(withMeta({ ...meta, lens: [lens[0] + 10_000, lens[1], lens[2]] })), null, 'lengths beyond the stream');
  assert.equal(decodeFolder(withMeta({ ...meta, lens: [lens[0] - 1, lens[1], lens[2] + 1] })), null, 'JSON lengths that do not add up with their commas');
  assert.equal(decodeFolder(withMeta({ ...meta, lens: [lens[0], lens[1], 0] })), null);
  const miscounted = decodeFolder(withMeta({ ...meta, lens: [lens[0], lens[1], -lens[2]] }));
  assert.ok(miscounted === null || decodeRecords(folderOf(miscounted, null)!, () => true) === null, 'a JSON record counted as v8: the counts differ');
  // A stream under another v8 header decodes, but its records are not copied as bytes.
  const blob = folderOf(decodeFolder(good)!, null)!;
  const other = { ...blob, base: { ...blob.base, part: { ...blob.base.part, copyable: false } } };
  const recs = served(blob);
  const again = builder(3);
  const decoded = served(blob);
  again.keep(0, other, decoded[0]!);
  again.keep(1, other, decoded[1]!);
  again.keep(2, other, decoded[2]!);
  assert.deepEqual(served(blobOf(again)).map(shape), recs.map(shape), 'written again from the decoded records');
});

test('a patch over the base: only the records that changed are written again; a patch of another base is ignored; beyond a share of the folder, a new base', () => {
  const n = 8;
  const folder = () => new FolderRecordsBuilder('/real/photos/d1', FOLDER, REL, ID, '/lib', 1, 2, n, Array.from({ length: n }, (_, i) => 10 + i));
  const fileId = (gi: number, v = gi + 1) => new Uint8Array(40).fill(v);
  const first = folder();
  const recs = Array.from({ length: n }, (_, i) => record(i, i % 2 === 0 ? 0 : null));
  recs.forEach((r, gi) => {
    first.file(gi, `${FOLDER}/IMG_${gi}.json`, fileId(gi));
    first.dir(gi, '/real/photos/shared', new Uint8Array(40).fill(99));
    writeCompact(first, gi, r);
  });
  const outs = first.chunks();
  assert.equal(outs.length, 1, 'nothing stored before: one base entry');
  assert.ok(!outs[0].patch && outs[0].payload);
  const base = decodeFolder(Buffer.concat(outs[0].payload!))!;
  assert.ok(base && base.meta.groups === undefined && /^[0-9a-f]{16}$/.test(base.meta.gen), 'a base, with a generation');
  const all = folderOf(base, null)!;
  assert.deepEqual(served(all).map(shape), recs.map(shape));
  // The next run: group 2 changed (made again), the others kept: the base is kept, a patch holds group 2.
  const offs = { base: 100, patch: 0 };
  const next = folder();
  next.replaces = { ...offs, gen: base.meta.gen, lens: all.meta.lens, patched: [] };
  const back = served(all);
  const changed = record(2, null);
  (changed.sidecars[0].inspection.summary as { faces: number }).faces = 77;
  for (let gi = 0; gi < n; gi++) {
    if (gi === 2) {
      next.rebuilt.push(gi);
      next.file(gi, `${FOLDER}/IMG_2.json`, fileId(2, 50));
      writeCompact(next, gi, changed);
    } else next.keep(gi, all, back[gi]!);
  }
  const again = next.chunks();
  assert.deepEqual(again.map((c) => [c.patch, c.keep ?? 'written']), [[false, 100], [true, 'written']], 'the base kept, a patch written');
  const patch = decodeFolder(Buffer.concat(again[1].payload!))!;
  assert.deepEqual(patch.meta.groups, [2]);
  assert.equal(patch.meta.gen, base.meta.gen, 'the patch names its base');
  assert.deepEqual(patch.meta.files, [`${FOLDER}/IMG_2.json`], 'only the changed record and what it depends on');
  assert.deepEqual([...patch.ids.subarray(0, 40)], [...fileId(2, 50)], 'at its new identity');
  const patched = folderOf(base, patch)!;
  assert.ok(patched.patch, 'the patch applies');
  const expect = [...recs];
  expect[2] = changed;
  assert.deepEqual(served(patched).map(shape), expect.map(shape), 'the patch record over the base one');
  // A patch of another base (a later base was written: the patch is older) is ignored.
  const otherBase = decodeFolder(Buffer.concat(folderWith(recs).chunks()[0].payload!))!;
  assert.notEqual(otherBase.meta.gen, base.meta.gen);
  assert.equal(folderOf(otherBase, patch)!.patch, null, 'a patch over another generation: left out');
  assert.deepEqual(served(folderOf(otherBase, patch)!).map(shape), recs.map(shape));
  assert.equal(folderOf(patch, null), null, 'a patch is no base');
  // Group 5 changes too: the new patch keeps group 2's record (copied) and adds group 5's.
  const third = folder();
  third.replaces = { base: 100, patch: 200, gen: base.meta.gen, lens: patched.meta.lens, patched: [2] };
  const back2 = served(patched);
  const changed5 = record(5, 0);
  for (let gi = 0; gi < n; gi++) {
    if (gi === 5) {
      third.rebuilt.push(gi);
      third.file(gi, `${FOLDER}/IMG_5.json`, fileId(5, 60));
      writeCompact(third, gi, changed5);
    } else third.keep(gi, patched, back2[gi]!);
  }
  const out3 = third.chunks();
  assert.deepEqual(out3.map((c) => [c.patch, c.keep ?? 'written']), [[false, 100], [true, 'written']]);
  const patch3 = decodeFolder(Buffer.concat(out3[1].payload!))!;
  assert.deepEqual(patch3.meta.groups, [2, 5]);
  expect[5] = changed5;
  assert.deepEqual(served(folderOf(base, patch3)!).map(shape), expect.map(shape));
  // Nothing changed since (a group made again that stays unstorable, as stored): base and patch kept as they are.
  const fourth = folder();
  const p3 = folderOf(base, patch3)!;
  fourth.replaces = { base: 100, patch: 300, gen: base.meta.gen, lens: p3.meta.lens, patched: [2, 5] };
  const back3 = served(p3);
  for (let gi = 0; gi < n; gi++) fourth.keep(gi, p3, back3[gi]!);
  assert.deepEqual(fourth.chunks().map((c) => [c.patch, c.keep ?? 'written']), [[false, 100], [true, 300]]);
  // Beyond MAX_PATCH_SHARE of the groups: a new base with every record, of a new generation.
  const many = folder();
  many.replaces = { base: 100, patch: 300, gen: base.meta.gen, lens: p3.meta.lens, patched: [2, 5] };
  const more = Math.floor(n * MAX_PATCH_SHARE) + 1 - 2;
  for (let gi = 0; gi < n; gi++) {
    if (gi >= 6 && gi < 6 + more) {
      many.rebuilt.push(gi);
      writeCompact(many, gi, recs[gi]);
    } else many.keep(gi, p3, back3[gi]!);
  }
  const outMany = many.chunks();
  assert.equal(outMany.length, 1);
  assert.ok(!outMany[0].patch && outMany[0].payload, 'a new base');
  const newBase = decodeFolder(Buffer.concat(outMany[0].payload!))!;
  assert.notEqual(newBase.meta.gen, base.meta.gen);
  assert.equal(folderOf(newBase, patch3)!.patch, null, 'the old patch does not apply to it');
  assert.deepEqual(served(folderOf(newBase, null)!).map(shape), expect.map(shape), 'the new base holds the patched records');
  // A patch whose groups are not ascending, or beyond the folder, is not decoded.
  const pm = deserialize(Buffer.concat(again[1].payload!).subarray(4, 4 + Buffer.concat(again[1].payload!).readUInt32LE(0))) as Record<string, unknown>;
  const rest = Buffer.concat(again[1].payload!).subarray(4 + Buffer.concat(again[1].payload!).readUInt32LE(0));
  const withPatchMeta = (m: Record<string, unknown>) => {
    const mb = serialize(m);
    const head = Buffer.alloc(4);
    head.writeUInt32LE(mb.length, 0);
    return Buffer.concat([head, mb, rest]);
  };
  assert.ok(decodeFolder(withPatchMeta(pm)), 'the same meta decodes');
  assert.equal(decodeFolder(withPatchMeta({ ...pm, groups: [n] })), null, 'a group beyond the folder');
  assert.equal(decodeFolder(withPatchMeta({ ...pm, groups: [1, 2] })), null, 'more groups than records');
  assert.equal(decodeFolder(withPatchMeta({ ...pm, gen: undefined })), null, 'no generation');

  function folderWith(rs: Rec[]): FolderRecordsBuilder {
    const b = folder();
    rs.forEach((r, gi) => writeCompact(b, gi, r));
    return b;
  }
});
