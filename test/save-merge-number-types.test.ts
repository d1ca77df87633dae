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
import { join } from 'node:path';
import { decodeSidecar } from '../src/formats/codec.js';
import { parseJsonText, typedJsonText } from '../src/formats/json.js';
import { saveSidecar } from '../src/ops/save.js';
import type { JsonObject } from '../src/types.js';
import { FAKE_JPEG, putFile, testDir } from './helpers/tree.js';
import { spawnSync } from 'node:child_process';
import { CLI_PATH, runCli } from './helpers/cli.js';

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

  // A number's type lives on its container, and an operation's whole result given as a bare number
  // has none: `write --data` of 1763805012345678901 stored 1763805012345678800, 25.0 stored 25, and
  // the server's save the same (the Python client inside and outside `with`).
  for (const format of ['json', 'bin'] as const) {
    it(`a bare number as the whole result keeps its value and type: write --data and the server's save, with and without a backend (${format})`, async (t) => {
      const dir = testDir(t);
      const image = putFile(dir, 'A.jpg', FAKE_JPEG);
      const values: [string, string, string | null][] = [
        ['ts', '1763805012345678901', null],
        ['score', '25.0', null],
        ['exp', '1e2', 'x'],
        ['big', '18446744073709551619', 'y'],
        ['neg', '-0.0', null],
      ];
      for (const [op, text, backend] of values) {
        const r = await runCli(['write', image, '--operation', `cli_${op}`, '--data', '-', '--format', format, ...(backend ? ['--backend', backend] : [])], { input: `${text}\n` });
        assert.equal(r.code, 0, r.stderr);
      }
      const requests = values.map(([op, text, backend], i) => `{"id":${i},"method":"save","params":{"image":${JSON.stringify(image)},"operation":"srv_${op}","data":${text}${backend ? `,"backend":"${backend}"` : ''}}}`);
      const served = spawnSync(process.execPath, [CLI_PATH, 'serve', '--stdio'], { input: requests.join('\n') + '\n', encoding: 'utf8' });
      assert.equal(served.status, 0, served.stderr);
      assert.doesNotMatch(served.stdout, /"error"/);
      const doc = savedJson(join(dir, `A.${format}`));
      for (const [op, text, backend] of values) {
        for (const via of ['cli', 'srv']) {
          const holder = (backend ? doc[`${via}_${op}`] : doc) as JsonObject;
          const key = backend ?? `${via}_${op}`;
          const want = text === '1e2' ? '100.0' : text; // a float, written in its shortest form
          const written = typedJsonText(holder);
          assert.ok(written.includes(`"${key}":${want}`), `${via} ${op}: ${want} not in ${written}`);
        }
      }
    });
  }
});
