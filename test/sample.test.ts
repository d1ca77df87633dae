import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { isSidecarError } from '../src/errors.js';
import { DEFAULT_IMAGE_EXTENSIONS, REPORT_FILE_NAMES } from '../src/discovery/extensions.js';
import { decodeSidecar } from '../src/formats/codec.js';
import { generateSampleLibrary, type SampleReport } from '../src/sample/generate.js';
import { createRng } from '../src/sample/prng.js';
import { sampleSidecar } from '../src/sample/shapes.js';
import type { JsonObject, JsonValue } from '../src/types.js';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'sample-test-'));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
let dirNo = 0;
/** A path for a library that does not exist yet. */
const freshDir = (): string => path.join(tmpRoot, `lib${dirNo++}`);

// --- reading a generated tree back, independently of the generator ----------------------------

interface TreeEntry {
  kind: 'file' | 'symlink' | 'dir';
  digest?: string;
  target?: string;
}

/** Every path under root (sorted), with file digests and raw symlink targets. */
function snapshot(root: string): Map<string, TreeEntry> {
  const out = new Map<string, TreeEntry>();
  const visit = (rel: string): void => {
    for (const d of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = rel === '' ? d.name : `${rel}/${d.name}`;
      const abs = path.join(root, r);
      if (d.isSymbolicLink()) out.set(r, { kind: 'symlink', target: fs.readlinkSync(abs) });
      else if (d.isDirectory()) {
        out.set(r, { kind: 'dir' });
        visit(r);
      } else out.set(r, { kind: 'file', digest: createHash('sha256').update(fs.readFileSync(abs)).digest('hex') });
    }
  };
  visit('');
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const IMAGE_EXTS = new Set(DEFAULT_IMAGE_EXTENSIONS);
const REPORTS = new Set(REPORT_FILE_NAMES);

type Decoded =
  | { kind: 'json'; data: JsonObject; bom: boolean; text: string }
  | { kind: 'legacy'; data: JsonObject; body: string }
  | { kind: 'bin'; data: JsonObject }
  | { kind: 'corrupt'; why: 'empty' | 'invalid-utf8' | 'nan' | 'truncated' | 'other' };

/** Strict decoding by the rules in LEGACY.md: UTF-8 JSON (BOM tolerated), or u64-LE length + JSON. */
function decodeOnDisk(name: string, bytes: Buffer): Decoded {
  if (name.endsWith('.bin')) {
    if (bytes.length >= 8 && Number(bytes.readBigUInt64LE(0)) === bytes.length - 8) {
      const body = utf8.decode(bytes.subarray(8));
      return { kind: 'legacy', data: JSON.parse(body) as JsonObject, body };
    }
    // our own format: the codec tells it apart by its magic number
    const decoded = decodeSidecar(bytes);
    assert.equal(decoded.format, 'bin');
    return { kind: 'bin', data: decoded.data };
  }
  if (bytes.length === 0) return { kind: 'corrupt', why: 'empty' };
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { kind: 'corrupt', why: 'invalid-utf8' };
  }
  // TextDecoder drops a leading BOM by itself; note whether there was one
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  try {
    return { kind: 'json', data: JSON.parse(text) as JsonObject, bom, text };
  } catch {
    return { kind: 'corrupt', why: /: NaN[,\n]/.test(text) ? 'nan' : 'truncated' };
  }
}

function tryDecode(bytes: Buffer): string {
  try {
    return decodeSidecar(bytes).format;
  } catch (e) {
    return isSidecarError(e) ? e.code : 'foreign error';
  }
}

function extOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? '' : name.slice(dot + 1);
}
function stemOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? name : name.slice(0, dot);
}
const nfc = (s: string): string => s.normalize('NFC');

interface DiskFacts {
  report: SampleReport;
  /** Decoded sidecars that are not corrupt. */
  valid: Array<{ rel: string; data: JsonObject }>;
  corruptKinds: Set<string>;
}

/** Recount every category from the files on disk and compare with the generator's report. */
function checkCountsOnDisk(root: string, report: SampleReport): DiskFacts {
  const c = {
    withSidecar: 0, withoutSidecar: 0, orphans: 0, corrupt: 0, symlinks: 0, brokenSymlinks: 0, bursts: 0,
    upperCaseExt: 0, nonAscii: 0, reports: 0, legacy: 0, bin: 0, staleJsonNextToBin: 0, nameExt: 0,
    ambiguousClaims: 0, bom: 0,
  };
  let images = 0;
  let sidecars = 0;
  let bytes = 0;
  const valid: DiskFacts['valid'] = [];
  const corruptKinds = new Set<string>();

  const photos = path.join(root, 'photos');
  for (const date of fs.readdirSync(photos)) {
    const dir = path.join(photos, date);
    const names = fs.readdirSync(dir);
    const imageNames = names.filter((n) => IMAGE_EXTS.has(extOf(n).toLowerCase()));
    const sidecarNames = names.filter((n) => !REPORTS.has(n) && (extOf(n) === 'json' || extOf(n) === 'bin'));
    c.reports += names.filter((n) => REPORTS.has(n)).length;
    for (const n of names) assert.ok(fs.lstatSync(path.join(dir, n)).isFile(), `photos hold regular files only: ${n}`);
    assert.equal(imageNames.length + sidecarNames.length + names.filter((n) => REPORTS.has(n)).length, names.length, `unexpected files in ${date}`);

    const stemCount = new Map<string, number>();
    const imageNameSet = new Set<string>();
    for (const n of imageNames) {
      images++;
      stemCount.set(nfc(stemOf(n)), (stemCount.get(nfc(stemOf(n))) ?? 0) + 1);
      imageNameSet.add(nfc(n));
      if (/^\d{8}_\d{6}_\d{3}\./.test(n)) c.bursts++;
      if (extOf(n) !== extOf(n).toLowerCase()) c.upperCaseExt++;
      if (/[^\x00-\x7f]/.test(n)) c.nonAscii++;
    }
    const bases = new Map<string, string[]>(); // NFC base → sidecar exts present
    for (const n of sidecarNames) {
      sidecars++;
      const base = nfc(stemOf(n));
      bases.set(base, [...(bases.get(base) ?? []), extOf(n)]);
      const buf = fs.readFileSync(path.join(dir, n));
      bytes += buf.length;
      const claims = stemCount.get(base) ?? 0;
      if (claims === 0 && !imageNameSet.has(base)) c.orphans++;
      if (claims >= 2) c.ambiguousClaims++;
      if (imageNameSet.has(base)) c.nameExt++;
      const d = decodeOnDisk(n, buf);
      // the library's codec agrees: exactly the deliberately corrupt files are rejected
      const codec = tryDecode(buf);
      assert.equal(codec === 'CORRUPT', d.kind === 'corrupt', `${n}: codec says ${codec}, test decoder says ${d.kind}`);
      if (d.kind === 'corrupt') {
        c.corrupt++;
        corruptKinds.add(d.why);
        continue;
      }
      if (d.kind === 'legacy') c.legacy++;
      if (d.kind === 'bin') c.bin++;
      if (d.kind === 'json' && d.bom) c.bom++;
      valid.push({ rel: `photos/${date}/${n}`, data: d.data });
      if (d.kind === 'legacy') {
        // the earlier tool wrote compact JSON with sorted keys
        assert.equal(d.body, JSON.stringify(d.data));
        const keys = Object.keys(d.data);
        assert.deepEqual(keys, [...keys].sort());
      } else if (d.kind === 'json' && !d.bom) {
        // pipeline style: 2-space indent, no trailing newline; the text is stable through a parse
        assert.equal(JSON.stringify(d.data, null, 2), d.text, `${n} is not in pipeline JSON style`);
      }
    }
    for (const [base, exts] of bases) {
      if (exts.includes('json') && exts.includes('bin')) {
        c.staleJsonNextToBin++;
        const stem = sidecarNames.find((n) => nfc(stemOf(n)) === base && n.endsWith('.json'))!;
        const json = fs.statSync(path.join(dir, stem));
        const bin = fs.statSync(path.join(dir, `${stemOf(stem)}.bin`));
        assert.ok(json.mtimeMs < bin.mtimeMs, `stale ${stem} must be older than its .bin`);
      }
    }
    for (const n of imageNames) {
      if (bases.has(nfc(stemOf(n))) || bases.has(nfc(n))) c.withSidecar++;
      else c.withoutSidecar++;
    }
  }

  const games = path.join(root, 'games');
  for (const game of fs.readdirSync(games)) {
    assert.match(game, /^Game\d+_\d{2}[A-Z][a-z]{2}\d{4}_\d{6}-\d{6}$/);
    const dir = path.join(games, game);
    for (const n of fs.readdirSync(dir)) {
      const abs = path.join(dir, n);
      if (REPORTS.has(n)) {
        c.reports++;
        continue;
      }
      assert.ok(fs.lstatSync(abs).isSymbolicLink(), `game folders hold links and reports only: ${n}`);
      c.symlinks++;
      const target = fs.readlinkSync(abs);
      const resolved = path.resolve(dir, target);
      assert.ok(resolved.startsWith(path.join(root, 'photos') + path.sep), `link points into photos/: ${target}`);
      assert.equal(path.basename(resolved), n);
      if (!fs.existsSync(abs)) c.brokenSymlinks++;
      else assert.ok(fs.statSync(abs).isFile());
    }
  }

  assert.equal(report.root, root);
  assert.equal(images, report.images, 'images');
  assert.equal(sidecars, report.sidecars, 'sidecars');
  assert.equal(bytes, report.bytes, 'bytes');
  assert.deepEqual(c, report.counts);
  return { report, valid, corruptKinds };
}

/** Faces of a sidecar in any of its layouts. */
function facesOf(data: JsonObject): JsonObject[] {
  let fd = data.face_detection as JsonObject | undefined;
  if (fd && fd.insightface !== undefined) fd = fd.insightface as JsonObject;
  if (fd) return fd.faces as JsonObject[];
  const old = data.Face_detector as JsonObject | undefined;
  return old ? (old.faces as JsonObject[]) : [];
}

function isFiniteNumberArray(v: JsonValue | undefined, length: number): boolean {
  return Array.isArray(v) && v.length === length && v.every((x) => typeof x === 'number' && Number.isFinite(x));
}

const sameSeed300 = Promise.all([
  generateSampleLibrary(freshDir(), { images: 300, seed: 42 }),
  generateSampleLibrary(freshDir(), { images: 300, seed: 42 }),
]);

describe('generateSampleLibrary', () => {
  test('same images and seed give the same tree, bytes and links', async () => {
    const [a, b] = await sameSeed300;
    const sa = snapshot(a.root);
    const sb = snapshot(b.root);
    assert.deepEqual([...sa.keys()], [...sb.keys()]);
    let absolute = 0;
    let relative = 0;
    for (const [rel, ea] of sa) {
      const eb = sb.get(rel)!;
      assert.equal(ea.kind, eb.kind, rel);
      assert.equal(ea.digest, eb.digest, rel);
      if (ea.kind === 'symlink') {
        if (path.isAbsolute(ea.target!)) {
          absolute++;
          // absolute links differ only by the root prefix
          assert.ok(ea.target!.startsWith(a.root + path.sep));
          assert.equal(ea.target!.slice(a.root.length), eb.target!.slice(b.root.length), rel);
        } else {
          relative++;
          assert.equal(ea.target, eb.target, rel);
        }
      }
    }
    assert.ok(absolute > 0 && relative > 0, 'both absolute and relative links are present');
    assert.deepEqual(a.counts, b.counts);
    assert.equal(a.bytes, b.bytes);
  });

  test('a different seed gives a different library', async () => {
    const [a] = await sameSeed300;
    const c = await generateSampleLibrary(freshDir(), { images: 300, seed: 43 });
    const sa = snapshot(a.root);
    const sc = snapshot(c.root);
    const digests = (s: Map<string, TreeEntry>) => [...s].map(([k, e]) => `${k}:${e.digest ?? e.target ?? ''}`);
    assert.notDeepEqual(digests(sa), digests(sc));
    assert.equal(c.images, 300);
  });

  test('2,000 images: fast, counts match the disk, content is realistic', async (t) => {
    const dir = freshDir();
    const started = performance.now();
    const cpu0 = process.cpuUsage();
    const report = await generateSampleLibrary(dir, { images: 2000, seed: 7 });
    const cpu = process.cpuUsage(cpu0);
    const elapsed = performance.now() - started;
    // CPU time, not wall time: a machine busy with other work must not fail this check.
    const cpuMs = (cpu.user + cpu.system) / 1000;
    t.diagnostic(`generated 2,000 images (${(report.bytes / 1e6).toFixed(0)} MB of sidecars) in ${elapsed.toFixed(0)} ms (${cpuMs.toFixed(0)} ms CPU)`);
    assert.ok(cpuMs < 10_000, `took ${cpuMs.toFixed(0)} ms of CPU`);
    assert.equal(report.images, 2000);

    const facts = checkCountsOnDisk(path.resolve(dir), report);
    const { counts } = report;
    // about 90 % of the images have a sidecar; every rare category is present
    assert.ok(counts.withSidecar / report.images > 0.85 && counts.withSidecar / report.images < 0.95, `${counts.withSidecar}`);
    for (const [k, v] of Object.entries(counts)) if (k !== 'bin') assert.ok(v > 0, `${k} present`);
    assert.deepEqual([...facts.corruptKinds].sort(), ['empty', 'invalid-utf8', 'nan', 'truncated']);

    // every sidecar that is not corrupt has sidecar_info, unless it is in the oldest layout
    let encodings = 0;
    let oldest = 0;
    let nested = 0;
    const sizes: number[] = [];
    for (const { rel, data } of facts.valid) {
      if (data.sidecar_info === undefined) {
        assert.ok(data.Face_detector !== undefined, `${rel} lacks sidecar_info`);
        oldest++;
      } else {
        const info = data.sidecar_info as JsonObject;
        for (const k of ['operation_type', 'created_at', 'last_updated', 'last_operation', 'image_path', 'symlink_path']) {
          assert.ok(info[k] !== undefined, `${rel}: sidecar_info.${k}`);
        }
        assert.match(info.created_at as string, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/);
        assert.ok((info.created_at as string) <= (info.last_updated as string));
        const link = info.symlink_info as JsonObject;
        // the image a sidecar describes lives in the sidecar's folder
        assert.equal(path.posix.dirname(link.target_path as string), path.posix.dirname(rel));
        assert.ok(typeof link.is_symlink === 'boolean');
        // the recorded link exists and leads to the recorded target
        if (link.is_symlink === true) {
          assert.equal(fs.realpathSync(path.join(dir, link.symlink_path as string)), fs.realpathSync(path.join(dir, link.target_path as string)));
        }
      }
      if ((data.face_detection as JsonObject | undefined)?.insightface !== undefined) nested++;
      for (const face of facesOf(data)) {
        if (face.encoding !== undefined) {
          assert.ok(isFiniteNumberArray(face.encoding, 512), `${rel}: 512-float encoding`);
          encodings++;
        }
        if (face.face_encoding !== undefined && face.face_encoding !== null) {
          assert.ok(isFiniteNumberArray(face.face_encoding, 128), `${rel}: 128-float old encoding`);
        }
        if (face.bbox !== undefined) {
          const b = face.bbox as JsonObject;
          for (const k of ['x', 'y', 'width', 'height']) assert.ok((b[k] as number) >= 0 && (b[k] as number) <= 1);
          assert.equal((face.landmarks as JsonValue[]).length, 5);
        }
      }
      if (rel.endsWith('.json')) sizes.push(fs.statSync(path.join(dir, rel)).size);
    }
    assert.ok(encodings > 1000, `${encodings} encodings`);
    assert.ok(oldest > 0 && nested > 0, 'older layouts present');
    sizes.sort((x, y) => x - y);
    const median = sizes[sizes.length >> 1];
    assert.ok(median > 15_000 && median < 40_000, `median sidecar ${median} B`);
    assert.ok(sizes[sizes.length - 1] > 90_000, 'some crowded frames');

    // at least one non-ASCII name is stored decomposed (NFD)
    const names = fs.readdirSync(path.join(dir, 'photos')).flatMap((d) => fs.readdirSync(path.join(dir, 'photos', d)));
    assert.ok(names.some((n) => n !== n.normalize('NFC')), 'an NFD name exists');
    assert.ok(names.some((n) => n.includes(' ')), 'a name with spaces exists');
  });

  test('50 images already hold at least one of each rare category', async () => {
    const dir = freshDir();
    const report = await generateSampleLibrary(dir, { images: 50, seed: 3 });
    checkCountsOnDisk(path.resolve(dir), report);
    for (const [k, v] of Object.entries(report.counts)) if (k !== 'bin') assert.ok(v >= 1, `${k}: ${v}`);
  });

  test('the legacy .bin files follow the u64-LE length + compact JSON rule', async () => {
    const [a] = await sameSeed300;
    const bins = [...snapshot(a.root).keys()].filter((r) => r.endsWith('.bin'));
    assert.equal(bins.length, a.counts.legacy);
    for (const rel of bins) {
      const bytes = fs.readFileSync(path.join(a.root, rel));
      const n = Number(bytes.readBigUInt64LE(0));
      assert.equal(n, bytes.length - 8, rel);
      const data = JSON.parse(utf8.decode(bytes.subarray(8))) as JsonObject;
      assert.equal(typeof data, 'object');
    }
  });

  test('formatMix writes ordinary sidecars in json, bin and legacy', async () => {
    const dir = freshDir();
    const report = await generateSampleLibrary(dir, { images: 200, seed: 5, formatMix: { json: 1, bin: 1, legacy: 1 } });
    const facts = checkCountsOnDisk(path.resolve(dir), report);
    assert.ok(report.counts.bin > 30 && report.counts.legacy > 30, `bin ${report.counts.bin}, legacy ${report.counts.legacy}`);
    // bin sidecars carry the same kind of content as JSON ones
    const bins = facts.valid.filter((v) => v.rel.endsWith('.bin'));
    assert.ok(bins.some((v) => facesOf(v.data).some((f) => isFiniteNumberArray(f.encoding, 512))));
    // the same options reproduce the same bytes
    const again = await generateSampleLibrary(freshDir(), { images: 200, seed: 5, formatMix: { json: 1, bin: 1, legacy: 1 } });
    const digests = (root: string) => [...snapshot(root)].filter(([, e]) => e.kind === 'file').map(([k, e]) => `${k}:${e.digest}`);
    assert.deepEqual(digests(again.root), digests(report.root));
  });

  test('small and empty libraries', async () => {
    const dir = freshDir();
    const report = await generateSampleLibrary(dir, { images: 10, seed: 1 });
    checkCountsOnDisk(path.resolve(dir), report);
    assert.equal(report.images, 10);
    const empty = await generateSampleLibrary(freshDir(), { images: 0, seed: 1 });
    assert.equal(empty.images, 0);
    assert.equal(empty.sidecars, 0);
  });

  test('refuses a non-empty directory, a file, and bad options (USAGE)', async () => {
    const dir = freshDir();
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'IMG_1.jpg'), 'x');
    const isUsage = (e: unknown) => isSidecarError(e) && e.code === 'USAGE';
    await assert.rejects(generateSampleLibrary(dir, { images: 5, seed: 1 }), isUsage);
    assert.deepEqual(fs.readdirSync(dir), ['IMG_1.jpg'], 'nothing written');
    await assert.rejects(generateSampleLibrary(path.join(dir, 'IMG_1.jpg'), { images: 5, seed: 1 }), isUsage);
    await assert.rejects(generateSampleLibrary(freshDir(), { images: -1, seed: 1 }), isUsage);
    await assert.rejects(generateSampleLibrary(freshDir(), { images: 1.5, seed: 1 }), isUsage);
    await assert.rejects(generateSampleLibrary(freshDir(), { images: 5, seed: Number.NaN }), isUsage);
    await assert.rejects(generateSampleLibrary(freshDir(), { images: 5, seed: 1, formatMix: { json: 0, bin: 0, legacy: 0 } }), isUsage);
    // an empty existing directory is fine
    const emptyDir = freshDir();
    fs.mkdirSync(emptyDir);
    const r = await generateSampleLibrary(emptyDir, { images: 5, seed: 1 });
    assert.equal(r.images, 5);
  });
});

describe('sampleSidecar', () => {
  test('is deterministic in the generator state', () => {
    assert.deepEqual(sampleSidecar(createRng(5)), sampleSidecar(createRng(5)));
    assert.notDeepEqual(sampleSidecar(createRng(5)), sampleSidecar(createRng(6)));
    assert.deepEqual(sampleSidecar(5), sampleSidecar(createRng(5)), 'a number is a seed');
    // consecutive draws from one generator differ
    const rng = createRng(5);
    assert.notDeepEqual(sampleSidecar(rng), sampleSidecar(rng));
  });

  test('has the pipeline key order and shapes', () => {
    const s = sampleSidecar(createRng(9), { faces: 2, form: 'merged', operations: ['face_detection', 'yolov8', 'quality_assessment'] });
    assert.deepEqual(Object.keys(s), ['face_detection', 'sidecar_info', 'yolov8', 'quality_assessment']);
    const fd = s.face_detection as JsonObject;
    assert.deepEqual(Object.keys(fd), ['success', 'faces', 'metadata']);
    assert.deepEqual(Object.keys(fd.metadata as JsonObject), [
      'image_path', 'image_width', 'image_height', 'faces_found', 'processing_time', 'extraction_timestamp',
      'detector', 'model_name', 'face_size_threshold', 'confidence_threshold',
    ]);
    const info = s.sidecar_info as JsonObject;
    assert.equal(info.operation_type, 'face_detection');
    assert.equal(info.last_operation, 'quality_assessment');
    const yolo = s.yolov8 as JsonObject;
    assert.equal((yolo.metadata as JsonObject).model_path, 'yolov8n.pt');
    for (const o of yolo.objects as JsonObject[]) {
      assert.deepEqual(Object.keys(o), [
        'object_id', 'class_name', 'class_id', 'coordinates_pixels', 'coordinates_percent', 'confidence',
        'crop_area_percent', 'detection_scale_factor',
      ]);
    }
    const qa = s.quality_assessment as JsonObject;
    const quality = ((qa.data ?? qa) as JsonObject).quality as JsonObject;
    assert.match(quality.grade as string, /^[A-F]$/);
    // floats carry full double precision (16–17 significant digits)
    const confidence = String(facesOf(s)[0].confidence);
    assert.ok(confidence.replace(/^0\.0*/, '').length >= 15, confidence);
  });

  test('sizes: no faces is small, one face ≈ 20 KB, a crowd ≈ 140 KB (indent JSON)', () => {
    const rng = createRng(11);
    const size = (faces: number) => JSON.stringify(sampleSidecar(rng, { faces, form: 'merged' }), null, 2).length;
    assert.ok(size(0) < 10_000);
    const ones = Array.from({ length: 21 }, () => size(1)).sort((a, b) => a - b);
    assert.ok(ones[10] > 17_000 && ones[10] < 37_000, `median one-face sidecar ${ones[10]} B`);
    const crowd = size(8);
    assert.ok(crowd > 100_000 && crowd < 200_000, `${crowd}`);
    const nested = sampleSidecar(rng, { form: 'nested', faces: 1, operations: ['face_detection', 'yolov8'] });
    assert.ok((nested.face_detection as JsonObject).insightface !== undefined);
    assert.ok((nested.yolov8 as JsonObject).yolov8 !== undefined);
    const oldest = sampleSidecar(rng, { form: 'oldest', faces: 1 });
    assert.deepEqual(Object.keys(oldest), ['Face_detector']);
  });
});
