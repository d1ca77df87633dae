/**
 * The server's todo / stale / find: the same documents as `todo|stale|find --json` of the CLI on
 * the sample library (with stale results planted by real saves), the same tree-reading options
 * (keys, extra image extensions from a param or the nearest config file), and usage errors per
 * request that leave the server serving.
 */
import assert from 'node:assert/strict';
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { generateSampleLibrary } from '../src/sample/generate.js';
import { saveSidecar } from '../src/ops/save.js';
import { runCli } from './helpers/cli.js';
import { FAKE_JPEG, makeTree, removeTree, sidecarData, tempDir } from './helpers/tree.js';

interface Response {
  id: number;
  result?: any;
  error?: { code: string; message: string };
}

/** One server process answering `requests` (ids 1..n, in order). */
async function serve(requests: { method: string; params: object }[], args: string[] = []): Promise<Response[]> {
  const input = requests.map((r, i) => JSON.stringify({ id: i + 1, ...r })).join('\n') + '\n';
  const r = await runCli(['serve', '--stdio', ...args], { input, timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  const res = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Response);
  res.sort((a, b) => a.id - b.id);
  assert.equal(res.length, requests.length, r.stdout.slice(0, 500));
  return res;
}

async function cliJson(args: string[]): Promise<{ code: number | null; doc: any }> {
  const r = await runCli([...args, '--json', '-q'], { timeoutMs: 120_000 });
  assert.ok(r.code === 0 || r.code === 1, `${args.join(' ')}: ${r.stderr}`);
  return { code: r.code, doc: JSON.parse(r.stdout) };
}

describe('server: todo, stale, find answer exactly as the CLI', () => {
  let root: string;
  before(async () => {
    root = tempDir('isc-srvq-');
    await generateSampleLibrary(root, { images: 300, seed: 7 });
    // Results saved with an image record, then two images changed: stale for todo and stale.
    const a = join(root, 'sv/A.jpg');
    const b = join(root, 'sv/B.jpg');
    makeTree({ 'sv/A.jpg': FAKE_JPEG, 'sv/B.jpg': FAKE_JPEG, 'sv/C.jpg': FAKE_JPEG }, root);
    for (const img of [a, b, join(root, 'sv/C.jpg')]) await saveSidecar(img, 'yolov8', { success: true, objects: [] }, { format: 'json' });
    writeFileSync(a, Buffer.concat([FAKE_JPEG, Buffer.from('edited')]));
    utimesSync(b, new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
  });

  it('todo (several operations, --verify-hash), stale and find give the CLI --json documents', async () => {
    const cases: { method: string; params: Record<string, unknown>; cli: string[] }[] = [
      { method: 'todo', params: { operation: 'yolov8' }, cli: ['todo', root, '--operation', 'yolov8'] },
      { method: 'todo', params: { operation: 'Face_detector' }, cli: ['todo', root, '--operation', 'Face_detector'] },
      { method: 'todo', params: { operation: 'quality_assessment', verifyHash: true }, cli: ['todo', root, '--operation', 'quality_assessment', '--verify-hash'] },
      { method: 'stale', params: {}, cli: ['stale', root] },
      { method: 'stale', params: { verifyHash: true }, cli: ['stale', root, '--verify-hash'] },
      { method: 'find', params: { where: 'faces >= 3' }, cli: ['find', root, '--where', 'faces >= 3'] },
      { method: 'find', params: { where: 'has yolov8 and objects.person > 1' }, cli: ['find', root, '--where', 'has yolov8 and objects.person > 1'] },
      { method: 'find', params: { where: 'faces > 0', operationType: 'yolov8' }, cli: ['find', root, '--where', 'faces > 0', '--operation-type', 'yolov8'] },
    ];
    const res = await serve(cases.map((c) => ({ method: c.method, params: { dir: root, ...c.params } })));
    for (const [i, c] of cases.entries()) {
      const r = res[i]!;
      assert.equal(r.error, undefined, `${c.method} ${JSON.stringify(c.params)}: ${JSON.stringify(r.error)}`);
      const { doc } = await cliJson(c.cli);
      assert.deepEqual(r.result, doc, `${c.method} ${JSON.stringify(c.params)}`);
    }
    // The comparison is not empty-vs-empty: the sample gives real lists of every kind.
    const [todoY, , , stale, , find3] = res.map((r) => r.result);
    assert.ok(todoY.todo.length > 20 && todoY.problem_count > 0, 'todo lists images and reports problems');
    assert.deepEqual(
      todoY.todo.filter((r: { reason: string }) => r.reason === 'stale').map((r: { image: string; changes: string[] }) => [r.image, r.changes]),
      [
        [join(root, 'sv/A.jpg'), ['size', 'mtime']],
        [join(root, 'sv/B.jpg'), ['mtime']],
      ],
    );
    assert.deepEqual(stale.stale.map((r: { image: string }) => r.image), [join(root, 'sv/A.jpg'), join(root, 'sv/B.jpg')]);
    assert.equal(stale.counts.current, 1);
    assert.ok(find3.matches.length > 0 && find3.matched === find3.matches.length);
  });

  it('usage errors are per request (the server keeps serving): missing operation or where, a bad expression with its caret', async () => {
    const res = await serve([
      { method: 'todo', params: { dir: root } },
      { method: 'find', params: { dir: root } },
      { method: 'find', params: { dir: root, where: 'faces >= ' } },
      { method: 'todo', params: { dir: join(root, 'nope'), operation: 'yolov8' } },
      { method: 'todo', params: { dir: root, operation: 'yolov8', imageExt: 7 } },
      { method: 'stale', params: { dir: root, verifyHash: 'yes' } },
      { method: 'ping', params: {} },
    ]);
    assert.deepEqual(res.map((r) => r.error?.code ?? 'ok'), ['USAGE', 'USAGE', 'USAGE', 'NOT_FOUND', 'USAGE', 'USAGE', 'ok']);
    assert.match(res[2]!.error!.message, /column \d+[\s\S]*\^/);
    assert.ok(['todo', 'stale', 'find'].every((m) => res[6]!.result.methods.includes(m)));
  });

  it('reads the tree as the CLI does: the server key, imageExt, config and the nearest .image-sidecar.json', async (t) => {
    const lib = makeTree({ 'p/X.qqq': FAKE_JPEG, 'p/Y.qqq': FAKE_JPEG, 'p/X.json': { json: sidecarData('X.qqq', 3, 8) }, 'p/Z.jpg': FAKE_JPEG, 'p/W.jpg': FAKE_JPEG, 'p/W.json': { json: sidecarData('W.jpg', 1, 8) } });
    t.after(() => removeTree(lib));
    const key = `${lib}.key`;
    t.after(() => removeTree(key));
    assert.equal((await runCli(['keygen', '-o', key])).code, 0);
    // X.json beside X.qqq (not an image type here) is left in plaintext: a finding, exit 1.
    const enc = await runCli(['convert', lib, '-f', 'bin', '--encrypt', '--key-file', key, '--json']);
    assert.equal(enc.code, 1, enc.stderr);
    assert.deepEqual(JSON.parse(enc.stdout).problems.map((p: { source: string; action: string }) => [p.source.slice(lib.length + 1), p.action]), [['p/X.json', 'skip-orphan']]);
    const images = (doc: { todo: { image: string }[] }) => doc.todo.map((r) => r.image);

    // Without a key, the encrypted sidecar's image is a problem, over both.
    const [plain, withExt] = await serve([
      { method: 'todo', params: { dir: lib, operation: 'yolov8' } },
      { method: 'todo', params: { dir: lib, operation: 'yolov8', imageExt: ['qqq'] } },
    ]);
    assert.deepEqual(plain!.result, (await cliJson(['todo', lib, '--operation', 'yolov8'])).doc);
    assert.deepEqual(plain!.result.problems.map((p: { category: string }) => p.category), ['encrypted']);
    assert.deepEqual(withExt!.result, (await cliJson(['todo', lib, '--operation', 'yolov8', '--image-ext', 'qqq'])).doc);
    assert.ok(images(withExt!.result).includes(join(lib, 'p/Y.qqq')));

    // serve --key-file: the same as the CLI with --key-file.
    const config = join(lib, 'conf.json');
    writeFileSync(config, JSON.stringify({ imageExtensions: ['qqq'] }));
    const [keyed, viaConfig, found] = await serve(
      [
        { method: 'todo', params: { dir: lib, operation: 'yolov8' } },
        { method: 'todo', params: { dir: lib, operation: 'yolov8', config } },
        { method: 'find', params: { dir: lib, where: 'faces >= 1', imageExt: 'qqq' } },
      ],
      ['--key-file', key],
    );
    assert.deepEqual(keyed!.result, (await cliJson(['todo', lib, '--operation', 'yolov8', '--key-file', key])).doc);
    assert.equal(keyed!.result.problem_count, 0);
    assert.deepEqual(viaConfig!.result, (await cliJson(['todo', lib, '--operation', 'yolov8', '--key-file', key, '--config', config])).doc);
    assert.deepEqual(found!.result, (await cliJson(['find', lib, '--where', 'faces >= 1', '--image-ext', 'qqq', '--key-file', key])).doc);
    assert.deepEqual(found!.result.matches.map((r: { image: string }) => r.image), [join(lib, 'p/W.jpg'), join(lib, 'p/X.qqq')]);

    // The nearest .image-sidecar.json applies to every tree method, as on the CLI.
    writeFileSync(join(lib, '.image-sidecar.json'), JSON.stringify({ imageExtensions: ['qqq'] }));
    const [near, stats] = await serve([
      { method: 'todo', params: { dir: lib, operation: 'yolov8' } },
      { method: 'stats', params: { dir: lib } },
    ], ['--key-file', key]);
    assert.deepEqual(near!.result, viaConfig!.result);
    assert.equal(stats!.result.total_images, 4, 'stats over the server counts the .qqq files as images too');
  });
});
