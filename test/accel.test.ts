/**
 * The WebAssembly fast path for JSON sidecars (issue 13): every guarantee with its attacker.
 *  - parity: certified files give exactly the reference's inspection (validate, stats,
 *    format-stats, probe), and the skeleton is the reference data with float arrays as stand-ins;
 *  - never certifies what the reference flags: UTF-8, grammar, depth, overflowing numbers,
 *    duplicate keys, a BOM, rule problems;
 *  - the number model: 25.0, big ints, -0 keep their types (bin sizes in stats prove it);
 *  - a property test over generated JSON and over mutated sidecars (the fuzz corpus);
 *  - each path forced through the public API (accel true/false) gives identical outputs;
 *  - the kill switch is read at the edge (IMAGE_SIDECAR_ACCEL) and doctor says what is in use.
 * Heavier sweeps (bigger sample library, the reliability trees, more fuzz cases): test:reliability.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { accelStatus, consumedTape, scanJson, setFloatBlocks, TAPE } from '../src/accel/scanner.js';
import { ACCEL_MAX_BYTES, accelDecode } from '../src/accel/decode.js';
import { skeletonNumber } from '../src/accel/skeleton.js';
import { notesOf, parseNumberToken } from '../src/formats/numbers.js';
import { decodeSidecar, encodeSidecar } from '../src/formats/codec.js';
import { binEncodedSize, encodedSize } from '../src/formats/cbor.js';
import type { JsonObject, JsonValue } from '../src/types.js';
import { inspectBytes, inspectFile } from '../src/tasks/inspect.js';
import { formatStats, generateSampleLibrary, stats, validate, validateFiles } from '../src/index.js';
import { engineFromEnv } from '../src/settings.js';
import { sidecarDataArb } from './reliability/fuzz-inputs.js';
import { checkAccelParity, checkFuzzParity, checkTreeParity, filesUnder, INSPECT_SETS, newTally, type ParityTally } from './helpers/accel-parity.js';
import { SAMPLES_DIR } from './helpers/samples.js';
import { parseJson, removeTree, runCli, tempDir } from './helpers/cli.js';
import { campaign } from './helpers/campaign.js';

function assertClean(t: ParityTally): void {
  assert.deepEqual(t.mismatches.slice(0, 5), [], `${t.mismatches.length} mismatches`);
}

const face = (enc: number[] | string, extra = '') =>
  `{"bbox": {"x": 0.1, "y": 0.2, "width": 0.3, "height": 0.4}, "confidence": 0.9, "landmarks": [[1.5, 2.5], [3.25, 4.0]], "encoding": ${typeof enc === 'string' ? enc : `[${enc.join(', ')}]`}${extra}}`;
const emb = (n: number, neg = true) => Array.from({ length: n }, (_, i) => ((neg && i % 3 === 0 ? -1 : 1) * (i + 1)) / 1000 + 0.000123456789012345);
const sidecar = (faces: string, more = '') =>
  `{"face_detection": {"success": true, "faces": [${faces}], "metadata": {"processing_time": 0.25, "detector": "insightface"}}${more}}`;
const GOOD = sidecar(face(emb(512)));
/** Data with a known operation (else the rules warn "no known operation" and the file is deferred). */
const withOp = (body: string) => `{"face_detection": {"success": true, "faces": []}, ${body}}`;

describe('accel: the WebAssembly scanner', () => {
  it('is built by npm run build and loads (the suite runs on what the build made)', () => {
    assert.deepEqual(accelStatus(), { available: true });
  });

  it('certifies a clean sidecar, and the result says which path ran', () => {
    const fast = inspectBytes({ path: 'a.json', name: 'a.json' }, Buffer.from(GOOD), { summarize: true, validate: true, accel: true });
    assert.equal(fast.accel, 'wasm');
    assert.equal(fast.summary?.embeddingLength, 512);
    const off = inspectBytes({ path: 'a.json', name: 'a.json' }, Buffer.from(GOOD), { summarize: true, validate: true, accel: false });
    assert.equal(off.accel, undefined);
    // A plain bin file's body is scanned too (test/accel-bin.test.ts); the aligned layout is not
    // the accelerator's business (no flag); a user schema: the reference.
    const bin = inspectBytes({ path: 'a.bin', name: 'a.bin' }, encodeSidecar(JSON.parse(GOOD), 'bin'), { summarize: true, accel: true });
    assert.equal(bin.accel, 'wasm');
    const rkyv = inspectBytes({ path: 'a.rkyv', name: 'a.rkyv' }, encodeSidecar(JSON.parse(GOOD), 'rkyv'), { summarize: true, accel: true });
    assert.equal(rkyv.accel, undefined);
    const schema = inspectBytes({ path: 'a.json', name: 'a.json' }, Buffer.from(GOOD), { schema: { type: 'object' }, accel: true });
    assert.equal(schema.accel, undefined);
  });

  describe('never certifies a file the reference flags', () => {
    const cases: [string, string | Buffer][] = [
      // strict UTF-8 inside strings (outside them any byte >= 0x80 is a grammar error)
      ['overlong', Buffer.concat([Buffer.from('{"a": "'), Buffer.from([0xc0, 0x80]), Buffer.from('"}')])],
      ['surrogate', Buffer.concat([Buffer.from('{"a": "'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')])],
      ['beyond U+10FFFF', Buffer.concat([Buffer.from('{"a": "'), Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from('"}')])],
      ['lone continuation', Buffer.concat([Buffer.from('{"a": "'), Buffer.from([0x80]), Buffer.from('"}')])],
      ['truncated sequence', Buffer.concat([Buffer.from('{"a": "'), Buffer.from([0xe2, 0x82]), Buffer.from('"}')])],
      ['E0 overlong', Buffer.concat([Buffer.from('{"a": "'), Buffer.from([0xe0, 0x9f, 0xbf]), Buffer.from('"}')])],
      ['F0 overlong', Buffer.concat([Buffer.from('{"a": "'), Buffer.from([0xf0, 0x8f, 0xbf, 0xbf]), Buffer.from('"}')])],
      ['byte >= 0x80 outside a string', Buffer.concat([Buffer.from('{"a": 1'), Buffer.from([0xc3, 0xa9]), Buffer.from('}')])],
      ['sequence cut by the end of the file', Buffer.concat([Buffer.from('{"a": "'), Buffer.from([0xf0, 0x9f])])],
      // the RFC 8259 grammar
      ['trailing comma in array', '{"a": [1.5, 2.5,]}'],
      ['trailing comma in object', '{"a": 1,}'],
      ['leading zero', '{"a": 01}'],
      ['leading zero in a float run', '{"a": [0.5, 01.5]}'],
      ['bare fraction', '{"a": .5}'],
      ['dot without digits', '{"a": [1., 2.5]}'],
      ['exponent without digits', '{"a": [1e, 2.5]}'],
      ['plus sign', '{"a": +1}'],
      ['lone minus', '{"a": [-]}'],
      ['NaN', '{"a": NaN}'],
      ['Infinity', '{"a": [1.5, Infinity]}'],
      ['missing colon', '{"a" 1}'],
      ['missing comma', '{"a": [1.5 2.5]}'],
      ['unterminated string', '{"a": "abc'],
      ['unterminated array', '{"a": [1.5, 2.5'],
      ['control character in a string', '{"a": "x\ty"}'],
      ['bad escape', '{"a": "\\x"}'],
      ['bad unicode escape', '{"a": "\\u12G4"}'],
      ['short unicode escape at the end', '{"a": "\\u12'],
      ['single quotes', "{'a': 1}"],
      ['comment', '{"a": 1 /* no */}'],
      ['trailing garbage', '{"a": 1} x'],
      ['two values', '{"a": 1}{"b": 2}'],
      ['top-level array', '[1.5, 2.5]'],
      ['top-level string', '"a"'],
      ['empty', ''],
      ['only whitespace', ' \n\t '],
      ['truncated literal', '{"a": tru}'],
      ['literal with a suffix', '{"a": nullx}'],
      ['capitalised literal', '{"a": True}'],
      ['NUL byte', '{"a": 1\u0000}'],
      // numbers that overflow a double, and int digits beyond the limit
      ['1e309', '{"a": 1e309}'],
      ['-1e309 in a float run', '{"a": [0.5, -1e309]}'],
      ['1e400', '{"a": [1e400]}'],
      ['just above the max double', '{"a": 1.7976931348623159e308}'],
      ['309 digits', `{"a": ${'9'.repeat(309)}.0}`],
      ['5000-digit int', `{"a": ${'1'.repeat(5000)}}`],
      // duplicate keys (also spelt with an escape), a BOM, rule problems
      ['duplicate key', '{"a": 1, "a": 2}'],
      ['duplicate key by escape', '{"a": 1, "\\u0061": 2}'],
      ['duplicate operation', `{"face_detection": {"success": true}, "face_detection": {"success": false}}`],
      ['negative bbox in an array', sidecar(`{"bbox": [10.5, -2.5, 30.5, 40.5], "confidence": 0.5}`)],
      ['bbox array of 5', sidecar(`{"bbox": [10.5, 2.5, 30.5, 40.5, 1.5], "confidence": 0.5}`)],
      ['encoding lengths differ', sidecar(`${face(emb(512))}, ${face(emb(511))}`)],
      ['unusual encoding length', sidecar(face(emb(100)))],
      ['a string in an encoding', sidecar(face(`[${emb(511).join(',')}, "x"]`))],
      ['landmark triple', sidecar(`{"bbox": {"x": 0.1, "y": 0.2, "width": 0.3, "height": 0.4}, "landmarks": [[1.5, 2.5, 3.5]]}`)],
      ['confidence above 1', sidecar(`{"bbox": {"x": 0.1, "y": 0.2, "width": 0.3, "height": 0.4}, "confidence": 1.5}`)],
      ['bbox outside [0, 1]', sidecar(`{"bbox": {"x": -0.1, "y": 0.2, "width": 0.3, "height": 0.4}}`)],
      ['bad timestamp', `{"sidecar_info": {"created_at": "2025-02-30T10:00:00"}, "face_detection": {"success": true, "faces": []}}`],
      ['faces_found disagrees', `{"face_detection": {"success": true, "faces": [], "faces_found": 2}}`],
    ];
    for (const [name, text] of cases) {
      it(name, () => {
        const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
        const t = newTally();
        checkAccelParity(`${name}.json`, bytes, t);
        assertClean(t);
        assert.equal(t.certified, 0, 'certified');
        const ref = inspectBytes({ path: 'x.json', name: 'x.json' }, bytes, { summarize: true, validate: true, accel: false });
        assert.ok(ref.status !== 'ok' || ref.notes.length > 0 || (ref.problems?.length ?? 0) > 0, `the reference flags ${name}`);
      });
    }
  });

  it('a BOM is tolerated and noted as the reference does', () => {
    const t = newTally();
    checkAccelParity('bom.json', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(GOOD)]), t);
    assertClean(t);
    assert.equal(t.certified, 1);
  });

  it('depth: the limit itself is certified, one more level is the reference TOO_DEEP (a float array counts as a level)', () => {
    for (const maxDepth of [1, 2, 3, 8]) {
      const nest = (levels: number, inner: string) => '{"a": '.repeat(levels - 1) + inner + '}'.repeat(levels - 1);
      // nest(n, inner): inner at depth n (the top-level object is depth 1).
      const atLimit = maxDepth > 1 ? [nest(maxDepth, '{}'), nest(maxDepth, '[1.5, 2.5]')] : [nest(1, '{}')];
      const over = [nest(maxDepth + 1, '{}'), nest(maxDepth + 1, '[1.5, 2.5]'), nest(maxDepth + 1, '[]')];
      for (const s of atLimit) {
        const t = newTally();
        checkAccelParity('at.json', Buffer.from(s), t, { maxDepth });
        assertClean(t);
        assert.equal(t.json, 1, s);
        // (No known operation: validate defers it on the warning; format-stats certifies it.)
        assert.equal(inspectBytes({ path: 'a.json', name: 'a.json' }, Buffer.from(s), { maxDepth, accel: true }).accel, 'wasm', `certified at the limit: ${s}`);
      }
      for (const s of over) {
        const t = newTally();
        checkAccelParity('over.json', Buffer.from(s), t, { maxDepth });
        assertClean(t);
        assert.equal(t.certified, 0, s);
        assert.equal(inspectBytes({ path: 'o.json', name: 'o.json' }, Buffer.from(s), { maxDepth, accel: false }).error?.code, 'TOO_DEEP');
      }
    }
  });

  it('the number model: 25.0, -0.0, -0, big ints and exponents keep their types (bin sizes agree with the reference)', () => {
    const texts = [
      `{"face_detection": {"success": true, "processing_time": 25.0, "faces": [], "n": 1763805012345678901, "m": -0, "z": -0.0, "e": 1E2, "f": 1e-5, "g": 123456789012345678901234567890}}`,
      `{"face_detection": {"success": true, "faces": [${face(emb(512))}], "ints": [1, 2, 3, 1763805012345678901, -0], "mixed": [1.0, 2, 3.5, 25.0, -0.0, 1e5]}}`,
      withOp(`"x": [0.0, -0.0, 1.0, 1e2, 2E-3, -0.000000000000000000000000000001], "y": [-0.0, -0.0], "z": [[]]`),
      sidecar(face([...emb(10), 3, ...emb(501)])), // an int in an encoding is fine for the rules
    ];
    for (const s of texts) {
      const t = newTally();
      checkAccelParity('numbers.json', Buffer.from(s), t);
      assertClean(t);
      assert.equal(t.certified, 1, s);
    }
  });

  it('strings: escapes, lone surrogates, non-ASCII, __proto__ keys, long strings (SIMD edges)', () => {
    const long = (n: number) => 'é'.repeat(n) + 'x'.repeat(n % 17);
    const texts = [
      `{"__proto__": {"a": 1}, "constructor": 2, "sidecar_info": {"operation_type": "face_detection", "image_path": "/a/\\u00e9\\"\\\\\\/\\b\\f\\n\\r\\t\\ud800.jpg"}, "face_detection": {"success": true, "faces": []}}`,
      withOp(`"k${long(40)}": "${long(33)}", "${'a'.repeat(15)}": "${'b'.repeat(16)}", "${'c'.repeat(17)}": "😀${'d'.repeat(31)}"`),
      withOp(`"a": "\\ud83d\\ude00", "b": "\\udc00\\ud800", "c": "\u2028\u2029"`),
    ];
    for (const s of texts) {
      const t = newTally();
      checkAccelParity('strings.json', Buffer.from(s), t);
      assertClean(t);
      assert.equal(t.certified, 1, s);
    }
  });

  it('the key table: duplicates per object only, keys forgotten when a scan or its skeleton defers, overflow', () => {
    const t = newTally();
    const run = (text: string) => checkAccelParity('keys.json', Buffer.from(text), t);
    run(withOp(`"k": {"k": 1, "j": {"k": 2}}, "j": 3`)); // the same key in nested objects: no duplicate
    run(withOp(`"k": {"k": 1}, "k": 2`)); // a duplicate after a nested object
    // A scan that fails after adding keys, then a file with those keys in another order.
    run(withOp(`"zz1": 1, "zz2": [1,]`));
    run(withOp(`"zz2": "b", "zz1": "a"`));
    // A skeleton that gives up (an escaped duplicate) after the scan added keys.
    run(withOp(`"q1": 1, "q2": 2, "\\u0071\\u0031": 3`));
    run(withOp(`"q2": "b", "q1": "a"`));
    run(withOp(`"\\u0071\\u0033": 1, "q3": 2`)); // a duplicate: escaped first, interned second
    // More distinct keys than the table holds (4096): the rest are plain keys.
    const many = Array.from({ length: 5000 }, (_, i) => `"key${i}": ${i}`).join(', ');
    run(withOp(many));
    run(withOp(`${many}, "key4999": 1`));
    run(withOp(`${many}, "key17": 1`));
    run(withOp(`"key4998": 1, "key17": 2`));
    assertClean(t);
    assert.equal(t.certified, 5); // the nested keys, the two reorderings, the 5,000 keys, the last one
  });

  it('keys whose hashes collide are told apart by their bytes (the key table compares whole keys)', () => {
    // assembly/scanner.ts keyHash, rewritten here to prove the pairs below collide (found by a
    // search with it): a change of the hash fails this test instead of silently weakening it.
    const K = [0x9e3779b97f4a7c15n, 0xc2b2ae3d27d4eb4fn, 0xd6e8feb86659fd93n];
    const M64 = (1n << 64n) - 1n;
    const word = (b: Buffer, off: number, n: number) => b.subarray(off, off + n).reduceRight((w, x) => (w << 8n) | BigInt(x), 0n);
    const keyHash = (k: string) => {
      const b = Buffer.from(k, 'latin1');
      const a = b.length >= 8 ? word(b, 0, 8) : word(b, 0, b.length);
      const c = b.length >= 8 ? word(b, b.length - 8, 8) : 0n;
      let h = ((a * K[0]) & M64) ^ ((c * K[1]) & M64) ^ BigInt(b.length);
      h ^= h >> 32n;
      h = (h * K[2]) & M64;
      h ^= h >> 32n;
      return h & 0xffffffffn;
    };
    // Under 8 bytes (one masked word), and 12 bytes sharing their first 8 (the last word decides).
    const pairs = [
      ['9rs5knc', '_4juexh'],
      ['encoding4nb0', 'encodingbteb'],
    ];
    for (const [a, b] of pairs) assert.equal(keyHash(a), keyHash(b), `${a} and ${b} collide`);
    const t = newTally();
    for (const [a, b] of pairs) {
      checkAccelParity('collide.json', Buffer.from(withOp(`"x": {"${a}": 1}, "y": {"${b}": 2}`)), t);
      checkAccelParity('collide.json', Buffer.from(withOp(`"y": {"${b}": 2, "${a}": 1}, "x": [{"${a}": 3}]`)), t);
    }
    assertClean(t);
    assert.equal(t.certified, 4);
  });

  it('padding: every cut of a valid file is deferred or identical (tokens at the end of the buffer)', () => {
    const s = Buffer.from(sidecar(face(emb(128))));
    const t = newTally();
    for (let cut = 0; cut < s.length; cut += 7) checkAccelParity(`cut${cut}.json`, s.subarray(0, cut), t);
    checkAccelParity('whole.json', s, t);
    assertClean(t);
    assert.equal(t.certified, 1);
  });

  it('the scanner reports a defer code for what it leaves to the reference; a tape never built is forgotten', () => {
    assert.equal(typeof scanJson(Buffer.from('{"a": 1e400}'), 512), 'number');
    assert.equal(typeof scanJson(Buffer.from('{"never_built_key": 1.5, "other_new_key": 2}'), 512), 'object');
    const t = newTally();
    checkAccelParity('after.json', Buffer.from(withOp('"other_new_key": "x", "never_built_key": "y"')), t);
    assertClean(t);
    assert.equal(t.certified, 1);
    assert.equal(accelDecode(Buffer.from('{"a": [1,2,]}'), {}), 'deferred');
    assert.equal(accelDecode(encodeSidecar({ a: 1 }, 'bin'), {}), null);
  });

  it('property: generated JSON (sidecar-like data, two layouts) is deferred or identical', () => {
    const t = newTally();
    fc.assert(
      fc.property(sidecarDataArb, fc.boolean(), (gen, pretty) => {
        // With a known operation, so that the rules do not warn about every file.
        const data = Object.hasOwn(gen, 'face_detection') ? gen : { face_detection: { success: true, faces: [] }, ...gen };
        const bytes = pretty ? encodeSidecar(data, 'json') : Buffer.from(JSON.stringify(data));
        checkAccelParity('gen.json', bytes, t);
        return t.mismatches.length === 0;
      }),
      { numRuns: 150, seed: 13 },
    );
    assertClean(t);
    assert.ok(t.certified > 25, `certified ${t.certified} of ${t.files}`);
  });

  it('property: the JSON fuzz corpus and its hostile mutations are deferred or identical', () => {
    const t = newTally();
    checkFuzzParity('json', { runs: 250, seed: 13, untilMismatch: true }, t);
    assertClean(t);
    assert.ok(t.certified > 0 && t.deferred > 0, `certified ${t.certified}, deferred ${t.deferred}`);
  });

  it('property: the legacy fuzz corpus and its hostile mutations are deferred or identical', () => {
    const t = newTally();
    checkFuzzParity('legacy', { runs: 250, seed: 13, untilMismatch: true }, t);
    assertClean(t);
    assert.ok(t.certified > 0 && t.deferred > 0, `certified ${t.certified}, deferred ${t.deferred}`);
  });

  it('the reference samples of the earlier tool and the pipeline', () => {
    const t = newTally();
    for (const f of filesUnder(SAMPLES_DIR)) checkAccelParity(path.basename(f), fs.readFileSync(f), t);
    assertClean(t);
    assert.ok(t.certified > 0);
  });
});

/**
 * The scanner's 64-byte fast path for float runs (assembly/scanner.ts floatBlocks) against its own
 * scalar loop: for every input, the same tape words or the same defer code. Inputs aim at the
 * path's edges: tokens it must refuse (exponents, leading zeros, a lone '-', two dots, 32+
 * characters), separators it leaves to the scalar loop (a space before a comma, two commas, a
 * missing comma), elements across the 64-byte block boundary, the run's end.
 */
/**
 * The earlier tool's layout (a u64 length, then compact JSON text): the reference decodes the text
 * as it decodes a JSON file from byte 8 on (formats/legacy.ts), so the scanner takes the text from
 * there and the result says 'legacy'. Each attacker is a file the reference refuses or flags.
 */
describe('accel: legacy files take the scanner from their text on', () => {
  const legacy = (text: string | Buffer, declared?: number) => {
    const body = Buffer.isBuffer(text) ? text : Buffer.from(text);
    const prefix = Buffer.alloc(8);
    prefix.writeUInt32LE(declared ?? body.length, 0);
    return Buffer.concat([prefix, body]);
  };

  it('a clean legacy sidecar is certified, its format legacy, every inspection the reference one', () => {
    for (const text of [JSON.stringify(JSON.parse(GOOD)), GOOD, `${GOOD} \n`]) {
      const bytes = legacy(text);
      const t = newTally();
      checkAccelParity('a.bin', bytes, t);
      assertClean(t);
      assert.equal(t.certified, 1);
      const fast = inspectBytes({ path: 'a.bin', name: 'a.bin' }, bytes, { summarize: true, validate: true, accel: true });
      assert.equal(fast.accel, 'wasm');
      assert.equal(fast.format, 'legacy');
      assert.equal(fast.summary?.embeddingLength, 512);
    }
    // The encoder's own legacy files.
    const t = newTally();
    checkAccelParity('enc.bin', encodeSidecar(JSON.parse(GOOD), 'legacy'), t);
    assertClean(t);
    assert.equal(t.certified, 1);
  });

  const attackers: [string, Buffer][] = [
    ['length one short', legacy(GOOD, GOOD.length - 1)],
    ['length one long', legacy(GOOD, GOOD.length + 1)],
    ['length prefix cut', legacy(GOOD).subarray(0, 8)],
    ['text cut (length says more)', legacy(GOOD, GOOD.length + 40)],
    ['syntax error in the text', legacy('{"face_detection": {"success": true, "faces": [1.5, ]}}')],
    ['trailing garbage inside the length', legacy(`${GOOD} x`)],
    ['a second value inside the length', legacy(`${GOOD}{}`)],
    ['duplicate key', legacy('{"face_detection": {"success": true}, "face_detection": {"success": false}}')],
    ['invalid UTF-8', legacy(Buffer.concat([Buffer.from('{"face_detection": {"success": true, "x": "'), Buffer.from([0xc0, 0x80]), Buffer.from('"}}')]))],
    ['a BOM after the prefix', legacy(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(GOOD)]))],
    ['1e400', legacy(withOp('"x": 1e400'))],
    ['a rule problem', legacy(sidecar(`{"bbox": {"x": -0.1, "y": 0.2, "width": 0.3, "height": 0.4}}`))],
    ['top-level array', legacy('[1.5]')],
  ];
  for (const [name, bytes] of attackers) {
    it(`never certified: ${name}`, () => {
      const t = newTally();
      checkAccelParity(`${name}.bin`, bytes, t);
      assertClean(t);
      assert.equal(t.certified, 0, 'certified');
      const ref = inspectBytes({ path: 'x.bin', name: 'x.bin' }, bytes, { summarize: true, validate: true, accel: false });
      assert.ok(ref.status !== 'ok' || (ref.problems?.length ?? 0) > 0, `the reference flags ${name}`);
    });
  }
});

describe('accel: the float-run fast path is its scalar loop', () => {
  /** The scan with the fast path on or off: its tape words (copied) or its defer code. */
  /** Tape words as text, an interned key as `key`: the second scan finds the keys the first one added (KEY_ID, not KEY_NEW). */
  const tapeView = (tape: Int32Array): string => {
    const parts: string[] = [];
    for (let i = 0; i < tape.length; ) {
      const kind = tape[i] & 0xff;
      if (kind === 12 || kind === 13) {
        parts.push('key');
        i += kind === 12 ? 1 : 3;
      } else {
        const n = kind === 5 || kind === 6 || kind === 7 ? 3 : kind === 11 ? 2 : 1;
        parts.push(Array.from(tape.subarray(i, i + n)).join(' '));
        i += n;
      }
    }
    return parts.join(',');
  };
  const scanBoth = (bytes: Buffer): [string, string] => {
    const out: string[] = [];
    for (const on of [true, false]) {
      setFloatBlocks(on);
      try {
        const tape = scanJson(bytes, 512);
        if (typeof tape === 'number') out.push(`defer ${tape}`);
        else {
          out.push(tapeView(tape));
          consumedTape();
        }
      } finally {
        setFloatBlocks(true);
      }
    }
    return [out[0], out[1]];
  };
  const digits = (n: number, rnd: () => number) => Array.from({ length: n }, () => String(Math.floor(rnd() * 10))).join('');
  const validTokenArb = fc.oneof(
    { weight: 12, arbitrary: fc
        .double({ noNaN: true, noDefaultInfinity: true, min: -2, max: 2 })
        .filter((d) => d === 0 || Math.abs(d) > 1e-99) // three exponent digits: the whole file is deferred
        .map((d) => (Number.isInteger(d) ? `${d}.0` : String(d))) },
    { weight: 2, arbitrary: fc.constantFrom('0.0', '-0.0', '-0.000', '0.5', '-0.5', '10.25', '-123456789.5', '1e-05', '-3.2e-07', '1.5E+2', '2.5e10', '-0.0e0') },
    { weight: 1, arbitrary: fc.integer({ min: 28, max: 42 }).map((n) => `0.${'1'.repeat(n - 2)}`) },
    { weight: 1, arbitrary: fc.integer({ min: 28, max: 42 }).map((n) => `-1.${'0'.repeat(n - 3)}`) },
  );
  const oddTokenArb = fc.constantFrom('01.5', '-01.5', '00.5', '.5', '-.5', '1.', '-', '--1.0', '1.2.3', '1..2', '+1.0', '1.5e', '1.5-', '1.-5', '0x1', 'NaN', '"s"', 'true', '[]', '{}', '1.5e999', '-0.5.', '1e5', '0', '-0', '7', '-3');
  const oddSepArb = fc.constantFrom(' ,', ' , ', ',,', '', ' ', '\n', ',]', ', x', '\u00a0,', ',\u000b');

  it('property: generated float arrays (valid, one odd token or separator, odd layouts) scan the same both ways', () => {
    let floatRuns = 0;
    fc.assert(
      fc.property(
        fc.array(validTokenArb, { minLength: 0, maxLength: 70 }),
        fc.constantFrom(',', ', ', ',\n          ', ',\n    ', ',\t', ',\r\n  ', ',\n'),
        fc.option(fc.tuple(fc.nat(), fc.boolean(), oddTokenArb, oddSepArb), { freq: 2 }),
        fc.constantFrom('', ' ', '\n      ', '\t'),
        fc.constantFrom('', ' ', '\n    ', ','),
        fc.constantFrom('{"a": %}', '{"a": [%, %], "b": 1}', '{"a": {"b": %}}', '{"a": %'),
        (tokens, sep, odd, open, close, frame) => {
          const seps: string[] = tokens.map(() => sep);
          if (odd !== null && tokens.length > 0) {
            const [at, inToken, tok, oddSep] = odd;
            if (inToken) tokens[at % tokens.length] = tok;
            else seps[at % tokens.length] = oddSep;
          }
          let arr = `[${open}`;
          tokens.forEach((tok, i) => (arr += i < tokens.length - 1 ? tok + seps[i] : tok));
          const bytes = Buffer.from(frame.replaceAll('%', `${arr}${close}]`));
          const [on, off] = scanBoth(bytes);
          if (/(^|,)(11|267) \d+/.test(on)) floatRuns++;
          assert.equal(on, off, bytes.toString());
        },
      ),
      { numRuns: campaign(666, 2000), seed: 16 },
    );
    assert.ok(floatRuns > campaign(150, 500), `${floatRuns} float runs`);
  });

  it('the sign of a run: negative zeros are not negative, any other negative element is', () => {
    const run = (elems: string[]) => {
      const [on, off] = scanBoth(Buffer.from(`{"a": [${elems.join(',\n        ')}]}`));
      assert.equal(on, off);
      const m = /(?:^|,)(11|267) (\d+)/.exec(on);
      assert.ok(m, on);
      return { negative: m[1] === '267', count: Number(m[2]) };
    };
    const pos = Array.from({ length: 30 }, (_, i) => `0.${String(i + 1).padStart(3, '0')}123456789`);
    for (let at = 0; at < 30; at += 7) {
      for (const z of ['-0.0', '-0.000', '-0.00000000000000000']) {
        const e = [...pos];
        e[at] = z;
        assert.deepEqual(run(e), { negative: false, count: 30 }, `${z} at ${at}`);
      }
      for (const n of ['-0.001', '-0.0000000000000001', '-1.0', '-10.0']) {
        const e = [...pos];
        e[at] = n;
        assert.deepEqual(run(e), { negative: true, count: 30 }, `${n} at ${at}`);
      }
    }
  });

  it('every one-byte change of a pretty-printed embedding scans the same both ways', () => {
    let seed = 16;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
    const values = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? '-' : '') + `0.0${digits(15, rnd)}`);
    const base = Buffer.from(`{"face": {"encoding": [\n          ${values.join(',\n          ')}\n        ], "n": 1}}`);
    const bytes = '0123456789-.,e ]\n+xE';
    let certifiedChanges = 0;
    for (let i = 20; i < base.length - 12; i++) {
      for (const b of [bytes[i % bytes.length], bytes[(i * 7 + 3) % bytes.length]]) {
        const m = Buffer.from(base);
        m[i] = b.charCodeAt(0);
        const [on, off] = scanBoth(m);
        assert.equal(on, off, `byte ${i} -> ${JSON.stringify(b)}: ${m.subarray(Math.max(0, i - 20), i + 20).toString()}`);
        if (!on.startsWith('defer')) certifiedChanges++;
      }
    }
    const [on, off] = scanBoth(base);
    assert.equal(on, off);
    assert.ok(!on.startsWith('defer'));
    assert.ok(certifiedChanges > 100, `${certifiedChanges} changed files scanned`);
  });

  it('the float runs of the sample sidecars, cut at every offset of a block: the same both ways', () => {
    const text = Buffer.from(sidecar(face(emb(200))));
    for (let cut = text.length - 200; cut <= text.length; cut++) {
      const [on, off] = scanBoth(text.subarray(0, cut));
      assert.equal(on, off, `cut ${cut}`);
    }
  });
});

describe('accel: each path forced through the public API', () => {
  let root = '';
  before(async () => {
    root = tempDir('isc-accel-');
    await generateSampleLibrary(root, { images: 90, seed: 13, formatMix: { json: 4, bin: 1, legacy: 1 } });
  });
  after(() => removeTree(root));

  it('every file of a sample library: identical inspections; only files the reference flags are deferred', () => {
    const t = newTally();
    checkTreeParity(root, t);
    assertClean(t);
    assert.ok(t.json - t.bin > 40, `${t.json - t.bin} JSON files`);
    // JSON text: what the certifier is unsure of, the skeleton decides (bin files: test/accel-bin.test.ts).
    assert.ok(t.certified - t.binCertified > (t.json - t.bin) * 0.85, `certified ${t.certified - t.binCertified} of ${t.json - t.bin}`);
    // The small library holds every rare category at least once: deferred must be those only
    // (corrupt files, reports without a known operation). The < 5 % share is a bench row.
    for (const f of filesUnder(root)) {
      const bytes = fs.readFileSync(f);
      const fast = inspectBytes({ path: f, name: path.basename(f) }, bytes, { summarize: true, validate: true, accel: true });
      if (fast.accel === 'deferred') assert.ok(fast.status !== 'ok' || (fast.problems?.length ?? 0) > 0, `a clean file was deferred: ${f}`);
    }
  });

  it('validate, stats, format-stats, validate-files: the same output with accel on and off', async () => {
    const run = async (accel: boolean) => {
      const v = await validate(root, { accel, engine: 'inline' });
      for (const x of v.results!) x.processing_time = 0;
      const files = filesUnder(root).filter((f) => f.endsWith('.json'));
      const vf = await validateFiles(files, { accel, engine: 'threads', workers: 2 });
      for (const x of vf.results!) x.processing_time = 0;
      return JSON.stringify([
        { ...v, scan: { ...v.scan, engine: null } },
        await stats(root, { accel, engine: 'threads', workers: 2 }),
        await formatStats(root, { accel }),
        { ...vf, engine: null },
      ]);
    };
    assert.equal(await run(true), await run(false));
  });
});

describe('accel: skeleton numbers read from the bytes (tokens the scanner leaves to JavaScript)', () => {
  const same = (token: string) => {
    const ref = parseNumberToken(token);
    assert.ok(!('error' in ref), token);
    const got = skeletonNumber(token);
    assert.ok(Object.is(got.value, ref.value), `${token}: ${got.value} vs ${ref.value}`);
    assert.deepEqual(got, ref, token);
  };
  it('equal parseNumberToken: value (-0 included), type note, every length around 2^53 and 10^22', () => {
    for (const t of ['0', '-0', '-0.0', '0.0', '25.0', '-25.0', '1.5', '-1.5e3', '1E2', '9007199254740991', '9007199254740992', '9007199254740993', '-9007199254740993', '12345678901234567890', '0.8040913680273679', '0.011944635353432327', '4617.304384601975', '1.0000000000000000000001', '0.0000000000000000000001', '123456789012345678.5', '1e-7', '5e-324', '1.7976931348623157e308']) same(t);
  });
  it('equal parseNumberToken on generated tokens (doubles as JS prints them, random digit strings)', () => {
    const digits = (min: number, max: number) => fc.stringMatching(new RegExp(`^[0-9]{${min},${max}}$`));
    const intPart = fc.oneof(fc.constant('0'), fc.tuple(fc.integer({ min: 1, max: 9 }), digits(0, 20)).map(([d, r]) => `${d}${r}`));
    const token = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (/^-?[0-9]+$/.test(String(d)) ? `${d}.0` : String(d))),
      fc.tuple(fc.boolean(), intPart, fc.option(digits(1, 25), { nil: undefined })).map(([neg, i, f]) => `${neg ? '-' : ''}${i}${f === undefined ? '' : `.${f}`}`),
    );
    fc.assert(fc.property(token, (t) => same(t)), { numRuns: campaign(1000, 3000) });
  });
});

describe('accel: number values computed by the scanner (F_VALUE)', () => {
  /** The token as the skeleton gives it (value and note) and whether the scanner computed its double; null: deferred. */
  const viaTape = (token: string): { got: { value: number; note?: number | bigint }; computed: boolean } | null => {
    const text = Buffer.from(`{"a": ${token}}`);
    const tape = scanJson(text, 512);
    if (typeof tape === 'number') return null;
    const computed = (tape[tape.length - 4] & TAPE.F_VALUE) !== 0;
    consumedTape();
    const decoded = accelDecode(Buffer.from(text), {});
    assert.ok(decoded !== null && decoded !== 'deferred', token);
    const value = decoded.data.a as number;
    const note = notesOf(decoded.data)?.get('a');
    return { got: note === undefined ? { value } : { value, note }, computed };
  };
  const same = (token: string): boolean => {
    const ref = parseNumberToken(token);
    const r = viaTape(token);
    if ('error' in ref) {
      assert.equal(r, null, `${token}: the reference refuses it, the scanner must defer`);
      return false;
    }
    if (r === null) return false;
    assert.ok(Object.is(r.got.value, ref.value), `${token}: ${r.got.value} vs ${ref.value}`);
    assert.deepEqual(r.got, ref, token);
    return r.computed;
  };
  it('equal parseNumberToken at the edges: -0, ints around 2^53, 19 and 20 digits, exponents, ties to even', () => {
    const computed = [
      '0', '-0', '0.0', '-0.0', '25.0', '-25.0', '1E2', '1e22', '1.5e-3', '9007199254740991', '-9007199254740991',
      '0.13584553007423145', '0.41835629970446486', '-0.9999999999999999999', '1234567890123456789e-22',
      // exactly halfway between two doubles: ties go to the even one
      '4503599627370496.5', '4503599627370497.5', '2251799813685248.25', '2251799813685248.75', '1125899906842624.125',
      '9007199254740993.0', '9007199254740995.0', '18014398509481986.0', '18014398509481990.0',
      // just beside a tie
      '4503599627370496.51', '4503599627370496.49', '9007199254740993.01', '9007199254740992.99',
    ];
    for (const t of computed) assert.ok(same(t), `${t}: the scanner computes this one`);
    // Left to JavaScript (offsets on the tape): ints of 2^53 or more, 20+ digits, exponents it does not cover.
    for (const t of ['9007199254740992', '12345678901234567890', '1.0000000000000000000001', '0.00000000000000000000001', '1e23', '12345678901234567e5', '1e-23', '99999999999999999999.5']) {
      assert.equal(same(t), false, `${t}: left to JavaScript`);
    }
  });
  it('equal parseNumberToken on generated tokens, many of them computed by the scanner', () => {
    const digits = (min: number, max: number) => fc.stringMatching(new RegExp(`^[0-9]{${min},${max}}$`));
    const intPart = fc.oneof(fc.constant('0'), fc.tuple(fc.integer({ min: 1, max: 9 }), digits(0, 19)).map(([d, r]) => `${d}${r}`));
    const exponent = fc.option(fc.tuple(fc.constantFrom('e', 'E', 'e+', 'e-', 'E-'), fc.integer({ min: 0, max: 99 })).map(([e, n]) => `${e}${n}`), { nil: undefined });
    const token = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (/^-?[0-9]+$/.test(String(d)) ? `${d}.0` : String(d))),
      fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((d) => String(d)),
      fc.tuple(fc.boolean(), intPart, fc.option(digits(1, 24), { nil: undefined }), exponent).map(([neg, i, f, e]) => `${neg ? '-' : ''}${i}${f === undefined ? '' : `.${f}`}${e ?? ''}`),
    );
    let computed = 0;
    let runs = 0;
    fc.assert(
      fc.property(token, (t) => {
        runs++;
        if (same(t)) computed++;
      }),
      { numRuns: campaign(1666, 5000) },
    );
    // The generators favour the edges (huge exponents, long digit runs): about a fifth are computed.
    assert.ok(computed > runs / 10, `only ${computed} of ${runs} computed by the scanner`);
  });
});

describe('accel: scans without number values (the probe skeleton, the server read)', () => {
  const tokens = ['0', '-0', '0.0', '-0.0', '25.0', '1E2', '1e22', '1e23', '1.5e-3', '9007199254740991', '9007199254740992', '1732000000123456789', '-1732000000123456789', '0.13584553007423145', '12345678901234567890', '4503599627370496.5', '1.0000000000000000000001'];

  it('no NUM entry carries a value; the tape is otherwise the one with values', () => {
    const text = Buffer.from(`{"a": [${tokens.join(', ')}], "b": {"x": 0.5, "y": 7}, "c": [0.25, -0.5]}`);
    /** The tape's entries: kind and flags (KEY_NEW and KEY_ID as KEY), NUM offsets or values left out. */
    const entries = (tape: Int32Array) => {
      const out: number[] = [];
      for (let i = 0; i < tape.length; ) {
        const w = tape[i];
        const kind = w & 0xff;
        out.push(kind === TAPE.KEY_NEW || kind === TAPE.KEY_ID ? TAPE.KEY : w);
        i += kind === TAPE.KEY || kind === TAPE.STR || kind === TAPE.NUM || kind === TAPE.KEY_NEW ? 3 : kind === TAPE.FLOATS ? 2 : 1;
      }
      return out;
    };
    const plain = scanJson(text, 512, 0, false);
    assert.ok(typeof plain !== 'number');
    const a = entries(plain);
    consumedTape();
    const valued = scanJson(text, 512);
    assert.ok(typeof valued !== 'number');
    const b = entries(valued);
    consumedTape();
    assert.equal(a.filter((w) => (w & 0xff) === TAPE.NUM).length, tokens.length + 2);
    assert.ok(a.every((w) => (w & 0xff) !== TAPE.NUM || (w & TAPE.F_VALUE) === 0), 'no value without values');
    assert.ok(b.some((w) => (w & 0xff) === TAPE.NUM && (w & TAPE.F_VALUE) !== 0), 'values with values');
    assert.deepEqual(a, b.map((w) => ((w & 0xff) === TAPE.NUM ? w & ~TAPE.F_VALUE : w)));
  });

  it('sidecar_info numbers of every kind read from the text: the probe equals the reference (values, notes)', () => {
    const info = tokens.map((t, i) => `"n${i}": ${t}`).join(', ');
    const text = `{"sidecar_info": {"operation_type": "face_detection", ${info}, "image": {"size": 123456, "mtime_ns": 1732000000123456789, "sha256": "${'a'.repeat(64)}"}, "list": [${tokens.join(', ')}]}, "face_detection": {"success": true, "faces": [], "processing_time": 25.0}}`;
    const t = newTally();
    checkAccelParity('values.json', Buffer.from(text), t);
    assertClean(t);
    assert.equal(t.certified, 1);
    const probe = accelDecode(Buffer.from(text), {}, { arrays: 'skim' });
    assert.ok(probe !== null && probe !== 'deferred');
    const ref = decodeSidecar(Buffer.from(text)).data.sidecar_info as JsonObject;
    const got = probe.data.sidecar_info as JsonObject;
    for (let i = 0; i < tokens.length; i++) {
      assert.ok(Object.is(got[`n${i}`], ref[`n${i}`]), tokens[i]);
      assert.deepEqual(notesOf(got)?.get(`n${i}`), notesOf(ref)?.get(`n${i}`), `${tokens[i]}: its note`);
    }
  });
});

describe('accel: stats sizes recorded while the skeleton is built', () => {
  it("each object and array among the root's values gets its exact bin size, and the summary takes that record", () => {
    const longKey = 'k'.repeat(70);
    const text = `{"sidecar_info": {"operation_type": "face_detection", "created_at": "2024-12-06T14:07:32.033218"},
      "face_detection": {"success": true, "faces": [${face(emb(512))}, ${face(emb(512), ', "age": 25.0, "id": 12345678901234567890, "z": -0.0, "n": -0')}],
        "metadata": {"processing_time": 0.25, "detector": "insightface", "note": "caf\u00e9 \\u00e9\\ud800 \\n", "${longKey}": [1, 2.5, "x", null, true, false, [], {}]}},
      "yolov8": {"success": true, "objects": [{"class_name": "person", "class_id": 0, "confidence": 0.5, "bbox": [1.5, 2.5, 3.5]}],
        "short": [0.5, 1.5], "ints": [1, 2, 3, 4, 5], "mixed": [1.5, 2.5, 3.5, 4], "whole": [1.0, 2.0, 3.0, 4.0], "big": [1e30, 2.5, 3.5, 4.5], "e": 1e30},
      "\\u0075ser": {"\\u006b": "v", "${longKey}x": 70000, "neg": -70000, "huge": 18446744073709551616},
      "list": [[1.5, 2.5, 3.5, 4.5], {"a": []}, "s"], "n": 3, "s": "x"}`;
    const bytes = Buffer.from(text);
    const ref = decodeSidecar(bytes, {}).data;
    const sized = accelDecode(Buffer.from(text), {}, { sizes: true });
    assert.ok(sized !== null && sized !== 'deferred');
    let containers = 0;
    for (const k of Object.keys(ref)) {
      const v: JsonValue = sized.data[k];
      if (v === null || typeof v !== 'object') continue;
      containers++;
      assert.equal(encodedSize(v), binEncodedSize(ref[k]), k);
    }
    assert.equal(containers, 5);
    // The summary's size is the record, not a walk: a key added afterwards would change a walk.
    (sized.data.yolov8 as JsonObject).added = 'x'.repeat(100);
    assert.equal(encodedSize(sized.data.yolov8), binEncodedSize(ref.yolov8));
    assert.notEqual(binEncodedSize(sized.data.yolov8), binEncodedSize(ref.yolov8));
    // Stats through both paths: the same sizes.
    const opts = { summarize: true, validate: true } as const;
    const fast = inspectBytes({ path: 'a.json', name: 'a.json' }, Buffer.from(text), { ...opts, accel: true });
    const slow = inspectBytes({ path: 'a.json', name: 'a.json' }, Buffer.from(text), { ...opts, accel: false });
    assert.deepEqual(fast.summary?.dataSizes, slow.summary?.dataSizes);
  });
});

describe('accel: files read straight into the scanner input', () => {
  it('a mixed sequence (BOM, bin, legacy, corrupt, empty, over the accelerator limit) inspects as with accel off', (t) => {
    const dir = tempDir('isc-accel-inplace-');
    t.after(() => removeTree(dir));
    const big = sidecar(Array.from({ length: 450 }, () => face(emb(512))).join(', '));
    assert.ok(big.length > ACCEL_MAX_BYTES, 'one file takes the reference path by size');
    const bodies: [string, Buffer][] = [
      ['a.json', Buffer.from(GOOD)],
      ['b.json', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(GOOD)])],
      ['c.json', Buffer.from(GOOD.slice(0, 200))],
      ['d.bin', encodeSidecar(JSON.parse(GOOD), 'bin')],
      ['e.json', Buffer.from(sidecar(face(emb(8))))],
      ['f.json', Buffer.alloc(0)],
      ['g.json', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(sidecar(face(emb(4)), ', "x": 1e400'))])],
      ['h.json', Buffer.from(big)],
      ['i.json', Buffer.from(GOOD)],
      // Legacy files are scanned where they were read, from byte 8 on.
      ['j.bin', encodeSidecar(JSON.parse(GOOD), 'legacy')],
      ['k.json', Buffer.from(sidecar(face(emb(16))))],
      ['l.bin', encodeSidecar(JSON.parse(sidecar(face(emb(4)), ', "x": 1.5, "x": 2.5').replace('"x": 2.5', '"y": 2.5')), 'legacy')],
      ['m.bin', Buffer.concat([encodeSidecar(JSON.parse(GOOD), 'legacy').subarray(0, 8), Buffer.from('{"face_detection": {"success": true}, "face_detection": {}}')])],
    ];
    for (const [name, body] of bodies) fs.writeFileSync(path.join(dir, name), body);
    const order = [...bodies, ...bodies.slice().reverse()].map(([name]) => name);
    for (const opts of Object.values(INSPECT_SETS)) {
      const run = (accel: boolean) =>
        order.map((name) => {
          const { elapsedMs: _e, accel: _a, ...rest } = inspectFile({ path: path.join(dir, name), name }, { ...opts, accel });
          return rest;
        });
      assert.deepEqual(run(true), run(false));
    }
  });
});

describe('accel: the kill switch and doctor', () => {
  it('IMAGE_SIDECAR_ACCEL is read at the edge (engineFromEnv), explicit options win', () => {
    assert.equal(engineFromEnv({ IMAGE_SIDECAR_ACCEL: 'off' }).accel, false);
    assert.equal(engineFromEnv({ IMAGE_SIDECAR_ACCEL: 'on' }).accel, true);
    assert.equal(engineFromEnv({}).accel, undefined);
    assert.equal(engineFromEnv({ IMAGE_SIDECAR_ACCEL: 'off' }, { accel: true }).accel, true);
    assert.throws(() => engineFromEnv({ IMAGE_SIDECAR_ACCEL: 'fast' }), /IMAGE_SIDECAR_ACCEL/);
  });

  it('doctor says whether the scanner is in use', async () => {
    const on = parseJson<{ acceleration: { wasm: { inUse: boolean; enabled: boolean; available: boolean } } }>(await runCli(['doctor', '--json']));
    assert.deepEqual(on.acceleration.wasm, { enabled: true, available: true, inUse: true });
    const off = parseJson<{ acceleration: { wasm: { inUse: boolean; enabled: boolean }; note: string } }>(await runCli(['doctor', '--json'], { env: { IMAGE_SIDECAR_ACCEL: 'off' } }));
    assert.equal(off.acceleration.wasm.inUse, false);
    assert.equal(off.acceleration.wasm.enabled, false);
    assert.match(off.acceleration.note, /off/);
    const bad = await runCli(['doctor', '--json'], { env: { IMAGE_SIDECAR_ACCEL: 'fast' } });
    assert.equal(bad.code, 2);
  });
});
