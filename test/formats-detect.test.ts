import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { decodeSidecar, detectFormat, encodeSidecar } from '../src/formats/codec.js';
import type { JsonObject } from '../src/types.js';
import { SAMPLES_DIR } from './helpers/samples.js';

const data: JsonObject = { face_detection: { faces: [], emb: [0.5, 0.25, 0.125, 1] }, sidecar_info: { operation_type: 'face_detection' } };
const utf8 = (s: string) => Buffer.from(s, 'utf8');

describe('detectFormat (by content, never by extension)', () => {
  it('recognises what encodeSidecar writes, and decodeSidecar agrees', () => {
    for (const f of ['json', 'bin', 'rkyv', 'legacy'] as const) {
      const bytes = encodeSidecar(data, f);
      assert.equal(detectFormat(bytes), f);
      assert.equal(decodeSidecar(bytes).format, f);
    }
  });

  it('recognises the reference samples', () => {
    const dir = SAMPLES_DIR;
    assert.equal(detectFormat(fs.readFileSync(`${dir}/legacy-test1.bin`)), 'legacy');
    assert.equal(detectFormat(fs.readFileSync(`${dir}/legacy-test2.bin`)), 'legacy');
    assert.equal(detectFormat(fs.readFileSync(`${dir}/sportball-test_no_faces.json`)), 'json');
  });

  it('json: optional BOM, then whitespace, then "{"', () => {
    assert.equal(detectFormat(utf8('{}')), 'json');
    assert.equal(detectFormat(utf8(' \r\n\t{')), 'json');
    assert.equal(detectFormat(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8('\n{"a":1}')])), 'json');
    assert.equal(detectFormat(utf8('[{}]')), 'unknown');
    assert.equal(detectFormat(utf8('null')), 'unknown');
    assert.equal(detectFormat(utf8('   ')), 'unknown');
  });

  it('unknown for empty, damaged or foreign bytes', () => {
    const bin = encodeSidecar(data, 'bin');
    const withByte = (i: number, v: number) => {
      const c = Buffer.from(bin);
      c[i] = v;
      return c;
    };
    assert.equal(detectFormat(new Uint8Array(0)), 'unknown');
    assert.equal(detectFormat(bin.subarray(0, 15)), 'unknown');
    assert.equal(detectFormat(withByte(4, 2)), 'unknown'); // version 2
    assert.equal(detectFormat(withByte(5, 3)), 'unknown'); // unknown flag bit
    assert.equal(detectFormat(withByte(7, 1)), 'unknown'); // reserved byte
    assert.equal(detectFormat(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'unknown'); // a PNG
    const legacy = encodeSidecar(data, 'legacy');
    assert.equal(detectFormat(legacy.subarray(0, legacy.length - 1)), 'unknown'); // length mismatch
  });

  it('looks only at the header: a bin with a bad checksum is still detected as bin', () => {
    const bin = Buffer.from(encodeSidecar(data, 'bin'));
    bin[bin.length - 1] ^= 0xff;
    assert.equal(detectFormat(bin), 'bin');
    assert.throws(() => decodeSidecar(bin), /checksum mismatch/);
  });
});
