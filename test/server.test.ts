import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { serveStdio } from '../src/server/stdio.js';
import { stats } from '../src/ops/stats.js';
import { formatStats } from '../src/ops/format-stats.js';
import { FAKE_JPEG, sidecarData, testDir } from './helpers/tree.js';
import { CLI_PATH as CLI } from './helpers/cli.js';

interface Response {
  id: string | number | null;
  result?: any;
  error?: { code: string; message: string };
}


/** An image (and optionally its JSON sidecar in pipeline style) under dir. */
function image(dir: string, name: string, sidecar?: object): string {
  const p = path.join(dir, name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, FAKE_JPEG);
  if (sidecar) fs.writeFileSync(p.replace(/\.[^.]+$/, '.json'), JSON.stringify(sidecar, null, 2));
  return p;
}

const line = (o: unknown) => JSON.stringify(o) + '\n';

/** Run the in-process server over in-memory streams with this whole input; all responses. */
async function serveOnce(input: string | Buffer[], opts: { maxLineBytes?: number } = {}): Promise<{ responses: Response[]; logs: string[] }> {
  const inp = new PassThrough();
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const logs: string[] = [];
  const done = serveStdio({ input: inp, output: out, log: (m) => logs.push(m), ...opts });
  if (typeof input === 'string') inp.end(input);
  else {
    for (const c of input) inp.write(c);
    inp.end();
  }
  await done;
  const text = Buffer.concat(chunks).toString('utf8');
  assert.ok(text === '' || text.endsWith('\n'), 'every response is a complete line');
  const responses = text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Response);
  return { responses, logs };
}

function byId(responses: Response[]): Map<unknown, Response> {
  const m = new Map<unknown, Response>();
  for (const r of responses) {
    assert.ok(!m.has(r.id) || r.id === null, `one response per id (${String(r.id)})`);
    m.set(r.id, r);
  }
  return m;
}

/** A spawned `image-sidecar serve --stdio` with request/response matching by id. */
class SpawnedServer {
  readonly proc: ChildProcessWithoutNullStreams;
  private buf = '';
  private nextId = 1;
  private waiting = new Map<number, (r: Response) => void>();
  stderr = '';
  readonly stray: string[] = [];

  constructor(cwd: string) {
    this.proc = spawn(process.execPath, [CLI, 'serve', '--stdio'], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr.on('data', (c: Buffer) => (this.stderr += c.toString()));
    this.proc.stdout.on('data', (c: Buffer) => {
      this.buf += c.toString('utf8');
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) !== -1) {
        const l = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        let r: Response;
        try {
          r = JSON.parse(l) as Response;
        } catch {
          this.stray.push(l);
          continue;
        }
        const w = typeof r.id === 'number' ? this.waiting.get(r.id) : undefined;
        if (w) {
          this.waiting.delete(r.id as number);
          w(r);
        } else this.stray.push(l);
      }
    });
  }

  call(method: string, params?: object): Promise<Response> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.proc.stdin.write(line({ id, method, params }));
    });
  }

  /** Close stdin and wait for the exit code. */
  end(): Promise<number | null> {
    return new Promise((resolve) => {
      this.proc.on('exit', (code) => resolve(code));
      this.proc.stdin.end();
    });
  }
}

test('read/save round trip merges operations (in-process server)', async (t) => {
  const dir = testDir(t);
  const img = image(dir, 'photos/20250920_143022.jpg', { face_detection: sidecarData('x').face_detection });
  const bare = image(dir, 'photos/20250920_143022_001.jpg');
  const objects = { success: true, objects: [{ object_id: 1, class_name: 'person', confidence: 0.22490839660167694 }] };
  const { responses } = await serveOnce(
    line({ id: 1, method: 'save', params: { image: img, operation: 'yolov8', data: objects } }) +
      line({ id: 2, method: 'read', params: { image: img } }) +
      line({ id: 3, method: 'read', params: { image: bare } }) +
      line({ id: 4, method: 'save', params: { image: bare, operation: 'quality_assessment', data: { success: true }, format: 'json' } }) +
      line({ id: 5, method: 'readDetailed', params: { image: bare } }),
  );
  const r = byId(responses);
  assert.equal(r.size, 5);
  assert.equal(r.get(1)!.result.created, false);
  assert.equal(r.get(1)!.result.format, 'json', 'an existing sidecar keeps its format');
  const data = r.get(2)!.result;
  assert.deepEqual(Object.keys(data).sort(), ['face_detection', 'sidecar_info', 'yolov8']);
  assert.deepEqual(data.yolov8, objects);
  assert.equal(data.yolov8.objects[0].confidence, 0.22490839660167694, 'floats survive bit for bit');
  assert.equal(data.sidecar_info.last_operation, 'yolov8');
  assert.deepEqual(r.get(3)!.result, {}, 'an image without sidecar reads as {}');
  assert.equal(r.get(4)!.result.created, true);
  assert.equal(r.get(5)!.result.format, 'json');
  assert.equal(r.get(5)!.result.path, path.join(dir, 'photos/20250920_143022_001.json'));
  assert.deepEqual(r.get(5)!.result.data.quality_assessment, { success: true });
});

test('concurrent requests all answer with their own ids; saves to one image are all kept', async (t) => {
  const dir = testDir(t);
  const imgs = Array.from({ length: 8 }, (_, i) => image(dir, `IMG_${i}.jpg`, i % 2 ? sidecarData(`IMG_${i}.jpg`, 1, 8) : undefined));
  const shared = image(dir, 'shared.jpg');
  let input = '';
  const expected = new Map<string, string>();
  for (let i = 0; i < imgs.length; i++) {
    input += line({ id: `r${i}`, method: 'read', params: { image: imgs[i] } });
    expected.set(`r${i}`, 'read');
    input += line({ id: `s${i}`, method: 'save', params: { image: shared, operation: `op_${i}`, data: { n: i } } });
    expected.set(`s${i}`, 'save');
  }
  input += line({ id: 99, method: 'read', params: { image: shared } });
  const { responses } = await serveOnce(input);
  const r = byId(responses);
  assert.equal(r.size, expected.size + 1);
  for (const [id, kind] of expected) {
    const resp = r.get(id);
    assert.ok(resp && 'result' in resp, `${id} answered: ${JSON.stringify(resp?.error)}`);
    if (kind === 'read') assert.equal(typeof resp.result, 'object');
  }
  assert.deepEqual(r.get('r1')!.result.yolov8.objects[0].class_name, 'person');
  // Pipelined after all saves to the same image, the read sees every one of them, in request order.
  const merged = r.get(99)!.result;
  for (let i = 0; i < imgs.length; i++) assert.deepEqual(merged[`op_${i}`], { n: i });
  assert.equal(merged.sidecar_info.last_operation, `op_${imgs.length - 1}`);
});

test('malformed lines get error responses and the server keeps serving', async (t) => {
  const dir = testDir(t);
  const img = image(dir, 'a.jpg', { face_detection: { success: true, faces: [] } });
  const chunks = [
    '{not json\n',
    '[1,2]\n',
    line({ method: 'ping' }), // no id
    line({ id: 'm', params: {} }), // no method
    line({ id: 'u', method: 'frobnicate' }),
    line({ id: 'p', method: 'read', params: [img] }),
    line({ id: 'e', method: 'read', params: {} }),
    line({ id: 'bad-format', method: 'save', params: { image: img, operation: 'x', data: {}, format: 'xml' } }),
    '\n   \n', // blank lines are ignored
    Buffer.from([0xff, 0xfe, 0x0a]), // invalid UTF-8
    line({ id: 'ok', method: 'read', params: { image: img } }),
    line({ id: 'ping', method: 'ping' }),
  ].map((c) => (typeof c === 'string' ? Buffer.from(c) : c));
  const { responses } = await serveOnce(chunks);
  const nulls = responses.filter((r) => r.id === null);
  assert.equal(nulls.length, 4, 'bad JSON, non-object, missing id and invalid UTF-8 answer with id null');
  for (const n of nulls) assert.equal(n.error?.code, 'USAGE');
  assert.ok(nulls.some((n) => /not valid JSON/.test(n.error!.message)));
  assert.ok(nulls.some((n) => /UTF-8/.test(n.error!.message)));
  const r = byId(responses.filter((x) => x.id !== null));
  assert.equal(r.get('m')!.error?.code, 'USAGE');
  assert.match(r.get('u')!.error!.message, /unknown method "frobnicate"/);
  assert.match(r.get('p')!.error!.message, /params/);
  assert.match(r.get('e')!.error!.message, /"image"/);
  assert.equal(r.get('bad-format')!.error?.code, 'USAGE');
  assert.deepEqual(r.get('ok')!.result.face_detection, { success: true, faces: [] });
  assert.equal(r.get('ping')!.result.pong, true);
  assert.ok(r.get('ping')!.result.methods.includes('validate'));
});

test('a line that starts {"id": …, but does not parse whole (too deep, 1e400, too long) is answered to that id: a client waiting for it never hangs', async (t) => {
  const dir = testDir(t);
  const img = image(dir, 'd.jpg');
  const deep = '['.repeat(600) + ']'.repeat(600);
  const chunks = [
    `{"id":1,"method":"save","params":{"image":${JSON.stringify(img)},"operation":"x","data":{"v":${deep}}}}\n`,
    `{"id":"two \\"q\\"","method":"save","params":{"image":${JSON.stringify(img)},"operation":"x","data":{"v":1e400}}}\n`,
    `{"id":3,"method":"save","params":{"image":${JSON.stringify(img)},"operation":"x","data":"${'y'.repeat(5000)}"}}\n`,
    `{"method":"ping","id":4,"params":${deep}}\n`, // the id is not first: not attributable
    `{"id":1e400,"method":"ping","params":${deep}}\n`, // not a valid id
  ].map((c) => Buffer.from(c));
  const { responses } = await serveOnce(chunks, { maxLineBytes: 4096 });
  const r = byId(responses.filter((x) => x.id !== null));
  assert.match(r.get(1)!.error!.message, /nesting deeper/);
  assert.match(r.get('two "q"')!.error!.message, /1e400/);
  assert.equal(r.get(3)!.error?.code, 'TOO_LARGE');
  assert.equal(responses.filter((x) => x.id === null).length, 2);
  assert.ok(!fs.existsSync(path.join(dir, 'd.json')) && !fs.existsSync(path.join(dir, 'd.bin')), 'nothing saved');
});

test('library errors carry their code; lines split across chunks, CRLF and overlong lines are handled', async (t) => {
  const dir = testDir(t);
  const img = image(dir, 'b.jpg');
  fs.writeFileSync(path.join(dir, 'b.json'), '{"face_detection": {"succ'); // truncated: corrupt
  const req = line({ id: 1, method: 'read', params: { image: img } }).replace('\n', '\r\n');
  const big = line({ id: 2, method: 'save', params: { image: img, operation: 'x', data: 'y'.repeat(5000) } });
  const chunks = [
    Buffer.from(req.slice(0, 7)),
    Buffer.from(req.slice(7)),
    Buffer.from(big.slice(0, 3000)),
    Buffer.from(big.slice(3000)),
    Buffer.from(line({ id: 3, method: 'validate', params: { dir: path.join(dir, 'missing') } })),
    Buffer.from(line({ id: 4, method: 'read', params: { image: path.join(dir, 'nope.jpg') } })),
    // A NUL in a path: USAGE naming the param (it was IO with Node's message about arguments).
    Buffer.from(line({ id: 5, method: 'read', params: { image: path.join(dir, 'b\u0000.jpg') } })),
  ];
  const { responses } = await serveOnce(chunks, { maxLineBytes: 4096 });
  const r = byId(responses);
  assert.equal(r.get(1)!.error?.code, 'CORRUPT');
  assert.equal(r.get(2)!.error?.code, 'TOO_LARGE', 'an overlong line is refused, to the id it starts with');
  assert.match(r.get(2)!.error!.message, /^request line is \d+ bytes, above the limit of 4096 bytes$/, 'a line, not a file');
  assert.equal(r.get(3)!.error?.code, 'NOT_FOUND');
  assert.equal(r.get(4)!.error?.code, 'NOT_FOUND');
  assert.deepEqual([r.get(5)!.error?.code, r.get(5)!.error?.message], ['USAGE', 'param "image" holds a NUL character: no file is named so']);
  assert.ok(fs.readFileSync(path.join(dir, 'b.json'), 'utf8').startsWith('{"face_detection"'), 'the corrupt file is untouched');
});

test('a file-system error from below is answered with the code the CLI gives it, never INTERNAL: a RAW+JPEG pair whose own sidecar name is too long', async (t) => {
  const dir = testDir(t);
  // The stem file is the pair's (shared); the JPEG's own name-ext file would be 258 bytes: ENAMETOOLONG.
  const stem = 'B'.repeat(250);
  const jpeg = image(dir, `${stem}.JPG`);
  image(dir, `${stem}.CR2`);
  const { responses } = await serveOnce(line({ id: 1, method: 'save', params: { image: jpeg, operation: 'yolov8', data: { success: true } } }));
  const cli = spawnSync(process.execPath, [CLI, 'write', jpeg, '--operation', 'yolov8', '--data', '-'], { input: '{"success": true}', encoding: 'utf8' });
  assert.equal(cli.status, 2, cli.stderr);
  const code = /error \[([A-Z_]+)\]/.exec(cli.stderr)?.[1];
  assert.equal(code, 'IO', cli.stderr);
  assert.equal(responses[0]!.error?.code, code);
  assert.match(responses[0]!.error!.message, /name too long \(ENAMETOOLONG\)/);
  assert.deepEqual(fs.readdirSync(dir).sort(), [`${stem}.CR2`, `${stem}.JPG`], 'nothing written');
});

test("a folder given with '..' after a symlink names one folder as text and another to the file system: the CLI and the server refuse it, a plain '..' works", async (t) => {
  const dir = testDir(t);
  image(dir, 'photos/day1/IMG_1.jpg', sidecarData('IMG_1.jpg'));
  image(dir, 'lib/IMG_2.jpg');
  fs.writeFileSync(path.join(dir, 'lib', 'GONE.json'), JSON.stringify(sidecarData('GONE.jpg'))); // an orphan of lib/
  fs.symlinkSync(path.join(dir, 'photos', 'day1'), path.join(dir, 'lib', 'today'));
  const ambiguous = `${dir}/lib/today/..`; // lib/ as text, photos/ to `ls` (path.join would collapse it)
  for (const args of [['stats', ambiguous, '--json'], ['cleanup', ambiguous, '--dry-run', '--json']]) {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /error \[USAGE\]: .*lib\/today\/\.\. names .*photos to the file system but .*lib as text/);
  }
  const { responses } = await serveOnce([line({ id: 1, method: 'stats', params: { dir: ambiguous } }), line({ id: 2, method: 'stats', params: { dir: `${dir}/lib/../photos` } })].join(''));
  const r = byId(responses);
  assert.equal(r.get(1)!.error?.code, 'USAGE');
  assert.equal(r.get(2)!.error, undefined, JSON.stringify(r.get(2)));
  const plain = spawnSync(process.execPath, [CLI, 'stats', `${dir}/lib/../photos`, '--json'], { encoding: 'utf8' });
  assert.equal(plain.status, 0, plain.stderr);
  assert.ok(fs.existsSync(path.join(dir, 'lib', 'GONE.json')), 'nothing moved');
});

test('tree methods: validate, stats, formatStats, convert, cleanup (dry run by default), export, hash, performanceInfo', async (t) => {
  const dir = testDir(t);
  for (let i = 0; i < 6; i++) image(dir, `photos/20250920_14302${i}.jpg`, sidecarData(`20250920_14302${i}.jpg`, 1, 8));
  image(dir, 'photos/20250920_143030.jpg');
  fs.writeFileSync(path.join(dir, 'photos/20250920_143030.json'), '{"face_detection": '); // corrupt
  fs.writeFileSync(path.join(dir, 'photos/20250920_150000.json'), JSON.stringify({ face_detection: { success: true, faces: [] } })); // orphan
  fs.writeFileSync(path.join(dir, 'photos/game_detection.json'), JSON.stringify({ success: true, games: [] })); // report
  const orphan = path.join(dir, 'photos/20250920_150000.json');
  const exported = path.join(dir, 'export.csv');
  const req = (id: number, method: string, params: object = {}) => line({ id, method, params: { dir, ...params } });
  const { responses } = await serveOnce(
    req(1, 'validate', { workers: 1 }) +
      req(2, 'stats', { operationType: 'face_detection' }) +
      req(3, 'formatStats') +
      req(4, 'cleanup') +
      req(5, 'convert', { format: 'bin', dryRun: true }) +
      req(6, 'export', { output: exported, format: 'csv' }) +
      req(7, 'export', { output: '-' }) +
      req(8, 'hash') +
      req(9, 'hash') +
      req(10, 'performanceInfo') +
      req(11, 'convert', { format: 'xml' }) +
      req(12, 'validate', { workers: 0 }),
  );
  const r = byId(responses);
  const v = r.get(1)!.result;
  assert.equal(v.total_files, v.results.length);
  assert.equal(v.invalid_files, 1);
  assert.equal(v.results.find((x: any) => !x.is_valid).file_path, path.join(dir, 'photos/20250920_143030.json'));
  assert.equal(v.directory, dir);
  // stats and formatStats are the library's results, unchanged.
  assert.deepEqual(r.get(2)!.result, JSON.parse(JSON.stringify(await stats(dir, { operationType: 'face_detection' }))));
  assert.equal(r.get(2)!.result.filter_applied, 'face_detection');
  assert.deepEqual(r.get(3)!.result, JSON.parse(JSON.stringify(await formatStats(dir))));
  assert.equal(r.get(3)!.result.format_distribution.Corrupt, 1);
  const c = r.get(4)!.result;
  assert.equal(c.dryRun, true, 'cleanup over the server is a dry run unless asked');
  assert.equal(c.removed, 0);
  assert.equal(c.message, 'Would remove 1 orphaned sidecar files');
  assert.ok(fs.existsSync(orphan));
  assert.equal(r.get(5)!.result.dryRun, true);
  assert.match(r.get(5)!.result.message, /^Would convert \d+ sidecar files to bin$/);
  assert.ok(!('items' in r.get(5)!.result), 'no per-file list in the response');
  assert.equal(fs.readdirSync(path.join(dir, 'photos')).filter((n) => n.endsWith('.bin')).length, 0);
  assert.match(r.get(6)!.result.message, /^Exported 6 images to: /);
  assert.equal(fs.readFileSync(exported, 'utf8').trim().split('\n').length, 7, 'header + 6 rows');
  assert.equal(r.get(7)!.error?.code, 'USAGE', 'export to stdout would corrupt the response stream');
  assert.match(r.get(8)!.result.tag, /^isc-tree-v1:[0-9a-f]{64}$/);
  assert.equal(r.get(8)!.result.digest, r.get(9)!.result.digest);
  assert.equal(typeof r.get(10)!.result.version, 'string');
  assert.equal(r.get(11)!.error?.code, 'USAGE');
  assert.equal(r.get(12)!.error?.code, 'USAGE');
});

test('slow output: every response arrives (back-pressure), and a dead output does not hang the server', async (t) => {
  const dir = testDir(t);
  const img = image(dir, 'c.jpg', sidecarData('c.jpg', 2, 64));
  const received: Buffer[] = [];
  const slow = new Writable({
    highWaterMark: 64,
    write(chunk: Buffer, _enc, cb) {
      received.push(chunk);
      setImmediate(cb);
    },
  });
  const inp = new PassThrough();
  const done = serveStdio({ input: inp, output: slow, log: () => undefined, maxInFlight: 4 });
  for (let i = 0; i < 300; i++) inp.write(line({ id: i, method: i % 3 ? 'ping' : 'read', params: { image: img } }));
  inp.end();
  await done;
  const ids = Buffer.concat(received)
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as Response).id);
  assert.deepEqual([...ids].sort((a, b) => Number(a) - Number(b)), Array.from({ length: 300 }, (_, i) => i));

  const logs: string[] = [];
  const broken = new Writable({
    write(_c, _e, cb) {
      cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    },
  });
  broken.on('error', () => undefined);
  const inp2 = new PassThrough();
  const done2 = serveStdio({ input: inp2, output: broken, log: (m) => logs.push(m) });
  inp2.write(line({ id: 1, method: 'ping' }));
  setTimeout(() => inp2.end(line({ id: 2, method: 'ping' })), 20);
  await done2;
  assert.ok(logs.some((l) => /EPIPE/.test(l)), 'the failure is logged');
});

test('spawned `serve --stdio`: round trip, bad request, EOF exits 0; latency printed', async (t) => {
  assert.ok(fs.existsSync(CLI), `the built CLI is at ${CLI}`);
  const dir = testDir(t);
  const img = image(dir, 'DSC_0042.jpg', sidecarData('DSC_0042.jpg', 2)); // ~34 KB: a typical whole sidecar
  const server = new SpawnedServer(dir);
  t.after(() => server.proc.kill());

  const ping = await server.call('ping');
  assert.equal(ping.result.pong, true);
  const saved = await server.call('save', { image: 'DSC_0042.jpg', operation: 'quality_assessment', data: { success: true, quality: { grade: 'B' } } });
  assert.equal(saved.result?.path, path.join(dir, 'DSC_0042.json'), 'relative image paths resolve against the server cwd');
  const read = await server.call('read', { image: img });
  assert.equal(read.result.quality_assessment.quality.grade, 'B');
  assert.equal(read.result.face_detection.faces.length, 2);
  server.proc.stdin.write('garbage\n');
  const after = await server.call('read', { image: path.join(dir, 'missing.jpg') });
  assert.equal(after.error?.code, 'NOT_FOUND');

  // Latency: sequential calls (one in flight), the pipelines' pattern.
  const N = 300;
  for (let i = 0; i < 20; i++) await server.call('read', { image: img }); // warm-up
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await server.call('read', { image: img });
  const serverMs = Number(process.hrtime.bigint() - t0) / 1e6 / N;
  // Pipelined: many reads in flight at once (several pipeline threads sharing one server).
  t0 = process.hrtime.bigint();
  const all = await Promise.all(Array.from({ length: N }, () => server.call('read', { image: img })));
  const pipelinedMs = Number(process.hrtime.bigint() - t0) / 1e6 / N;
  assert.ok(all.every((r) => r.result?.face_detection.faces.length === 2));
  const M = 5;
  t0 = process.hrtime.bigint();
  for (let i = 0; i < M; i++) {
    const r = spawnSync(process.execPath, [CLI, 'read', img], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
  const spawnMs = Number(process.hrtime.bigint() - t0) / 1e6 / M;
  const size = fs.statSync(path.join(dir, 'DSC_0042.json')).size;
  console.log(
    `# read latency (${(size / 1024).toFixed(1)} KB sidecar): serve --stdio ${serverMs.toFixed(3)} ms/call ` +
      `(${pipelinedMs.toFixed(3)} ms/call pipelined) vs spawning \`image-sidecar read\` ${spawnMs.toFixed(1)} ms/call ` +
      `(target < 0.3 ms/call over the server)`,
  );

  const code = await server.end();
  assert.equal(code, 0, `clean exit on EOF; stderr: ${server.stderr}`);
  assert.deepEqual(
    server.stray.map((l) => (JSON.parse(l) as Response).error?.code),
    ['USAGE'],
    'stdout carried only responses: the garbage line got one id-null error',
  );
});

test('ids come back as sent: numbers past 2^53, 25.0 and -0.0 exactly (JSON.stringify rounded them: a client never found its answer); a line that is not UTF-8 is answered to the id it starts with', async () => {
  const lines = [
    '{"id":9007199254740993,"method":"ping"}',
    '{"id":9007199254740992,"method":"ping"}',
    '{"id":12345678901234567890,"method":"nope"}',
    '{"id":25.0,"method":"ping"}',
    '{"id":-0.0,"method":"ping"}',
    '{"method":"ping","id":123456789012345678901234567890}',
  ];
  const chunks = [...lines.map((l) => Buffer.from(l + '\n')), Buffer.concat([Buffer.from('{"id":4,"method":"read","params":{"image":"/tmp/IMG_'), Buffer.from([0xff]), Buffer.from('.jpg"}}\n')])];
  const inp = new PassThrough();
  const out = new PassThrough();
  const got: Buffer[] = [];
  out.on('data', (c: Buffer) => got.push(c));
  const done = serveStdio({ input: inp, output: out, log: () => undefined });
  for (const c of chunks) inp.write(c);
  inp.end();
  await done;
  const ids = Buffer.concat(got)
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => /^\{"id":([^,]*),/.exec(l)![1])
    .sort();
  assert.deepEqual(ids, ['-0.0', '12345678901234567890', '123456789012345678901234567890', '25.0', '4', '9007199254740992', '9007199254740993'].sort());
});

test('save: a whole document\'s base (the read it was built from) keeps what another writer saved since; a base that is not an object is USAGE, nothing saved', async (t) => {
  const dir = testDir(t);
  const img = image(dir, 'B.jpg');
  const read = { face_detection: { run: 0 }, yolov8: { run: 0 } };
  const doc = { face_detection: { run: 1 }, yolov8: { run: 0 }, sidecar_info: { last_updated: '2030-01-01T00:00:00' } };
  const { responses } = await serveOnce(
    line({ id: 1, method: 'save', params: { image: img, operation: 'face_detection', data: { run: 0 } } }) +
      line({ id: 2, method: 'save', params: { image: img, operation: 'yolov8', data: { run: 2 } } }) + // another writer, after the caller's read
      line({ id: 3, method: 'save', params: { image: img, operation: 'face_detection', data: doc, merge: 'document', base: read } }) +
      line({ id: 4, method: 'save', params: { image: img, operation: 'face_detection', data: doc, merge: 'document', base: [read] } }) +
      line({ id: 5, method: 'read', params: { image: img } }),
  );
  const r = byId(responses);
  assert.equal(r.get(3)!.error, undefined);
  assert.equal(r.get(4)!.error!.code, 'USAGE');
  assert.match(r.get(4)!.error!.message, /param "base" must be an object \(got an array\)/);
  assert.deepEqual([r.get(5)!.result.face_detection, r.get(5)!.result.yolov8], [{ run: 1 }, { run: 2 }]);
});
