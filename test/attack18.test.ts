/**
 * Attack review 18: the validate certifier (assembly/scanner.ts certifyValidate, src/accel/certify.ts),
 * the scan's duplicate-key check and container end distances, and link targets outside the root
 * inspected in batches (src/discovery/scan.ts). Every input here must give, with the accelerator,
 * exactly what the reference (accel: false) gives; a certified file must be one the reference does
 * not flag. Fixtures are made by code.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accelCounts } from '../src/accel/decode.js';
import { inspectBytes, type FileInspection, type InspectOptions } from '../src/tasks/inspect.js';

const VALIDATE: InspectOptions = { brief: true, validate: true };

/** A key no earlier file of this thread used (the scanner's key table is per thread). */
let fresh = 0;
function freshKey(stem = 'k'): string {
  return `${stem}${process.pid}x${fresh++}`;
}

function strip(r: FileInspection): Omit<FileInspection, 'elapsedMs' | 'accel'> {
  const { elapsedMs: _e, accel: _a, ...rest } = r;
  return rest;
}

/**
 * `text` inspected with the accelerator and without: the same result, and a certified file is
 * one the reference does not flag. Returns the accelerated result and whether the certifier
 * decided it on the tape.
 */
function same(text: string | Buffer, name = 'IMG_1.json', opts: InspectOptions = VALIDATE): { fast: FileInspection; ref: FileInspection; onTape: boolean } {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const before = accelCounts.onTape;
  const fast = inspectBytes({ path: name, name }, Buffer.from(bytes), { ...opts, accel: true });
  const onTape = accelCounts.onTape > before;
  const ref = inspectBytes({ path: name, name }, Buffer.from(bytes), { ...opts, accel: false });
  const what = bytes.toString('utf8', 0, 240);
  assert.deepEqual(strip(fast), strip(ref), `accel on vs off: ${what}`);
  if (fast.accel === 'wasm') assert.ok(ref.status === 'ok' && (ref.problems ?? []).length === 0, `certified a file the reference flags: ${what}`);
  return { fast, ref, onTape };
}

describe('attack 18: the validate certifier', () => {
  it('a backend key met twice in one file (its second use refers to a key id the file itself introduced)', () => {
    const b = freshKey('backend');
    const r = same(`{"sidecar_info":{"operation_type":"face_detection"},"face_detection":{"${b}":{"${b}":{"success":true}}}}`);
    assert.equal(r.fast.brief?.toolName, b);
  });

  it('a key id reused after a rollback does not bring back the old key\'s string', () => {
    const a = freshKey('alpha');
    const b = freshKey('beta');
    // The skeleton reads `a` (a new key), then gives up at the escaped duplicate: the scanner forgets `a`.
    same(`{"face_detection":{"${a}":{"success":true}},"x":1,"\\u0078":2}`);
    // `b` takes the id `a` had; its second use refers to it.
    const r = same(`{"sidecar_info":{"operation_type":"face_detection"},"face_detection":{"${b}":{"${b}":{"success":true}}}}`);
    assert.equal(r.fast.brief?.toolName, b);
  });

  it('the tool of an operation whose results come after 64 words of other operations\' results', () => {
    const eight = () => Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`b${i}`, { success: true }]));
    const docs = [
      { sidecar_info: { operation_type: 'yolov8' }, face_detection: eight(), object_detection: eight(), ball_detection: eight(), quality_assessment: eight(), yolov8: { success: true } },
      {
        sidecar_info: { operation_type: 'yolov8' },
        face_detection: eight(),
        object_detection: eight(),
        ball_detection: eight(),
        yolov8: { face_detection: { success: true }, object_detection: { success: true }, ball_detection: { success: true, metadata: { detector: 'D' } } },
      },
    ];
    for (const doc of docs) {
      const r = same(JSON.stringify(doc));
      assert.equal(r.onTape, true);
    }
  });
});
