/**
 * File names that are not valid UTF-8 (`IMG_\xff.jpg`), beside their U+FFFD twin (`IMG_\uFFFD.jpg`,
 * the name Node turns them into). Fuzzed byte names go through every way a path enters: the
 * library's API (a lone-surrogate string, as JSON and Python carry such a byte), the server's
 * protocol (raw request lines with `"\udcXX"` escapes) and the CLI's argv (raw bytes, given by
 * exec). The guarantee attacked: no operation reads or writes a file other than the one named —
 * never the twin's sidecar, never with the twin's identity; a byte name is refused with a USAGE
 * error (details.reason "not-utf8") naming it exactly, and the twin (a real UTF-8 name holding
 * U+FFFD) reads and saves its own sidecar only, never one of the byte name's files.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { isUtf8 } from 'node:buffer';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { readSidecar, readSidecarDetailed } from '../src/ops/read.js';
import { saveSidecar } from '../src/ops/save.js';
import { locateSidecarSync } from '../src/discovery/locate.js';
import { LinkResolver, resolveLinkNative, resolveLinkTraced } from '../src/discovery/resolve-link.js';
import { assertUtf8Args, assertUtf8Env, rawArgs, showBytes } from '../src/fs/byte-names.js';
import { CLI_PATH, runCli } from './helpers/cli.js';
import { findPython } from './helpers/python.js';
import { mulberry32 } from './helpers/mulberry32.js';
import { campaign } from './helpers/campaign.js';


/** A random stem that is not valid UTF-8: ASCII and valid sequences around at least one bad byte run. */
function byteStem(r: () => number): Buffer {
  const parts: Buffer[] = [Buffer.from('IMG_')];
  const pieces = 1 + Math.floor(r() * 4);
  for (let i = 0; i < pieces; i++) {
    const k = r();
    if (k < 0.25) parts.push(Buffer.from(String.fromCharCode(97 + Math.floor(r() * 26))));
    else if (k < 0.35) parts.push(Buffer.from('é'));
    else if (k < 0.45) parts.push(Buffer.from('\uFFFD')); // a real U+FFFD beside the bad bytes
    else {
      // Bad bytes: lone continuation bytes, truncated sequences, overlongs, surrogate encodings, > U+10FFFF.
      const bad = [[0xff], [0xfe], [0x80], [0xbf], [0xc3], [0xe9], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xf0, 0x9f, 0x98]];
      parts.push(Buffer.from(bad[Math.floor(r() * bad.length)]));
    }
  }
  parts.push(Buffer.from([0xff])); // at least one invalid byte, whatever came before
  const b = Buffer.concat(parts);
  assert.ok(!isUtf8(b));
  return b;
}

/** How Python holds a byte path (os.fsdecode, 'surrogateescape'): each undecodable byte as U+DC80..U+DCFF. */
function surrogateEscape(b: Buffer): string {
  let out = '';
  let i = 0;
  while (i < b.length) {
    let n = 0;
    for (const len of [1, 2, 3, 4]) {
      if (i + len <= b.length && isUtf8(b.subarray(i, i + len)) && (len === 1 ? b[i] < 0x80 : true)) {
        n = len;
        break;
      }
    }
    if (n > 0) {
      out += b.subarray(i, i + n).toString('utf8');
      i += n;
    } else {
      out += String.fromCharCode(0xdc00 + b[i]);
      i++;
    }
  }
  return out;
}

const cat = (...bs: (Buffer | string)[]) => Buffer.concat(bs.map((b) => (typeof b === 'string' ? Buffer.from(b) : b)));

interface Case {
  dir: string;
  stem: Buffer;
  /** The image with the byte name, as bytes and as Python/JSON hold it. */
  byteImage: Buffer;
  byteImageStr: string;
  /** The twin (Node's lossy decoding of the byte name), present or not. */
  twin: string;
  twinPresent: boolean;
  twinSidecar: boolean;
}

function makeCase(seed: number): Case {
  const r = mulberry32(seed);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'byte-names-'));
  const stem = byteStem(r);
  const byteImage = cat(dir, '/', stem, '.jpg');
  fs.writeFileSync(byteImage, 'byte image');
  // The byte name's own sidecars: a JSON one (sometimes) and sometimes a .bin-named file too.
  if (r() < 0.7) fs.writeFileSync(cat(dir, '/', stem, '.json'), JSON.stringify({ byteop: { who: 'byte', seed }, sidecar_info: {} }));
  if (r() < 0.3) fs.writeFileSync(cat(dir, '/', stem, '.jpg.json'), JSON.stringify({ byteop2: { who: 'byte' }, sidecar_info: {} }));
  const twinStem = stem.toString('utf8');
  const twinPresent = r() < 0.7;
  const twinSidecar = twinPresent && r() < 0.5;
  if (twinPresent) fs.writeFileSync(path.join(dir, `${twinStem}.jpg`), 'twin image');
  if (twinSidecar) fs.writeFileSync(path.join(dir, `${twinStem}.json`), JSON.stringify({ twinop: { who: 'twin' }, sidecar_info: {} }));
  return { dir, stem, byteImage, byteImageStr: surrogateEscape(byteImage), twin: path.join(dir, `${twinStem}.jpg`), twinPresent, twinSidecar };
}

/** Every file of the folder whose name is not UTF-8, by its name's hex: bytes and mtime. */
function byteFiles(dir: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const name of fs.readdirSync(dir, { encoding: 'buffer' })) {
    if (isUtf8(name)) continue;
    const p = cat(dir, '/', name);
    const st = fs.statSync(p);
    m.set(name.toString('hex'), st.isFile() ? `${fs.readFileSync(p).toString('hex')}@${st.mtimeMs}` : `dir@${st.mtimeMs}`);
  }
  return m;
}

function assertNotUtf8Refusal(e: unknown, exactPath?: string, bytesKnown = true): true {
  const err = e as { code?: string; message?: string; details?: { reason?: string }; path?: string };
  assert.equal(err.code, 'USAGE', String(err.message));
  assert.equal(err.details?.reason, 'not-utf8');
  assert.match(String(err.message), /not valid UTF-8/);
  if (bytesKnown) assert.ok(/\\x[89a-f][0-9a-f]/.test(String(err.message)), `the bad bytes are shown: ${err.message}`);
  if (exactPath !== undefined) assert.equal(err.path, exactPath, 'the error names the exact path');
  return true;
}

/** The twin, read and saved: only its own files, never the byte name's (which no string reaches). */
async function checkTwin(c: Case, read: (p: string) => Promise<Record<string, unknown>>, save: (p: string, op: string) => Promise<{ path: string }>): Promise<void> {
  if (!c.twinPresent) return;
  const got = await read(c.twin);
  assert.deepEqual(got, c.twinSidecar ? { twinop: { who: 'twin' }, sidecar_info: {} } : {}, 'the twin reads its own sidecar, never the byte name\'s');
  const res = await save(c.twin, 'twinsave');
  // The result names the twin's own sidecar: a UTF-8 name beside it, with the twin's stem.
  assert.ok(res.path.startsWith(c.twin.slice(0, -'.jpg'.length) + '.'), `saved to ${res.path}`);
  assert.ok(fs.existsSync(res.path));
  const again = await read(c.twin);
  assert.ok('twinsave' in again && !('byteop' in again) && !('byteop2' in again));
}

test('library API: a byte name (lone surrogates) is refused by read and save; the twin touches only its own files', async () => {
  for (let seed = 1; seed <= 60; seed++) {
    const c = makeCase(seed);
    const before = byteFiles(c.dir);
    await assert.rejects(readSidecar(c.byteImageStr), (e) => assertNotUtf8Refusal(e, c.byteImageStr), `seed ${seed}`);
    await assert.rejects(readSidecarDetailed(c.byteImageStr), (e) => assertNotUtf8Refusal(e, c.byteImageStr));
    await assert.rejects(saveSidecar(c.byteImageStr, 'op', { x: seed }), (e) => assertNotUtf8Refusal(e, c.byteImageStr));
    assert.throws(() => locateSidecarSync(c.byteImageStr), (e) => assertNotUtf8Refusal(e));
    await checkTwin(c, (p) => readSidecar(p) as Promise<Record<string, unknown>>, (p, op) => saveSidecar(p, op, { n: seed }) as Promise<{ path: string }>);
    assert.deepEqual(byteFiles(c.dir), before, `seed ${seed}: the byte name's files are untouched`);
    if (c.twinPresent) {
      // The twin's location lists only UTF-8 names: none of its candidates is a byte name's file read back lossily.
      const loc = locateSidecarSync(c.twin);
      for (const cand of loc.candidates) assert.ok(fs.existsSync(cand.path), `candidate ${cand.path} exists as named`);
      assert.ok(!loc.siblings.some((s) => s === c.twin), 'the twin is not its own sibling');
    }
    fs.rmSync(c.dir, { recursive: true, force: true });
  }
});

/** A serve --stdio child fed raw request lines; answers by id. */
function serve(): { request(line: string): Promise<Record<string, unknown>>; close(): Promise<void> } {
  const child = spawn(process.execPath, [CLI_PATH, 'serve', '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const waiting = new Map<number, (r: Record<string, unknown>) => void>();
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const resp = JSON.parse(line) as Record<string, unknown>;
      waiting.get(resp.id as number)?.(resp);
    }
  });
  let id = 0;
  return {
    request(body: string) {
      const rid = ++id;
      return new Promise((resolve) => {
        waiting.set(rid, resolve);
        child.stdin.write(`{"id":${rid},${body}}\n`);
      });
    },
    close: () =>
      new Promise((resolve) => {
        child.on('close', () => resolve());
        child.stdin.end();
      }),
  };
}

test('server protocol: a byte name in any path param is refused and named exactly; the twin reads and saves its own sidecar', async () => {
  const s = serve();
  try {
    for (let seed = 100; seed < 130; seed++) {
      const c = makeCase(seed);
      const before = byteFiles(c.dir);
      // JSON.stringify writes each lone surrogate as a \udcXX escape: the line Python's json.dumps sends.
      const image = JSON.stringify(c.byteImageStr);
      assert.match(image, /\\udc[89a-f][0-9a-f]/);
      for (const body of [
        `"method":"read","params":{"image":${image}}`,
        `"method":"readDetailed","params":{"image":${image}}`,
        `"method":"save","params":{"image":${image},"operation":"op","data":{"x":${seed}}}`,
        `"method":"save","params":{"image":${image},"operation":"op","data":{"x":1},"format":"json"}`,
        `"method":"stats","params":{"dir":${JSON.stringify(surrogateEscape(cat(c.dir, '/', c.stem)))}}`,
        `"method":"todo","params":{"dir":${JSON.stringify(surrogateEscape(cat(c.dir, '/', c.stem)))},"operation":"op"}`,
      ]) {
        const resp = await s.request(body);
        assert.ok(resp.error, `seed ${seed}: ${body} answered ${JSON.stringify(resp)}`);
        assertNotUtf8Refusal(resp.error);
        const err = resp.error as { path: string };
        // The path comes back as sent: the same lone surrogates (Python's exact name), not U+FFFD.
        assert.ok(!err.path.includes('\uFFFD') || c.byteImageStr.includes('\uFFFD'));
        assert.ok(err.path === c.byteImageStr || err.path === surrogateEscape(cat(c.dir, '/', c.stem)));
      }
      await checkTwin(
        c,
        async (p) => {
          const r = await s.request(`"method":"read","params":{"image":${JSON.stringify(p)}}`);
          assert.ok(!r.error, JSON.stringify(r.error));
          return r.result as Record<string, unknown>;
        },
        async (p, op) => {
          const r = await s.request(`"method":"save","params":{"image":${JSON.stringify(p)},"operation":"${op}","data":{"n":${seed}}}`);
          assert.ok(!r.error, JSON.stringify(r.error));
          return r.result as { path: string };
        },
      );
      assert.deepEqual(byteFiles(c.dir), before, `seed ${seed}: the byte name's files are untouched`);
      fs.rmSync(c.dir, { recursive: true, force: true });
    }
  } finally {
    await s.close();
  }
});

const python = findPython();

/** The CLI run with `args` as raw bytes (exec from Python: Node cannot pass bytes that are not UTF-8). */
function cliBytes(args: Buffer[]): { status: number | null; stdout: string; stderr: string } {
  const code = 'import os,sys; a=[bytes.fromhex(x) for x in sys.argv[1:]]; os.execv(a[0], a)';
  const r = spawnSync(python!, ['-c', code, ...[Buffer.from(process.execPath), Buffer.from(CLI_PATH), ...args].map((b) => b.toString('hex'))], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('CLI argv: an argument that is not UTF-8 is refused (exit 2, USAGE, its bytes shown), never taken as the twin', { skip: python ? false : 'no python3 to exec raw bytes' }, async () => {
  for (let seed = 200; seed < 200 + campaign(3, 8); seed++) {
    const c = makeCase(seed);
    const before = byteFiles(c.dir);
    const twinBefore = c.twinSidecar ? fs.readFileSync(path.join(c.dir, `${c.stem.toString('utf8')}.json`), 'utf8') : null;
    for (const args of [
      [cat('read'), c.byteImage, cat('--json')],
      [cat('write'), c.byteImage, cat('--operation'), cat('op'), cat('--data'), cat('-'), cat('--json')],
      [cat('write'), c.byteImage, cat('--operation=op'), cat('--data=-'), cat('--format'), cat('json')],
      [cat('stats'), cat(c.dir, '/', c.stem), cat('--json')],
    ]) {
      const r = cliBytes(args);
      assert.equal(r.status, 2, `seed ${seed}: ${r.stdout} ${r.stderr}`);
      assert.match(r.stderr, /error \[USAGE\]: argument \d+ is not valid UTF-8/);
      // Its bytes are shown escaped, as the file is named; the twin's name is not offered in its place.
      assert.ok(r.stderr.includes(showBytes(c.stem)), r.stderr);
      assert.equal(r.stdout, '');
    }
    assert.deepEqual(byteFiles(c.dir), before, `seed ${seed}: the byte name's files are untouched`);
    if (c.twinSidecar) assert.equal(fs.readFileSync(path.join(c.dir, `${c.stem.toString('utf8')}.json`), 'utf8'), twinBefore, 'the twin\'s sidecar is untouched');
    // The twin itself (a real U+FFFD name, valid UTF-8) still works through argv.
    await checkTwin(
      c,
      async (p) => {
        const r = await runCli(['read', p, '--json']);
        assert.equal(r.code, 0, r.stderr);
        return JSON.parse(r.stdout) as Record<string, unknown>;
      },
      async (p, op) => {
        const r = await runCli(['write', p, '--operation', op, '--data', '-', '--json'], { input: '{"n":1}' });
        assert.equal(r.code, 0, r.stderr);
        return JSON.parse(r.stdout) as { path: string };
      },
    );
    assert.deepEqual(byteFiles(c.dir), before);
    fs.rmSync(c.dir, { recursive: true, force: true });
  }
});

test('argv bytes: /proc/self/cmdline lines up with process.argv, and the check tells a real U+FFFD from a replaced byte', { skip: fs.existsSync('/proc/self/cmdline') ? false : 'no /proc' }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'byte-names-argv-'));
  try {
    for (let seed = 300; seed < 400; seed++) {
      const r = mulberry32(seed);
      const bad = byteStem(r);
      const good = Buffer.from(`IMG_\uFFFD${r() < 0.5 ? 'é' : ''}.jpg`);
      const args = [Buffer.from('node'), Buffer.from('cli.js'), Buffer.from('read'), r() < 0.5 ? bad : good, Buffer.from('--json')];
      const file = path.join(dir, 'cmdline');
      // The interpreter's own options come first in the real file: the tail is what lines up.
      fs.writeFileSync(file, Buffer.concat([Buffer.from('node\0--import\0x.js\0'), ...args.slice(1).map((a) => cat(a, '\0'))]));
      const argv = args.map((a) => a.toString('utf8'));
      assert.deepEqual(rawArgs(argv, file)?.map((b) => b.toString('hex')), args.slice(2).map((b) => b.toString('hex')));
      if (isUtf8(args[3])) assert.doesNotThrow(() => assertUtf8Args(argv, file));
      else assert.throws(() => assertUtf8Args(argv, file), (e) => assertNotUtf8Refusal(e));
      // Without /proc the bytes cannot be checked: an argument holding U+FFFD is refused then.
      assert.throws(() => assertUtf8Args(argv, path.join(dir, 'missing')), (e) => assertNotUtf8Refusal(e, undefined, false));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('symlinks: a link to a byte name, or through a byte-named folder, never reaches the twin; a byte folder reached by a UTF-8 path is used exactly', async () => {
  for (let seed = 500; seed < 540; seed++) {
    const r = mulberry32(seed);
    const c = makeCase(seed);
    const bdir = Buffer.from(c.dir);
    // A UTF-8 link to the byte image, by a relative or an absolute text.
    const link = path.join(c.dir, 'L.jpg');
    fs.symlinkSync(r() < 0.5 ? cat(c.stem, '.jpg') : c.byteImage, link);
    // A byte-named folder with an image and its sidecar; its twin folder (U+FFFD) sometimes, with the same names.
    const bfolder = cat(bdir, '/', c.stem, 'd');
    fs.mkdirSync(bfolder);
    fs.writeFileSync(cat(bfolder, '/P.jpg'), 'p');
    fs.writeFileSync(cat(bfolder, '/P.json'), JSON.stringify({ op: { who: 'bytefolder' }, sidecar_info: {} }));
    const tfolder = path.join(c.dir, `${c.stem.toString('utf8')}d`);
    const twinFolder = r() < 0.6;
    if (twinFolder) {
      fs.mkdirSync(tfolder);
      fs.writeFileSync(path.join(tfolder, 'P.jpg'), 'p');
      fs.writeFileSync(path.join(tfolder, 'P.json'), JSON.stringify({ op: { who: 'twinfolder' }, sidecar_info: {} }));
    }
    // `via` (UTF-8) → the byte folder; `L2.jpg` → via/P.jpg resolves (realpath) into it.
    fs.symlinkSync(cat(c.stem, 'd'), path.join(c.dir, 'via'));
    fs.symlinkSync('via/P.jpg', path.join(c.dir, 'L2.jpg'));
    const twinFolderBefore = twinFolder ? JSON.stringify([fs.statSync(tfolder).mtimeMs, fs.readdirSync(tfolder), fs.readFileSync(path.join(tfolder, 'P.json'), 'utf8')]) : null;
    const before = byteFiles(c.dir);
    for (const l of [link, path.join(c.dir, 'L2.jpg')]) {
      await assert.rejects(readSidecar(l), (e) => assertNotUtf8Refusal(e, l), `seed ${seed} read ${l}`);
      await assert.rejects(saveSidecar(l, 'op', { x: 1 }), (e) => assertNotUtf8Refusal(e, l), `seed ${seed} save ${l}`);
    }
    assert.deepEqual(byteFiles(c.dir), before, `seed ${seed}: the byte name's files are untouched`);
    // The byte folder through `via`: a UTF-8 path the kernel resolves exactly. Its own sidecar is
    // read and saved, the lock taken there — never in (or failing for want of) the twin folder.
    const viaImage = path.join(c.dir, 'via', 'P.jpg');
    assert.deepEqual(await readSidecar(viaImage), { op: { who: 'bytefolder' }, sidecar_info: {} });
    const res = (await saveSidecar(viaImage, 'op2', { n: seed }, { format: 'json' })) as { path: string };
    assert.equal(res.path, path.join(c.dir, 'via', 'P.json'));
    const saved = JSON.parse(fs.readFileSync(cat(bfolder, '/P.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(saved.op, { who: 'bytefolder' });
    assert.deepEqual(saved.op2, { n: seed });
    if (twinFolder) {
      assert.equal(
        JSON.stringify([fs.statSync(tfolder).mtimeMs, fs.readdirSync(tfolder), fs.readFileSync(path.join(tfolder, 'P.json'), 'utf8')]),
        twinFolderBefore,
        `seed ${seed}: the twin folder is untouched (no lock made there)`,
      );
    }
    fs.rmSync(c.dir, { recursive: true, force: true });
  }
});

test('tree scans: every link resolver answers a link to a byte name as broken, never with the twin as its target', () => {
  for (let seed = 600; seed < 660; seed++) {
    const r = mulberry32(seed);
    const c = makeCase(seed);
    const real = fs.realpathSync(c.dir);
    // The twin always exists here: a lossy resolution would find it.
    if (!c.twinPresent) fs.writeFileSync(c.twin, 'twin image');
    const k = r();
    // A direct link (relative or absolute text), or a link into a UTF-8-named folder link to a byte folder.
    let text: string | Buffer;
    if (k < 0.4) text = cat(c.stem, '.jpg');
    else if (k < 0.7) text = cat(real, '/', c.stem, '.jpg');
    else {
      fs.mkdirSync(cat(real, '/', c.stem, 'd'));
      fs.writeFileSync(cat(real, '/', c.stem, 'd/P.jpg'), 'p');
      fs.mkdirSync(path.join(real, `${c.stem.toString('utf8')}d`));
      fs.writeFileSync(path.join(real, `${c.stem.toString('utf8')}d`, 'P.jpg'), 'twin p');
      fs.symlinkSync(cat(c.stem, 'd'), path.join(real, 'via'));
      text = 'via/P.jpg';
    }
    fs.symlinkSync(text, path.join(real, 'L.jpg'));
    const linkPath = path.join(real, 'L.jpg');
    const answers = [
      resolveLinkNative(linkPath),
      new LinkResolver(real).resolve(linkPath, '', 'L.jpg'),
      resolveLinkTraced(real, 'L.jpg', { beforeLookup: () => undefined, looked: () => undefined }),
    ];
    for (const a of answers) {
      assert.equal(a.broken, true, `seed ${seed}: ${JSON.stringify(a)}`);
      assert.equal(a.target, undefined);
    }
    assert.equal(answers[0].reason, 'target name is not valid UTF-8');
    fs.rmSync(c.dir, { recursive: true, force: true });
  }
});

test('tree scans: a U+FFFD twin is paired and read as itself beside byte names that decode like it; the byte names are reported, never paired', async () => {
  const { todo } = await import('../src/ops/todo.js');
  for (let seed = 700; seed < 740; seed++) {
    const r = mulberry32(seed);
    const c = makeCase(seed);
    if (!c.twinPresent) fs.writeFileSync(c.twin, 'twin image');
    const twinJson = c.twin.slice(0, -'.jpg'.length) + '.json';
    const twinHas = r() < 0.5;
    if (twinHas) fs.writeFileSync(twinJson, JSON.stringify({ scanop: { success: true }, sidecar_info: {} }));
    else fs.rmSync(twinJson, { force: true });
    // The byte name's sidecar always holds the operation: a lossy pairing would make the twin "done".
    fs.writeFileSync(cat(c.dir, '/', c.stem, '.json'), JSON.stringify({ scanop: { success: true }, sidecar_info: {} }));
    const before = byteFiles(c.dir);
    const report = await todo(c.dir, { operation: 'scanop' });
    const twinEntry = report.entries!.find((e) => e.path === c.twin);
    if (twinHas) {
      assert.equal(twinEntry, undefined, `seed ${seed}: the twin's own sidecar has the result: ${JSON.stringify(report)}`);
      assert.equal(report.counts.done, 1, `seed ${seed}: ${JSON.stringify(report)}`);
    } else {
      assert.equal(twinEntry?.reason, 'no-sidecar', `seed ${seed}: the twin has no sidecar of its own: ${JSON.stringify(report)}`);
    }
    // No entry is the byte image under the twin's name (twice the same path), none reads a byte name's file.
    assert.equal(report.entries!.filter((e) => e.path === c.twin).length, twinHas ? 0 : 1);
    for (const e of report.entries!) assert.ok(e.sidecar === null || fs.existsSync(path.join(c.dir, e.sidecar)), `seed ${seed}: ${e.sidecar} is a file of that name`);
    // The byte names are reported (the scan is incomplete), never silently dropped.
    const scan = (report as unknown as { scan: { complete: boolean; problems: { path: string; code: string }[] } }).scan;
    assert.equal(scan.complete, false);
    assert.ok(scan.problems.some((p) => p.code === 'UNADDRESSABLE'), `seed ${seed}: ${JSON.stringify(scan)}`);
    assert.deepEqual(byteFiles(c.dir), before);
    fs.rmSync(c.dir, { recursive: true, force: true });
  }
});

test('an environment value holding U+FFFD is refused only when its bytes were not UTF-8, or cannot be read; one set while the program runs is a string like any other', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isc-environ-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const environ = path.join(dir, 'environ');
  const NAME = 'ISC_TEST_ENV_VALUE';
  const before = process.env[NAME];
  t.after(() => {
    if (before === undefined) delete process.env[NAME];
    else process.env[NAME] = before;
  });
  process.env[NAME] = 'secret\uFFFD';
  const given = (bytes: Buffer) => fs.writeFileSync(environ, Buffer.concat([Buffer.from('OTHER=1\0'), Buffer.from(`${NAME}=`), bytes, Buffer.from('\0')]));
  given(Buffer.from([0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0xe9])); // Latin-1 "secreté": Node made it U+FFFD
  assert.throws(() => assertUtf8Env(process.env, NAME, { secret: true, environPath: environ }), (e: Error) => /is not valid UTF-8 \(/.test(e.message) && !e.message.includes('secret'));
  assert.throws(() => assertUtf8Env(process.env, NAME, { environPath: environ }), /is not valid UTF-8: secret\\xe9/);
  given(Buffer.from('secret\uFFFD', 'utf8')); // really U+FFFD, as UTF-8
  assertUtf8Env(process.env, NAME, { secret: true, environPath: environ });
  fs.writeFileSync(environ, 'OTHER=1\0'); // not given to the process: set while it runs
  assertUtf8Env(process.env, NAME, { secret: true, environPath: environ });
  assert.throws(() => assertUtf8Env(process.env, NAME, { secret: true, environPath: path.join(dir, 'none') }), /cannot be told from a value that is not valid UTF-8 here/);
  assertUtf8Env({ [NAME]: 'secret\uFFFD' }, NAME, { environPath: environ }); // not the process's environment: a string
});


test('tree commands: a byte name is shown in messages with \\xHH, never as the U+FFFD twin (validate, hash, relink; a folder and two files whose names decode alike)', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isc-shown-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const at = (...parts: (string | Buffer)[]) => cat(root, '/', ...parts);
  fs.writeFileSync(at('IMG_', Buffer.from([0xff]), '.json'), '{}');
  fs.writeFileSync(at('IMG_', Buffer.from([0xfe]), '.json'), '{}'); // decodes to the same IMG_\uFFFD.json
  fs.writeFileSync(at('IMG_\uFFFD.jpg'), 'the twin: a real U+FFFD name');
  fs.mkdirSync(at('d', Buffer.from([0xc3])));
  const messages = (text: string) => [...text.matchAll(/"message":\s*"((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`) as string);
  const v = await runCli(['validate', root]);
  assert.equal(v.code, 1, v.stderr);
  const shown = messages(v.stdout).filter((m) => m.includes('not valid UTF-8')).sort();
  assert.deepEqual(shown, [`${root}/IMG_\\xfe.json: file name is not valid UTF-8`, `${root}/IMG_\\xff.json: file name is not valid UTF-8`, `${root}/d\\xc3: directory name is not valid UTF-8 (EILSEQ)`]);
  assert.ok(!v.stderr.includes('\uFFFD'), v.stderr);
  const h = await runCli(['hash', root, '--all-files']);
  const hashed = messages(h.stdout).filter((x) => x.includes('not valid UTF-8'));
  assert.ok(hashed.length >= 2, h.stdout);
  for (const m of hashed) assert.ok(!m.includes('\uFFFD') && m.includes('\\x'), m);
  const r = await runCli(['relink', root, '--dry-run']);
  assert.ok(r.stderr.includes('\\xc3') && !r.stderr.includes('\uFFFD'), r.stderr);
  for (const format of ['jsonl', 'embeddings']) {
    const out = path.join(os.tmpdir(), `isc-shown-${process.pid}-${format}.${format === 'jsonl' ? 'jsonl' : 'npy'}`);
    t.after(() => {
      fs.rmSync(out, { force: true });
      fs.rmSync(out.replace(/\.npy$/, '.jsonl'), { force: true });
    });
    const e = await runCli(['export', root, '--format', format, '-o', out]);
    assert.ok(e.stderr.includes('IMG_\\xff.json') && !e.stderr.includes('\uFFFD'), `${format}: ${e.stderr}`);
    assert.equal(e.stderr.split('\n').filter((l) => l.includes('IMG_\\xff.json')).length, 1, `${format}: named once: ${e.stderr}`);
  }
  const c = await runCli(['convert', root, '--format', 'bin', '--dry-run']);
  assert.ok(c.stdout.includes('d\\\\xc3 could not be listed') && !c.stdout.includes('\uFFFD'), c.stdout);
});
