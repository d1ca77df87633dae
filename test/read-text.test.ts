/**
 * The server's `read` as text (ops/read.ts readSidecarText): a plain JSON sidecar the WebAssembly
 * scanner vouches for goes out as its own bytes on one line (accel/decode.ts plainJsonLine);
 * everything else is the reference decode written back as typed JSON. The promise: parsed with
 * type-keeping JSON, both give the same data and number types, and the same errors and findings.
 * Attackers: duplicate keys (also by escape, beyond the Set threshold, after keys were interned),
 * numbers at the model's edges, CRLF and pretty-printed files, a BOM, the legacy layout, hostile
 * bytes from the fuzz corpus, and the kill switch.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { plainJsonLine } from '../src/accel/decode.js';
import { decodeSidecar } from '../src/formats/codec.js';
import { typedJsonText } from '../src/formats/json.js';
import { DEFAULT_MAX_DEPTH } from '../src/formats/value.js';
import { generateSampleLibrary, readSidecarDetailed, readSidecarText } from '../src/index.js';
import { hostileBytes, seedCorpus } from './reliability/fuzz-inputs.js';
import { removeTree, runCli, tempDir } from './helpers/cli.js';
import { campaign } from './helpers/campaign.js';

/** The reference's answer for some bytes: typed JSON of the decoded data, or the error code. */
function reference(bytes: Uint8Array): { text: string } | { code: string } {
  try {
    return { text: typedJsonText(decodeSidecar(Buffer.from(bytes), { path: 'x.json' }).data) };
  } catch (e) {
    return { code: String((e as { code?: string }).code ?? e) };
  }
}

/** Object keys in the order the JSON text writes them (document order, every level): valid JSON only. */
function keysInTextOrder(text: string): string[] {
  const keys: string[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '"') continue;
    let j = i + 1;
    while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
    let k = j + 1;
    while (k < text.length && ' \t\r\n'.includes(text[k])) k++;
    if (text[k] === ':') keys.push(JSON.parse(text.slice(i, j + 1)) as string);
    i = j;
  }
  return keys;
}

/** plainJsonLine must either decline, or give one line that decodes to exactly the reference's data and types, keys in the same order. */
function checkLine(bytes: Uint8Array, label: string): 'line' | 'declined' {
  const want = reference(bytes);
  const line = plainJsonLine(Buffer.from(bytes), {});
  if (line === null) return 'declined';
  assert.ok('text' in want, `${label}: a line for bytes the reference refuses (${'code' in want ? want.code : ''})`);
  assert.equal(line.indexOf(0x0a), -1, `${label}: LF in the line`);
  assert.equal(line.indexOf(0x0d), -1, `${label}: CR in the line`);
  assert.equal(typedJsonText(decodeSidecar(line, { path: 'x.json' }).data), want.text, `${label}: the line decodes to other data or types`);
  // What a Python client sees beyond the values: the order of the keys (json.loads keeps the text's).
  assert.deepEqual(keysInTextOrder(line.toString('utf8')), keysInTextOrder(want.text), `${label}: keys in another order than the reference's`);
  return 'line';
}

const face = '{"bbox": {"x": 0.1, "y": 0.2, "width": 0.3, "height": 0.4}, "confidence": 0.9, "encoding": [0.125, -0.5, 0.000123456789012345]}';

describe('plainJsonLine: the raw-text fast path of read', () => {
  it('passes a plain sidecar as its own bytes, made one line (LF, CRLF)', () => {
    const pretty = JSON.stringify({ face_detection: { success: true, faces: [JSON.parse(face)] } }, null, 2);
    assert.equal(checkLine(Buffer.from(pretty), 'pretty'), 'line');
    assert.equal(checkLine(Buffer.from(pretty.replace(/\n/g, '\r\n')), 'crlf'), 'line');
    const line = plainJsonLine(Buffer.from(pretty), {})!;
    assert.equal(line.length, Buffer.byteLength(pretty), 'same bytes, whitespace kept as spaces');
  });

  it('keeps number types: 25.0, -0.0, exponents, 19- and 30-digit ints, floats in runs', () => {
    const cases = [
      '{"q": 25.0}',
      '{"q": -0.0, "r": -0, "s": 0}',
      '{"q": 1E2, "r": 1e-7, "s": 2.5E+3}',
      '{"id": 1234567890123456789, "big": 123456789012345678901234567890, "neg": -9223372036854775809}',
      '{"run": [25.0, 1.5, 2.0], "ints": [1, 2, 3], "mixed": [1, 2.0, "x", null, true]}',
      '{"\\u00e9t\\u00e9": "x", "été2": "\\ud83d\\ude00", "lone": "\\ud800"}',
      '{"__proto__": {"a": 1}, "constructor": 2}',
    ];
    for (const c of cases) assert.equal(checkLine(Buffer.from(c), c), 'line', c);
    // Subnormals, the largest double: the scanner may leave them to the reference; either way the answer is the reference's.
    checkLine(Buffer.from('{"tiny": 5e-324, "t2": [2.2250738585072014e-308, 1e-320]}'), 'subnormal');
    checkLine(Buffer.from('{"max": 1.7976931348623157e308, "min": [-1.7976931348623157e308]}'), 'max double');
  });

  it('declines keys a JavaScript object reorders (array indices), so the order is the reference\'s', () => {
    for (const c of ['{"b": 1, "2": 2, "10": 3, "1": 4}', '{"a": {"tracks": {"10": "x", "2": "y"}}}', '{"b": 1, "4294967294": 2}', '{"b": [{"x": 1, "0": 2}]}', '{"b": 1, "\\u0031": 2}']) {
      assert.equal(checkLine(Buffer.from(c), c), 'declined', c);
    }
    // Not array indices (a JavaScript object keeps them where written): the text's order is the reference's.
    for (const c of ['{"b": 1, "4294967295": 2, "-1": 3, "01": 4, "1.5": 5, "1e3": 6, " 1": 7}']) assert.equal(checkLine(Buffer.from(c), c), 'line', c);
  });

  it('declines duplicate keys however they are spelt, wherever they are', () => {
    const many = Array.from({ length: 40 }, (_, i) => `"k${i}": ${i}`).join(', ');
    const dups = [
      '{"a": 1, "a": 2}',
      '{"a": 1, "\\u0061": 2}',
      '{"x": {"b": [1, {"c": 1, "c": 2}]}}',
      `{${many}, "k7": 99}`, // past the list: the Set path
      `{${many}, "k\\u0037": 99}`,
      '{"é": 1, "\\u00e9": 2}',
    ];
    // Interned keys first (KEY_ID on the next scans), then the duplicates by id.
    checkLine(Buffer.from('{"a": 1, "c": 2, "k7": 3}'), 'intern');
    for (const d of dups) {
      assert.equal(checkLine(Buffer.from(d), d), 'declined', d);
      assert.ok('code' in reference(Buffer.from(d)), `${d}: the reference refuses it`);
    }
    // The key table stays in step after an early stop: the same keys still work.
    assert.equal(checkLine(Buffer.from(`{${many}}`), 'after'), 'line');
    assert.equal(checkLine(Buffer.from('{"a": 1, "x": {"c": [1]}}'), 'after2'), 'line');
  });

  it('declines what only the reference may answer: BOM, legacy layout, bad bytes, deep nesting, huge numbers, non-object roots', () => {
    const cases: (string | Buffer)[] = [
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a": 1}')]),
      '[1, 2]',
      '{"a": 1e400}',
      `{"a": ${'1'.repeat(5000)}}`,
      `{"a": ${'['.repeat(DEFAULT_MAX_DEPTH + 1)}${']'.repeat(DEFAULT_MAX_DEPTH + 1)}}`,
      Buffer.concat([Buffer.from('{"a": "'), Buffer.from([0xc0, 0x80]), Buffer.from('"}')]),
      '{"a": NaN}',
      '{"a": 1,}',
      '',
    ];
    for (const c of cases) assert.equal(checkLine(Buffer.from(c), String(c).slice(0, 40)), 'declined', String(c).slice(0, 40));
    // At the depth limit the reference reads it: so may the line.
    assert.equal(checkLine(Buffer.from(`{"a": ${'['.repeat(DEFAULT_MAX_DEPTH - 1)}${']'.repeat(DEFAULT_MAX_DEPTH - 1)}}`), 'at the limit'), 'line');
  });

  it('never gives a line the reference would not give (fuzz corpus, hostile mutations)', () => {
    const corpus = seedCorpus('json', 7);
    let lines = 0;
    for (const [i, b] of corpus.entries()) if (checkLine(b, `seed ${i}`) === 'line') lines++;
    assert.ok(lines > 0, 'the seed corpus has plain files');
    fc.assert(
      fc.property(hostileBytes('json', corpus), (b) => {
        checkLine(b, 'hostile');
      }),
      { numRuns: campaign(133, 400), seed: 20261122 },
    );
  });
});

describe('readSidecarText: the same read as readSidecarDetailed, as text', () => {
  let root: string;
  before(async () => {
    root = tempDir('isc-readtext-');
    await generateSampleLibrary(root, { images: 120, seed: 5, formatMix: { json: 4, bin: 1, legacy: 1 } });
    // A corrupt preferred candidate (fallback) and a duplicate-key file (CORRUPT), beside the sample
    // (sidecar-shaped: a known operation key; another tool's file would be passed over).
    const dir = path.join(root, 'extra');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'a.jpg'), 'x');
    fs.writeFileSync(path.join(dir, 'a.json'), '{"yolov8": 25.0, "yolov8": 1}');
    fs.writeFileSync(path.join(dir, 'a.jpg.json'), '{"yolov8": 25.0}');
    fs.writeFileSync(path.join(dir, 'b.jpg'), 'x');
    fs.writeFileSync(path.join(dir, 'b.json'), '{"yolov8": 1, "\\u0079olov8": 2}');
  });
  after(() => removeTree(root));

  const images = (dir: string): string[] =>
    fs.readdirSync(dir, { withFileTypes: true, recursive: true })
      .filter((d) => d.isFile() || d.isSymbolicLink())
      .map((d) => path.join(d.parentPath ?? d.path, d.name))
      .filter((p) => /\.(jpe?g|png|heic|tiff?|webp|cr2|nef|arw|dng)$/i.test(p))
      .sort();

  it('equals readSidecarDetailed on every image of a sample library (accel on and off)', async () => {
    const all = images(root);
    assert.ok(all.length >= 100);
    let raw = 0;
    for (const img of all) {
      let want: Awaited<ReturnType<typeof readSidecarDetailed>> | { code: string };
      try {
        want = await readSidecarDetailed(img);
      } catch (e) {
        want = { code: String((e as { code?: string }).code) };
      }
      for (const accel of [true, false]) {
        let got: Awaited<ReturnType<typeof readSidecarText>> | { code: string };
        try {
          got = await readSidecarText(img, { accel });
        } catch (e) {
          got = { code: String((e as { code?: string }).code) };
        }
        if ('code' in want || 'code' in got) {
          assert.deepEqual(got, want, `${img}: errors differ (accel ${accel})`);
          continue;
        }
        const { data, ...wantRest } = want;
        const { text, ...gotRest } = got;
        assert.deepEqual(gotRest, wantRest, `${img}: findings, path or format differ (accel ${accel})`);
        const textStr = typeof text === 'string' ? text : text.toString('utf8');
        assert.ok(!/[\r\n]/.test(textStr), `${img}: a line break in the text`);
        assert.equal(typedJsonText(decodeSidecar(Buffer.from(textStr), { path: 'x.json' }).data), typedJsonText(data), `${img}: data or types differ (accel ${accel})`);
        assert.deepEqual(keysInTextOrder(textStr), keysInTextOrder(typedJsonText(data)), `${img}: key order differs (accel ${accel})`);
        if (!accel) assert.equal(textStr, typedJsonText(data), 'off: the reference text itself');
        if (accel && Buffer.isBuffer(text)) raw++;
      }
    }
    assert.ok(raw > 50, `the fast path ran (${raw} raw texts)`);
  });

  it('falls back past a duplicate-key candidate and reports it, as the reference does', async () => {
    const a = await readSidecarText(path.join(root, 'extra', 'a.jpg'));
    assert.equal(a.path, path.join(root, 'extra', 'a.jpg.json'));
    assert.deepEqual(a.findings, (await readSidecarDetailed(path.join(root, 'extra', 'a.jpg'))).findings);
    assert.ok(a.findings.some((f) => f.code === 'corrupt') && a.findings.some((f) => f.code === 'fallback'), JSON.stringify(a.findings));
    assert.equal(String(a.text), '{"yolov8": 25.0}');
    await assert.rejects(readSidecarText(path.join(root, 'extra', 'b.jpg')), (e: { code?: string }) => e.code === 'CORRUPT');
  });

  it('serve --stdio: a bad IMAGE_SIDECAR_ACCEL is a usage error at start, not a failure of every read', async () => {
    const r = await runCli(['serve', '--stdio'], { input: '', env: { IMAGE_SIDECAR_ACCEL: 'bogus' } });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /IMAGE_SIDECAR_ACCEL/);
  });

  it('serve --stdio: read answers one line per request with the typed data, with the accelerator on and off', async () => {
    const img = path.join(root, 'extra', 'a.jpg');
    const req = `${JSON.stringify({ id: 1, method: 'read', params: { image: img } })}\n${JSON.stringify({ id: 2, method: 'readDetailed', params: { image: img } })}\n`;
    for (const env of [{}, { IMAGE_SIDECAR_ACCEL: 'off' }]) {
      const r = await runCli(['serve', '--stdio'], { input: req, env });
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines.length, 2);
      const byId = new Map(lines.map((l) => [JSON.parse(l).id as number, l]));
      // 25.0 stays a float in the text (a JSON.parse client cannot tell, Python can).
      assert.match(byId.get(1)!, /^\{"id":1,"result":\{"yolov8": ?25\.0\}\}$/);
      const detailed = JSON.parse(byId.get(2)!).result;
      assert.equal(detailed.path, path.join(root, 'extra', 'a.jpg.json'));
      assert.deepEqual(detailed.data, { yolov8: 25 });
      assert.match(byId.get(2)!, /"data":\{"yolov8": ?25\.0\}\}\}$/);
    }
  });
});
