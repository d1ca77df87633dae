/**
 * An output file (-o of every command, export, report, hash manifests, key files, the server's
 * export) never replaces a file the tool manages: `stats lib -o lib/IMG_1.jpg` replaced the photo
 * with JSON and exited 0. Images (a name with an image extension of the set, existing or not, by
 * the name given or through a symlink) and sidecars of an image are refused with a usage error
 * (exit 2) before anything runs, and stay as they were.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { exportSidecars } from '../src/ops/export.js';
import { report } from '../src/report/run.js';
import { hashTree } from '../src/ops/hash.js';
import { isSidecarError } from '../src/errors.js';
import { CLI_PATH, runCli } from './helpers/cli.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir, type TreeNode } from './helpers/tree.js';

const IMAGE_REFUSED = /error \[USAGE\]: refusing to write the (output|export|manifest) to .*: (it|the file it leads to, .*,) has an image's name \(\.[a-z0-9]+\)/;
const SIDECAR_REFUSED = /error \[USAGE\]: refusing to write the (output|export|manifest) to .*: (it|the file it leads to, .*,) is a sidecar file of /;

function library(root: string): string {
  const spec: Record<string, TreeNode> = {};
  for (let i = 0; i < 3; i++) {
    spec[`lib/IMG_${i}.jpg`] = FAKE_JPEG;
    spec[`lib/IMG_${i}.json`] = { json: sidecarData(`IMG_${i}.jpg`, 1, 4) };
  }
  spec['lib/raw/DSC_1.NEF'] = FAKE_JPEG;
  spec['lib/odd/x.xyz'] = 'an image of a type not in the set';
  spec['lib/odd/x.json'] = { json: sidecarData('x.xyz', 1, 4) };
  spec['outside/notes.txt'] = 'not ours';
  makeTree(spec, root);
  return path.join(root, 'lib');
}

/** Every file under `dir` with its bytes (symlinks as their text). */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const p = path.join(e.parentPath, e.name);
    if (e.isSymbolicLink()) out.set(p, `-> ${fs.readlinkSync(p)}`);
    else if (e.isFile()) out.set(p, fs.readFileSync(p).toString('base64'));
  }
  return out;
}

test('-o naming an image is refused by every command that writes a file: exit 2, the photo untouched', async (t) => {
  const root = testDir(t);
  const lib = library(root);
  const image = path.join(lib, 'IMG_1.jpg');
  const shard = path.join(root, 'outside', 'stats.shard');
  const runs: string[][] = [
    ['stats', lib, '-o', image],
    ['validate', lib, '-o', image],
    ['format-stats', lib, '-o', image],
    ['report', lib, '-o', image],
    ['export', lib, '-o', image],
    ['export', '--input', lib, '--output', image, '--format', 'csv'],
    ['find', lib, '--where', 'faces >= 0', '-o', image],
    ['todo', lib, '--operation', 'face_detection', '-o', image],
    ['stale', lib, '-o', image],
    ['read', path.join(lib, 'IMG_0.jpg'), '-o', image],
    ['hash', lib, '--manifest', image],
    ['keygen', '-o', path.join(lib, 'IMG_7.jpg')],
    ['stats', lib, '--shard', '1/2', '-o', image],
    ['merge', shard, '-o', image],
    ['doctor', '-o', image],
  ];
  const before = snapshot(root);
  for (const args of runs) {
    const r = await runCli(args[0] === 'keygen' || args[0] === 'doctor' ? args : [...args, '-q']);
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}, ${r.stderr}`);
    assert.match(r.stderr, IMAGE_REFUSED, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'a message, no stack trace');
  }
  assert.deepEqual(snapshot(root), before, 'nothing written, nothing replaced');
});

test('an image name is refused whether the file exists or not, in any case, with the extensions the configuration adds, and through a symlink', async (t) => {
  const root = testDir(t);
  const lib = library(root);
  fs.symlinkSync('IMG_2.jpg', path.join(lib, 'latest.out')); // a symlink is written through: the photo would change
  fs.symlinkSync('IMG_1.json', path.join(lib, 'newest.out'));
  fs.symlinkSync(path.join(root, 'outside', 'notes.txt'), path.join(lib, 'IMG_0.bin')); // a sidecar symlink: read through, never written
  const cases: { args: string[]; re: RegExp }[] = [
    { args: ['-o', path.join(lib, 'IMG_9.jpg')], re: IMAGE_REFUSED }, // would appear as a photo and claim IMG_9.*
    { args: ['-o', path.join(lib, 'IMG_0.JPEG')], re: IMAGE_REFUSED },
    { args: ['-o', path.join(lib, 'raw', 'DSC_1.NEF')], re: IMAGE_REFUSED },
    { args: ['-o', path.join(root, 'outside', 'elsewhere.heic')], re: IMAGE_REFUSED }, // outside the tree read too
    { args: ['-o', path.join(lib, 'latest.out')], re: /the file it leads to, .*IMG_2\.jpg, has an image's name/ },
    { args: ['-o', path.join(lib, 'odd', 'x.xyz'), '--image-ext', 'xyz'], re: IMAGE_REFUSED },
    { args: ['-o', path.join(lib, 'IMG_1.json')], re: SIDECAR_REFUSED },
    { args: ['-o', path.join(lib, 'newest.out')], re: /the file it leads to, .*IMG_1\.json, is a sidecar file of an image/ },
    { args: ['-o', path.join(lib, 'IMG_0.bin')], re: /: it is a sidecar file of an image/ },
    { args: ['-o', path.join(lib, 'odd', 'x.json'), '--image-ext', 'xyz'], re: SIDECAR_REFUSED }, // x.xyz is an image then
  ];
  const before = snapshot(root);
  for (const c of cases) {
    const r = await runCli(['stats', lib, '-q', ...c.args]);
    assert.equal(r.code, 2, `${c.args.join(' ')}: exit ${r.code}, ${r.stderr}`);
    assert.match(r.stderr, c.re, c.args.join(' '));
  }
  assert.deepEqual(snapshot(root), before);
  assert.ok(!fs.existsSync(path.join(lib, 'IMG_9.jpg')));
  // Names that are neither: written (a report beside the photos, an earlier output replaced).
  for (const name of ['stats.json', 'stats.txt', 'IMG_1.jpg.txt', 'notes']) {
    const r = await runCli(['stats', lib, '-q', '-o', path.join(lib, name)]);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assert.ok(fs.existsSync(path.join(lib, name)), name);
  }
  const again = await runCli(['stats', lib, '-q', '-o', path.join(lib, 'stats.json')]);
  assert.equal(again.code, 0, again.stderr);
});

test('the library and the server refuse the same paths (export, report, hash manifest)', async (t) => {
  const root = testDir(t);
  const lib = library(root);
  const image = path.join(lib, 'IMG_0.jpg');
  const before = snapshot(root);
  const usage = (e: unknown) => isSidecarError(e) && e.code === 'USAGE' && /has an image's name \(\.jpg\)/.test(e.message);
  await assert.rejects(exportSidecars(lib, { format: 'json', output: image, engine: 'inline' }), usage);
  await assert.rejects(report(lib, { output: image, engine: 'inline' }), usage);
  await assert.rejects(hashTree(lib, { manifest: image, engine: 'inline' }), usage);
  await assert.rejects(
    exportSidecars(lib, { format: 'json', output: path.join(lib, 'odd', 'x.xyz'), engine: 'inline', imageExtensions: ['jpg', 'xyz'] }),
    (e: unknown) => isSidecarError(e) && e.code === 'USAGE',
  );
  const requests = [
    { id: 1, method: 'export', params: { dir: lib, output: image } },
    { id: 2, method: 'hash', params: { dir: lib, manifest: image } },
  ];
  const r = spawnSync(process.execPath, [CLI_PATH, 'serve', '--stdio'], { input: requests.map((q) => JSON.stringify(q)).join('\n') + '\n', encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const answers = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: number; error?: { code: string; message: string } });
  assert.equal(answers.length, 2);
  for (const a of answers) {
    assert.equal(a.error?.code, 'USAGE', JSON.stringify(a));
    assert.match(a.error.message, /has an image's name \(\.jpg\)/);
  }
  assert.deepEqual(snapshot(root), before);
});

test("the tool's own files are refused: a quarantine's files and manifest, the index folder's files, a configuration file (exit 2, restore still works)", async (t) => {
  const root = testDir(t);
  const lib = library(root);
  fs.writeFileSync(path.join(lib, '.image-sidecar.json'), JSON.stringify({ imageExtensions: ['xyz'] }));
  fs.rmSync(path.join(lib, 'IMG_2.jpg')); // its sidecar becomes an orphan: cleanup quarantines it
  const clean = await runCli(['cleanup', lib, '--force', '-q']);
  assert.equal(clean.code, 0, clean.stderr);
  const stamps = fs.readdirSync(path.join(lib, '.image-sidecar-quarantine'));
  assert.equal(stamps.length, 1);
  const quarantine = path.join(lib, '.image-sidecar-quarantine', stamps[0]);
  const quarantined = fs.readdirSync(quarantine, { recursive: true }).map(String).filter((n) => n.endsWith('IMG_2.json'));
  assert.equal(quarantined.length, 1, 'the orphan is in the quarantine');
  const warm = await runCli(['stats', lib, '-q', '-o', path.join(root, 'outside', 'warm.json')]); // leaves the index folder
  assert.equal(warm.code, 0, warm.stderr);
  assert.ok(fs.existsSync(path.join(lib, '.image-sidecar', 'index')));
  fs.symlinkSync(path.join(lib, '.image-sidecar.json'), path.join(root, 'outside', 'settings.out'));
  const targets: [string[], RegExp][] = [
    [['-o', path.join(quarantine, quarantined[0])], /is in a quarantine folder/],
    [['-o', path.join(quarantine, 'manifest.json')], /is in a quarantine folder/],
    [['-o', path.join(quarantine, 'new-file.txt')], /is in a quarantine folder/],
    [['-o', path.join(lib, '.image-sidecar', 'index')], /where image-sidecar keeps its index/],
    [['-o', path.join(lib, '.image-sidecar', 'other.json')], /where image-sidecar keeps its index/],
    [['-o', path.join(lib, '.image-sidecar.json')], /is a configuration file/],
    [['-o', path.join(lib, 'odd', '.image-sidecar.json')], /is a configuration file/], // a new one would apply to odd/
    [['-o', path.join(root, 'outside', 'settings.out')], /the file it leads to, .*\.image-sidecar\.json, is a configuration file/],
  ];
  const before = snapshot(root);
  // An embeddings export writes two files (x.npy, x.jsonl): into those folders, refused too.
  const matrices: [string[], RegExp][] = [
    [['-o', path.join(quarantine, 'manifest.npy')], /is in a quarantine folder/],
    [['-o', path.join(lib, '.image-sidecar', 'faces.npy')], /where image-sidecar keeps its index/],
  ];
  const runs: [string[], RegExp][] = [
    ...targets.flatMap(([out, re]): [string[], RegExp][] => [
      [['stats', lib, ...out], re],
      [['export', lib, '--format', 'coco', ...out], re],
    ]),
    ...matrices.map(([out, re]): [string[], RegExp] => [['export', lib, '--format', 'embeddings', ...out], re]),
  ];
  for (const [args, re] of runs) {
    const r = await runCli([...args, '-q']);
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}, ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'a message, no stack trace');
  }
  assert.deepEqual(snapshot(root), before, 'nothing written, nothing replaced');
  const restored = await runCli(['restore', lib, '-q']);
  assert.equal(restored.code, 0, restored.stderr);
  assert.ok(fs.existsSync(path.join(lib, 'IMG_2.json')), 'the quarantined sidecar came back');
  // Deeper in a folder named like the index folder is somebody's data folder: written.
  fs.mkdirSync(path.join(root, 'outside', '.image-sidecar', 'exports'), { recursive: true });
  const deeper = await runCli(['stats', lib, '-q', '-o', path.join(root, 'outside', '.image-sidecar', 'exports', 's.json')]);
  assert.equal(deeper.code, 0, deeper.stderr);
});

test('-o naming another file the command is given (its key file, manifest, configuration, schema, index) is refused, exit 2, that file untouched; through a symlink too', async (t) => {
  // Regression: `export --key-file k -o k` replaced the key with the CSV (every file encrypted under
  // it lost), `verify --manifest m -o m` the baseline, `hash --manifest m -o m` the manifest.
  const root = testDir(t);
  const lib = library(root);
  const files = path.join(root, 'files');
  fs.mkdirSync(files);
  const key = path.join(files, 'k.key');
  assert.equal((await runCli(['keygen', '-o', key])).code, 0);
  const manifest = path.join(files, 'm.json');
  assert.equal((await runCli(['hash', lib, '--manifest', manifest])).code, 0);
  const config = path.join(files, 'cfg.json');
  fs.writeFileSync(config, '{"imageExtensions":["xyz"]}');
  const schema = path.join(files, 'schema.json');
  fs.writeFileSync(schema, '{"type":"object"}');
  fs.symlinkSync(key, path.join(files, 'key-link'));
  fs.symlinkSync('.', path.join(files, 'here'));
  fs.mkdirSync(path.join(root, 'elsewhere/deeper'), { recursive: true });
  fs.symlinkSync(path.join(root, 'elsewhere/deeper'), path.join(files, 'deep-link'));
  fs.copyFileSync(key, path.join(files, 'faces.jsonl'));
  fs.writeFileSync(path.join(files, 'list.txt'), `${path.join(lib, 'IMG_0.json')}\n`);
  const before = snapshot(files);
  const cases: [string[], RegExp, Record<string, string>?][] = [
    [['export', lib, '--key-file', key, '-f', 'csv', '-o', key], /it is also the --key-file file, which the command reads/],
    [['export', lib, '--key-file', key, '-f', 'csv', '-o', path.join(files, 'key-link')], /it is also the --key-file file/],
    [['stats', lib, '-o', key], /it is also the IMAGE_SIDECAR_KEY_FILE file/, { IMAGE_SIDECAR_KEY_FILE: key }],
    [['verify', lib, '--manifest', manifest, '-o', manifest], /it is also the --manifest file, which the command reads/],
    [['hash', lib, '--manifest', manifest, '-o', manifest], /it is also the --manifest file, which the command writes too/],
    [['hash', lib, '--manifest', path.join(files, 'new.json'), '-o', path.join(files, 'new.json')], /it is also the --manifest file, which the command writes too/],
    [['stats', lib, '--config', config, '-o', config], /it is also the --config file/],
    [['validate', lib, '--schema', schema, '-o', schema], /it is also the --schema file/],
    [['stats', lib, '--index', path.join(files, 'idx'), '-o', path.join(files, 'idx')], /it is also the --index file/],
    // Outputs other than -o: hash's --manifest, the rows file beside an embeddings .npy.
    [['hash', lib, '--key-file', key, '--manifest', key], /refusing to write the manifest to .*: it is also the --key-file file/],
    [['hash', lib, '--canonical', '--manifest', key], /refusing to write the manifest to .*: it is also the IMAGE_SIDECAR_KEY_FILE file/, { IMAGE_SIDECAR_KEY_FILE: key }],
    [['export', lib, '--key-file', path.join(files, 'faces.jsonl'), '-f', 'embeddings', '-o', path.join(files, 'faces.npy')], /refusing to write the rows file to .*faces\.jsonl: it is also the --key-file file/],
    // A file not made yet, named through a folder link: the same place.
    [['hash', lib, '--manifest', path.join(files, 'later.json'), '-o', path.join(files, 'here/later.json')], /it is also the --manifest file, which the command writes too/],
    [['validate-json', '-i', path.join(files, 'list.txt'), '-o', path.join(files, 'list.txt')], /it is also the -i file/],
    // `..` after a folder link: the output is written where the text says (path.resolve), the key file is there.
    [['export', lib, '--key-file', key, '-f', 'csv', '-o', `${files}/deep-link/../k.key`], /it is also the --key-file file/],
  ];
  for (const [args, says, env] of cases) {
    const r = await runCli(args, env ? { env } : {});
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, says, args.join(' '));
  }
  assert.deepEqual(snapshot(files), before, 'every given file is as it was, and nothing new was written');
  // Another name is fine; keygen's -o is the key it makes, even where IMAGE_SIDECAR_KEY_FILE names it.
  const ok = await runCli(['export', lib, '--key-file', key, '-f', 'csv', '-o', path.join(files, 'out.csv')]);
  assert.equal(ok.code, 0, ok.stderr);
  const made = path.join(files, 'made.key');
  const keygen = await runCli(['keygen', '-o', made], { env: { IMAGE_SIDECAR_KEY_FILE: made } });
  assert.equal(keygen.code, 0, keygen.stderr);
  // The server: no request writes over the key file it was started with.
  const requests = [
    { id: 1, method: 'export', params: { dir: lib, format: 'csv', output: key } },
    { id: 2, method: 'hash', params: { dir: lib, manifest: key } },
    { id: 3, method: 'export', params: { dir: lib, format: 'embeddings', output: path.join(files, 'faces.npy') } },
  ];
  const served = await runCli(['serve', '--stdio', '--key-file', key], { input: requests.map((r) => JSON.stringify(r)).join('\n') + '\n' });
  const answers = served.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(answers.map((a) => a.error?.code), ['USAGE', 'USAGE', undefined], served.stdout);
  assert.match(answers[0].error.message, /it is also the key file/);
  const keyAfter = fs.readFileSync(key).toString('base64');
  assert.equal(keyAfter, before.get(key), 'the key file is as it was');
});

test('-o in a binary sidecar\'s name (.bin, .rkyv) is refused, existing or not, inside a library or not: a CSV written as table.bin was refused by the next run as "a damaged or encrypted sidecar", and inside a library every later scan found a corrupt sidecar', async (t) => {
  const root = testDir(t);
  const lib = library(root);
  const out = path.join(root, 'outside');
  for (const [args, file] of [
    [['export', lib, '-f', 'csv', '-o'], path.join(out, 'table.bin')],
    [['export', lib, '-f', 'embeddings', '-o'], path.join(lib, 'faces.rkyv')],
    [['stats', lib, '-o'], path.join(out, 'stats.BIN')],
  ] as const) {
    const r = await runCli([...args, file]);
    assert.equal(r.code, 2, `${args.join(' ')} ${file}: ${r.stderr}`);
    assert.match(r.stderr, /has a binary sidecar's name \(\.(bin|rkyv|BIN)\), which every scan reads as a sidecar/);
    assert.equal(fs.existsSync(file), false);
  }
  const v = await runCli(['validate', lib]);
  assert.equal(v.code, 0, v.stdout);
});
