/**
 * The number model (src/formats/numbers.ts, docs/FORMAT.md "Numbers"): ints and floats keep value
 * and type in every format; numbers a double cannot hold are CORRUPT; duplicate JSON keys are
 * CORRUPT; the JSON fast path and the pure parser agree; convert verifies exact values and types.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { SidecarError } from '../src/errors.js';
import { canonicalJson, decodeSidecar, deepEqualJson, encodeSidecar } from '../src/formats/codec.js';
import { encodeJsonText, jsonDecodeCounts, parseJsonText, setJsonFastPath, stringifyTyped } from '../src/formats/json.js';
import { cloneJson, hasNumberNotes } from '../src/formats/numbers.js';
import { convert } from '../src/ops/convert.js';
import { exportSidecars } from '../src/ops/export.js';
import { readSidecar } from '../src/ops/read.js';
import { saveSidecar } from '../src/ops/save.js';
import { serveStdio } from '../src/server/stdio.js';
import { PassThrough } from 'node:stream';
import type { JsonObject, SidecarFormat } from '../src/types.js';
import { SAMPLES_DIR } from './helpers/samples.js';
import { FAKE_JPEG, putFile, testDir } from './helpers/tree.js';
import { campaign } from './helpers/campaign.js';

const FORMATS: SidecarFormat[] = ['json', 'bin', 'rkyv', 'legacy'];
const decodeText = (t: string) => decodeSidecar(Buffer.from(t, 'utf8')).data;
/** Compact JSON text as we write it (the legacy body). */
const compact = (data: JsonObject) => encodeSidecar(data, 'legacy').subarray(8).toString('utf8');

function corruptMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SidecarError, String(e));
    assert.equal(e.code, 'CORRUPT', e.message);
    return e.message;
  }
  assert.fail('expected CORRUPT');
}

/** Run `fn` once with the JSON fast path and once with the pure parser. */
function bothPaths(fn: (label: string) => void): void {
  for (const fast of [true, false]) {
    setJsonFastPath(fast);
    try {
      fn(fast ? 'fast' : 'pure');
    } finally {
      setJsonFastPath(true);
    }
  }
}

describe('number model: JSON text', () => {
  afterEach(() => setJsonFastPath(true));

  it('keeps the type of every number of the edge list through every format', () => {
    const text =
      '{"neg_zero_int":-0,"neg_zero":-0.0,"subnormal":1e-320,"min":5e-324,"max":1.7976931348623157e308,"tenth":0.1,' +
      '"whole":25.0,"exp":1E2,"exp2":1.5e3,"zero":0.0,"big":12345678901234567890123,"i64min_minus_1":-9223372036854775809,' +
      '"ts_ns":1763805012345678901,"safe":9007199254740991,"u64max":18446744073709551615,"huge_int":1' + '0'.repeat(400) +
      ',"underflow":1e-400,"rounds_to_int":0.99999999999999999999,"floats":[10.0,20.0,30.0,40.0],"mixed":[1,2.0,3,4.5],' +
      '"box":[10.0,20.0]}';
    const want =
      '{"neg_zero_int":0,"neg_zero":-0.0,"subnormal":1e-320,"min":5e-324,"max":1.7976931348623157e+308,"tenth":0.1,' +
      '"whole":25.0,"exp":100.0,"exp2":1500.0,"zero":0.0,"big":12345678901234567890123,"i64min_minus_1":-9223372036854775809,' +
      '"ts_ns":1763805012345678901,"safe":9007199254740991,"u64max":18446744073709551615,"huge_int":1' + '0'.repeat(400) +
      ',"underflow":0.0,"rounds_to_int":1.0,"floats":[10.0,20.0,30.0,40.0],"mixed":[1,2.0,3,4.5],"box":[10.0,20.0]}';
    bothPaths((label) => {
      const data = decodeText(text);
      assert.equal(data.ts_ns, 1763805012345678800, 'JavaScript sees the nearest double');
      assert.equal(data.huge_int, Infinity);
      assert.ok(Object.is(data.neg_zero_int, 0) && Object.is(data.neg_zero, -0));
      assert.equal(compact(data), want, label);
      for (const f of FORMATS) {
        const back = decodeSidecar(encodeSidecar(data, f)).data;
        assert.equal(compact(back), want, `${label} ${f}`);
        assert.ok(deepEqualJson(back, data), `${label} ${f}`);
        assert.equal(canonicalJson(back), canonicalJson(data), `${label} ${f}`);
      }
    });
  });

  it('a number a double cannot hold is CORRUPT, with its place', () => {
    bothPaths((label) => {
      assert.match(corruptMessage(() => decodeText('{"a": 1e400}')), /number 1e400 is beyond the range of a 64-bit float at line 1, column 7 \(byte 6\)/, label);
      assert.match(corruptMessage(() => decodeText('{\n  "a": [1, -1e400]\n}')), /number -1e400 .* at line 2, column 12/, label);
      assert.match(corruptMessage(() => decodeText('{"a": 1E309}')), /1E309 is beyond the range/, label);
      assert.match(corruptMessage(() => decodeText('{"a": 1' + '0'.repeat(309) + '.5}')), /beyond the range of a 64-bit float/, label);
      assert.match(corruptMessage(() => decodeText('{"a": 1' + '0'.repeat(4300) + '}')), /integer with 4301 digits exceeds the limit of 4300 digits/, label);
      // In the legacy layout too (offsets count the 8-byte prefix).
      const legacy = Buffer.concat([Buffer.from([12, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"a": 1e400}')]);
      assert.match(corruptMessage(() => decodeSidecar(legacy)), /at line 1, column 7 \(byte 14\)/, label);
    });
  });

  it('duplicate keys are CORRUPT (never silently resolved), in every path', () => {
    const cases: [string, RegExp][] = [
      ['{"a": 1, "a": 2}', /duplicate key "a" at line 1, column 10 \(byte 9\)/],
      ['{"a": 1, "b": {"x": [1], "x": [1]}}', /duplicate key "x" at line 1, column 26/],
      ['{"a" : 1, "a" : 1}', /duplicate key "a"/],
      ['{"__proto__": 1, "__proto__": 2}', /duplicate key "__proto__"/],
      ['{"\\u0061": 1, "a": 2.0}', /duplicate key "a"/],
      ['{"a": 25.0, "k": ":x", "a": 3}', /duplicate key "a"/],
    ];
    bothPaths((label) => {
      for (const [t, re] of cases) assert.match(corruptMessage(() => decodeText(t)), re, `${label}: ${t}`);
    });
    // Lookalikes that are not duplicates.
    for (const t of ['{"a": ":", "b": "\\":"}', '{"a": {"a": {"a": 1}}}', '{"a" : 1, "b" : 2}']) {
      bothPaths((label) => assert.ok(deepEqualJson(decodeText(t), JSON.parse(t)), `${label}: ${t}`));
    }
  });

  it('a typical pipeline sidecar with 25.0 takes the fast path; unusual texts the pure one, with the same result', () => {
    const sidecar = fs.readFileSync(path.join(SAMPLES_DIR, 'sportball-test_no_faces.json'));
    const before = { ...jsonDecodeCounts };
    const data = decodeSidecar(sidecar).data;
    assert.equal(jsonDecodeCounts.fast, before.fast + 1);
    assert.equal(jsonDecodeCounts.pure, before.pure);
    assert.match(encodeSidecar(data, 'json').toString(), /"border_padding_percentage": 25\.0/);
    assert.equal(encodeSidecar(data, 'json').toString(), sidecar.toString().trimEnd());
    // Number-like text inside strings, and a U+0000 that could pass for a marker.
    const lookalikes: [string, string][] = [
      ['{"s": "[25.0]", "n": 25.0}', '{"s":"[25.0]","n":25.0}'],
      ['{"s": "\\u0000", "n": 25.0}', '{"s":"\\u0000","n":25.0}'],
      ['{"s": ", 1e400,", "t": "-0"}', '{"s":", 1e400,","t":"-0"}'],
    ];
    for (const [t, want] of lookalikes) bothPaths((label) => assert.equal(compact(decodeText(t)), want, `${label}: ${t}`));
  });

  it('property: the fast path and the pure parser build the same typed values', () => {
    const tokens = ['0', '-0', '1', '-1', '25.0', '-0.0', '0.0', '1e2', '1E2', '1.5e3', '1e-400', '1e-5', '1.2345e-05', '0.1',
      '0.22490839660167694', '5e-324', '1e-320', '1.7976931348623157e308', '9007199254740993', '-9223372036854775809',
      '12345678901234567890123', '1763805012345678901', '123456789012345.0', '12345678901234567', '0.99999999999999999999',
      '1.0000000000000001', '100.000', '1.999', '0.0000000000000001', '4503599627370495.5', '99999999999999999'];
    const key = fc.constantFrom('a', 'b', 'c', '__proto__', 'x y', ':', '');
    const { value } = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
      value: fc.oneof({ maxDepth: 3, depthIdentifier: 'v' }, fc.constantFrom(...tokens), fc.constantFrom('"25.0"', '":"', 'true', 'null'), tie('array'), tie('object')),
      array: fc.array(tie('value'), { maxLength: 6, depthIdentifier: 'v' }).chain((xs) => fc.constantFrom(`[${xs.join(',')}]`, `[ ${xs.join(' , ')} ]`)),
      object: fc.uniqueArray(fc.tuple(key, tie('value')), { maxLength: 5, selector: (e) => e[0], depthIdentifier: 'v' }).map(
        (es) => `{${es.map(([k, v]) => `${JSON.stringify(k)}: ${v}`).join(', ')}}`,
      ),
    }));
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(key, value), { maxLength: 6, selector: (e) => e[0] }), (entries) => {
        const text = `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',\n')}}`;
        setJsonFastPath(true);
        const fast = parseJsonText(text, { maxDepth: 64 });
        setJsonFastPath(false);
        const pure = parseJsonText(text, { maxDepth: 64 });
        setJsonFastPath(true);
        assert.ok(deepEqualJson(fast, pure), text);
        assert.equal(canonicalJson(fast), canonicalJson(pure), text);
        // The placeholder writer (native JSON.stringify + substitution) and the plain typed writer agree.
        for (const indent of [0, 2] as const) {
          assert.equal(encodeJsonText(fast, indent, { maxDepth: 64, formatName: 'json' }), stringifyTyped(fast, ' '.repeat(indent), '', undefined), text);
        }
      }),
      { numRuns: campaign(166, 500) },
    );
  });
});

describe('number model: values held by JavaScript', () => {
  it('a plain JS number is typed as JSON.stringify writes it: integral below 1e21 = int, else float', () => {
    const data: JsonObject = { i: 5, big: 2 ** 60, f: 0.5, e21: 1e21, nz: -0, arr: [1, 2, 3, 4] };
    const want = '{"i":5,"big":1152921504606847000,"f":0.5,"e21":1e+21,"nz":-0.0,"arr":[1,2,3,4]}';
    assert.equal(compact(data), want);
    for (const f of FORMATS) assert.equal(compact(decodeSidecar(encodeSidecar(data, f)).data), want, f);
  });

  it('strings that look like the JSON writer\'s placeholders are written as they are', () => {
    const data = decodeText('{"\\u00000": "\\u00000", "a": 25.0, "b": ["\\u00001", 1.0, "x\\u0000"]}');
    const want = '{"\\u00000":"\\u00000","a":25.0,"b":["\\u00001",1.0,"x\\u0000"]}';
    assert.equal(compact(data), want);
    assert.equal(compact(decodeSidecar(encodeSidecar(data, 'json')).data), want);
  });

  it('a note counts only while the value is unchanged; cloneJson keeps notes, spread does not', () => {
    const data = decodeText('{"a": 25.0, "t": 1763805012345678901, "o": {"x": [10.0, 2.5]}}');
    assert.ok(hasNumberNotes(data));
    const copy = cloneJson(data);
    assert.equal(compact(copy), '{"a":25.0,"t":1763805012345678901,"o":{"x":[10.0,2.5]}}');
    const spread = { ...data };
    assert.equal(compact(spread), '{"a":25,"t":1763805012345678800,"o":{"x":[10.0,2.5]}}'); // the inner object is shared
    data.a = 26;
    data.t = 5;
    assert.equal(compact(data), '{"a":26,"t":5,"o":{"x":[10.0,2.5]}}');
    assert.equal(compact(copy), '{"a":25.0,"t":1763805012345678901,"o":{"x":[10.0,2.5]}}');
  });

  it('deepEqualJson compares types: 25 != 25.0, big ints by their exact digits', () => {
    assert.ok(!deepEqualJson(decodeText('{"a":25.0}'), { a: 25 }));
    assert.ok(deepEqualJson(decodeText('{"a":25.0}'), decodeText('{"a":2.5e1}')));
    assert.ok(!deepEqualJson(decodeText('{"a":1763805012345678901}'), decodeText('{"a":1763805012345678900}')));
    assert.ok(!deepEqualJson(decodeText('{"a":[1,2]}'), decodeText('{"a":[1,2.0]}')));
    assert.ok(deepEqualJson(decodeText('{"a":[1,2.0]}'), decodeText('{"a":[1,2.0]}')));
    assert.notEqual(canonicalJson(decodeText('{"a":25.0}')), canonicalJson({ a: 25 }));
    assert.equal(canonicalJson(decodeText('{"b":1763805012345678901,"a":25.0}')), '{"a":25.0,"b":1763805012345678901}');
  });

  it('bin keeps ints as CBOR ints / bignums and floats as float64, readable as such by a stock decoder', () => {
    const data = decodeText('{"f":[10.0,20.0,30.0,40.0],"i":[10,20,30,40],"m":[1,2.0],"b":-18446744073709551617}');
    const body = encodeSidecar(data, 'bin').subarray(16).toString('hex');
    assert.match(body, /6166d85658200000000000002440/); // "f": tag 86 block starting with 10.0 LE
    assert.match(body, /6169840a14181e1828/); // "i": [10, 20, 30, 40]
    assert.match(body, /616d8201fb4000000000000000/); // "m": [1, 2.0]
    assert.match(body, /6162c349010000000000000000$/); // "b": tag 3 bignum
  });
});

describe('number model: operations', () => {
  it('regression (issue 10): convert json → bin → json keeps ts_ns 1763805012345678901 digit for digit', async (t) => {
    const dir = testDir(t);
    putFile(dir, 'IMG_1.jpg', FAKE_JPEG);
    const text = '{"face_detection":{"success":true,"faces":[],"ts_ns":1763805012345678901,"scale":25.0}}';
    putFile(dir, 'IMG_1.json', text);
    for (const f of ['bin', 'json'] as const) {
      const r = await convert(dir, f, { workers: 1 });
      assert.equal(r.converted, 1, f);
      assert.equal(r.failed, 0, f);
    }
    const back = fs.readFileSync(path.join(dir, 'IMG_1.json'), 'utf8');
    assert.match(back, /"ts_ns": 1763805012345678901\b/);
    assert.match(back, /"scale": 25\.0/);
    assert.equal(compact(decodeText(back)), text);
  });

  it('a save of another operation keeps the sidecar\'s whole floats and big ints (json and bin)', async (t) => {
    const dir = testDir(t);
    for (const ext of ['json', 'bin'] as const) {
      const img = putFile(dir, `${ext}/IMG_1.jpg`, FAKE_JPEG);
      const data = decodeText('{"yolov8":{"metadata":{"border_padding_percentage":25.0}},"face_detection":{"ts_ns":1763805012345678901,"box":[10.0,20.0]}}');
      putFile(dir, `${ext}/IMG_1.${ext}`, encodeSidecar(data, ext));
      await saveSidecar(img, 'quality_assessment', { success: true });
      const back = await readSidecar(img);
      assert.equal(compact({ yolov8: back.yolov8, face_detection: back.face_detection }), '{"yolov8":{"metadata":{"border_padding_percentage":25.0}},"face_detection":{"ts_ns":1763805012345678901,"box":[10.0,20.0]}}', ext);
    }
  });

  it('export (json and jsonl, inline and worker threads) writes every number with its type', async (t) => {
    const dir = testDir(t);
    putFile(dir, 'lib/IMG_1.jpg', FAKE_JPEG);
    putFile(dir, 'lib/IMG_1.json', '{"yolov8":{"metadata":{"border_padding_percentage":25.0}},"face_detection":{"ts_ns":1763805012345678901,"box":[10.0,20.0]}}');
    for (const engine of ['inline', 'threads'] as const) {
      for (const format of ['json', 'jsonl'] as const) {
        const output = path.join(dir, `out-${engine}.${format}`);
        await exportSidecars(path.join(dir, 'lib'), { output, format, engine, workers: 1 });
        const text = fs.readFileSync(output, 'utf8');
        assert.match(text, /"data":\{"yolov8":\{"metadata":\{"border_padding_percentage":25\.0\}\},"face_detection":\{"ts_ns":1763805012345678901,"box":\[10\.0,20\.0\]\}\}/, `${engine} ${format}: ${text}`);
      }
    }
  });

  it('serve --stdio parses requests with the number model and answers reads typed', async (t) => {
    const dir = testDir(t);
    const img = putFile(dir, 'IMG_1.jpg', FAKE_JPEG);
    const lines = [
      `{"id":1,"method":"save","params":{"image":${JSON.stringify(img)},"operation":"face_detection","format":"json","data":{"box":[10.0,20.0],"ts_ns":1763805012345678901,"w":25.0}}}`,
      `{"id":2,"method":"read","params":{"image":${JSON.stringify(img)}}}`,
      `{"id":3,"method":"readDetailed","params":{"image":${JSON.stringify(img)}}}`,
      `{"id":4,"method":"read","params":{"image":"x","image":"y"}}`,
    ];
    const input = new PassThrough();
    const output = new PassThrough();
    let text = '';
    output.on('data', (c: Buffer) => (text += c.toString()));
    const done = serveStdio({ input, output, log: () => undefined });
    input.end(lines.join('\n') + '\n');
    await done;
    const byId = new Map(text.trim().split('\n').map((l) => [JSON.parse(l).id, l]));
    assert.match(byId.get(1)!, /"result":\{/);
    const stored = fs.readFileSync(path.join(dir, 'IMG_1.json'), 'utf8');
    assert.match(stored, /"box": \[\n\s+10\.0,\n\s+20\.0\n\s+\]/);
    assert.match(stored, /"ts_ns": 1763805012345678901,/);
    // A plain JSON sidecar is answered with its own text on one line (its indentation kept as
    // spaces, ops/read.ts readSidecarText): the number spellings are what is checked.
    const unspaced = (l: string) => l.replace(/\s+/g, '');
    assert.doesNotMatch(byId.get(2)!, /[\r\n]/);
    assert.match(unspaced(byId.get(2)!), /"face_detection":\{"box":\[10\.0,20\.0\],"ts_ns":1763805012345678901,"w":25\.0\}/);
    assert.match(unspaced(byId.get(3)!), /"format":"json".*"data":\{"face_detection":\{"box":\[10\.0,20\.0\]/);
    // A request with a duplicate key is not a request: refused like any invalid line, answered to the id it starts with.
    assert.match(byId.get(4)!, /"code":"USAGE".*duplicate key \\"image\\"/);
  });
});

