/**
 * Another tool's files in a sidecar's name (docs/PAIRING.md §7): Google Photos Takeout writes
 * `IMG.jpg.json` beside `IMG.jpg` with its own metadata. Such a file decodes but is not
 * sidecar-shaped (no `sidecar_info`, no operation): it is never the image's sidecar. Reads pass it
 * over (with a `foreign` finding), saves never merge into it nor write it, validate / stats /
 * format-stats do not count it, convert skips it, resolve and cleanup never move it. Before, a
 * read returned the Takeout metadata as the image's sidecar, a save merged results into it,
 * convert replaced it with `IMG.jpg.bin` and resolve quarantined it.
 *
 * Attacked with four foreign shapes (Takeout, an XMP-ish JSON, a plain `{"title": ...}`, exiftool's
 * `-json` dump: an array), in
 * name-ext and in stem form, alone and beside a sidecar of ours, through the library and the CLI,
 * on both engines, with the index off and on (twice: the second run is served from it).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeSidecar } from '../src/formats/codec.js';
import { readSidecarDetailed, readSidecarText } from '../src/ops/read.js';
import { saveSidecar } from '../src/ops/save.js';
import { validate } from '../src/ops/validate.js';
import { stats } from '../src/ops/stats.js';
import { formatStats } from '../src/ops/format-stats.js';
import { convert } from '../src/ops/convert.js';
import { resolveConflicts } from '../src/ops/resolve.js';
import { cleanup } from '../src/ops/cleanup.js';
import type { EngineKind, JsonObject, JsonValue } from '../src/types.js';
import { inTurn } from './helpers/campaign.js';
import { runCli } from './helpers/cli.js';
import { CLI, CLIENT, findPython } from './helpers/python.js';
import { FAKE_JPEG, testDir } from './helpers/tree.js';

const SHAPES: Record<string, JsonValue> = {
  takeout: {
    title: 'IMG.jpg',
    description: '',
    imageViews: '12',
    creationTime: { timestamp: '1600000000', formatted: 'Sep 13, 2020, 12:26:40 PM UTC' },
    photoTakenTime: { timestamp: '1599999999', formatted: 'Sep 13, 2020, 12:26:39 PM UTC' },
    geoData: { latitude: 48.85, longitude: 2.35, altitude: 0.0, latitudeSpan: 0.0, longitudeSpan: 0.0 },
    geoDataExp: { latitude: 48.85, longitude: 2.35, altitude: 0.0, latitudeSpan: 0.0, longitudeSpan: 0.0 },
    people: [{ name: 'Alice' }],
    url: 'https://photos.google.com/photo/AF1Qip',
    googlePhotosOrigin: { mobileUpload: { deviceType: 'ANDROID_PHONE' } },
  },
  xmp: { 'xmp:Rating': 5, 'dc:subject': ['beach', 'summer'], 'exif:DateTimeOriginal': '2020:09:13 12:26:39', 'photoshop:City': 'Paris' },
  plain: { title: 'Beach' },
  // exiftool -json -w json: JSON that parses, but an array (a top-level value that is not an object)
  exiftool: [{ SourceFile: 'IMG.jpg', ExifToolVersion: 12.57, Make: 'Canon', Model: 'EOS R6', ISO: 3200 }],
};

/** Ours: sidecar-shaped, as a save writes one. */
const OURS: JsonObject = { face_detection: { faces: [], success: true }, sidecar_info: { operation_type: 'face_detection', image_path: 'IMG.jpg' } };

interface Case {
  dir: string;
  image: string;
  /** The foreign file and its bytes. */
  foreign: string;
  bytes: Buffer;
  /** Our sidecar beside it, when there is one. */
  ours: string | null;
}

/**
 * One folder per shape × form × (alone | beside ours): `IMG.jpg` with the foreign file as
 * `IMG.jpg.json` (name-ext) or `IMG.json` (stem); ours is `IMG.bin` / `IMG.jpg.bin` (the other form).
 */
function makeCases(root: string): Case[] {
  const cases: Case[] = [];
  for (const [shape, doc] of Object.entries(SHAPES)) {
    for (const form of ['name-ext', 'stem'] as const) {
      for (const withOurs of [false, true]) {
        const dir = path.join(root, `${shape}-${form}-${withOurs ? 'ours' : 'alone'}`);
        fs.mkdirSync(dir, { recursive: true });
        const image = path.join(dir, 'IMG.jpg');
        fs.writeFileSync(image, FAKE_JPEG);
        const foreign = path.join(dir, form === 'name-ext' ? 'IMG.jpg.json' : 'IMG.json');
        const bytes = Buffer.from(JSON.stringify(doc, null, 2));
        fs.writeFileSync(foreign, bytes);
        let ours: string | null = null;
        if (withOurs) {
          ours = path.join(dir, form === 'name-ext' ? 'IMG.bin' : 'IMG.jpg.bin');
          fs.writeFileSync(ours, encodeSidecar(OURS, 'bin'));
        }
        cases.push({ dir, image, foreign, bytes, ours });
      }
    }
  }
  return cases;
}

/** Every foreign file is where it was, with its bytes. */
function assertUntouched(cases: readonly Case[], what: string): void {
  for (const c of cases) {
    assert.ok(fs.existsSync(c.foreign), `${what}: ${c.foreign} was moved`);
    assert.deepEqual(fs.readFileSync(c.foreign), c.bytes, `${what}: ${c.foreign} changed`);
  }
}

const ENGINES: EngineKind[] = ['inline', 'threads'];

describe('another tool\'s files in a sidecar\'s name', () => {
  it('reads pass them over: {} alone, our sidecar beside one; a `foreign` finding names it, never a `kept` one', async (t) => {
    const cases = makeCases(testDir(t));
    for (const c of cases) {
      const r = await readSidecarDetailed(c.image);
      const text = await readSidecarText(c.image);
      const textOff = await readSidecarText(c.image, { accel: false });
      if (c.ours === null) {
        assert.deepEqual(r.data, {}, c.foreign);
        assert.equal(r.path, null, c.foreign);
        assert.equal(String(text.text), '{}', c.foreign);
        assert.equal(String(textOff.text), '{}', c.foreign);
      } else {
        assert.deepEqual(r.data, OURS, c.foreign);
        assert.equal(r.path, c.ours, c.foreign);
        assert.deepEqual(JSON.parse(String(text.text)), OURS, c.foreign);
        assert.equal(text.path, c.ours);
      }
      assert.deepEqual(r.findings.filter((f) => f.path === c.foreign).map((f) => f.code), ['foreign'], `${c.foreign}: ${JSON.stringify(r.findings)}`);
      assert.deepEqual(text.findings, r.findings, c.foreign);
      assert.ok(!r.findings.some((f) => f.code === 'kept' || f.code === 'fallback'), JSON.stringify(r.findings));
    }
    assertUntouched(cases, 'read');
  });

  it('saves never merge into them nor write them: the image\'s own file is written, in a free name when theirs is the one asked', async (t) => {
    const cases = makeCases(testDir(t));
    for (const c of cases) {
      for (const [k, opts] of [{}, { format: 'json' as const }, { format: 'json' as const, naming: 'name-ext' as const }, { format: 'json' as const, naming: 'stem' as const }, { format: 'bin' as const }].entries()) {
        const res = await saveSidecar(c.image, 'object_detection', { objects: [], n: k });
        const res2 = await saveSidecar(c.image, 'yolov8', { objects: [], n: k }, opts);
        for (const p of [res.path, res2.path]) assert.notEqual(p, c.foreign, `${c.foreign} ${JSON.stringify(opts)}`);
        const r = await readSidecarDetailed(c.image);
        assert.equal(r.path, res2.path, `${c.foreign} ${JSON.stringify(opts)}: reads pick the file written`);
        assert.deepEqual(r.data.yolov8, { objects: [], n: k });
        for (const key of Object.keys(SHAPES.takeout as JsonObject)) assert.equal(r.data[key], undefined, `${c.foreign}: nothing of theirs merged in (${key})`);
        assert.equal(r.data.title, undefined);
        if (c.ours !== null) assert.deepEqual(r.data.face_detection, OURS.face_detection, `${c.foreign}: ours merged from`);
      }
    }
    assertUntouched(cases, 'save');
  });

  it('a JSON save asked in the foreign file\'s own name takes the other form (IMG.jpg.json taken → IMG.json, and back)', async (t) => {
    const root = testDir(t);
    for (const form of ['name-ext', 'stem'] as const) {
      const dir = path.join(root, form);
      fs.mkdirSync(dir);
      const image = path.join(dir, 'IMG.jpg');
      fs.writeFileSync(image, FAKE_JPEG);
      const foreign = path.join(dir, form === 'name-ext' ? 'IMG.jpg.json' : 'IMG.json');
      const bytes = Buffer.from(JSON.stringify(SHAPES.takeout));
      fs.writeFileSync(foreign, bytes);
      const res = await saveSidecar(image, 'face_detection', { faces: [] }, { format: 'json', naming: form });
      assert.equal(res.path, path.join(dir, form === 'name-ext' ? 'IMG.json' : 'IMG.jpg.json'));
      assert.equal(res.format, 'json');
      assert.equal(res.created, true);
      assert.deepEqual(fs.readFileSync(foreign), bytes);
    }
  });

  it('validate, stats and format-stats do not count them; convert skips them; resolve and cleanup never move them (both engines, index off and on)', async (t) => {
    const root = testDir(t);
    const cases = makeCases(path.join(root, 'lib'));
    const lib = path.join(root, 'lib');
    const foreignPaths = new Set(cases.map((c) => c.foreign));
    const alone = cases.filter((c) => c.ours === null).length;
    const withOurs = cases.length - alone;
    for (const engine of ENGINES) {
      for (const index of [false, { path: path.join(root, `index-${engine}`), racyMarginMs: 0 }, { path: path.join(root, `index-${engine}`), racyMarginMs: 0 }] as const) {
        const opts = { engine, index };
        const what = `${engine} index ${index === false ? 'off' : 'on'}`;
        const v = await validate(lib, opts);
        assert.deepEqual((v.results ?? []).filter((r) => foreignPaths.has(r.file_path)), [], `${what}: validate lists no foreign file`);
        assert.equal((v.results ?? []).length, withOurs, what);
        const s = await stats(lib, opts);
        assert.equal(s.sidecar_files, withOurs, `${what}: stats counts our sidecars only`);
        assert.equal(s.kept_copies, 0, what);
        assert.equal(s.images_with_sidecar, withOurs, what);
        assert.equal(s.categories.missing, alone, `${what}: an image with only another tool's file has no sidecar`);
        assert.equal(s.categories.ok, withOurs, what);
        const f = await formatStats(lib, opts);
        assert.equal(f.total_files, withOurs, `${what}: format-stats counts our sidecars only`);
        assert.equal(f.format_distribution.Json, 0, what);
        assert.equal(f.format_distribution.Binary, withOurs, what);
        assert.equal(f.kept_copies, 0, what);
      }
      for (const format of ['json', 'bin'] as const) {
        const r = await convert(lib, format, { engine });
        assert.equal(r.failed, 0, JSON.stringify(r.items));
        assert.equal(r.conflicts, 0, JSON.stringify(r.items));
        for (const it of r.items ?? []) {
          if ('source' in it && foreignPaths.has(it.source)) assert.equal(it.action, 'skip-not-sidecar', JSON.stringify(it));
          if ('target' in it && it.target !== null) assert.ok(!foreignPaths.has(it.target), JSON.stringify(it));
        }
        assertUntouched(cases, `convert ${format} (${engine})`);
      }
      for (const prefer of ['newest', 'current', 'bin', 'json'] as const) {
        const r = await resolveConflicts(lib, { engine, prefer });
        assert.equal(r.quarantined, 0, `${prefer}: ${JSON.stringify(r.decisions)}`);
        assertUntouched(cases, `resolve ${prefer} (${engine})`);
      }
      const cl = await cleanup(lib, { engine });
      assert.equal(cl.removed, 0, JSON.stringify(cl.actions));
      assertUntouched(cases, `cleanup (${engine})`);
    }
    // Our sidecars were converted (json, then bin) and are still read.
    for (const c of cases.filter((x) => x.ours !== null)) assert.deepEqual((await readSidecarDetailed(c.image)).data, OURS);
  });

  it('the CLI: read, write, validate, stats, format-stats, convert, resolve and cleanup leave them as they are (--no-index and with the index)', async (t) => {
    const root = testDir(t);
    const lib = path.join(root, 'lib');
    const cases = makeCases(lib);
    const foreignPaths = new Set(cases.map((c) => c.foreign));
    const alone = cases.filter((c) => c.ours === null).length;
    const withOurs = cases.length - alone;
    const json = async (args: string[], code = 0) => {
      const r = await runCli(args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      return JSON.parse(r.stdout);
    };
    for (const c of cases) {
      assert.deepEqual(await json(['read', c.image, '--json']), c.ours === null ? {} : OURS, c.foreign);
    }
    for (const indexArgs of [['--no-index'], ['--index', path.join(root, 'index')], ['--index', path.join(root, 'index')]]) {
      const v = await json(['validate', lib, '--json', ...indexArgs]);
      assert.deepEqual((v.results ?? []).filter((r: { file_path: string }) => foreignPaths.has(r.file_path)), [], indexArgs.join(' '));
      const s = await json(['stats', lib, '--json', ...indexArgs]);
      assert.equal(s.sidecar_files, withOurs, indexArgs.join(' '));
      assert.equal(s.categories.missing, alone, indexArgs.join(' '));
      const f = await json(['format-stats', lib, '--json', ...indexArgs]);
      assert.equal(f.total_files, withOurs, indexArgs.join(' '));
    }
    for (const format of ['json', 'bin']) {
      const r = await json(['convert', lib, '--format', format, '--json']);
      assert.equal(r.failed, 0, JSON.stringify(r));
      assertUntouched(cases, `CLI convert ${format}`);
    }
    await json(['resolve', lib, '--json']);
    await json(['cleanup', lib, '--json']);
    assertUntouched(cases, 'CLI resolve, cleanup');
    const data = path.join(root, 'data.json');
    fs.writeFileSync(data, JSON.stringify({ faces: [] }));
    for (const [ci, c] of cases.entries()) {
      // Each case with every save form in the full campaigns (helpers/campaign.ts), with one of them in turn here.
      for (const args of inTurn([[], ['--format', 'json'], ['--format', 'json', '--naming', 'name-ext'], ['--format', 'json', '--naming', 'stem']], ci)) {
        const w = await json(['write', c.image, '--operation', 'face_detection', '--data', data, '--json', ...args]);
        assert.notEqual(w.path, c.foreign, `${c.foreign} ${args.join(' ')}`);
        // Each write read back in this process (a process per write and read was most of this
        // test's time), and what the four left through the CLI's `read` below.
        const back = (await readSidecarDetailed(c.image)).data as Record<string, unknown>;
        assert.deepEqual(back.face_detection, { faces: [] });
        assert.equal(back.title, undefined);
      }
      const back = await json(['read', c.image, '--json']);
      assert.deepEqual(back.face_detection, { faces: [] }, c.foreign);
      assert.equal(back.title, undefined, c.foreign);
    }
    assertUntouched(cases, 'CLI write');
  });

  it('the server reads and saves alike', async (t) => {
    const cases = makeCases(testDir(t));
    const reqs = cases.flatMap((c, i) => [
      { id: 3 * i, method: 'read', params: { image: c.image } },
      { id: 3 * i + 1, method: 'save', params: { image: c.image, operation: 'yolov8', data: { objects: [] }, format: 'json' } },
      { id: 3 * i + 2, method: 'read', params: { image: c.image } },
    ]);
    const r = await runCli(['serve', '--stdio'], { input: reqs.map((q) => JSON.stringify(q)).join('\n') + '\n' });
    assert.equal(r.code, 0, r.stderr);
    const byId = new Map(r.stdout.trim().split('\n').map((l) => [JSON.parse(l).id as number, JSON.parse(l)]));
    cases.forEach((c, i) => {
      const first = byId.get(3 * i);
      assert.deepEqual(first.result, c.ours === null ? {} : OURS, `${c.foreign}: ${JSON.stringify(first)}`);
      assert.equal(byId.get(3 * i + 1).error, undefined, JSON.stringify(byId.get(3 * i + 1)));
      const after = byId.get(3 * i + 2).result;
      assert.deepEqual(after.yolov8, { objects: [] });
      assert.equal(after.title, undefined, c.foreign);
    });
    assertUntouched(cases, 'server');
  });

  const python = findPython();
  it('Python local reads pass such a file over, as the library does (same answer, not handed over)', { skip: python ? false : 'no python3 >= 3.9' }, (t) => {
    const cases = makeCases(testDir(t));
    const script = String.raw`
import json, sys
sys.path.insert(0, sys.argv[1])
from image_sidecar import ImageSidecarManager
from image_sidecar.decode import NotLocal
from image_sidecar.local import read_local
out = {}
with ImageSidecarManager() as m:
    for image in sys.argv[2:]:
        try:
            local = read_local(image)
        except NotLocal:
            local = 'handed over'
        out[image] = {'local': local, 'client': m.read_data(image)}
print(json.dumps(out))
`;
    const r = spawnSync(python!, ['-c', script, CLIENT, ...cases.map((c) => c.image)], {
      encoding: 'utf8',
      env: { ...process.env, IMAGE_SIDECAR_BIN: CLI, IMAGE_SIDECAR_NODE: process.execPath, PYTHONDONTWRITEBYTECODE: '1' },
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, { local: unknown; client: unknown }>;
    for (const c of cases) {
      const want = c.ours === null ? {} : OURS;
      assert.deepEqual(out[c.image].client, want, c.foreign);
      assert.equal(JSON.stringify(out[c.image].local), JSON.stringify(want), c.foreign);
    }
    assertUntouched(cases, 'python');
  });
});
