/** `read IMAGE` and `write IMAGE --operation OP --data FILE|-` end to end. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAKE_JPEG, makeTree, parseJson, removeTree, runCli, sidecarData } from './helpers/cli.js';

describe('cli read and write', () => {
  it('write creates a sidecar in the asked format; a second write merges (other operations kept)', async () => {
    const root = makeTree({ 'photos/Été 2025.JPG': FAKE_JPEG, 'faces.json': { json: { success: true, faces: [{ face_id: 0, confidence: 0.22490839660167694 }] } } });
    const image = join(root, 'photos/Été 2025.JPG');
    const w1 = await runCli(['write', image, '--operation', 'face_detection', '--data', join(root, 'faces.json'), '--format', 'json']);
    assert.equal(w1.code, 0, w1.stderr);
    const r1 = parseJson<Record<string, any>>(w1);
    assert.equal(r1.path, join(root, 'photos/Été 2025.json'));
    assert.equal(r1.format, 'json');
    assert.equal(r1.created, true);
    assert.match(r1.message, /^Saved: face_detection in /);

    const w2 = await runCli(['write', image, '--operation', 'quality_assessment', '--data', '-'], { input: '\ufeff{"success": true, "quality": {"grade": "A"}}' });
    assert.equal(w2.code, 0, w2.stderr);
    assert.equal(parseJson<Record<string, any>>(w2).created, false);

    const read = await runCli(['read', image]);
    assert.equal(read.code, 0, read.stderr);
    const data = parseJson<Record<string, any>>(read);
    assert.deepEqual(Object.keys(data).sort(), ['face_detection', 'quality_assessment', 'sidecar_info']);
    assert.equal(Object.is(data.face_detection.faces[0].confidence, 0.22490839660167694), true);
    assert.equal(data.quality_assessment.quality.grade, 'A');
    assert.equal(data.sidecar_info.last_operation, 'quality_assessment');
    assert.deepEqual(JSON.parse(readFileSync(r1.path, 'utf8')), data);
    removeTree(root);
  });

  it('read --operation of a bare number keeps its type (25.0, an int beyond 2^53), on stdout, with --detailed, to -o and for people: it printed 25 and 123456789012345680000', async () => {
    const root = makeTree({ 'A.jpg': FAKE_JPEG });
    try {
      const img = join(root, 'A.jpg');
      for (const [op, text] of [['score', '25.0'], ['big', '123456789012345678901'], ['neg', '-0.0']]) {
        const w = await runCli(['write', img, '--operation', op, '--data', '-'], { input: text });
        assert.equal(w.code, 0, w.stderr);
        assert.equal((await runCli(['read', img, '--operation', op, '--json'])).stdout.trim(), text);
        assert.equal((await runCli(['read', img, '--operation', op])).stdout.trim(), text, 'for people');
        const detailed = await runCli(['read', img, '--operation', op, '--detailed', '--json']);
        assert.match(detailed.stdout, new RegExp(`"data": ${text.replace(/[.-]/g, '\\$&')}\n`));
        const out = join(root, `${op}.out`);
        assert.equal((await runCli(['read', img, '--operation', op, '-o', out])).code, 0);
        assert.equal(readFileSync(out, 'utf8').trim(), text);
      }
    } finally {
      removeTree(root);
    }
  });

  it('a symlinked image: the sidecar lives next to the target and is read through the link', async () => {
    const root = makeTree({ 'photos/A.jpg': FAKE_JPEG, 'games/G1/A.jpg': { symlink: '../../photos/A.jpg' } });
    const link = join(root, 'games/G1/A.jpg');
    const w = await runCli(['write', link, '--operation', 'yolov8', '--data', '-'], { input: '{"success": true, "objects": []}' });
    assert.equal(w.code, 0, w.stderr);
    assert.equal(parseJson<Record<string, any>>(w).path, join(root, 'photos/A.bin'), 'default format for a new sidecar: bin');
    assert.deepEqual(readdirSync(join(root, 'games/G1')), ['A.jpg']);
    const viaLink = parseJson<Record<string, any>>(await runCli(['read', link, '--detailed']));
    assert.equal(viaLink.path, join(root, 'photos/A.bin'));
    assert.equal(viaLink.data.sidecar_info.symlink_info.is_symlink, true);
    const direct = parseJson<Record<string, any>>(await runCli(['read', join(root, 'photos/A.jpg')]));
    assert.deepEqual(direct.yolov8, { success: true, objects: [] });
    removeTree(root);
  });

  it('read: {} without a sidecar; a corrupt sidecar is exit 2, and write refuses to overwrite it', async () => {
    const root = makeTree({ 'A.jpg': FAKE_JPEG, 'B.jpg': FAKE_JPEG, 'B.json': '{"face_detection": {"faces": [' });
    const none = await runCli(['read', join(root, 'A.jpg')]);
    assert.equal(none.code, 0);
    assert.deepEqual(parseJson(none), {});
    const corrupt = await runCli(['read', join(root, 'B.jpg')]);
    assert.equal(corrupt.code, 2);
    assert.match(corrupt.stderr, /^image-sidecar: error \[CORRUPT\]: /);
    const w = await runCli(['write', join(root, 'B.jpg'), '--operation', 'yolov8', '--data', '-'], { input: '{"objects": []}' });
    assert.equal(w.code, 2);
    assert.match(w.stderr, /\[CORRUPT\]/);
    assert.equal(readFileSync(join(root, 'B.json'), 'utf8'), '{"face_detection": {"faces": [', 'the earlier tool replaced it with {}');
    removeTree(root);
  });

  it('write: usage errors for missing --operation, missing --data, bad JSON, sidecar_info', async () => {
    const root = makeTree({ 'A.jpg': FAKE_JPEG, 'A.json': { json: sidecarData('A.jpg', 1, 4) } });
    const image = join(root, 'A.jpg');
    const before = readFileSync(join(root, 'A.json'));
    const data = join(root, 'd.txt');
    writeFileSync(data, '{not json');
    const results = await Promise.all([
      runCli(['write', image, '--data', '-'], { input: '{}' }),
      runCli(['write', image, '--operation', 'yolov8']),
      runCli(['write', image, '--operation', 'yolov8', '--data', data]),
      runCli(['write', image, '--operation', 'sidecar_info', '--data', '-'], { input: '{}' }),
      runCli(['write', image, '--operation', 'yolov8', '--data', '-', '--format', 'yaml'], { input: '{}' }),
    ]);
    for (const r of results) assert.equal(r.code, 2, r.stderr);
    assert.match(results[0].stderr, /\[USAGE\]: write needs --operation/);
    assert.match(results[1].stderr, /\[USAGE\]: write needs --data/);
    assert.match(results[2].stderr, /\[USAGE\]: --data .*not valid JSON/);
    assert.match(results[3].stderr, /\[USAGE\]: "sidecar_info" is maintained by the library/);
    assert.match(results[4].stderr, /Allowed choices are json, bin, rkyv, legacy/);
    assert.deepEqual(readFileSync(join(root, 'A.json')), before);
    assert.equal(existsSync(join(root, 'A.bin')), false);
    removeTree(root);
  });
});
