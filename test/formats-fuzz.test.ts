import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { SidecarError } from '../src/errors.js';
import { decodeSidecar, deepEqualJson, detectFormat, encodeSidecar } from '../src/formats/codec.js';
import type { JsonObject, SidecarFormat } from '../src/types.js';

/** Deterministic PRNG (mulberry32) so a failure can be replayed. */
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

const seedData: JsonObject = {
  face_detection: {
    success: true,
    faces: [
      {
        face_id: 0,
        bbox: { x: 0.1, y: 0.2, width: 0.05, height: 0.07 },
        confidence: 0.8123456835746765,
        landmarks: [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8], [0.9, 1.0]],
        encoding: Array.from({ length: 24 }, (_, i) => Math.sin(i) / 10),
      },
    ],
    metadata: { image_path: '/photos/a b/Zoë.jpg', faces_found: 1, processing_time: 0.0983 },
  },
  counts: [1, 2, 3, 4, -5, 2 ** 40],
  flags: { ok: true, bad: false, none: null, '': '', __proto__x: -0 },
  text: 'x'.repeat(40) + ' – ünïcödé',
};

/** One random mutation: flip bits, overwrite, truncate, insert, delete or duplicate a range. */
function mutate(bytes: Buffer, rand: (n: number) => number): Buffer {
  const b = Buffer.from(bytes);
  switch (rand(6)) {
    case 0: {
      const flips = 1 + rand(4);
      for (let i = 0; i < flips; i++) b[rand(b.length)] ^= 1 << rand(8);
      return b;
    }
    case 1: {
      b[rand(b.length)] = [0x00, 0xff, 0x7f, 0x80, 0x1f, 0x5f, 0x9f, 0xbf, 0xfb, 0xd8, 0x7b, 0x22][rand(12)];
      return b;
    }
    case 2:
      return b.subarray(0, rand(b.length));
    case 3: {
      const at = rand(b.length + 1);
      const extra = Buffer.from(Array.from({ length: 1 + rand(8) }, () => rand(256)));
      return Buffer.concat([b.subarray(0, at), extra, b.subarray(at)]);
    }
    case 4: {
      const at = rand(b.length);
      return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + rand(8))]);
    }
    default: {
      const at = rand(b.length);
      const len = 1 + rand(16);
      return Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]);
    }
  }
}

/** Re-seal a mutated .bin so the length and CRC are right and the CBOR decoder sees the damage. */
function reseal(file: Buffer): Buffer {
  if (file.length < 16) return file;
  const b = Buffer.from(file);
  b.writeUInt32LE(b.length - 16, 8);
  b.writeUInt32LE(crc32(b.subarray(16)), 12);
  return b;
}

/** Decoding must either succeed with an object or throw a SidecarError with a known code. */
function decodeOrSidecarError(bytes: Uint8Array, label: string): 'ok' | string {
  try {
    const r = decodeSidecar(bytes, { maxDepth: 64 });
    assert.ok(r.data !== null && typeof r.data === 'object' && !Array.isArray(r.data), label);
    return 'ok';
  } catch (e) {
    if (!(e instanceof SidecarError)) assert.fail(`${label}: foreign exception ${String(e)}`);
    assert.ok(['CORRUPT', 'TOO_DEEP', 'TOO_LARGE'].includes(e.code), `${label}: ${e.code}`);
    assert.ok(e.message.length > 0);
    return e.code;
  }
}

const RUNS = 2500;

describe('mutation fuzz: only SidecarError ever comes out', () => {
  for (const format of ['json', 'bin', 'rkyv', 'legacy'] as SidecarFormat[]) {
    it(`${format}: ${RUNS} mutated files`, () => {
      const original = encodeSidecar(seedData, format);
      assert.ok(deepEqualJson(decodeSidecar(original).data, seedData));
      const rand = prng(0x5eed + format.length);
      const outcomes = new Map<string, number>();
      for (let i = 0; i < RUNS; i++) {
        const m = mutate(original, rand);
        const outcome = decodeOrSidecarError(m, `${format} #${i}`);
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        detectFormat(m); // must not throw either
      }
      assert.ok((outcomes.get('CORRUPT') ?? 0) > RUNS / 10, JSON.stringify([...outcomes]));
    });
  }

  for (const format of ['bin', 'rkyv'] as SidecarFormat[]) {
    it(`${format}: ${RUNS} mutated bodies with a valid header and checksum (the CBOR decoder itself)`, () => {
      const original = encodeSidecar(seedData, format);
      const rand = prng(0xcb0 + format.length);
      let corrupt = 0;
      for (let i = 0; i < RUNS; i++) {
        let m = original;
        const steps = 1 + rand(3);
        for (let k = 0; k < steps; k++) m = mutate(m, rand);
        const sealed = reseal(Buffer.concat([original.subarray(0, 16), m.subarray(Math.min(16, m.length))]));
        if (decodeOrSidecarError(sealed, `${format} body #${i}`) === 'CORRUPT') corrupt++;
      }
      assert.ok(corrupt > RUNS / 4, `only ${corrupt} corrupt`);
    });
  }

  it('random bytes behind a valid bin header', () => {
    const rand = prng(42);
    for (let i = 0; i < RUNS; i++) {
      const body = Buffer.from(Array.from({ length: 1 + rand(64) }, () => rand(256)));
      body[0] = 0xa0 | rand(32); // start with a map head so decoding goes past the first byte
      const file = reseal(Buffer.concat([Buffer.from([0x89, 0x49, 0x53, 0x43, 1, rand(2), 0, 0]), Buffer.alloc(8), body]));
      decodeOrSidecarError(file, `random #${i}`);
    }
  });

  it('hostile lengths do not allocate or loop beyond the input', () => {
    // Claims of 2^32-1 and 2^64-1 items / bytes in a 30-byte file are rejected up front.
    const claims = ['9affffffff', 'bbffffffffffffffff', '7bffffffffffffffff', 'd8565bffffffffffffffff', 'd8565f5bffffffffffffffffff'];
    for (const h of claims) {
      const body = Buffer.concat([Buffer.from([0xa1, 0x61, 0x61]), Buffer.from(h, 'hex')]);
      const file = reseal(Buffer.concat([Buffer.from([0x89, 0x49, 0x53, 0x43, 1, 0, 0, 0]), Buffer.alloc(8), body]));
      const t0 = process.hrtime.bigint();
      assert.equal(decodeOrSidecarError(file, h), 'CORRUPT');
      assert.ok(process.hrtime.bigint() - t0 < 50_000_000n, `${h} took too long`);
    }
    // A legacy length prefix of 2^64-1 is just a mismatch.
    const legacy = Buffer.concat([Buffer.alloc(8, 0xff), Buffer.from('{}')]);
    assert.equal(decodeOrSidecarError(legacy, 'legacy'), 'CORRUPT');
  });
});
