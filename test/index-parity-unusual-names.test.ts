/**
 * What the index stores (results, folder records, paths) against what a library may hold:
 * operation names and sidecar keys with a NUL ('\u0000bytes', kept by stats as keys of its output),
 * '__proto__', non-ASCII and astral names, lone surrogates in sidecar text, file names that look
 * like JSON, names and folders that are not UTF-8 on disk, a root that is not ASCII. Each command
 * with the index (warm, then after an in-place edit with the mtime put back) must give what
 * `index: false` gives, and never throw.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { PARITY_COMMANDS, commands, firstDiff, photoSpec, show, type Run } from './helpers/index-parity.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir } from './helpers/tree.js';

/** A sidecar's text changed in place (a digit of a confidence), size and mtime kept: only ctime tells. */
function editInPlace(file: string): void {
  const before = statSync(file);
  const text = readFileSync(file, 'latin1');
  const next = text.replace(/"confidence": 0\.(\d)/, (_, d: string) => `"confidence": 0.${(Number(d) + 1) % 10}`);
  assert.notEqual(next, text, `${file} changed`);
  writeFileSync(file, next, 'latin1');
  utimesSync(file, before.atime, before.mtime);
}

async function compareAll(t: TestContext, label: string, build: (spec: Record<string, unknown>, photo: (rel: string, faces?: number) => void) => void, editRel: string | Buffer | ((root: string) => void), after?: (root: string) => void) {
  const dir = testDir(t, `index-names-${label}-`);
  const { spec, photo, fill } = photoSpec();
  photo('top');
  fill(3);
  build(spec as Record<string, unknown>, photo);
  const root = makeTree(spec, join(dir, 'lib'));
  after?.(root);
  const indexPath = join(dir, 'idx', 'index');
  const runs: Run[] = [];
  const cmds = commands(root, indexPath, runs);
  const hows: string[] = [];
  for (const name of PARITY_COMMANDS) {
    const cmd = cmds[name];
    const want = await cmd(false);
    for (let i = 0; i < 4; i++) {
      const from = runs.length;
      const got = await cmd(true);
      assert.ok(got === want, `${label} ${name} run ${i} (${show(runs.slice(from))}): ${firstDiff(got, want)}`);
    }
    hows.push(`${name}:${show(runs.slice(-1))}`);
  }
  if (typeof editRel === 'function') editRel(root);
  else editInPlace((typeof editRel === 'string' ? join(root, editRel) : Buffer.concat([Buffer.from(root + '/'), editRel])) as unknown as string);
  for (const name of PARITY_COMMANDS) {
    const cmd = cmds[name];
    const want = await cmd(false);
    for (let i = 0; i < 2; i++) {
      const from = runs.length;
      const got = await cmd(true);
      assert.ok(got === want, `${label} ${name} after edit run ${i} (${show(runs.slice(from))}): ${firstDiff(got, want)}`);
    }
    hows.push(`${name}+:${show(runs.slice(-2))}`);
  }
  t.diagnostic(`${label}: ${hows.join(' ')}`);
}

const withOp = (img: string, op: string, extra: Record<string, unknown> = {}) => {
  const d = sidecarData(img, 1, 8) as Record<string, unknown>;
  d[op] = { success: true, metadata: { processing_time: 0.1 }, ...extra };
  (d.sidecar_info as Record<string, unknown>).last_operation = op;
  return d;
};

test('an operation named with a NUL ("\\u0000bytes")', async (t) => {
  await compareAll(t, 'op-standin', (spec) => {
    spec['s/x.jpg'] = FAKE_JPEG;
    spec['s/x.json'] = { json: withOp('x.jpg', '\u0000bytes') };
    spec['s/y.jpg'] = FAKE_JPEG;
    spec['s/y.json'] = { json: withOp('y.jpg', 'plain', { '\u0000bytes': [0, 4] }) };
  }, 's/x.json');
});

test('an operation named __proto__, another named as JSON text', async (t) => {
  await compareAll(t, 'op-proto', (spec) => {
    spec['p/x.jpg'] = FAKE_JPEG;
    spec['p/x.json'] = { json: JSON.parse(JSON.stringify(withOp('x.jpg', 'tmp')).replace('"tmp"', '"__proto__"')) };
    spec['p/y.jpg'] = FAKE_JPEG;
    spec['p/y.json'] = { json: withOp('y.jpg', '{"\\u0000bytes":[0,8]}') };
  }, 'p/x.json');
});

test('non-ASCII, astral and lone-surrogate names and text', async (t) => {
  await compareAll(t, 'unicode', (spec, photo) => {
    photo('é/ñ_ü');
    photo('日本/写真');
    photo('emoji/😀x');
    photo('ctl/\u007f\u0001a');
    spec['ls/z.jpg'] = FAKE_JPEG;
    spec['ls/z.json'] = { json: withOp('z.jpg', 'op\ud800x', { note: 'lone \udc00 surrogate', ['k\ud83d']: 1 }) };
    spec['ls/w.jpg'] = FAKE_JPEG;
    spec['ls/w.json'] = { json: withOp('w.jpg', 'ôp', { note: 'ÿ\u0080\u00ff' }) };
  }, 'emoji/😀x.json');
});

test('file names that look like JSON', async (t) => {
  await compareAll(t, 'jsonnames', (spec, photo) => {
    photo('{"\\u0000bytes":[0,1]}');
    photo('q/"],"payload":{"a');
    photo('q/\\u0000bytes');
    photo('q/a\\');
  }, 'q/"],"payload":{"a.json');
});

/** Files whose names are not UTF-8 (Linux allows any bytes but '/' and NUL): written by their bytes. */
function putBytes(root: string, rel: Buffer, content: Buffer | string): void {
  const p = Buffer.concat([Buffer.from(root + '/'), rel]);
  writeFileSync(p, content);
}
const b = (...parts: (string | number[])[]) => Buffer.concat(parts.map((x) => (typeof x === 'string' ? Buffer.from(x) : Buffer.from(x))));

test('names that are not UTF-8 on disk', async (t) => {
  const side = (img: string) => JSON.stringify(sidecarData(img, 1, 8), null, 2);
  await compareAll(t, 'not-utf8', (spec) => {
    spec['bad/keep.txt'] = 'x';
    spec['coll/keep.txt'] = 'x';
  }, b('bad/x', [0xff], '.json'), (root) => {
    putBytes(root, b('bad/x', [0xff], '.jpg'), FAKE_JPEG);
    putBytes(root, b('bad/x', [0xff], '.json'), side('x.jpg'));
    putBytes(root, b('bad/y.jpg'), FAKE_JPEG);
    putBytes(root, b('bad/y', [0xc3, 0x28], '.json'), side('y.jpg'));
    // Two names that decode to the same text: one not UTF-8, one U+FFFD itself.
    putBytes(root, b('coll/c', [0xfe], '.jpg'), FAKE_JPEG);
    putBytes(root, b('coll/c', [0xfe], '.json'), side('c1.jpg'));
    putBytes(root, b('coll/c', [0xef, 0xbf, 0xbd], '.jpg'), FAKE_JPEG);
    putBytes(root, b('coll/c', [0xef, 0xbf, 0xbd], '.json'), side('c2.jpg'));
  });
});

test('a folder whose name is not UTF-8', async (t) => {
  const side = (img: string) => JSON.stringify(sidecarData(img, 1, 8), null, 2);
  await compareAll(t, 'dir-not-utf8', () => {}, b('d', [0xff], '/p.json'), (root) => {
    mkdirSync(b(root + '/d', [0xff]));
    putBytes(root, b('d', [0xff], '/p.jpg'), FAKE_JPEG);
    putBytes(root, b('d', [0xff], '/p.json'), side('p.jpg'));
  });
});

test('an edit that adds operations named with a NUL and a lone surrogate', async (t) => {
  await compareAll(t, 'edit-standin', (spec, photo) => {
    photo('e/x');
    photo('e/y', 2);
  }, (root) => {
    const f = join(root, 'e/x.json');
    const d = JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>;
    d['\u0000bytes'] = { success: true, metadata: { processing_time: 0.5 } };
    d['k\ud800'] = { success: false, note: { '\u0000bytes': [0, 1] } };
    writeFileSync(f, JSON.stringify(d, null, 2));
  });
});

test('a root and index path that are not ASCII', async (t) => {
  await compareAll(t, 'rootÿ日😀', (spec, photo) => {
    photo('ä/b');
  }, 'ä/b.json');
});
