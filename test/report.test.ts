/** `report`: the page carries the library's own figures, stays bounded, escapes, writes atomically; the CLI. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, constants, existsSync, lstatSync, openSync, readdirSync, readFileSync, readSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { report } from '../src/report/run.js';
import { stats, type TreeStats } from '../src/ops/stats.js';
import { validate } from '../src/ops/validate.js';
import { formatStats } from '../src/ops/format-stats.js';
import { clip, DEFAULT_LIMITS, MAX_REPORT_BYTES, type ReportInputs } from '../src/report/model.js';
import { renderReport } from '../src/report/page.js';
import { openerFor } from '../src/report/open.js';
import { packageVersion } from '../src/version.js';
import { CATEGORIES } from '../src/types.js';
import type { ValidationResult } from '../src/ops/validate.js';
import { FAKE_JPEG, hasScript, makeCornerTree, makeTree, removeTree, runCli, runCliTty, sidecarData, tempDir } from './helpers/cli.js';

const FIXED_NOW = () => new Date('2026-01-02T03:04:05.000Z');

describe('report (library)', () => {
  let root: string;
  let out: string;
  before(() => {
    root = makeCornerTree();
    // More folders, some without sidecars, and a few more invalid files.
    makeTree(
      {
        'events/a/1.jpg': FAKE_JPEG,
        'events/a/1.json': { json: sidecarData('1.jpg', 4, 8) },
        'events/a/2.jpg': FAKE_JPEG,
        'events/b/1.jpg': FAKE_JPEG,
        'events/b/2.jpg': FAKE_JPEG,
        'events/b/3.jpg': FAKE_JPEG,
        'events/b/3.json': '',
        'events/c/x.jpg': FAKE_JPEG,
        'events/c/x.json': { json: { face_detection: { success: 'yes', faces: 'none' } } },
      },
      root,
    );
    out = tempDir('isc-report-out-');
  });
  after(() => {
    removeTree(root);
    removeTree(out);
  });

  it("shows stats', validate's and format-stats' own figures, and writes the page atomically", async () => {
    const file = join(out, 'report.html');
    const r = await report(root, { output: file, now: FIXED_NOW, host: 'test-host', workers: 1 });
    assert.equal(r.path, file);
    assert.equal(readFileSync(file, 'utf8'), r.html, 'the file holds exactly the page');
    assert.equal(r.bytes, Buffer.byteLength(r.html));
    assert.deepEqual(readdirSync(out), ['report.html'], 'no temp file left behind');

    // The aggregates are the library's, not recomputed: the same as calling the ops directly.
    const s = await stats(root);
    const { folder_coverage, ...rest } = r.stats;
    assert.deepEqual(rest, s);
    assert.deepEqual(r.formats, await formatStats(root));
    const v = await validate(root);
    assert.equal(r.validation.invalidFiles, v.invalid_files);
    assert.equal(r.validation.totalFiles, v.total_files);
    assert.deepEqual(
      r.validation.firstInvalid.map((x) => x.file_path),
      v.results!.filter((x) => !x.is_valid).map((x) => x.file_path),
    );
    assert.ok(v.invalid_files >= 3, 'broken.json, 3.json (empty) and x.json (bad shapes)');

    // Folder coverage adds up to the image total and uses stats' coverage rule.
    assert.ok(folder_coverage);
    const imgs = folder_coverage.folders.reduce((n, f) => n + f.images, 0) + folder_coverage.others.images;
    const cov = folder_coverage.folders.reduce((n, f) => n + f.images_with_sidecar, 0) + folder_coverage.others.images_with_sidecar;
    assert.equal(imgs, s.total_images);
    assert.equal(cov, s.images_with_sidecar);
    const row = (dir: string) => folder_coverage.folders.find((f) => f.dir === dir);
    assert.deepEqual(row('events/a'), { dir: 'events/a', images: 2, images_with_sidecar: 1, coverage_percentage: 50 });
    assert.deepEqual(row('events/b'), { dir: 'events/b', images: 3, images_with_sidecar: 0, coverage_percentage: 0 }, 'a corrupt sidecar is no coverage');
    assert.deepEqual(row('events/c'), { dir: 'events/c', images: 1, images_with_sidecar: 1, coverage_percentage: 100 }, 'invalid content still decodes: covered, and listed as invalid');

    // When, where, with which version.
    assert.match(r.html, /2026-01-02T03:04:05\.000Z/);
    assert.match(r.html, /test-host/);
    assert.ok(r.html.includes(`id="meta-version">${packageVersion()}<`));
    assert.ok(r.html.includes(root));

    // Self-contained: no script, no external reference, a CSP that forbids loading anything.
    assert.doesNotMatch(r.html, /<script|<link|<iframe|<img|https?:\/\/|src=|url\(/i);
    assert.match(r.html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none';/);
  });

  it('-o a link to a FIFO (as /dev/stdout is, to a pipe) writes through it: neither the link nor the FIFO is replaced by a regular file', async (t) => {
    const fifo = join(out, 'pipe');
    if (spawnSync('mkfifo', [fifo]).status !== 0) return t.skip('mkfifo unavailable');
    const link = join(out, 'pipe-link');
    symlinkSync(fifo, link);
    // A reader that drains the FIFO while the page is written (a page is bigger than a pipe's buffer).
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const got: Buffer[] = [];
    const drain = () => {
      const buf = Buffer.alloc(65536);
      for (;;) {
        let n = 0;
        try {
          n = readSync(reader, buf);
        } catch {
          return; // EAGAIN: nothing yet
        }
        if (n === 0) return;
        got.push(buf.subarray(0, n));
      }
    };
    const timer = setInterval(drain, 2);
    try {
      const r = await report(root, { output: link, now: FIXED_NOW, workers: 1 });
      drain();
      assert.ok(lstatSync(link).isSymbolicLink(), 'the link was replaced');
      assert.ok(lstatSync(fifo).isFIFO(), 'the FIFO was replaced by a regular file');
      assert.equal(Buffer.concat(got).toString('utf8'), r.html);
    } finally {
      clearInterval(timer);
      closeSync(reader);
      unlinkSync(link);
      unlinkSync(fifo);
    }
  });

  it('per-folder coverage is bounded: the folders lacking most, the rest summed (stats --folders)', async () => {
    const spec: Record<string, unknown> = {};
    // folder fN has N images of which none has a sidecar, plus one image with one.
    for (let n = 0; n < 6; n++) {
      for (let i = 0; i < n; i++) spec[`f${n}/m${i}.jpg`] = FAKE_JPEG;
      spec[`f${n}/ok.jpg`] = FAKE_JPEG;
      spec[`f${n}/ok.json`] = { json: sidecarData('ok.jpg', 0, 4) };
    }
    const lib = makeTree(spec as Parameters<typeof makeTree>[0]);
    try {
      const s = await stats(lib, { folders: 2 });
      const fc = s.folder_coverage!;
      assert.equal(fc.total_folders, 6);
      assert.deepEqual(
        fc.folders.map((f) => [f.dir, f.images, f.images_with_sidecar]),
        [
          ['f4', 5, 1],
          ['f5', 6, 1],
        ],
        'most uncovered first, shown in path order',
      );
      assert.deepEqual(fc.others, { folders: 4, images: 1 + 2 + 3 + 4, images_with_sidecar: 4 });
      // Trimming happens while streaming (kept set capped at 2 × limit): same answer with limit 1.
      const one = (await stats(lib, { folders: 1 })).folder_coverage!;
      assert.deepEqual(one.folders.map((f) => f.dir), ['f5']);
      assert.equal(one.others.folders, 5);
      // Without the option stats' output is unchanged.
      assert.equal('folder_coverage' in (await stats(lib)), false);
    } finally {
      removeTree(lib);
    }
  });

  it('lists the first N invalid files with their problems and counts the rest; user text is escaped', async () => {
    const spec: Record<string, unknown> = {};
    for (let i = 0; i < 7; i++) {
      spec[`bad/img${i}.jpg`] = FAKE_JPEG;
      spec[`bad/img${i}.json`] = '{"face_detection": ';
    }
    const evil = `x<b>"&'<script>alert(1)</script>`;
    spec[`bad/${evil}.jpg`] = FAKE_JPEG;
    spec[`bad/${evil}.json`] = { json: { face_detection: { success: true, faces: [{ confidence: '<i>high</i>' }] }, '<b>op</b>': { success: true } } };
    const lib = makeTree(spec as Parameters<typeof makeTree>[0]);
    try {
      const r = await report(lib, { limits: { invalidFiles: 3 }, now: FIXED_NOW });
      assert.equal(r.path, null, 'no output path: only returned');
      assert.equal(r.model.invalid.total, 8);
      assert.equal(r.model.invalid.shown.length, 3);
      assert.equal(r.model.invalid.more, 5);
      assert.match(r.html, /id="invalid-more" data-more="5">and 5 more invalid files/);
      assert.ok(r.model.invalid.shown.every((f) => f.error !== null || f.problems.length > 0), 'each listed file says what is wrong');
      const all = await report(lib, { now: FIXED_NOW });
      assert.equal(all.model.invalid.shown.length, 8);
      assert.equal(all.html.includes('<script>'), false, 'markup in a file name stays text');
      assert.equal(all.html.includes('<b>'), false, 'markup in an operation key stays text');
      assert.equal(all.html.includes('<i>'), false);
      assert.ok(all.html.includes('x&lt;b&gt;&quot;&amp;&#39;&lt;script&gt;alert(1)&lt;/script&gt;'));
    } finally {
      removeTree(lib);
    }
  });

  it('names holding a bidirectional override or control characters are shown with them as \\uXXXX: a U+202E no longer reverses the rest of the line, and no raw control byte enters the page', async () => {
    const { esc } = await import('../src/report/svg.js');
    assert.equal(esc('x/IMG_\u202Egpj.exe_1.json'), 'x/IMG_\\u202Egpj.exe_1.json');
    assert.equal(esc('a\u2066b\u2069c\u200Fd\u061Ce'), 'a\\u2066b\\u2069c\\u200Fd\\u061Ce');
    assert.equal(esc('\u0001\u001b[31m\u007f\u0085<"&\'>'), '\\u0001\\u001B[31m\\u007F\\u0085&lt;&quot;&amp;&#39;&gt;');
    assert.equal(esc('Café 写真 😀 e\u0301'), 'Café 写真 😀 e\u0301', 'letters, marks and emoji stay as they are');
    assert.equal(esc('a\u00adb\ufeffc\u200bd\u{e0041}e\u180e'), 'a\\u00ADb\\uFEFFc\\u200Bd\\uE0041e\\u180E', 'characters that show nothing are shown');
  });

  it('clip keeps both ends and never splits a surrogate pair', () => {
    assert.equal(clip('abc', 10), 'abc');
    const c = clip('a'.repeat(50) + 'Z', 11);
    assert.equal(c.length, 11);
    assert.ok(c.startsWith('aaaaa') && c.endsWith('aZ') && c.includes('…'));
    const emoji = '😀'.repeat(40);
    for (let max = 3; max < 30; max++) {
      const x = clip(emoji, max);
      assert.equal(Buffer.from(x, 'utf8').toString('utf8'), x, `well-formed at ${max}`);
      assert.ok(x.length <= max + 1);
    }
    assert.deepEqual(openerFor('/tmp/a b.html', { BROWSER: 'firefox --new-tab' }, 'linux'), { command: 'firefox', args: ['--new-tab', 'file:///tmp/a%20b.html'] });
    assert.deepEqual(openerFor('/tmp/r.html', { BROWSER: ':w3m %s:lynx' }, 'linux'), { command: 'w3m', args: ['file:///tmp/r.html'] });
    assert.deepEqual(openerFor('/tmp/r.html', {}, 'linux'), { command: 'xdg-open', args: ['/tmp/r.html'] });
    assert.deepEqual(openerFor('/tmp/r.html', {}, 'darwin'), { command: 'open', args: ['/tmp/r.html'] });
    assert.equal(openerFor('C:\\r.html', {}, 'win32').command, 'cmd');
  });
});

/** Aggregates of a 10^6-image library, with every open-ended list as long and hostile as it can be. */
function syntheticInputs(hostile: boolean): ReportInputs {
  const N = 1_000_000;
  const LONG = '"<&'.repeat(1400);
  const long = (prefix: string, i: number) => (hostile ? `${prefix}${i}/${LONG}` : `${prefix}${i}`);
  // The first 200 keys (the largest counts: the ones a page keeps) are long and all escapes.
  const many = (prefix: string, count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [i < 200 ? long(prefix, i) : `${prefix}${i}`, i < 200 ? 1_000 - i : 1 + (i % 97)]));
  const hist = { '0': 400_000, '1': 300_000, '2': 100_000, '3': 50_000, '10+': 150_000, ...(hostile ? many('bucket', 1000) : {}) };
  const folders = Array.from({ length: hostile ? 5_000 : 200 }, (_, i) => ({ dir: long('2025/event-', i), images: 200, images_with_sidecar: 150, coverage_percentage: 75 }));
  // `as`: a field stats gains later (e.g. image_identity) need not be listed here.
  const stats = {
    directory: hostile ? '/' + '"'.repeat(4000) : '/mnt/nas/photos',
    total_images: N,
    symlink_count: 1000,
    broken_symlinks: 10,
    total_sidecars: 900_000,
    sidecar_files: 910_000,
    kept_copies: 0,
    coverage_percentage: 90,
    operation_counts: hostile ? many('op', 100_000) : { face_detection: 900_000, yolov8: 880_000, quality_assessment: 850_000, game_detection: 700_000 },
    avg_processing_times: {},
    success_rate_percentages: {},
    avg_data_sizes: {},
    filter_applied: null,
    images_with_sidecar: 900_000,
    faces: { total: 3_000_000, with_embedding: 2_900_000, per_image_histogram: hist },
    objects: { total: 5_000_000, per_image_histogram: hist },
    quality_grades: hostile ? many('grade', 100_000) : { A: 100_000, B: 300_000, C: 300_000, D: 100_000, F: 50_000 },
    format_distribution: hostile ? many('fmt', 1000) : { json: 800_000, bin: 100_000 },
    categories: Object.fromEntries(CATEGORIES.map((c) => [c, 1000])) as TreeStats['categories'],
    scan_complete: !hostile,
    scan_problems: hostile ? 100_000 : 0,
    folder_coverage: { total_folders: 5_000, folders, others: { folders: 0, images: 0, images_with_sidecar: 0 } },
  } as TreeStats;
  const POINTER = '/"<&'.repeat(1500);
  const MESSAGE = '"<>&'.repeat(2000);
  const problem = (i: number) => ({ pointer: hostile ? POINTER : `/face_detection/faces/${i}/confidence`, message: hostile ? MESSAGE : 'must be a number', severity: 'error' as const });
  const problems = (n: number) => Array.from({ length: n }, (_, j) => problem(j));
  const hostileProblems = problems(50);
  const invalid: ValidationResult[] = Array.from({ length: hostile ? 500 : 100 }, (_, i) => ({
    file_path: hostile ? `/mnt/${'"'.repeat(4000)}/${i}.json` : `/mnt/nas/photos/2025/event-${i % 50}/IMG_${i}.json`,
    is_valid: false,
    error: hostile ? '"'.repeat(5000) : 'bad',
    processing_time: 0,
    file_size: 100,
    detection_count: 0,
    tool_name: null,
    operation_type: null,
    format: 'json',
    category: 'ok',
    problems: hostile ? hostileProblems : problems(2),
  }));
  return {
    stats,
    formats: {
      directory: stats.directory,
      format_distribution: { Json: 800_000, Binary: 100_000, Rkyv: 0, Legacy: 5, Encrypted: 0, Corrupt: 100, Unreadable: 1 },
      extension_distribution: hostile ? many('.ext', 1000) : { json: 800_000, bin: 100_106 },
      total_files: 900_106,
      kept_copies: 0,
      scan_complete: true,
    },
    validation: {
      totalFiles: 900_106,
      validFiles: 900_000,
      invalidFiles: hostile ? 106_000 : 106,
      firstInvalid: invalid,
      scanProblems: Array.from({ length: hostile ? 200 : 0 }, (_, i) => ({ path: '"'.repeat(4000) + i, code: 'EACCES'.repeat(100), message: '<'.repeat(4000) })),
      scanProblemCount: hostile ? 100_000 : 0,
    },
    meta: {
      generatedAt: FIXED_NOW().toISOString(),
      host: hostile ? '"'.repeat(3000) : 'nas',
      directory: stats.directory,
      version: '1.0.0',
      node: 'v20',
      platform: 'linux-x64',
      engine: 'threads, 2 workers',
      durationMs: 1000,
      operationType: null,
      schema: hostile ? '<'.repeat(5000) : null,
    },
  };
}

describe('report size', () => {
  it(`stays within ${MAX_REPORT_BYTES} bytes for 10^6 images, even with hostile aggregates`, () => {
    const typical = renderReport(syntheticInputs(false), DEFAULT_LIMITS);
    console.log(`# report page for 10^6 images: ${typical.bytes} bytes (typical aggregates, 200 folders, 100 invalid files)`);
    assert.ok(typical.bytes <= MAX_REPORT_BYTES);
    assert.equal(typical.shrunk, false, 'real libraries fit with the default limits');
    assert.equal(typical.model.invalid.shown.length, 100);
    assert.equal(typical.model.invalid.more, 6);
    assert.equal(typical.model.folders!.folders.length, 200);

    const hostile = renderReport(syntheticInputs(true), DEFAULT_LIMITS);
    console.log(`# report page for 10^6 images, hostile aggregates: ${hostile.bytes} bytes (shrunk: ${hostile.shrunk})`);
    assert.ok(hostile.bytes <= MAX_REPORT_BYTES, `${hostile.bytes} bytes`);
    const m = hostile.model;
    // Bounded, with what was left out counted, not silently dropped.
    assert.ok(m.invalid.shown.length >= 1 && m.invalid.shown.length + m.invalid.more === 106_000);
    assert.equal(m.charts.operations.rows.length + m.charts.operations.others!.keys, 100_000);
    assert.equal(m.charts.grades.rows.length + m.charts.grades.others!.keys, 100_000);
    assert.equal(m.charts.faces.rows.length, 11);
    assert.equal(m.charts.faces.others!.keys, 1000, 'unknown histogram keys are summed, not listed');
    const f = m.folders!;
    assert.equal(f.folders.length + f.others.folders, 5_000);
    assert.equal(f.folders.reduce((n, r) => n + r.images, 0) + f.others.images, 1_000_000);
    assert.match(hostile.html, /Lists and labels were shortened/);
  });

  it('limits far above the library (--max-folders 100000000) still shrink to fit (12 halvings left ~24,000 folders: an INTERNAL error, no page)', () => {
    const huge = { ...DEFAULT_LIMITS, folders: 100_000_000, invalidFiles: 100_000_000, chartRows: 100_000_000 };
    const r = renderReport(syntheticInputs(true), huge);
    assert.ok(r.bytes <= MAX_REPORT_BYTES, `${r.bytes} bytes`);
    assert.equal(r.shrunk, true);
    assert.equal(r.model.folders!.folders.length + r.model.folders!.others.folders, 5_000);
    // No worse than the default limits' page: shrunk from what the page holds, not from the limit asked.
    const normal = renderReport(syntheticInputs(true), DEFAULT_LIMITS);
    assert.ok(r.model.invalid.shown.length >= Math.min(12, normal.model.invalid.shown.length) / 2, `${r.model.invalid.shown.length} invalid files shown (default limits: ${normal.model.invalid.shown.length})`);
  });

  it('shows freshness (stale sidecars) when stats reports image_identity, and says so when it does not', () => {
    const inputs = syntheticInputs(false);
    const without = renderReport(inputs, DEFAULT_LIMITS);
    assert.equal(without.model.charts.freshness, null);
    assert.match(without.html, /Freshness \(<em>stale<\/em> sidecars\) is not reported/);
    const withIdentity = { ...inputs, stats: { ...inputs.stats, image_identity: { current: 800_000, stale: 70_000, unknown: 30_000 } } };
    const page = renderReport(withIdentity, DEFAULT_LIMITS);
    assert.deepEqual(page.model.charts.freshness!.rows, [
      { label: 'current', value: 800_000 },
      { label: 'stale', value: 70_000 },
      { label: 'unknown', value: 30_000 },
    ]);
    assert.match(page.html, /data-chart="freshness"/);
    assert.match(page.html, /data-label="stale" data-value="70000"/);
  });
});

describe('report (cli)', () => {
  let root: string;
  let out: string;
  before(() => {
    root = makeCornerTree();
    out = tempDir('isc-report-cli-');
  });
  after(() => {
    removeTree(root);
    removeTree(out);
  });

  it('-o FILE writes the page and says where; a pipe gets the HTML itself; --json', async () => {
    const file = join(out, 'r.html');
    const r = await runCli(['report', root, '-o', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Wrote report \(\d+ bytes\) to .*r\.html\n$/);
    const page = readFileSync(file, 'utf8');
    assert.match(page, /^<!DOCTYPE html>/);

    const piped = await runCli(['report', '--input', root]);
    assert.equal(piped.code, 0, piped.stderr);
    assert.match(piped.stdout, /^<!DOCTYPE html>[\s\S]*<\/html>\n$/);

    const j = await runCli(['report', root, '-o', file, '--json', '--max-invalid', '1', '--max-folders', '1']);
    const line = JSON.parse(j.stdout) as { output: string; bytes: number };
    assert.equal(line.output, file);
    assert.equal(line.bytes, readFileSync(file).length);
    assert.match(readFileSync(file, 'utf8'), /1 of \d+ folders that hold images/);

    const missing = await runCli(['report', join(out, 'nope'), '-o', file]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /does not exist/);

    const help = await runCli(['report', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: image-sidecar report /);
    assert.match(help.stdout, /\nExamples:\n {2}\$ image-sidecar report /);
  });

  it('refuses to print HTML on a terminal (exit 2)', { skip: hasScript() ? false : 'util-linux `script` is not installed' }, async () => {
    const r = await runCliTty(['report', root]);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /write it with -o report\.html/);
  });

  it('--open starts $BROWSER with the page (a recorder here, never a real browser)', async () => {
    const seen = join(out, 'opened.txt');
    const opener = join(out, 'fake-browser.sh');
    // Written whole, then renamed: a test that sees the file sees all of it (a plain `>` left a
    // moment when it existed empty).
    writeFileSync(opener, `#!/bin/sh\nprintf '%s' "$1" > '${seen}.tmp' && mv '${seen}.tmp' '${seen}'\n`);
    chmodSync(opener, 0o755);
    const file = join(out, 'open.html');
    const r = await runCli(['report', root, '-o', file, '--open'], { env: { BROWSER: opener } });
    assert.equal(r.code, 0, r.stderr);
    for (let i = 0; i < 100 && !existsSync(seen); i++) await new Promise((res) => setTimeout(res, 50));
    assert.equal(readFileSync(seen, 'utf8'), `file://${file}`);

    // No -o: the page goes to a fresh temp file, which is opened.
    const r2 = await runCli(['report', root, '--open', '--json'], { env: { BROWSER: opener } });
    assert.equal(r2.code, 0, r2.stderr);
    const where = (JSON.parse(r2.stdout) as { output: string }).output;
    assert.ok(existsSync(where));
    for (let i = 0; i < 100 && readFileSync(seen, 'utf8') !== `file://${where}`; i++) await new Promise((res) => setTimeout(res, 50));
    assert.equal(readFileSync(seen, 'utf8'), `file://${where}`);
    removeTree(join(where, '..'));

    // The browser never gets the passphrase (or the key file) of the run: key material stays with us.
    const envSeen = join(out, 'browser-env.txt');
    const envOpener = join(out, 'env-browser.sh');
    writeFileSync(envOpener, `#!/bin/sh\nenv > '${envSeen}.tmp' && mv '${envSeen}.tmp' '${envSeen}'\n`);
    chmodSync(envOpener, 0o755);
    const keyed = await runCli(['report', root, '-o', file, '--open'], { env: { BROWSER: envOpener, IMAGE_SIDECAR_PASSPHRASE: 'hunter2-browser-leak', IMAGE_SIDECAR_KEY_FILE: undefined } });
    assert.equal(keyed.code, 0, keyed.stderr);
    for (let i = 0; i < 100 && !existsSync(envSeen); i++) await new Promise((res) => setTimeout(res, 50));
    const env = readFileSync(envSeen, 'utf8');
    assert.match(env, /^BROWSER=/m, 'the recorder did not run');
    assert.ok(!env.includes('hunter2-browser-leak'), 'the passphrase was handed to the browser');

    // An opener that cannot start: a warning; the page is written all the same.
    const bad = await runCli(['report', root, '-o', file, '--open'], { env: { BROWSER: join(out, 'no-such-browser') } });
    assert.equal(bad.code, 0);
    assert.match(bad.stderr, /warning: could not open the report with .*no-such-browser/);
  });
});
