/**
 * The skim decoder (src/formats/skim.ts) must accept and reject exactly what decodeSidecar does,
 * with the same errors, and give the same objects with every array emptied. Attacked with byte
 * mutations of realistic sidecars and with number-grammar edge cases; regex and DFA paths are
 * held to the same answers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeSidecar, encodeSidecar } from '../src/formats/codec.js';
import { setSkimRegex, skimSidecar } from '../src/formats/skim.js';
import { probeSidecar } from '../src/analysis/summary.js';
import { sampleSidecar } from '../src/sample/shapes.js';
import { createRng } from '../src/sample/prng.js';
import type { JsonObject, JsonValue } from '../src/types.js';

function prng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n: number) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/** The full decode with every array outside the top-level sidecar_info replaced by [] (what the skim promises to return). */
function emptied(v: JsonValue, top = true): JsonValue {
  if (Array.isArray(v)) return [];
  if (v !== null && typeof v === 'object') {
    const out: JsonObject = {};
    for (const k of Object.keys(v)) {
      const c = top && k === 'sidecar_info' ? v[k] : emptied(v[k], false);
      if (k === '__proto__') Object.defineProperty(out, k, { value: c, enumerable: true, writable: true, configurable: true });
      else out[k] = c;
    }
    return out;
  }
  return v;
}

type Outcome = { ok: true; data: JsonValue; format: string; notes: string[] } | { ok: false; code: string; message: string };

function run(fn: () => { data: JsonObject; format: string; notes: string[] }): Outcome {
  try {
    const r = fn();
    return { ok: true, data: r.data, format: r.format, notes: r.notes };
  } catch (e) {
    const err = e as { code?: string; message: string };
    return { ok: false, code: err.code ?? 'FOREIGN', message: err.message };
  }
}

/** Asserts parity on one input; returns which path the skim took (or 'error'). */
function assertParity(bytes: Buffer, label: string, maxDepth?: number): string {
  const full = run(() => decodeSidecar(bytes, { maxDepth }));
  const skim = run(() => skimSidecar(bytes, { maxDepth }));
  if (full.ok !== skim.ok) assert.fail(`${label}: full ${full.ok ? 'accepts' : 'rejects'}, skim ${skim.ok ? 'accepts' : 'rejects'} (${JSON.stringify(bytes.toString('latin1').slice(0, 120))})`);
  if (!full.ok || !skim.ok) {
    assert.deepEqual(skim, full, label);
    return 'error';
  }
  assert.equal(skim.format, full.format, label);
  assert.deepEqual(skim.notes, full.notes, label);
  const path = (skimSidecar(bytes, { maxDepth }) as { path: string }).path;
  assert.deepEqual(skim.data, path === 'skim' ? emptied(full.data) : full.data, label);
  assert.deepEqual(probeSidecar(skim.data as JsonObject), probeSidecar(full.data as JsonObject), label);
  return path;
}

function sampleText(seed: number, faces = 2, embedding?: number): Buffer {
  const data = sampleSidecar(createRng(seed), { faces });
  const text = JSON.stringify(
    data,
    // Shorter embeddings keep the mutation test fast; the shape stays the pipeline's.
    (k, v) => (embedding !== undefined && k === 'encoding' && Array.isArray(v) ? v.slice(0, embedding) : v),
    2,
  );
  return Buffer.from(text, 'utf8');
}

describe('skimSidecar', () => {
  it('gives the full decode with arrays emptied on realistic sidecars, on the skim path', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const bytes = sampleText(seed, seed % 4);
      assert.equal(assertParity(bytes, `sample ${seed}`), 'skim');
      // compact JSON too
      const compact = Buffer.from(JSON.stringify(JSON.parse(bytes.toString())), 'utf8');
      assert.equal(assertParity(compact, `compact ${seed}`), 'skim');
    }
  });

  it('agrees with the full decoder on 3,000 byte mutations (flips, deletions, insertions, truncations)', () => {
    const rnd = prng(16);
    const base = sampleText(3, 2, 12);
    const alphabet = Buffer.from('0123456789-+.eE,:[]{}" \n\\tfnu\u00e9xN');
    let accepted = 0;
    for (let k = 0; k < 3000; k++) {
      const b = Buffer.from(base);
      let m: Buffer;
      const kind = rnd(4);
      const at = rnd(b.length);
      if (kind === 0) {
        b[at] = rnd(3) === 0 ? rnd(256) : alphabet[rnd(alphabet.length)];
        m = b;
      } else if (kind === 1) m = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + rnd(3))]);
      else if (kind === 2) m = Buffer.concat([b.subarray(0, at), Buffer.from([alphabet[rnd(alphabet.length)]]), b.subarray(at)]);
      else m = b.subarray(0, at);
      if (assertParity(m, `mutation ${k} (kind ${kind} at ${at})`) !== 'error') accepted++;
    }
    assert.ok(accepted > 300, `some mutations stay valid JSON (${accepted})`);
  });

  it('applies the JSON number grammar inside arrays exactly (regex and DFA paths)', () => {
    const cases = [
      '1', '-1', '0', '-0', '0.5', '1e5', '1E+5', '1e-5', '-0.0e0', '12.34E-10',
      '01', '1.', '.5', '1..2', '--1', '+1', '1e', '1e+', '-', '1-2', '0x10', 'NaN', 'Infinity', '-Infinity',
      '1,,2', ',1', '1,', '1 2', '', ' ', '\n1\n,\n2\n', '1\t,\t2', '1\f', '1,\u00a02', 'true', 'null', '"a"', '[1]', '{}', '1,[2]',
    ];
    for (const regex of [true, false]) {
      setSkimRegex(regex);
      try {
        for (const c of cases) {
          for (const wrap of [(x: string) => `{"a":[${x}]}`, (x: string) => `{"a":[[${x}], 3]}`, (x: string) => `{"a":{"b":[${x}]}, "c": [0.1, ${x}]}`]) {
            assertParity(Buffer.from(wrap(c), 'utf8'), `${regex ? 'regex' : 'dfa'} ${JSON.stringify(wrap(c))}`);
          }
        }
      } finally {
        setSkimRegex(true);
      }
    }
  });

  it('keeps JSON.parse semantics for keys: duplicates (last wins), __proto__, escapes', () => {
    for (const text of [
      '{"a": 1, "a": 2}',
      '{"__proto__": {"success": false}, "x": [1]}',
      '{"face\\u005fdetection": {"success": false, "faces": [1,2]}, "k\\"ey": "v\\n"}',
      '{"s": "\\ud800"}',
      '{"s": "tab\there"}',
      '{"s": "\\x41"}',
      '{"s": "\\u12"}',
      // the full decoder's number model and duplicate rule, also inside skipped arrays
      '{"a": [{"x": 1, "x": 2}]}',
      '{"a": [{"k\\u0031": 1, "k1": 2}]}',
      '{"a": [1e400]}',
      '{"a": [1.5, -2e-400, 3]}',
      '{"a": [12345678901234567890123]}',
      '{"a": [1' + '0'.repeat(400) + ']}',
      '{"a": [0.1234567890123456789]}',
      '{"a": -0, "b": -0.0, "c": 25.0, "d": 12345678901234567}',
      '{"a": 1e400}',
    ]) {
      assertParity(Buffer.from(text, 'utf8'), text);
    }
  });

  it('sends every risky number token to the full decoder, at the digit-count boundaries, in arrays and values (regex and DFA paths)', () => {
    // Risky: 16+ integer digits or 3+ exponent digits. The number-array expression admits no
    // risky token, so an array holding one must fail it and give up in the general loop.
    const safe = ['123456789012345', '-123456789012345', '123456789012345.123456789', '1e99', '1E-99', '1e+05', '0.1234567890123456789', '0e00'];
    const risky = ['1234567890123456', '-1234567890123456', '1234567890123456.5', '1e100', '1E-100', '1e+005', '1.5e000', '12345678901234567890123'];
    for (const regex of [true, false]) {
      setSkimRegex(regex);
      try {
        for (const [tokens, want] of [
          [safe, 'skim'],
          [risky, 'full'],
        ] as const) {
          for (const t of tokens) {
            for (const text of [`{"a": [0.5, ${t}, 2]}`, `{"a": [${t}]}`, `{"a": [[1, ${t}]]}`, `{"a": [{"b": ${t}}]}`, `{"a": ${t}}`]) {
              const label = `${regex ? 'regex' : 'dfa'} ${text}`;
              assert.equal(assertParity(Buffer.from(text, 'utf8'), label), want, label);
            }
          }
        }
      } finally {
        setSkimRegex(true);
      }
    }
  });

  it('applies the depth limit as the full decoder does', () => {
    const deep = (n: number, inner: string) => '{"a":'.repeat(n - 1) + '{' + inner + '}' + '}'.repeat(n - 1);
    for (const d of [1, 2, 3, 5, 10]) {
      for (const n of [d - 1, d, d + 1]) {
        if (n < 1) continue;
        assertParity(Buffer.from(deep(n, '"x":1')), `objects ${n} deep, limit ${d}`, d);
        assertParity(Buffer.from(deep(n, '"x":[[1]]')), `arrays in objects ${n} deep, limit ${d}`, d);
      }
    }
  });

  it('hands BOM, invalid UTF-8, empty and non-JSON inputs to the full decoder (same errors and notes)', () => {
    const text = sampleText(5, 1);
    assert.equal(assertParity(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), text]), 'bom'), 'full');
    const bad = Buffer.from(text);
    bad[text.indexOf('face_detection') + 2] = 0xff;
    assert.equal(assertParity(bad, 'invalid utf-8'), 'error');
    assertParity(Buffer.alloc(0), 'empty');
    assertParity(Buffer.from('[1, 2]'), 'top-level array');
    assertParity(Buffer.from('{"a": 1} x'), 'trailing garbage');
    assertParity(Buffer.from('{"a": 1}\n\n'), 'trailing whitespace');
  });

  it('decodes bin, rkyv and legacy in full', () => {
    const data = sampleSidecar(createRng(9), { faces: 1 });
    for (const format of ['bin', 'rkyv', 'legacy'] as const) {
      const bytes = encodeSidecar(data, format);
      const r = skimSidecar(bytes);
      assert.equal(r.path, 'full');
      assert.equal(r.format, format === 'legacy' ? 'legacy' : format);
      assert.deepEqual(probeSidecar(r.data), probeSidecar(data));
    }
  });

  it('skims a number array above the regex size limit with the DFA', () => {
    const big = Array.from({ length: 70_000 }, (_, i) => Math.sin(i) * 1e3);
    const text = Buffer.from(JSON.stringify({ yolov8: { success: true, blob: big } }, null, 2));
    assert.ok(text.length > 1 << 20);
    assert.equal(assertParity(text, 'big array'), 'skim');
    const broken = Buffer.from(text);
    broken[broken.length - 100] = 0x2e; // a '.' in a number near the end
    assertParity(broken, 'big array, broken number');
  });
});
