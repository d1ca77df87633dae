/**
 * A save moves values between containers: a whole-document save (merge: 'document', what
 * image_sidecar_rust sends for sportball's merged documents) copies the payload's top-level values
 * and its sidecar_info fields into the existing document. A number's type lives in a note on its
 * container (formats/numbers.ts), so it must go with the value: `sidecar_info.processing_time: 2.0`
 * came back as the int 2, and a top-level 2**64 as 18446744073709552000 (another value). And a
 * note of the value replaced must go: an int 3 saved over 3.0 stayed 3.0, and
 * 1763805012345678900 saved over 1763805012345678901 stayed ...901. Found saving Python-typed
 * documents through image_sidecar_rust and reading them back.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeSidecar } from '../src/formats/codec.js';
import { parseJsonText, typedJsonText } from '../src/formats/json.js';
import { saveSidecar } from '../src/ops/save.js';
import type { JsonObject } from '../src/types.js';
import { FAKE_JPEG, putFile, testDir } from './helpers/tree.js';

const typed = (text: string) => parseJsonText(text, { maxDepth: 600 });

function savedJson(path: string): JsonObject {
  return decodeSidecar(readFileSync(path)).data;
}

describe('saves keep the types of the numbers they move', () => {
  for (const format of ['json', 'bin'] as const) {
    it(`whole-document merge keeps 2.0, 10.0 and 2**64 at the top level and in sidecar_info (${format})`, async (t) => {
      const dir = testDir(t);
      const image = putFile(dir, 'A.jpg', FAKE_JPEG);
      const first = await saveSidecar(image, 'face_detection', { faces: [] }, { format });
      const doc = typed('{"sidecar_info": {"operation_type": "face_detection", "processing_time": 2.0, "n": 18446744073709551616}, "top": 10.0, "big": 18446744073709551616, "face_detection": {"q": 4.0}}');
      await saveSidecar(image, 'face_detection', doc, { merge: 'document' });
      const back = savedJson(first.path);
      const text = typedJsonText(back);
      for (const want of ['"processing_time":2.0', '"n":18446744073709551616', '"top":10.0', '"big":18446744073709551616', '"face_detection":{"q":4.0}']) {
        assert.ok(text.includes(want), `${want} not in ${text}`);
      }
    });
  }

  it('a value saved over another drops the old note: 3 over 3.0, an exact int over another', async (t) => {
    const dir = testDir(t);
    const image = putFile(dir, 'A.jpg', FAKE_JPEG);
    const path = putFile(dir, 'A.json', '{"yolov8": 3.0, "t": 1763805012345678901, "sidecar_info": {"k": 7.0}}');
    await saveSidecar(image, 'yolov8', 3);
    await saveSidecar(image, 't', (typed('{"v": 1763805012345678900}') as JsonObject).v as number);
    await saveSidecar(image, 'face_detection', typed('{"sidecar_info": {"k": 7}}'), { merge: 'document' });
    const text = readFileSync(path, 'utf8');
    assert.match(text, /"yolov8": 3,/);
    assert.match(text, /"t": 1763805012345678800,/);
    assert.match(text, /"k": 7,/);
  });
});
