import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SidecarError } from '../src/errors.js';
import { decodeSidecar, deepEqualJson, encodeSidecar } from '../src/formats/codec.js';
import { locateJsonSyntaxError, stringifyKeepingNegativeZero } from '../src/formats/json.js';
import type { JsonObject, JsonValue } from '../src/types.js';
import { campaign } from './helpers/campaign.js';

const utf8 = (s: string) => Buffer.from(s, 'utf8');

/** Assert that decoding throws a SidecarError with this code and a message matching `re`. */
function assertDecodeError(bytes: Uint8Array, code: string, re: RegExp, opts = {}): SidecarError {
  let caught: unknown;
  try {
    decodeSidecar(bytes, opts);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof SidecarError, `expected a SidecarError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, re);
  return caught;
}

describe('json decode', () => {
  it('decodes an object and reports the format', () => {
    const r = decodeSidecar(utf8('{"a": 1, "b": [true, null, "x"], "c": {"d": 0.5}}'));
    assert.equal(r.format, 'json');
    assert.deepEqual(r.notes, []);
    assert.deepEqual(r.data, { a: 1, b: [true, null, 'x'], c: { d: 0.5 } });
  });

  it('removes a UTF-8 BOM and notes it', () => {
    const r = decodeSidecar(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8('{"k": "v"}')]));
    assert.equal(r.format, 'json');
    assert.deepEqual(r.data, { k: 'v' });
    assert.deepEqual(r.notes, ['UTF-8 BOM removed']);
  });

  it('keeps a U+FEFF that is inside a string', () => {
    const r = decodeSidecar(utf8('{"k": "\uFEFFv"}'));
    assert.equal(r.data.k, '\uFEFFv');
  });

  it('rejects an empty file', () => {
    assertDecodeError(new Uint8Array(0), 'CORRUPT', /empty file/);
  });

  it('rejects NaN with line and column', () => {
    const e = assertDecodeError(utf8('{\n  "a": NaN\n}'), 'CORRUPT', /line 2, column 8 \(byte 9\): NaN is not valid JSON/);
    assert.ok(e.message.startsWith('invalid JSON'));
  });

  it('rejects trailing garbage at its position', () => {
    assertDecodeError(utf8('{"a": 1}\n}x'), 'CORRUPT', /line 2, column 1 \(byte 9\): unexpected '}' after the end of the JSON value/);
  });

  it('rejects truncation at the end of the input', () => {
    const text = '{\n  "a": [1, 2';
    assertDecodeError(utf8(text), 'CORRUPT', /line 2, column 13 \(byte 14\): unexpected end of input/);
  });

  it('reports byte offsets after multi-byte characters and a BOM', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8('{"é": x}')]);
    // BOM (3) + '{"' (2) + 'é' (2 bytes) + '": ' (3) -> 'x' at byte 10, column 7.
    assertDecodeError(bytes, 'CORRUPT', /line 1, column 7 \(byte 10\): unexpected character 'x'/);
  });

  it('rejects top-level values that are not objects', () => {
    assertDecodeError(utf8('[1, 2]'), 'CORRUPT', /top-level value is an array, expected an object/);
    assertDecodeError(utf8('null'), 'CORRUPT', /top-level value is null, expected an object/);
    assertDecodeError(utf8(' 42 '), 'CORRUPT', /top-level value is a number, expected an object/);
    assertDecodeError(utf8('"s"'), 'CORRUPT', /top-level value is a string, expected an object/);
  });

  it('rejects invalid UTF-8 with the byte offset', () => {
    const bytes = Buffer.concat([utf8('{"a": "x'), Buffer.from([0xc3, 0x28]), utf8('"}')]);
    assertDecodeError(bytes, 'CORRUPT', /invalid UTF-8 at byte 8$/);
    // An encoded surrogate (CESU-8) is not UTF-8 either.
    const cesu = Buffer.concat([utf8('{"a": "'), Buffer.from([0xed, 0xa0, 0x80]), utf8('"}')]);
    assertDecodeError(cesu, 'CORRUPT', /invalid UTF-8 at byte 7$/);
  });

  it('rejects raw control characters in strings', () => {
    assertDecodeError(utf8('{"a": "x\ny"}'), 'CORRUPT', /column 9 .*control character U\+000A/);
  });

  it('gives TOO_DEEP (not a stack overflow) for 100000 nested arrays', () => {
    const depth = 100_000;
    const text = '{"a":' + '['.repeat(depth) + ']'.repeat(depth) + '}';
    assertDecodeError(utf8(text), 'TOO_DEEP', /deeper than 512 levels/);
  });

  it('honours maxDepth exactly: {} is depth 1', () => {
    const text = utf8('{"a":{"b":[1]}}'); // depth 3
    assert.deepEqual(decodeSidecar(text, { maxDepth: 3 }).data, { a: { b: [1] } });
    assertDecodeError(text, 'TOO_DEEP', /deeper than 2 levels/, { maxDepth: 2 });
  });

  it('checks the size limit before anything else', () => {
    assertDecodeError(utf8('{"a": NaN}'), 'TOO_LARGE', /10 bytes, above the limit of 9 bytes/, { maxFileSize: 9 });
  });

  it('names the path in messages', () => {
    const e = assertDecodeError(utf8('[]'), 'CORRUPT', /^\/lib\/x\.json: top-level/, { path: '/lib/x.json' });
    assert.equal(e.path, '/lib/x.json');
  });

  it('reports binary garbage as not a known sidecar format', () => {
    assertDecodeError(Buffer.alloc(32), 'CORRUPT', /not a known sidecar format: all 32 bytes are zero/);
    assertDecodeError(Buffer.from([0xff, 0xfe, 0x7b, 0x00]), 'CORRUPT', /UTF-16 byte order mark/);
    assertDecodeError(Buffer.from([0x01, 0x02, 0x03]), 'CORRUPT', /binary data \(first bytes 01 02 03\)/);
  });

  it('parses "__proto__" as an own key, not as the prototype', () => {
    const r = decodeSidecar(utf8('{"__proto__": {"polluted": true}, "a": 1}'));
    assert.ok(Object.prototype.hasOwnProperty.call(r.data, '__proto__'));
    assert.equal(Object.getPrototypeOf(r.data), Object.prototype);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('json encode', () => {
  const sample: JsonObject = { b: 1, a: [0.1, -2, 'x', null, true, {}], c: { d: [] } };

  it('writes the pipeline layout: 2-space indent, no trailing newline', () => {
    const text = encodeSidecar(sample, 'json').toString('utf8');
    assert.equal(text, JSON.stringify(sample, null, 2));
    assert.ok(!text.endsWith('\n'));
  });

  it('writes -0 as -0.0 so it survives a round trip', () => {
    const data: JsonObject = { z: -0, arr: [1, -0, 0], o: { n: -0 } };
    const bytes = encodeSidecar(data, 'json');
    assert.match(bytes.toString('utf8'), /"z": -0\.0/);
    const back = decodeSidecar(bytes).data;
    assert.ok(Object.is(back.z, -0));
    assert.ok(Object.is((back.arr as number[])[1], -0));
    assert.ok(Object.is((back.arr as number[])[2], 0));
    assert.ok(deepEqualJson(back, data));
  });

  it('the -0 fallback writes exactly what JSON.stringify writes otherwise', () => {
    const values: JsonValue[] = [sample, { a: [[], [[]], {}, { x: [1, { y: 'z' }] }] }, { s: 'q"\\\u0001\u2028\ud800' }];
    for (const v of values) {
      assert.equal(stringifyKeepingNegativeZero(v, '  ', ''), JSON.stringify(v, null, 2));
      assert.equal(stringifyKeepingNegativeZero(v, '', ''), JSON.stringify(v));
    }
  });

  it('round-trips lone surrogates through escapes', () => {
    const data: JsonObject = { s: 'a\ud800b', ['k\udc00']: 'end\udbff' };
    const bytes = encodeSidecar(data, 'json');
    assert.match(bytes.toString('utf8'), /\\ud800/);
    assert.ok(deepEqualJson(decodeSidecar(bytes).data, data));
  });

  it('refuses NaN / Infinity / undefined instead of writing null or dropping them', () => {
    for (const [data, re] of [
      [{ a: { b: [1, Number.NaN] } }, /non-finite number .* at \/a\/b\/1/],
      [{ x: Number.POSITIVE_INFINITY }, /at \/x/],
      [{ u: undefined }, /value of type undefined at \/u/],
    ] as const) {
      assert.throws(
        () => encodeSidecar(data as unknown as JsonObject, 'json'),
        (e: unknown) => e instanceof SidecarError && e.code === 'UNREPRESENTABLE' && re.test(e.message),
      );
    }
  });

  it('refuses a top-level value that is not an object', () => {
    assert.throws(
      () => encodeSidecar([1] as unknown as JsonObject, 'json'),
      (e: unknown) => e instanceof SidecarError && e.code === 'UNREPRESENTABLE',
    );
  });

  it('refuses data nested deeper than maxDepth', () => {
    let deep: JsonObject = { leaf: 1 };
    for (let i = 0; i < 600; i++) deep = { n: deep };
    assert.throws(
      () => encodeSidecar(deep, 'json'),
      (e: unknown) => e instanceof SidecarError && e.code === 'TOO_DEEP',
    );
    assert.ok(encodeSidecar(deep, 'json', { maxDepth: 700 }).length > 0);
  });

  it('rejects unknown format names with USAGE', () => {
    assert.throws(
      () => encodeSidecar({}, 'yaml' as never),
      (e: unknown) => e instanceof SidecarError && e.code === 'USAGE',
    );
  });
});

describe('JSON syntax locator', () => {
  it('agrees with JSON.parse on what is valid', () => {
    const valid = ['{}', '[]', '{"a":[1,-2.5e+3,0,true,false,null,"\\u00e9\\n"]}', ' \n{"a" : { } }\t', '"x"', '-0', '0.5E-2'];
    for (const t of valid) {
      JSON.parse(t);
      assert.equal(locateJsonSyntaxError(t), undefined, t);
    }
    const invalid: [string, number][] = [
      ['{"a":1,}', 7],
      ['{"a" 1}', 5],
      ['[1 2]', 3],
      ['{"a":01}', 6],
      ['{"a":1.}', 7],
      ['{"a":-}', 6],
      ['{"a":"\\x"}', 6],
      ["{'a':1}", 1],
      ['', 0],
      ['{"a":tru}', 5],
      ['{"a":-Infinity}', 5],
    ];
    for (const [t, index] of invalid) {
      assert.throws(() => JSON.parse(t));
      const found = locateJsonSyntaxError(t);
      assert.ok(found, t);
      assert.equal(found.index, index, `${t}: ${found.reason}`);
    }
  });

  it('finds an error exactly when JSON.parse fails (mutated random JSON)', () => {
    const edit = fc.tuple(fc.nat(), fc.constantFrom('', '{', '}', '[', ']', ',', ':', '"', '\\', '-', '.', 'e', '0', ' ', 'n', '\u0001'));
    fc.assert(
      fc.property(fc.json(), fc.array(edit, { maxLength: 3 }), (text, edits) => {
        let t = text;
        for (const [at, ins] of edits) {
          const i = at % (t.length + 1);
          t = ins === '' ? t.slice(0, i) + t.slice(i + 1) : t.slice(0, i) + ins + t.slice(i);
        }
        let valid = true;
        try {
          JSON.parse(t);
        } catch {
          valid = false;
        }
        const found = locateJsonSyntaxError(t);
        assert.equal(found === undefined, valid, `${JSON.stringify(t)}: ${found?.reason}`);
        if (found) assert.ok(found.index >= 0 && found.index <= t.length);
      }),
      { numRuns: campaign(333, 1000) },
    );
  });
});
