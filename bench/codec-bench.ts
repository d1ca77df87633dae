/**
 * Codec micro-figures on realistic sidecars (src/sample's `sampleSidecar`), all in memory:
 * size of bin vs 2-space JSON, bin decode vs JSON.parse, bin encode vs JSON.stringify(x, null, 2).
 */
import { decodeSidecar, deepEqualJson, encodeSidecar } from '../src/formats/codec.js';
import { Rng } from '../src/sample/prng.js';
import { sampleSidecar } from '../src/sample/shapes.js';
import type { JsonObject } from '../src/types.js';
import { median } from './measure.js';
import { errors } from '../src/errors.js';
import { cryptoFigures, type CryptoFigures } from './crypto-bench.js';

/** Each timed sample runs the loop until at least this long, so timer resolution never matters. */
const SAMPLE_MIN_MS = 120;
const SAMPLES = 5;

/** Median time per item (µs) of `fn` over all items, after one untimed pass (JIT warm-up). */
function perItemUs(items: number, fn: () => void): number {
  fn();
  const samples: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    let reps = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < SAMPLE_MIN_MS) {
      fn();
      reps++;
      t = performance.now();
    }
    samples.push(((t - t0) * 1000) / (reps * items));
  }
  return median(samples);
}

export interface CodecFigures {
  sidecars: number;
  /** Mean sizes in bytes. */
  indentJsonBytes: number;
  compactJsonBytes: number;
  binBytes: number;
  /** µs per sidecar. */
  jsonParseUs: number;
  jsonDecodeSidecarUs: number;
  binDecodeUs: number;
  jsonStringifyUs: number;
  binEncodeUs: number;
  roundTripExact: boolean;
  /** Encrypted bin read + decode ÷ plain bin read + decode, and the µs figures (bench/crypto-bench.ts). */
  crypto?: CryptoFigures;
}

export function codecFigures(count: number, seed: number): CodecFigures {
  const rng = new Rng(seed);
  const objects: JsonObject[] = [];
  for (let i = 0; i < count; i++) objects.push(sampleSidecar(rng));
  const texts = objects.map((o) => JSON.stringify(o, null, 2));
  const jsonBufs = texts.map((t) => Buffer.from(t, 'utf8'));
  const bins = objects.map((o) => encodeSidecar(o, 'bin'));
  const roundTripExact = bins.every((b, i) => deepEqualJson(decodeSidecar(b).data, objects[i]));

  let sink = 0; // results feed a sink so no call can be optimised away
  const jsonParseUs = perItemUs(count, () => {
    for (const t of texts) sink += (JSON.parse(t) as JsonObject) === null ? 1 : 0;
  });
  const jsonDecodeSidecarUs = perItemUs(count, () => {
    for (const b of jsonBufs) sink += decodeSidecar(b).notes.length;
  });
  const binDecodeUs = perItemUs(count, () => {
    for (const b of bins) sink += decodeSidecar(b).notes.length;
  });
  const jsonStringifyUs = perItemUs(count, () => {
    for (const o of objects) sink += JSON.stringify(o, null, 2).length;
  });
  const binEncodeUs = perItemUs(count, () => {
    for (const o of objects) sink += encodeSidecar(o, 'bin').length;
  });
  if (sink < 0) throw errors.internal('unreachable');

  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    sidecars: count,
    indentJsonBytes: mean(jsonBufs.map((b) => b.length)),
    compactJsonBytes: mean(objects.map((o) => Buffer.byteLength(JSON.stringify(o)))),
    binBytes: mean(bins.map((b) => b.length)),
    jsonParseUs,
    jsonDecodeSidecarUs,
    binDecodeUs,
    jsonStringifyUs,
    binEncodeUs,
    roundTripExact,
    crypto: cryptoFigures(Math.min(count, 500), seed),
  };
}
