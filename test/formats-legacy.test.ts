import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { SidecarError } from '../src/errors.js';
import { decodeSidecar, deepEqualJson, detectFormat, encodeSidecar } from '../src/formats/codec.js';
import type { JsonObject } from '../src/types.js';
import { SAMPLES_DIR } from './helpers/samples.js';

const SAMPLES = SAMPLES_DIR;
// Read in place, read-only.
const sample = (name: string) => fs.readFileSync(path.join(SAMPLES, name));

/** The earlier tool's layout built by hand: u64 LE length + text. */
function legacyFile(text: string, lengthDelta = 0): Buffer {
  const body = Buffer.from(text, 'utf8');
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(body.length + lengthDelta));
  return Buffer.concat([head, body]);
}

function corruptMessage(bytes: Uint8Array): string {
  try {
    decodeSidecar(bytes);
  } catch (e) {
    assert.ok(e instanceof SidecarError && e.code === 'CORRUPT', String(e));
    return e.message;
  }
  assert.fail('expected CORRUPT');
}

describe('legacy samples', () => {
  const expected: [string, JsonObject][] = [
    ['legacy-test1.bin', { faces: [], sidecar_info: { operation_type: 'face_detection' } }],
    ['legacy-test2.bin', { objects: [], sidecar_info: { operation_type: 'object_detection' } }],
  ];
  for (const [name, want] of expected) {
    it(`${name} decodes to the expected object`, () => {
      const bytes = sample(name);
      assert.equal(detectFormat(bytes), 'legacy');
      const r = decodeSidecar(bytes);
      assert.equal(r.format, 'legacy');
      assert.deepEqual(r.notes, []);
      assert.deepEqual(r.data, want);
    });
    it(`${name} is re-encoded byte for byte`, () => {
      const bytes = sample(name);
      assert.deepEqual(encodeSidecar(decodeSidecar(bytes).data, 'legacy'), bytes);
    });
  }
});

describe('legacy layout', () => {
  it('writes a u64 LE length then compact JSON', () => {
    const data: JsonObject = { a: [1, 0.5], b: { c: 'é' } };
    const file = encodeSidecar(data, 'legacy');
    const text = JSON.stringify(data);
    assert.equal(file.readBigUInt64LE(0), BigInt(Buffer.byteLength(text)));
    assert.equal(file.subarray(8).toString('utf8'), text);
    assert.equal(detectFormat(file), 'legacy');
  });

  it('keeps -0 and lone surrogates', () => {
    const data: JsonObject = { z: -0, s: 'x\ud800' };
    const file = encodeSidecar(data, 'legacy');
    assert.match(file.subarray(8).toString('utf8'), /"z":-0\.0/);
    assert.ok(deepEqualJson(decodeSidecar(file).data, data));
  });

  it('explains a length field that does not match the file', () => {
    const text = '{"faces":[]}';
    assert.match(corruptMessage(legacyFile(text, 5)), /not a known sidecar format: starts like a legacy sidecar .* says 17 bytes and 12 follow \(truncated: 5 bytes missing\)/);
    assert.match(corruptMessage(legacyFile(text, -2)), /says 10 bytes and 12 follow \(2 trailing bytes\)/);
    assert.match(corruptMessage(legacyFile(text).subarray(0, 8)), /says 12 bytes and 0 follow/);
    assert.match(corruptMessage(legacyFile(' {}')), /u64 length 3 matches the file\) but byte 8 is 0x20, not '\{'/);
    assert.equal(detectFormat(legacyFile(text, 5)), 'unknown');
  });

  it('reports JSON errors inside a legacy file at file byte offsets', () => {
    assert.match(corruptMessage(legacyFile('{"a":NaN}')), /invalid JSON at line 1, column 6 \(byte 13\): NaN is not valid JSON/);
    const bad = legacyFile('{"a":"xx"}');
    bad[14] = 0xff;
    assert.match(corruptMessage(bad), /invalid UTF-8 at byte 14/);
  });

  it('applies the depth limit', () => {
    const text = '{"a":' + '['.repeat(1000) + ']'.repeat(1000) + '}';
    assert.throws(
      () => decodeSidecar(legacyFile(text)),
      (e: unknown) => e instanceof SidecarError && e.code === 'TOO_DEEP',
    );
  });
});
