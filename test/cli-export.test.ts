/** `export` end to end: formats, destinations, filters, determinism. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeCornerTree, parseJson, removeTree, runCli, tempDir } from './helpers/cli.js';

describe('cli export', () => {
  let root: string;
  let out: string;
  before(() => {
    root = makeCornerTree();
    out = tempDir();
  });
  after(() => {
    removeTree(root);
    removeTree(out);
  });

  it('json to -o FILE: one entry per image with a sidecar (link target once, report and orphan left out)', async () => {
    const file = join(out, 'all.json');
    const r = await runCli(['export', root, '-o', file]);
    // photos/broken.json cannot be exported: named on stderr, exit 1 (findings).
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /not exported \(corrupt\): \S*photos\/broken\.json: invalid JSON/);
    assert.match(r.stderr, /warning: 1 corrupt or unreadable sidecar\(s\) left out of the export/);
    assert.equal(r.stdout, `Exported 6 images to: ${file}\n`);
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(doc.total_sidecars, 6);
    assert.equal(doc.source_directory, root);
    const images = doc.sidecars.map((s: { image: string }) => s.image).sort();
    assert.deepEqual(images, [
      'photos/2025/09/20/20250920_143022.jpg',
      'photos/2025/09/20/20250920_143022_001.jpg',
      'photos/DSC_0042.JPG',
      'photos/IMG_1.jpg',
      'photos/q.jpg',
      'photos/Ünïcode café.jpg',
    ].sort());
    const img1 = doc.sidecars.find((s: { image: string }) => s.image === 'photos/IMG_1.jpg');
    assert.deepEqual(img1.data, JSON.parse(readFileSync(join(root, 'photos/IMG_1.json'), 'utf8')));
    const withJson = await runCli(['export', root, '-o', file, '--json']);
    const rep = parseJson<Record<string, unknown>>(withJson);
    assert.equal(rep.message, `Exported 6 images to: ${file}`);
    assert.equal(rep.exported, 6);
  });

  it('jsonl to stdout: stdout is only the export, the count goes to stderr', async () => {
    const r = await runCli(['export', '--input', root, '--format', 'jsonl']);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 6);
    assert.ok(lines.every((l) => typeof l.sidecar === 'string' && typeof l.data === 'object'));
    assert.match(r.stderr, /Exported 6 images to: stdout/);
  });

  it('csv with --operation-type: header + matching rows (RFC 4180)', async () => {
    const file = join(out, 'q.csv');
    const r = await runCli(['export', root, '--output', file, '--format', 'csv', '--operation-type', 'quality_assessment']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^Exported 1 images to: /);
    const rows = readFileSync(file, 'utf8').split('\r\n').filter((x) => x !== '');
    assert.equal(rows.length, 2);
    assert.match(rows[0], /^image,sidecar,format,operations,/);
    assert.match(rows[1], /^photos\/q\.jpg,photos\/q\.json,json,quality_assessment,/);
  });

  it('deterministic: identical bytes run after run and with 1 or 2 worker threads', async () => {
    const runs = await Promise.all([
      runCli(['export', root, '--format', 'jsonl']),
      runCli(['export', root, '--format', 'jsonl']),
      runCli(['export', root, '--format', 'json', '--engine', 'threads', '--workers', '1']),
      runCli(['export', root, '--format', 'json', '--engine', 'threads', '--workers', '2']),
    ]);
    for (const r of runs) assert.equal(r.code, 1, r.stderr); // the corrupt sidecar is a finding
    assert.equal(runs[1].stdout, runs[0].stdout);
    assert.equal(runs[3].stdout, runs[2].stdout);
    assert.ok(runs[2].stdout.length > 1000);
  });

  it('bad format → exit 2; an unwritable destination → exit 2 and no partial file', async () => {
    const bad = await runCli(['export', root, '--format', 'xml']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Allowed choices are json, jsonl, csv/);
    const target = join(out, 'missing-dir', 'x.json');
    const r = await runCli(['export', root, '-o', target]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^image-sidecar: error \[NOT_FOUND\]/);
    assert.equal(existsSync(join(out, 'missing-dir')), false);
    assert.deepEqual(readdirSync(out).filter((n) => n.includes('isc-tmp')), []);
  });
});
