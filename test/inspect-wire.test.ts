/**
 * The inspect task's compact batches (src/tasks/inspect-wire.ts) and the decoders' float-block
 * marks (src/formats/cbor.ts) behind stats' sizes. Each guarantee with its attacker:
 * - unpack(pack(results)) deep-equals the results: real inspections of every kind (ok, corrupt,
 *   notes, problems, summaries, probes, data, link resolutions) and fuzzed ones (odd operation
 *   names such as __proto__, record keys out of operation order, -0, nulls, image records);
 * - ordinary results travel in the columns, not as objects (the point of the form);
 * - every batch is packed, whatever its results hold (data, values no table lists, keys set to
 *   undefined ride in the escape, `extras`): one form between threads; a thread pool answers what
 *   the inline task does, at 1, 2 and 7 threads; a packing that fails fails its batch, loudly;
 * - sizes with the marks equal sizes without them and the real .bin body length (fuzzed floats:
 *   whole floats, -0, ints among floats, short arrays); marks never reach data a caller can change.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { generateSampleLibrary } from '../src/index.js';
import { decodeSidecar, encodeSidecar } from '../src/formats/codec.js';
import { binEncodedSize, withFloatBlockMarks } from '../src/formats/cbor.js';
import { cloneJson, noteFloat } from '../src/formats/numbers.js';
import { summarizeSidecar } from '../src/analysis/summary.js';
import { checkSidecarRules } from '../src/analysis/rules.js';
import { inspectFiles } from '../src/tasks/inspect.js';
import { fitsColumns, hasSummaryRow, packedString, packInspectItems, packInspections, packRowAt, PACKED_RESULT_ROOM, PACKED_RESULT_TAG, rowStrings, unpackInspectItems, unpackInspections, unpackResult, type InspectWire } from '../src/tasks/inspect-wire.js';
import { packResult, packResultAt } from './helpers/packed-row.js';
import { ThreadRuntime } from '../src/engine/threads.js';
import { packResultsByName } from '../src/tasks/index.js';
import type { JsonObject, JsonValue } from '../src/types.js';
import { makeCornerTree, removeTree, tempDir } from './helpers/cli.js';
import { sidecarFiles } from './helpers/tree.js';
import { INSPECT_OPTION_SETS as OPTION_SETS, inspectionArb } from './helpers/inspection-arbitraries.js';
import type { SidecarSummary } from '../src/model/summary.js';
import type { FileInspection, InspectItem, InspectOptions } from '../src/model/inspection.js';
import { campaign } from './helpers/campaign.js';

/** Sets an own enumerable key (`__proto__` too), as a decoder does. */
function setOwnKey(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/**
 * `r` packed alone (packResult) unpacks to the very result (deepStrictEqual: -0 is -0), or is
 * refused (null). Returns a copy of the packed bytes.
 */
function assertPackedAlone(r: FileInspection): Buffer | null {
  const p = packResult(r);
  if (p === null) return null;
  const bytes = Buffer.from(p);
  assert.equal(bytes[0], PACKED_RESULT_TAG);
  assert.deepStrictEqual(unpackResult(bytes), r);
  return bytes;
}

/** Through a structured clone with the transfer list, as postMessage does. */
function roundTrip(results: FileInspection[], items: readonly InspectItem[]): { back: FileInspection[]; packed: InspectWire } {
  const { packed, transfer } = packInspections(results, items);
  const moved = structuredClone(packed, { transfer }) as InspectWire;
  return { back: unpackInspections(moved, items), packed: moved };
}

function withoutClock(rs: readonly FileInspection[]): FileInspection[] {
  return rs.map((r) => ({ ...r, elapsedMs: 0 }));
}

describe('inspect results as compact batches', () => {
  let roots: string[] = [];
  let items: InspectItem[] = [];
  before(async () => {
    const sample = tempDir('isc-wire-sample-');
    await generateSampleLibrary(sample, { images: 40, seed: 11, formatMix: { json: 2, bin: 1, legacy: 1 } });
    const corner = makeCornerTree();
    // A note (BOM), a file that is not there, a link resolution item.
    fs.writeFileSync(path.join(corner, 'photos', 'bom.json'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"face_detection":{"success":true,"faces":[]}}')]));
    roots = [sample, corner];
    items = [...sidecarFiles(sample), ...sidecarFiles(corner), { path: path.join(corner, 'photos', 'gone.json'), name: 'gone.json' }];
    items.push({ path: path.join(corner, 'games', 'Game1', 'IMG_1.jpg'), name: 'IMG_1.jpg', resolveLink: { scan: 1, rootReal: fs.realpathSync(corner), dirRel: 'games/Game1' } });
  });
  after(() => {
    for (const r of roots) removeTree(r);
  });

  for (const [name, opts] of Object.entries(OPTION_SETS)) {
    it(`round trip: ${name}`, () => {
      const results = inspectFiles(items, opts);
      const { back, packed } = roundTrip(results, items);
      assert.deepStrictEqual(back, results);
      // Ordinary results travel in the columns: only the unusual ones are objects.
      const unusual = results.filter(
        (r) =>
          r.notes.length > 0 || (r.problems?.length ?? 0) > 0 || r.error !== undefined || r.probe !== undefined || r.link !== undefined ||
          r.data !== undefined || r.dataJson !== undefined || (r.summary !== undefined && r.summary.image !== null),
      ).length;
      assert.equal(packed.extras.length, unusual, 'only unusual results carry objects');
      assert.ok(results.some((r) => r.status === 'corrupt') && results.some((r) => r.status === 'unreadable'));
    });
  }

  it('summaries the tape made (accel/certify.ts summaryOnTape, marked fitsColumns) come back with the same keys in the same order', () => {
    const results = inspectFiles(items, { summarize: true });
    const onTape = results.filter((r) => r.accel === 'wasm' && r.summary !== undefined);
    assert.ok(onTape.length > 20, `${onTape.length} summaries from the tape (JSON and bin)`);
    const { back } = roundTrip(results, items);
    // JSON text compares key order too (deepStrictEqual does not): the columns rebuild it.
    for (const r of onTape) {
      const i = results.indexOf(r);
      assert.equal(JSON.stringify(back[i].summary), JSON.stringify(r.summary), r.path);
    }
    // A marked summary given an image record is not the columns' any more: it travels whole.
    const marked = fitsColumns({ ...onTape[0].summary!, image: { file_name: 'x.jpg' } as never });
    const odd: FileInspection = { ...onTape[0], summary: marked };
    const { back: oddBack, packed } = roundTrip([odd], [items[results.indexOf(onTape[0])]]);
    assert.deepStrictEqual(oddBack, [odd]);
    assert.equal(packed.extras.length, 1);
  });

  it('round trip: fuzzed results (odd names, key orders, -0, nulls, image records)', () => {
    fc.assert(
      fc.property(fc.array(inspectionArb, { maxLength: 12 }), (rs) => {
        const its = rs.map((_, i) => ({ path: `/lib/${i}.json`, name: `${i}.json` }));
        const results = rs.map((r, i) => ({ path: its[i].path, ...r }) as FileInspection);
        // The oracle: what the unpacked answer delivers (a structured clone of each result), taken
        // before the packed one moves the byte arrays away.
        const expected = structuredClone(results);
        assert.deepStrictEqual(roundTrip(results, its).back, expected);
        // One result packed alone (an index entry's form): the very result, or null.
        for (const r of expected) assertPackedAlone({ ...r, path: '' });
      }),
      { numRuns: campaign(100, 300) },
    );
  });

  for (const [name, opts] of Object.entries(OPTION_SETS)) {
    it(`one result packed alone (an index entry's stored form): ${name}`, () => {
      const results = inspectFiles(items, opts).map((r) => ({ ...r, path: '' }));
      const its = items.map(() => ({ path: '', name: 'x.json' }));
      const { back, packed } = roundTrip(results, its);
      let alone = 0;
      results.forEach((r, i) => {
        const p = assertPackedAlone(r);
        // Packed alone exactly when the batch carries it in its columns only.
        assert.equal(p !== null, !packed.extraAt.includes(i), `result ${i}: ${JSON.stringify(r).slice(0, 200)}`);
        if (p !== null) {
          alone++;
          // Built as the batch builds it: the same keys in the same order.
          assert.equal(JSON.stringify(unpackResult(p)), JSON.stringify(back[i]));
        }
      });
      // validate's and stats' ordinary results are (a schema that every file fails gives each problems; data and probes travel as objects).
      if (name.startsWith('validate') || name.startsWith('stats')) assert.ok(alone > results.length / 2, `${alone} of ${results.length} packed alone`);
    });
  }

  for (const [name, opts] of Object.entries(OPTION_SETS)) {
    it(`a row of a packed batch (packRowAt, how a batch's entries are made) gives what the result packed alone gives: ${name}`, () => {
      const results = inspectFiles(items, opts).map((r) => ({ ...r, path: '' }));
      const its = items.map(() => ({ path: '', name: 'x.json' }));
      const { packed } = packInspections(results, its);
      const strings = rowStrings(packed);
      const out = Buffer.alloc(PACKED_RESULT_ROOM + 40, 0xa5);
      const view = new DataView(out.buffer, out.byteOffset, out.length);
      let j = 0;
      let rows = 0;
      results.forEach((r, i) => {
        const alone = packResult(r);
        const end = packRowAt(packed, i, j, strings, out, view, 20, 20 + PACKED_RESULT_ROOM);
        if (hasSummaryRow(packed, i)) j++;
        assert.equal(end >= 0, alone !== null, `result ${i}: ${JSON.stringify(r).slice(0, 200)}`);
        if (alone === null) return;
        rows++;
        assert.deepEqual(out.subarray(20, end), Buffer.from(alone), `result ${i}`);
        assert.deepStrictEqual(unpackResult(out.subarray(20, end)), r);
      });
      assert.equal(j, packed.summaries?.opStart.length === undefined ? 0 : packed.summaries.opStart.length - 1, 'every summary row met');
      if (name.startsWith('validate') || name.startsWith('stats')) assert.ok(rows > results.length / 2, `${rows} of ${results.length} rows packed`);
    });
  }

  it('packed strings: each keeps its own bytes while others are packed after it, past the bound of those kept; one that cannot be held is refused', () => {
    const held = (s: string) => Buffer.concat([Buffer.from([Buffer.byteLength(s) & 0xff, Buffer.byteLength(s) >> 8]), Buffer.from(s)]);
    const firsts = ['face_detection', 'é 写真 \u{1F600}', '', 'x'.repeat(200)];
    const got = firsts.map((s) => packedString(s));
    // More strings than are kept (PACKED_STRINGS_MOST): the first ones are forgotten, never changed.
    for (let i = 0; i < 5000; i++) assert.deepEqual(Buffer.from(packedString(`op-${i}-${'y'.repeat(i % 40)}`)!), held(`op-${i}-${'y'.repeat(i % 40)}`));
    firsts.forEach((s, k) => {
      assert.deepEqual(Buffer.from(got[k]!), held(s), JSON.stringify(s));
      assert.deepEqual(Buffer.from(packedString(s)!), held(s));
    });
    assert.equal(packedString('lone \ud800 surrogate'), null);
    assert.equal(packedString('x'.repeat(70_000)), null);
    assert.deepEqual(Buffer.from(packedString('x'.repeat(30_000))!), held('x'.repeat(30_000)));
  });

  it('one result packed alone: odd strings and numbers are kept or refused, never changed; a damaged form is unreadable, never wrong', () => {
    const base = inspectFiles(items, { summarize: true }).find((r) => r.summary !== undefined && r.summary.operations.length > 1 && r.problems === undefined && r.notes.length === 0)!;
    assert.ok(base, 'a summary of several operations');
    const s = base.summary!;
    const op0 = s.operations[0];
    const odd = (edit: (r: FileInspection, s: SidecarSummary) => void): FileInspection => {
      const r = structuredClone({ ...base, path: '' });
      r.summary = structuredClone(s);
      edit(r, r.summary);
      return r;
    };
    const kept = [
      odd((r) => (r.size = -0)),
      odd((r) => (r.elapsedMs = Number.MIN_VALUE)),
      odd((_, x) => (x.qualityGrade = 'é 写真 \u{1F600}')),
      odd((_, x) => (x.toolName = '')),
      odd((_, x) => (x.qualityScore = -0)),
      odd((_, x) => (x.processingTimes[op0] = -0)),
      odd((_, x) => setOwnKey(x.objectClasses, '__proto__', 3)),
      odd((r) => (r.brief = { detectionCount: 2 ** 53 + 2, toolName: null, operationType: 'x'.repeat(63) + 'é' })),
    ];
    for (const r of kept) assert.notEqual(assertPackedAlone(r), null, JSON.stringify(r.summary).slice(0, 120));
    const refused = [
      odd((_, x) => (x.qualityGrade = 'lone \ud800 surrogate')),
      odd((_, x) => (x.toolName = 'x'.repeat(70_000))),
      odd((r) => (r.notes = [{ code: 'BOM', message: 'bom' }] as never)),
      odd((r) => (r.problems = [{ pointer: '', message: 'm', severity: 'error' }] as never)),
      odd((r) => ((r as unknown as Record<string, unknown>).extra = 1)),
      odd((_, x) => (x.processingTimes[op0] = NaN)),
      // The key count (packResultAt): a column key set to undefined would come back absent, and a
      // key every result has cannot be swapped for another one of the same count.
      ...(['brief', 'accel', 'indexEntry', 'problems', 'size', 'elapsedMs'] as const).map((k) => odd((r) => ((r as unknown as Record<string, unknown>)[k] = undefined))),
      ...(['path', 'size', 'elapsedMs', 'notes', 'status', 'format', 'shape'] as const).map((k) =>
        odd((r) => {
          const o = r as unknown as Record<string, unknown>;
          delete o[k];
          o.other = o.summary;
        }),
      ),
      odd((r) => Object.setPrototypeOf(r, { inherited: 1 })),
    ];
    for (const r of refused) assert.equal(assertPackedAlone(r), null);
    // Damaged: cut at every byte, a byte more, a bad code: null, never a throw or another result.
    const whole = Buffer.from(packResult(kept[0])!);
    for (let n = 0; n < whole.length; n++) assert.equal(unpackResult(whole.subarray(0, n)), null, `cut at ${n}`);
    assert.equal(unpackResult(Buffer.concat([whole, Buffer.from([0])])), null);
    const badCode = Buffer.from(whole);
    badCode.writeUInt16LE(badCode.readUInt16LE(1) | 7, 1); // status 7: none
    assert.equal(unpackResult(badCode), null);
    // In place (packResultAt, as an index entry is made): within [at, end) only, whatever the room.
    // A string is refused where its worst-case UTF-8 length would not fit, so a room a little more
    // than the bytes may refuse; the full room (what packResult and an entry give) never does.
    for (const r of kept) {
      const alone = Buffer.from(packResult(r)!);
      const at = 13;
      const rooms = [...Array(alone.length + 3).keys(), PACKED_RESULT_ROOM];
      for (const room of rooms) {
        const out = Buffer.alloc(at + Math.max(room, alone.length) + 40, 0xa5);
        const end = packResultAt(r, out, new DataView(out.buffer, out.byteOffset, out.length), at, at + room);
        if (room < alone.length) assert.equal(end, -1, `room ${room} of ${alone.length}`);
        else if (end !== -1 || room === PACKED_RESULT_ROOM) {
          assert.equal(end, at + alone.length, `room ${room}`);
          assert.deepEqual(out.subarray(at, end), alone);
        }
        // Nothing before `at` or at and past the room's end is touched, packed or refused.
        for (let k = 0; k < out.length; k++) if (k < at || k >= at + room) assert.equal(out[k], 0xa5, `byte ${k}, room ${room}`);
      }
    }
  });

  it('a pool answers what the inline task does, at 1, 2 and 7 threads', async () => {
    for (const name of ['validate (brief)', 'stats', 'probe', 'dataJson']) {
      const opts = OPTION_SETS[name];
      const expected = withoutClock(inspectFiles(items, opts));
      for (const workers of [1, 2, 7]) {
        const pool = new ThreadRuntime(workers);
        try {
          const batches: Promise<FileInspection[]>[] = [];
          for (let i = 0; i < items.length; i += 5) batches.push(pool.run('inspect', items.slice(i, i + 5), opts));
          const got = (await Promise.all(batches)).flat();
          assert.deepStrictEqual(withoutClock(got), expected, `${name}, ${workers} threads`);
        } finally {
          await pool.close();
        }
      }
    }
  });

  it('items go to a thread in one string and come back as they were: names, sizes, link places (fuzzed)', () => {
    const linkAt = (scan: number, dirRel: string) => ({ scan, rootReal: '/lib', dirRel });
    const shared = [linkAt(1, 'games/g1'), linkAt(1, 'games/g2'), linkAt(2, '')];
    const itemArb = fc.record(
      {
        path: fc.oneof(fc.constantFrom('/lib/a.json', '/lib/x/caf\u00e9.json', '/lib/games/g1/IMG.jpg', '/lib/d/', 'rel/no-slash.json', '', '/lib/nul\u0000.json'), fc.string({ unit: 'binary' }).map((s) => `/lib/${s}`)),
        name: fc.option(fc.constantFrom('other.json', '', 'a.json'), { nil: undefined }),
        size: fc.option(fc.nat(1 << 30), { nil: undefined }),
        link: fc.option(fc.nat(shared.length - 1), { nil: undefined }),
        namesImage: fc.option(fc.constant(true as const), { nil: undefined }),
      },
      { requiredKeys: ['path'] },
    );
    fc.assert(
      fc.property(fc.array(itemArb, { maxLength: 70 }), (raw) => {
        const items: InspectItem[] = raw.map((r) => {
          const it: InspectItem = { path: r.path, name: r.name ?? r.path.slice(r.path.lastIndexOf('/') + 1) };
          if (r.size !== undefined) it.size = r.size;
          if (r.link !== undefined) it.resolveLink = shared[r.link];
          if (r.namesImage !== undefined) it.namesImage = true;
          return it;
        });
        const wire = structuredClone(packInspectItems(items));
        assert.equal(typeof wire.paths, 'string');
        const back = unpackInspectItems(wire);
        assert.deepEqual(back, items);
        // A batch's link items share their LinkAt, as the scan makes them (one per folder).
        for (let i = 0; i < back.length; i++) for (let j = 0; j < back.length; j++) if (items[i].resolveLink === items[j].resolveLink && items[i].resolveLink) assert.equal(back[i].resolveLink, back[j].resolveLink);
      }),
      { numRuns: campaign(166, 500) },
    );
    // An empty batch, and one empty path (a string of one item, not of none).
    assert.deepEqual(unpackInspectItems(packInspectItems([])), []);
    assert.deepEqual(unpackInspectItems(packInspectItems([{ path: '', name: '' }])), [{ path: '', name: '' }]);
  });

  it('every batch is packed, the ones that carry data too; what no column holds rides in the escape', () => {
    for (const [name, opts] of Object.entries(OPTION_SETS)) {
      const results = inspectFiles(items, opts);
      const packed = packResultsByName('inspect', results, items);
      assert.ok(packed !== null, name);
      const back = unpackInspections(structuredClone(packed.packed, { transfer: packed.transfer }) as InspectWire, items);
      assert.deepStrictEqual(back, results, name);
    }
    assert.ok(Object.values(OPTION_SETS).some((o) => o.dataJson), 'an option set returns data as text');
    // Values the tables do not list and column keys set to undefined: carried, not thrown at.
    const its = [0, 1, 2].map((i) => ({ path: `/lib/${i}.json`, name: `${i}.json` }));
    const base = (i: number): FileInspection => ({ path: its[i].path, size: 3, status: 'ok', format: 'json', notes: [], shape: 'sidecar', elapsedMs: 1 });
    const odd = [
      { ...base(0), status: 'weird', format: 'odd', shape: 'strange', accel: 'other' } as unknown as FileInspection,
      { ...base(1), brief: undefined, problems: undefined, size: undefined, accel: undefined } as unknown as FileInspection,
      { ...base(2), notes: undefined } as unknown as FileInspection,
    ];
    const expected = structuredClone(odd);
    const { back, packed } = roundTrip(odd, its);
    assert.deepStrictEqual(back, expected);
    assert.equal(packed.extras.length, 3);
  });

  it('every answer of a thread to an inspect batch is one packed batch, whatever the options (data too) and the items (U+0000 too)', async () => {
    const pool = new ThreadRuntime(2);
    const answers: string[] = [];
    try {
      for (const slot of (pool as unknown as { slots: Set<{ worker: import('node:worker_threads').Worker }> }).slots) slot.worker.on('message', (m: object) => answers.push(Object.keys(m).sort().join(',')));
      const odd = [...items, { path: `${items[0].path}\u0000x`, name: 'x' }];
      for (const [name, opts] of Object.entries(OPTION_SETS)) {
        const expected = withoutClock(inspectFiles(odd, opts));
        const batches: Promise<FileInspection[]>[] = [];
        for (let i = 0; i < odd.length; i += 7) batches.push(pool.run('inspect', odd.slice(i, i + 7), opts));
        assert.deepStrictEqual(withoutClock((await Promise.all(batches)).flat()), expected, name);
      }
    } finally {
      await pool.close();
    }
    assert.ok(answers.length >= Object.keys(OPTION_SETS).length * 7, `${answers.length} answers`);
    assert.deepEqual([...new Set(answers)], ['id,packed']);
  });

  it('a packing that fails fails its batch (an internal error), never a second form', async () => {
    const pool = new ThreadRuntime(1, { workerUrl: new URL('./helpers/wire-worker.js', import.meta.url) });
    try {
      await assert.rejects(pool.run('inspect', items, OPTION_SETS.stats), (e: { code?: string; message?: string }) => e.code === 'INTERNAL' && /could not be packed: packing refused on purpose/.test(e.message ?? ''));
    } finally {
      await pool.close();
    }
  });
});

describe('stats sizes from the decoders\' float blocks', () => {
  it('the same sizes with and without the marks, on a sample library (bin, legacy, JSON both decodes)', async () => {
    const root = tempDir('isc-wire-sizes-');
    try {
      await generateSampleLibrary(root, { images: 40, seed: 5, formatMix: { json: 1, bin: 2, legacy: 1 } });
      const its = sidecarFiles(root);
      let sized = 0;
      for (const accel of [true, false]) {
        const results = inspectFiles(its, { summarize: true, accel });
        for (let i = 0; i < its.length; i++) {
          const r = results[i];
          if (r.status !== 'ok') continue;
          const plain = summarizeSidecar(cloneJson(decodeSidecar(fs.readFileSync(its[i].path)).data));
          assert.deepStrictEqual(r.summary!.dataSizes, plain.dataSizes, its[i].path);
          sized++;
        }
      }
      assert.ok(sized > 40);
    } finally {
      removeTree(root);
    }
  });

  it('fuzz: marked sizes equal unmarked sizes and the .bin body length (whole floats, -0, ints among floats, short arrays)', () => {
    const num = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(-0), fc.integer(), fc.constant(25));
    const arr = fc.record({ values: fc.array(num, { maxLength: 9 }), whole: fc.array(fc.boolean(), { maxLength: 9 }) }).map(({ values, whole }) => {
      const a: number[] = values.map((v) => (Number.isFinite(v) ? v : 0.5));
      // Whole values written as floats (25.0): the number model's notes.
      a.forEach((v, i) => {
        if (whole[i] && Number.isInteger(v) && !Object.is(v, -0)) noteFloat(a, i, v);
      });
      return a;
    });
    const doc = fc.record({ face_detection: fc.record({ success: fc.boolean(), faces: fc.array(fc.record({ encoding: arr, bbox: arr }), { maxLength: 3 }) }), extra: arr });
    fc.assert(
      fc.property(doc, (d) => {
        const data = d as unknown as JsonObject;
        const bytes = encodeSidecar(data, 'bin');
        const marked = withFloatBlockMarks(() => decodeSidecar(bytes)).data;
        const size = binEncodedSize(marked);
        assert.equal(size, bytes.length - 16, 'the body as written');
        assert.equal(size, binEncodedSize(cloneJson(marked)));
        for (const k of Object.keys(marked)) assert.equal(binEncodedSize(marked[k]), binEncodedSize(cloneJson(marked[k] as JsonValue)));
      }),
      { numRuns: campaign(100, 300) },
    );
  });

  it('the rules find the same problems with and without the marks (bad, short, odd-length and mismatched embeddings)', async () => {
    const root = tempDir('isc-wire-rules-');
    try {
      await generateSampleLibrary(root, { images: 30, seed: 9, formatMix: { json: 1, bin: 2, legacy: 1 } });
      const floats = (n: number) => Array.from({ length: n }, (_, i) => i / 7 - 1 + 1e-3); // never whole: float blocks
      const face = (encoding: JsonValue) => ({ bbox: [0.1, 0.2, 0.3, 0.4], confidence: 0.9, encoding });
      const odd: Record<string, JsonValue[]> = {
        'string-inside': [face([...floats(10), 'x', 0.5])],
        short: [face(floats(3))],
        'odd-length': [face(floats(100))],
        mismatched: [face(floats(512)), face(floats(128))],
        'ints-among-floats': [face([...floats(6), 3, 4])],
      };
      for (const [name, faces] of Object.entries(odd)) {
        for (const format of ['bin', 'json'] as const) {
          const data = { face_detection: { success: true, faces } } as unknown as JsonObject;
          fs.writeFileSync(path.join(root, `${name}.${format}`), encodeSidecar(data, format));
        }
      }
      const its = sidecarFiles(root);
      let withProblems = 0;
      for (const accel of [true, false]) {
        const results = inspectFiles(its, { validate: true, accel });
        for (let i = 0; i < its.length; i++) {
          if (results[i].status !== 'ok') continue;
          const plain = checkSidecarRules(cloneJson(decodeSidecar(fs.readFileSync(its[i].path)).data));
          assert.deepStrictEqual(results[i].problems, plain, its[i].path);
          if (plain.length > 0) withProblems++;
        }
      }
      assert.ok(withProblems >= 2 * 2 * 4, `the odd embeddings are reported (${withProblems})`);
    } finally {
      removeTree(root);
    }
  });

  it('data a caller gets is never marked: changed after decoding, it is sized as it is now', () => {
    const enc = Array.from({ length: 8 }, (_, i) => i + 0.25);
    const bytes = encodeSidecar({ face_detection: { success: true, faces: [{ encoding: enc }] } }, 'bin');
    const check = (data: JsonObject) => {
      const face = ((data.face_detection as JsonObject).faces as JsonObject[])[0];
      (face.encoding as number[])[3] = 3; // now an int: the encoder writes a plain array
      assert.equal(binEncodedSize(data), encodeSidecar(data, 'bin').length - 16);
    };
    check(decodeSidecar(bytes).data);
    const dir = tempDir('isc-wire-mark-');
    try {
      const p = path.join(dir, 'a.bin');
      fs.writeFileSync(p, bytes);
      const [r] = inspectFiles([{ path: p, name: 'a.bin' }], { keepData: true, summarize: true });
      check(r.data!);
    } finally {
      removeTree(dir);
    }
  });
});

describe('bin float blocks as stand-ins (validate, stats: no array of doubles built)', () => {
  // Which path ran (`accel`: a plain bin body may be decided on the scanner's tape) is not part of the result.
  const strip = (rs: FileInspection[]) => rs.map(({ accel: _a, ...r }) => ({ ...r, elapsedMs: 0 }));
  /** A bin file whose float block holding `marker` has that value replaced by `bytes` (CRC redone). */
  function patchedBin(data: JsonObject, marker: number, bytes: Buffer): Buffer {
    const file = Buffer.from(encodeSidecar(data, 'bin'));
    const m = Buffer.alloc(8);
    m.writeDoubleLE(marker);
    const at = file.indexOf(m, 16);
    assert.ok(at > 16, 'marker found');
    bytes.copy(file, at);
    file.writeUInt32LE(crc32(file.subarray(16)), 12);
    return file;
  }

  it('the same results as the full decode (accel off) for every option set that uses them, and problems quote the real values', async () => {
    const root = tempDir('isc-wire-standins-');
    try {
      await generateSampleLibrary(root, { images: 30, seed: 13, formatMix: { json: 1, bin: 3, legacy: 0 } });
      // Never whole (a whole value is an int, which makes the array a plain one): float blocks.
      const floats = (n: number, from = 0.25) => Array.from({ length: n }, (_, i) => from + i / 8 + 1 / 1024);
      const odd: Record<string, JsonObject> = {
        'negative-bbox': { face_detection: { success: true, faces: [{ bbox: [0.1, -3.5, 0.3, 0.4], confidence: 0.9, encoding: floats(512) }] } },
        'negative-zero': { face_detection: { success: true, faces: [{ bbox: [0.1, -0, 0.3, 0.4], confidence: 0.9, encoding: floats(128, -2) }] } },
        'odd-length': { face_detection: { success: true, faces: [{ bbox: [0.1, 0.2, 0.3, 0.4], confidence: 0.9, encoding: floats(100) }] } },
        'short-blocks': { face_detection: { success: true, faces: [{ bbox: [0.1, 0.2, 0.3, 0.4], confidence: 0.9, encoding: floats(2) }] }, extra: floats(3) },
      };
      for (const [name, data] of Object.entries(odd)) fs.writeFileSync(path.join(root, `${name}.bin`), encodeSidecar(data, 'bin'));
      fs.writeFileSync(path.join(root, 'aligned.rkyv'), encodeSidecar(odd['negative-bbox'], 'rkyv'));
      const infinite = Buffer.alloc(8);
      infinite.writeDoubleLE(Infinity);
      const nan = Buffer.from([0, 0, 0, 0, 0, 0, 0xf8, 0x7f]);
      fs.writeFileSync(path.join(root, 'infinite.bin'), patchedBin({ face_detection: { success: true, faces: [{ encoding: floats(8) }] } }, 0.25 + 3 / 8 + 1 / 1024, infinite));
      fs.writeFileSync(path.join(root, 'nan.bin'), patchedBin({ face_detection: { success: true, faces: [{ encoding: floats(8) }] } }, 0.25 + 5 / 8 + 1 / 1024, nan));
      const its = sidecarFiles(root).filter((i) => /\.(bin|rkyv)$/.test(i.name));
      const sets: InspectOptions[] = [{ brief: true, validate: true }, { summarize: true, sizes: false, validate: true }, { summarize: true }, { summarize: true, probe: true }];
      for (const opts of sets) {
        const fast = inspectFiles(its, opts);
        assert.deepStrictEqual(strip(fast), strip(inspectFiles(its, { ...opts, accel: false })), JSON.stringify(opts));
        const byName = new Map(fast.map((r, i) => [its[i].name, r]));
        assert.equal(byName.get('infinite.bin')!.status, 'corrupt');
        assert.equal(byName.get('nan.bin')!.status, 'corrupt');
        if (opts.validate) {
          const msgs = byName.get('negative-bbox.bin')!.problems!.map((p) => p.message);
          assert.ok(msgs.some((m) => m.includes('-3.5')), `the real value is quoted: ${msgs.join('; ')}`);
          assert.ok(byName.get('odd-length.bin')!.problems!.some((p) => p.message.includes('100')));
        }
      }
    } finally {
      removeTree(root);
    }
  });
});
