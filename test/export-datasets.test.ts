/**
 * export --format coco | yolo | embeddings: each output read back by a reader written here from the
 * format's own rules (COCO's data format, Ultralytics' label files, NumPy's .npy format 1.0) and
 * compared with the boxes and embeddings read from the sidecars through `readSidecar`; every box
 * convention; what cannot be read with certainty (a finding, never a guess); shards + merge,
 * engines and the index giving the same bytes as one run.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import zlib from 'node:zlib';
import { exportDataset, type DatasetExportOptions, type DatasetExportReport, type DatasetFinding } from '../src/ops/datasets.js';
import { mergeShards } from '../src/shard/merge.js';
import { exportDatasetShard } from '../src/shard/run.js';
import { readSidecar } from '../src/ops/read.js';
import { generateSampleLibrary } from '../src/sample/generate.js';
import { decodeSidecar, encodeSidecar } from '../src/formats/codec.js';
import { isSidecarError } from '../src/errors.js';
import type { FileInspection } from '../src/model/inspection.js';
import { FAKE_JPEG, listTree, makeTree, removeTree, tempDir, type TreeNode } from './helpers/tree.js';
import { runCli } from './helpers/cli.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

// ------------------------------------------------------------------ independent readers

/** COCO's detection format (cocodataset.org "Data format"; what pycocotools' COCO() and loadRes index). */
function checkCoco(doc: Json): void {
  for (const k of ['images', 'annotations', 'categories']) assert.ok(Array.isArray(doc[k]), `${k} is a list`);
  const images = new Map<number, Json>();
  for (const im of doc.images) {
    assert.ok(Number.isSafeInteger(im.id), 'image id is an int');
    assert.ok(!images.has(im.id), `image id ${im.id} unique`);
    assert.equal(typeof im.file_name, 'string');
    if ('width' in im || 'height' in im) assert.ok(Number.isSafeInteger(im.width) && im.width > 0 && Number.isSafeInteger(im.height) && im.height > 0, 'width and height positive ints');
    images.set(im.id, im);
  }
  const cats = new Set<number>();
  const names = new Set<string>();
  for (const c of doc.categories) {
    assert.ok(Number.isSafeInteger(c.id) && c.id >= 1, 'category ids are ints from 1');
    assert.ok(!cats.has(c.id) && !names.has(c.name), 'category ids and names unique');
    assert.equal(typeof c.supercategory, 'string');
    cats.add(c.id);
    names.add(c.name);
  }
  const annIds = new Set<number>();
  for (const a of doc.annotations) {
    assert.ok(Number.isSafeInteger(a.id) && !annIds.has(a.id), 'annotation id unique int');
    annIds.add(a.id);
    assert.ok(images.has(a.image_id), `annotation ${a.id}: its image exists`);
    assert.ok(cats.has(a.category_id), `annotation ${a.id}: its category exists`);
    assert.ok(Array.isArray(a.bbox) && a.bbox.length === 4 && a.bbox.every(Number.isFinite), 'bbox is [x, y, w, h]');
    const [x, y, w, h] = a.bbox as number[];
    assert.ok(w > 0 && h > 0 && x >= 0 && y >= 0, `bbox ${a.bbox} is a box`);
    assert.ok(Math.abs(a.area - w * h) <= 1e-9 * Math.max(1, w * h), 'area = w × h');
    assert.ok(a.iscrowd === 0 || a.iscrowd === 1);
    const im = images.get(a.image_id)!;
    if (im.width !== undefined) assert.ok(x + w <= im.width + 1e-6 && y + h <= im.height + 1e-6, `bbox ${a.bbox} inside ${im.width}×${im.height}`);
  }
}

/** Ultralytics' data.yaml as written here: `names:` then `  i: "name"` lines. */
function yoloNames(dir: string): string[] {
  const text = readFileSync(join(dir, 'data.yaml'), 'utf8');
  assert.match(text, /^train: images$/m);
  assert.match(text, /^val: images$/m);
  const names: string[] = [];
  for (const m of text.matchAll(/^ {2}(\d+): (".*")$/gm)) {
    assert.equal(Number(m[1]), names.length, 'classes numbered from 0');
    names.push(JSON.parse(m[2]));
  }
  return names;
}

/** A label file: one `class cx cy w h` line per box, all in 0–1. */
function yoloLabels(file: string): number[][] {
  const text = readFileSync(file, 'utf8');
  if (text === '') return [];
  assert.ok(text.endsWith('\n'));
  return text.trimEnd().split('\n').map((line) => {
    const f = line.split(' ').map(Number);
    assert.equal(f.length, 5, line);
    assert.ok(Number.isInteger(f[0]) && f[0] >= 0);
    for (const v of f.slice(1)) assert.ok(v >= 0 && v <= 1, `${line}: normalised`);
    return f;
  });
}

/** NumPy's .npy format 1.0 (numpy.lib.format): magic, version, header dict, then the C-order data. */
function readNpy(file: string): { shape: number[]; data: Float32Array; offset: number } {
  const b = readFileSync(file);
  assert.equal(b.toString('latin1', 0, 6), '\x93NUMPY');
  assert.equal(b[6], 1);
  const len = b.readUInt16LE(8);
  const header = b.toString('latin1', 10, 10 + len);
  assert.equal((10 + len) % 64, 0, 'data aligned for memory mapping');
  assert.ok(header.endsWith('\n'));
  assert.match(header, /'descr': '<f4'/);
  assert.match(header, /'fortran_order': False/);
  const shape = /'shape': \((\d+), (\d+)\)/.exec(header)!.slice(1).map(Number);
  const bytes = b.subarray(10 + len);
  assert.equal(bytes.length, shape[0] * shape[1] * 4, 'data is rows × dim float32');
  const data = new Float32Array(bytes.length / 4);
  new Uint8Array(data.buffer).set(bytes);
  return { shape, data, offset: 10 + len };
}


// ------------------------------------------------------------------ what the sidecars say

interface SidecarBox {
  category: string;
  /** top-left x, y, w, h in 0–1 (percent / 100, or pixels / size) */
  norm: number[];
  pixels: number[];
}

/** Result nodes of an operation value: the value itself, or backends under it (one level, as the sample writes). */
function nodes(v: Json): Json[] {
  if (v.objects !== undefined || v.faces !== undefined) return [v];
  return Object.values(v).filter((x) => x && typeof x === 'object' && !Array.isArray(x) && (x.objects !== undefined || x.faces !== undefined));
}

/** The boxes of a sample sidecar as its documented conventions give them (read through readSidecar). */
function sidecarBoxes(data: Json, faces: boolean): { boxes: SidecarBox[]; size: [number, number] | null } {
  const boxes: SidecarBox[] = [];
  let size: [number, number] | null = null;
  for (const [key, value] of Object.entries(data)) {
    if (key === 'sidecar_info' || !value || typeof value !== 'object') continue;
    for (const n of nodes(value as Json)) {
      const m = n.metadata ?? {};
      if (m.image_width) size = [m.image_width, m.image_height];
    }
  }
  for (const [key, value] of Object.entries(data)) {
    if (key === 'sidecar_info' || !value || typeof value !== 'object') continue;
    for (const n of nodes(value as Json)) {
      if (n.success === false) continue;
      for (const o of n.objects ?? []) {
        const p = o.coordinates_percent;
        const norm = [p.x / 100, p.y / 100, p.width / 100, p.height / 100];
        boxes.push({ category: o.class_name, norm, pixels: [norm[0] * size![0], norm[1] * size![1], norm[2] * size![0], norm[3] * size![1]] });
      }
      if (!faces) continue;
      for (const f of n.faces ?? []) {
        if (f.bbox) {
          const b = f.bbox;
          boxes.push({ category: 'face', norm: [b.x, b.y, b.width, b.height], pixels: [b.x * size![0], b.y * size![1], b.width * size![0], b.height * size![1]] });
        } else {
          const c = f.coordinates;
          boxes.push({ category: 'face', pixels: [c.x, c.y, c.width, c.height], norm: [c.x / size![0], c.y / size![1], c.width / size![0], c.height / size![1]] });
        }
      }
    }
  }
  return { boxes, size };
}

/** Encodings of a sidecar in file order, with their operation and face index. */
function sidecarEncodings(data: Json, dim: number): number[][] {
  const out: number[][] = [];
  for (const [key, value] of Object.entries(data)) {
    if (key === 'sidecar_info' || !value || typeof value !== 'object') continue;
    for (const n of nodes(value as Json)) {
      if (n.success === false) continue;
      for (const f of n.faces ?? []) {
        const e = f.encoding ?? f.face_encoding;
        if (Array.isArray(e) && e.length === dim) out.push(e);
      }
    }
  }
  return out;
}

const closeTo = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol;

async function run(root: string, opts: Partial<DatasetExportOptions> & Pick<DatasetExportOptions, 'format' | 'output'>): Promise<{ report: DatasetExportReport; findings: DatasetFinding[] }> {
  const findings: DatasetFinding[] = [];
  const report = await exportDataset(root, { engine: 'inline', index: false, onFinding: (f) => findings.push(f), ...opts });
  return { report, findings };
}

// ------------------------------------------------------------------ the sample library

describe('datasets of the sample library (JSON, bin and legacy sidecars; nested backends; the oldest form)', () => {
  let lib: string;
  let out: string;
  before(async () => {
    lib = tempDir();
    out = tempDir();
    await generateSampleLibrary(lib, { images: 160, seed: 11, formatMix: { json: 2, bin: 2, legacy: 1 } });
  });
  after(() => {
    removeTree(lib);
    removeTree(out);
  });

  it('coco: the format\'s rules hold, and every box is the sidecar\'s (pixels, within 1e-9)', async () => {
    const file = join(out, 'coco.json');
    const { report, findings } = await run(lib, { format: 'coco', output: file, faces: true });
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    checkCoco(doc);
    assert.equal(report.images, doc.images.length);
    assert.equal(report.annotations, doc.annotations.length);
    assert.deepEqual(report.categories, doc.categories.map((c: Json) => c.name));
    assert.ok(findings.every((f) => f.kind !== 'dataset'), JSON.stringify(findings));
    assert.ok(report.problems > 0, 'the sample\'s corrupt files are findings');
    assert.ok(doc.images.length > 100 && doc.annotations.length > 300);
    const byImage = new Map<number, Json[]>();
    for (const a of doc.annotations) byImage.set(a.image_id, [...(byImage.get(a.image_id) ?? []), a]);
    const catName = new Map(doc.categories.map((c: Json) => [c.id, c.name]));
    for (const im of doc.images) {
      const data = await readSidecar(join(lib, im.file_name));
      const { boxes, size } = sidecarBoxes(data, true);
      assert.deepEqual([im.width, im.height], size);
      const anns = byImage.get(im.id) ?? [];
      assert.equal(anns.length, boxes.length, im.file_name);
      anns.forEach((a, i) => {
        assert.equal(catName.get(a.category_id), boxes[i].category);
        a.bbox.forEach((v: number, k: number) => assert.ok(closeTo(v, boxes[i].pixels[k], 1e-9 * Math.max(1, v)), `${im.file_name} box ${i}: ${a.bbox} vs ${boxes[i].pixels}`));
      });
    }
    // Ids: positions in tree order.
    assert.deepEqual(doc.images.map((i: Json) => i.id), doc.images.map((_: Json, k: number) => k + 1));
  });

  it('yolo: labels parse back to the sidecars\' boxes within 1e-6; images are symlinks; data.yaml names the classes', async () => {
    const dir = join(out, 'yolo');
    const { report, findings } = await run(lib, { format: 'yolo', output: dir, faces: true });
    assert.ok(findings.every((f) => f.kind !== 'dataset'));
    const names = yoloNames(dir);
    assert.deepEqual(names, report.categories);
    let labels = 0;
    const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
    for (const imageLink of walk(join(dir, 'images'))) {
      const rel = relative(join(dir, 'images'), imageLink);
      assert.ok(lstatSync(imageLink).isSymbolicLink());
      assert.equal(readlinkSync(imageLink), join(lib, rel));
      const label = join(dir, 'labels', rel.replace(/\.[^./]+$/, '.txt'));
      const lines = yoloLabels(label);
      labels++;
      const { boxes } = sidecarBoxes(await readSidecar(join(lib, rel)), true);
      assert.equal(lines.length, boxes.length, rel);
      lines.forEach(([cls, cx, cy, w, h], i) => {
        const [x, y, bw, bh] = boxes[i].norm;
        assert.equal(names[cls], boxes[i].category);
        for (const [a, b] of [[cx, x + bw / 2], [cy, y + bh / 2], [w, bw], [h, bh]]) assert.ok(closeTo(a, b, 1e-6), `${rel} line ${i}`);
      });
    }
    assert.equal(labels, report.images);
  });

  it('embeddings: an N × 512 float32 .npy equal to the encodings read through readSidecar; one jsonl row per matrix row', async () => {
    const file = join(out, 'faces.npy');
    const { report } = await run(lib, { format: 'embeddings', output: file });
    const { shape, data } = readNpy(file);
    assert.deepEqual(shape, [report.rows, 512]);
    const rows = readFileSync(join(out, 'faces.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.equal(rows.length, shape[0]);
    assert.ok(report.no_encoding > 0, 'faces without an encoding are counted');
    assert.ok((report.other_dims['128'] ?? 0) > 0, 'the oldest form\'s 128-float encodings are counted, not mixed in');
    let r = 0;
    const bySidecar = new Map<string, Json[]>();
    for (const row of rows) bySidecar.set(row.sidecar, [...(bySidecar.get(row.sidecar) ?? []), row]);
    for (const [, group] of bySidecar) {
      const encodings = sidecarEncodings(await readSidecar(join(lib, group[0].image)), 512);
      assert.equal(group.length, encodings.length);
      for (let i = 0; i < group.length; i++, r++) {
        const row = group[i];
        assert.deepEqual(Object.keys(row), ['image', 'sidecar', 'operation', 'backend', 'face', 'bbox', 'confidence']);
        for (let k = 0; k < 512; k++) assert.equal(data[r * 512 + k], Math.fround(encodings[i][k]));
      }
    }
    assert.equal(r, shape[0]);
    const nested = rows.filter((x) => x.backend !== null);
    assert.ok(nested.length > 0 && nested.every((x) => x.backend === 'insightface' && x.operation === 'face_detection'), 'nested backends name themselves');
  });

  it('embeddings: the same bytes with the scanner\'s tape and without (accel on and off), inline and on threads, and the same findings', async () => {
    let first: { npy: Buffer; rows: Buffer; report: DatasetExportReport; findings: string[] } | null = null;
    for (const accel of [true, false]) {
      for (const engine of ['inline', 'threads'] as const) {
        const file = join(out, `parity-${accel}-${engine}.npy`);
        const { report, findings } = await run(lib, { format: 'embeddings', output: file, accel, engine });
        const got = { npy: readFileSync(file), rows: readFileSync(join(out, `parity-${accel}-${engine}.jsonl`)), report: { ...report, output: null, files: [] } as unknown as DatasetExportReport, findings: findings.map((f) => `${f.kind} ${f.path} ${f.message}`) };
        if (first === null) first = got;
        else {
          assert.ok(got.npy.equals(first.npy), `matrix, accel ${accel}, ${engine}`);
          assert.ok(got.rows.equals(first.rows), `rows, accel ${accel}, ${engine}`);
          assert.deepEqual(got.report, first.report, `report, accel ${accel}, ${engine}`);
          assert.deepEqual(got.findings, first.findings, `findings, accel ${accel}, ${engine}`);
        }
      }
    }
    assert.ok(first!.report.rows > 50, 'the library has faces to export');
    // --operation-type: the same with and without the tape, and the rows of that operation only
    // (the sample's faces are all face_detection's; yolov8 holds none).
    const one = async (accel: boolean, operationType: string) => {
      const file = join(out, `parity-${operationType}-${accel}.npy`);
      const { report } = await run(lib, { format: 'embeddings', output: file, accel, operationType });
      return { npy: readFileSync(file), rows: readFileSync(join(out, `parity-${operationType}-${accel}.jsonl`), 'utf8'), report };
    };
    for (const op of ['face_detection', 'yolov8']) {
      const [on, off] = [await one(true, op), await one(false, op)];
      assert.ok(on.npy.equals(off.npy), op);
      assert.equal(on.rows, off.rows, op);
      assert.deepEqual({ ...on.report, output: null, files: [] }, { ...off.report, output: null, files: [] }, op);
      assert.equal(on.report.rows, op === 'face_detection' ? first!.report.rows : 0, op);
    }
  });

  it('--dim 128 takes the oldest form\'s encodings (face_detection from Face_detector) and counts the 512s', async () => {
    const file = join(out, 'old.npy');
    const { report } = await run(lib, { format: 'embeddings', output: file, dim: 128 });
    const { shape } = readNpy(file);
    assert.equal(shape[1], 128);
    assert.ok(shape[0] > 0);
    assert.ok((report.other_dims['512'] ?? 0) > 100);
    const rows = readFileSync(join(out, 'old.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.ok(rows.every((x) => x.operation === 'face_detection' && x.bbox && 'x' in x.bbox));
  });

  it('shards + merge give the bytes of one run, for all three formats; inline, threads and the index too', async () => {
    for (const format of ['coco', 'yolo', 'embeddings'] as const) {
      const name = format === 'yolo' ? 'y' : format === 'coco' ? 'c.json' : 'e.npy';
      const whole = join(out, `whole-${name}`);
      await run(lib, { format, output: whole, faces: format !== 'embeddings' });
      const shards: string[] = [];
      for (let i = 0; i < 3; i++) {
        const s = join(out, `${format}-shard-${i}.jsonl`);
        await exportDatasetShard(lib, { engine: 'inline', index: false, format, output: s, faces: format !== 'embeddings', shard: { index: i, count: 3 } });
        shards.push(s);
      }
      const merged = join(out, `merged-${name}`);
      const m = await mergeShards(shards, { output: merged });
      assert.equal(m.command, 'export-dataset');
      const threads = join(out, `threads-${name}`);
      await run(lib, { format, output: threads, faces: format !== 'embeddings', engine: 'threads', workers: 2 });
      const indexed = join(out, `index-${name}`);
      const idx = join(out, `index-${format}`);
      await run(lib, { format, output: indexed, faces: format !== 'embeddings', index: { path: idx } });
      await run(lib, { format, output: indexed, faces: format !== 'embeddings', index: { path: idx } });
      const read = (p: string) => (format === 'yolo' ? JSON.stringify(listTree(p)).replaceAll(p, '<out>') : readFileSync(p, 'latin1') + (format === 'embeddings' ? readFileSync(p.replace(/\.npy$/, '.jsonl'), 'utf8') : ''));
      const base = read(whole);
      assert.equal(read(merged), base, `${format}: merge`);
      assert.equal(read(threads), base, `${format}: threads`);
      assert.equal(read(indexed), base, `${format}: with the index`);
    }
  });

  it('--where and --operation-type: only matching sidecars, only that operation\'s results', async () => {
    const file = join(out, 'faces-only.json');
    const { report } = await run(lib, { format: 'coco', output: file, faces: true, operationType: 'face_detection' });
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    assert.deepEqual(report.categories, ['face']);
    assert.ok(doc.annotations.every((a: Json) => a.source.operation === 'face_detection'));
    const where = join(out, 'crowd.json');
    await run(lib, { format: 'coco', output: where, where: 'objects >= 6' });
    const crowd = JSON.parse(readFileSync(where, 'utf8'));
    assert.ok(crowd.images.length > 0 && crowd.images.length < doc.images.length);
    const per = new Map<number, number>();
    for (const a of crowd.annotations) per.set(a.image_id, (per.get(a.image_id) ?? 0) + 1);
    for (const im of crowd.images) assert.ok((per.get(im.id) ?? 0) >= 6);
  });
});

// ------------------------------------------------------------------ crafted cases

const yoloNode = (objects: Json[], extra: Json = {}) => ({ success: true, objects, metadata: { image_width: 1000, image_height: 500, ...extra } });
const person = (coords: Json, extra: Json = {}) => ({ object_id: 1, class_name: 'person', class_id: 0, ...coords, confidence: 0.75, ...extra });
const enc = (n: number, v = 0.25) => Array.from({ length: n }, (_, i) => v + i / 1024);

function crafted(): Record<string, TreeNode> {
  return {
    // Every convention, each box the same: 100..300 × 50..150 px of a 1000 × 500 image.
    'conv/pct.jpg': FAKE_JPEG,
    'conv/pct.json': { json: { yolov8: yoloNode([person({ coordinates_percent: { x: 10, y: 10, width: 20, height: 20 } })]) } },
    'conv/px.jpg': FAKE_JPEG,
    'conv/px.json': { json: { yolov8: yoloNode([person({ coordinates_pixels: { x: 100, y: 50, width: 200, height: 100 } })]) } },
    'conv/xyxy.jpg': FAKE_JPEG,
    'conv/xyxy.json': { json: { object_detection: yoloNode([person({ xyxy: [100, 50, 300, 150] }), person({ xyxyn: [0.1, 0.1, 0.3, 0.3] })]) } },
    'conv/faces.jpg': FAKE_JPEG,
    'conv/faces.json': {
      json: {
        face_detection: {
          insightface: { success: true, faces: [{ bbox: { x: 0.1, y: 0.1, width: 0.2, height: 0.2 }, confidence: 1.0, encoding: enc(512) }], metadata: { image_width: 1000, image_height: 500 } },
          unified: { success: true, faces: [{ bbox: [100, 50, 200, 100], confidence: 0.5, encoding: null }], face_count: 1 },
        },
        yolov8: yoloNode([]),
      },
    },
    // The oldest form (its key alone: beside face_detection, face_detection decides).
    'conv/old.jpg': FAKE_JPEG,
    'conv/old.json': { json: { Face_detector: { metadata: { image_dimensions: { width: 1000, height: 500 } }, faces: [{ coordinates: { x: 100, y: 50, width: 200, height: 100 }, face_encoding: enc(128) }] } } },
    // No objects found: an empty label; no detection at all: not in the dataset.
    'conv/empty.jpg': FAKE_JPEG,
    'conv/empty.json': { json: { yolov8: yoloNode([]) } },
    'conv/quality.jpg': FAKE_JPEG,
    'conv/quality.json': { json: { quality_assessment: { success: true, quality: { grade: 'A', overall_score: 0.9 } } } },
    // Pixel boxes without an image size: COCO takes them (no width/height), YOLO cannot.
    'nosize/px.jpg': FAKE_JPEG,
    'nosize/px.json': { json: { yolov8: { success: true, objects: [person({ coordinates_pixels: { x: 1, y: 2, width: 3, height: 4 } })] } } },
    // A RAW+JPEG pair sharing one sidecar that names the JPEG; Unicode names.
    'raw/DSC_1.CR2': FAKE_JPEG,
    'raw/DSC_1.JPG': FAKE_JPEG,
    'raw/DSC_1.json': { json: { yolov8: yoloNode([person({ coordinates_percent: { x: 1, y: 1, width: 2, height: 2 } })]), sidecar_info: { image_path: 'raw/DSC_1.JPG' } } },
    'ünï/Café 1.jpg': FAKE_JPEG,
    'ünï/Café 1.json': { json: { yolov8: yoloNode([person({ coordinates_percent: { x: 50, y: 50, width: 10, height: 10 } }, { class_name: 'bällé' })]) } },
  };
}

function bad(): Record<string, TreeNode> {
  return {
    'bad/out.jpg': FAKE_JPEG,
    'bad/out.json': { json: { yolov8: yoloNode([person({ coordinates_percent: { x: 95, y: 10, width: 10, height: 10 } }), person({ coordinates_percent: { x: 1, y: 1, width: 1, height: 1 } })]) } },
    'bad/floats.jpg': FAKE_JPEG,
    'bad/floats.json': '{"face_detection": {"success": true, "faces": [{"bbox": [0.1, 0.2, 0.3, 0.4]}], "metadata": {"image_width": 10, "image_height": 10}}}',
    'bad/sizes.jpg': FAKE_JPEG,
    'bad/sizes.json': { json: { yolov8: yoloNode([]), face_detection: { success: true, faces: [], metadata: { image_width: 640, image_height: 480 } } } },
    'bad/empty-box.jpg': FAKE_JPEG,
    'bad/empty-box.json': { json: { yolov8: yoloNode([person({ coordinates_pixels: { x: 10, y: 10, width: 0, height: 5 } })]) } },
    'bad/xywh.jpg': FAKE_JPEG,
    'bad/xywh.json': { json: { yolov8: yoloNode([person({ xywh: [200, 100, 200, 100] })]) } },
    'bad/noclass.jpg': FAKE_JPEG,
    'bad/noclass.json': { json: { yolov8: yoloNode([{ coordinates_pixels: { x: 1, y: 1, width: 2, height: 2 } }]) } },
    'bad/failed.jpg': FAKE_JPEG,
    'bad/failed.json': { json: { yolov8: { success: false, error: 'gpu', objects: [person({ coordinates_pixels: { x: 1, y: 1, width: 2, height: 2 } })] } } },
    'bad/nan.jpg': FAKE_JPEG,
    'bad/nan.json': '{"yolov8": {"success": true, "objects": [{"class_name": "person", "coordinates_pixels": {"x": NaN, "y": 1, "width": 2, "height": 2}}]}}',
    'bad/huge.jpg': FAKE_JPEG,
    'bad/huge.json': { json: { face_detection: { success: true, faces: [{ bbox: { x: 0.1, y: 0.1, width: 0.1, height: 0.1 }, encoding: [1e39, ...enc(511)] }, { bbox: { x: 0.5, y: 0.5, width: 0.1, height: 0.1 }, encoding: enc(512) }], metadata: { image_width: 100, image_height: 100 } } } },
  };
}

describe('crafted sidecars: each convention, and what is a finding', () => {
  let root: string;
  let out: string;
  before(() => {
    root = makeTree(crafted());
    // The pipeline writes a whole float as 1.0 (JSON.stringify would write 1): a float it stays.
    const faces = join(root, 'conv', 'faces.json');
    writeFileSync(faces, readFileSync(faces, 'utf8').replace('"confidence": 1,', '"confidence": 1.0,'));
    // A bin sidecar keeps int / float types too (25.0 stays a float there).
    writeFileSync(join(root, 'conv', 'bin.jpg'), FAKE_JPEG);
    writeFileSync(join(root, 'conv', 'bin.bin'), encodeSidecar({ yolov8: yoloNode([person({ coordinates_pixels: { x: 100, y: 50, width: 200, height: 100 } })]) }, 'bin'));
    out = tempDir();
  });
  after(() => {
    removeTree(root);
    removeTree(out);
  });

  it('every convention gives the same box: COCO [100, 50, 200, 100] px, YOLO 0.2 0.2 0.2 0.2', async () => {
    const file = join(out, 'c.json');
    const { report, findings } = await run(root, { format: 'coco', output: file, faces: true });
    assert.deepEqual(findings, []);
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    checkCoco(doc);
    const conv = doc.images.filter((i: Json) => i.file_name.startsWith('conv/'));
    assert.deepEqual(conv.map((i: Json) => i.file_name), ['conv/bin.jpg', 'conv/empty.jpg', 'conv/faces.jpg', 'conv/old.jpg', 'conv/pct.jpg', 'conv/px.jpg', 'conv/xyxy.jpg']);
    const ids = new Set(conv.map((i: Json) => i.id));
    const anns = doc.annotations.filter((a: Json) => ids.has(a.image_id));
    assert.equal(anns.length, 8);
    for (const a of anns) a.bbox.forEach((v: number, k: number) => assert.ok(closeTo(v, [100, 50, 200, 100][k], 1e-9), `${JSON.stringify(a.source)} ${a.bbox}`));
    const sources = anns.map((a: Json) => `${a.source.operation}/${a.source.backend}/${a.source.list}`);
    assert.ok(sources.includes('face_detection/insightface/faces') && sources.includes('face_detection/unified/faces') && sources.includes('face_detection/null/faces'));
    assert.equal(report.without_detections, 1, 'the quality-only sidecar');
    // Scores keep their type: 1.0 stays a float.
    assert.match(readFileSync(file, 'utf8'), /"score":1\.0,"source":\{"operation":"face_detection","backend":"insightface"/);
    const nosize = doc.images.find((i: Json) => i.file_name === 'nosize/px.jpg');
    assert.ok(nosize && !('width' in nosize), 'no size given: none written');
    const raw = doc.images.filter((i: Json) => i.file_name.startsWith('raw/'));
    assert.deepEqual(raw.map((i: Json) => i.file_name), ['raw/DSC_1.JPG'], 'the image the shared sidecar names, once');
    assert.ok(doc.images.some((i: Json) => i.file_name === 'ünï/Café 1.jpg'));
    assert.ok(doc.categories.some((c: Json) => c.name === 'bällé'));
    assert.deepEqual(doc.categories.map((c: Json) => c.supercategory), doc.categories.map((c: Json) => (c.name === 'face' ? 'face' : 'object')));
  });

  it('yolo: the same boxes, an empty label for no objects; a pixel box without an image size is a finding', async () => {
    const dir = join(out, 'y');
    const { report, findings } = await run(root, { format: 'yolo', output: dir, faces: true });
    assert.deepEqual(findings.map((f) => relative(root, f.path)), ['nosize/px.json']);
    assert.match(findings[0].message, /image left out: boxes not readable with certainty at 1 place\(s\): \/yolov8\/objects\/0: the sidecar gives no image size: a pixel box cannot be normalised/);
    assert.equal(report.findings, 1);
    for (const name of ['pct', 'px', 'xyxy', 'faces', 'old', 'bin']) {
      for (const [, cx, cy, w, h] of yoloLabels(join(dir, 'labels', 'conv', `${name}.txt`))) {
        for (const v of [cx, cy, w, h]) assert.ok(closeTo(v, 0.2, 1e-12), `${name}: ${v}`);
      }
    }
    assert.equal(readFileSync(join(dir, 'labels', 'conv', 'empty.txt'), 'utf8'), '');
    assert.equal(existsSync(join(dir, 'labels', 'conv', 'quality.txt')), false);
    assert.ok(existsSync(join(dir, 'labels', 'ünï', 'Café 1.txt')));
    assert.ok(lstatSync(join(dir, 'images', 'raw', 'DSC_1.JPG')).isSymbolicLink());
  });

  it('embeddings: 512s, encoding null counted, the oldest form\'s 128 counted; bbox and confidence as stored', async () => {
    const file = join(out, 'e.npy');
    const { report } = await run(root, { format: 'embeddings', output: file });
    assert.equal(report.rows, 1);
    assert.equal(report.no_encoding, 1);
    assert.deepEqual(report.other_dims, { 128: 1 });
    const line = readFileSync(join(out, 'e.jsonl'), 'utf8');
    assert.equal(line, '{"image":"conv/faces.jpg","sidecar":"conv/faces.json","operation":"face_detection","backend":"insightface","face":0,"bbox":{"x":0.1,"y":0.1,"width":0.2,"height":0.2},"confidence":1.0}\n');
    const { data } = readNpy(file);
    assert.deepEqual([...data], enc(512).map(Math.fround));
  });

  it('findings: out of range, fractions in a pixel array, sizes that disagree, an empty box, no class, xywh (centre or corner?), a failed result with boxes, NaN (corrupt), float32 overflow — the run goes on', async () => {
    const broken = makeTree(bad(), join(out, 'bad-lib'));
    try {
      const file = join(out, 'bad.json');
      const { report, findings } = await run(broken, { format: 'coco', output: file, faces: true });
      const by = Object.fromEntries(findings.map((f) => [relative(broken, f.path), f]));
      assert.match(by['bad/out.json'].message, /\/yolov8\/objects\/0: box \[95, 10, 10, 10\] \(percent, top-left and size\) lies outside the image \(0–100\)/);
      assert.match(by['bad/floats.json'].message, /bbox \[0\.1,0\.2,0\.3,0\.4\]: an array bbox holds integer pixels/);
      assert.match(by['bad/sizes.json'].message, /image size 640×480 differs from 1000×500/);
      assert.match(by['bad/empty-box.json'].message, /empty box \(width 0, height 5, pixels\)/);
      assert.match(by['bad/noclass.json'].message, /\/yolov8\/objects\/0: no class_name/);
      assert.match(by['bad/xywh.json'].message, /xywh \[200,100,200,100\]: its centre \(Ultralytics\) or its top-left corner \(COCO\) cannot be told/);
      assert.match(by['bad/failed.json'].message, /a failed result \(success: false\) holds 1 objects/);
      assert.equal(by['bad/nan.json'].kind, 'corrupt');
      assert.equal(report.problems, 1);
      assert.equal(report.findings, 7);
      const doc = JSON.parse(readFileSync(file, 'utf8'));
      checkCoco(doc);
      // Each image with a box it cannot place is left out whole: a partly labelled image teaches missing boxes as background.
      assert.deepEqual(doc.images.map((i: Json) => i.file_name), ['bad/huge.jpg']);
      const e = await run(broken, { format: 'embeddings', output: join(out, 'bad.npy') });
      assert.equal(e.report.rows, 1, 'the other face of the file is exported');
      assert.match(e.findings.find((f) => f.path.endsWith('huge.json'))!.message, /face embeddings left out at 1 place\(s\): \/face_detection\/faces\/0\/encoding: element 0 is beyond float32's range/);
    } finally {
      removeTree(broken);
    }
  });

  it('YOLO names a label after the image without its extension: a second image of that name is a finding', async () => {
    const lib = makeTree({
      'a/IMG_1.jpg': FAKE_JPEG,
      'a/IMG_1.jpg.json': { json: { yolov8: yoloNode([]) } },
      'a/IMG_1.png': FAKE_JPEG,
      'a/IMG_1.png.json': { json: { yolov8: yoloNode([]) } },
    });
    try {
      const { report, findings } = await run(lib, { format: 'yolo', output: join(out, 'clash') });
      assert.equal(report.images, 1);
      assert.match(findings[0].message, /image a\/IMG_1\.png left out: its YOLO label labels\/a\/IMG_1\.txt is already a\/IMG_1\.jpg's/);
    } finally {
      removeTree(lib);
    }
  });

  it('outputs: yolo never inside the library nor over a folder of something else; an earlier export is replaced; --copy-images copies', async () => {
    await assert.rejects(run(root, { format: 'yolo', output: join(root, 'ds') }), /inside the library/);
    const other = join(out, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'keep.txt'), 'mine');
    await assert.rejects(run(root, { format: 'yolo', output: other }), /not empty and not an earlier yolo export/);
    assert.equal(readFileSync(join(other, 'keep.txt'), 'utf8'), 'mine');
    const dir = join(out, 'again');
    await run(root, { format: 'yolo', output: dir });
    // A label of no image is no export's: the folder is refused, the file kept (it was deleted with the folder).
    writeFileSync(join(dir, 'labels', 'stray.txt'), 'old');
    await assert.rejects(run(root, { format: 'yolo', output: dir, copyImages: true }), /labels\/stray\.txt, which an export does not write/);
    assert.equal(readFileSync(join(dir, 'labels', 'stray.txt'), 'utf8'), 'old');
    rmSync(join(dir, 'labels', 'stray.txt'));
    await run(root, { format: 'yolo', output: dir, copyImages: true });
    assert.ok(lstatSync(join(dir, 'images', 'conv', 'pct.jpg')).isFile());
    assert.deepEqual(readdirSync(out).filter((n) => n.includes('isc-tmp')), [], 'no temp folder left');
    await assert.rejects(run(root, { format: 'embeddings', output: '-' }), /give a path with -o/);
    await assert.rejects(run(root, { format: 'coco', output: join(root, 'conv', 'pct.json') }), (e: unknown) => isSidecarError(e) && e.code === 'USAGE');
    await assert.rejects(run(root, { format: 'coco', output: join(out, 'x.json'), dim: 128 }), /--dim is for --format embeddings/);
  });
});

describe('cli export --format coco|yolo|embeddings', () => {
  let root: string;
  let out: string;
  before(() => {
    root = makeTree({ ...crafted(), ...bad() });
    out = tempDir();
  });
  after(() => {
    removeTree(root);
    removeTree(out);
  });

  it('exit 1 with findings named on stderr; exit 0 when clean; --json report; merge of CLI shards', async () => {
    const file = join(out, 'c.json');
    const r = await runCli(['export', root, '--format', 'coco', '--include', 'faces', '-o', file]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^Exported \d+ images to: /);
    assert.match(r.stderr, /not in the dataset: \S*bad\/out\.json: image left out/);
    assert.match(r.stderr, /not exported \(corrupt\): \S*bad\/nan\.json/);
    const clean = await runCli(['export', join(root, 'conv'), '--format', 'embeddings', '-o', join(out, 'e.npy'), '--json', '--operation', 'face_detection']);
    assert.equal(clean.code, 0, clean.stderr);
    const rep = JSON.parse(clean.stdout);
    assert.equal(rep.rows, 1);
    assert.deepEqual(rep.files, [join(out, 'e.npy'), join(out, 'e.jsonl')]);
    const usage = await runCli(['export', root, '--format', 'coco', '--dim', '128', '-o', file]);
    assert.equal(usage.code, 2);
    const shards = [0, 1].map((i) => join(out, `s${i}.jsonl`));
    for (let i = 0; i < 2; i++) assert.equal((await runCli(['export', join(root, 'conv'), '--format', 'yolo', '--shard', `${i}/2`, '-o', shards[i]])).code, 0);
    const m = await runCli(['merge', ...shards, '-o', join(out, 'merged')]);
    assert.equal(m.code, 0, m.stderr);
    const one = await runCli(['export', join(root, 'conv'), '--format', 'yolo', '-o', join(out, 'one')]);
    assert.equal(one.code, 0);
    assert.equal(JSON.stringify(listTree(join(out, 'merged'))).replaceAll(join(out, 'merged'), '<out>'), JSON.stringify(listTree(join(out, 'one'))).replaceAll(join(out, 'one'), '<out>'));
  });

  it('the server\'s export takes the dataset formats (an output file only)', async () => {
    const file = join(out, 'served.npy');
    const lines = [
      { id: 1, method: 'export', params: { dir: join(root, 'conv'), output: file, format: 'embeddings' } },
      { id: 2, method: 'export', params: { dir: join(root, 'conv'), output: join(out, 'served.json'), format: 'coco', faces: true } },
      { id: 3, method: 'export', params: { dir: join(root, 'conv'), output: '-', format: 'yolo' } },
      // Other names of standard output: the export went into the server's responses.
      { id: 4, method: 'export', params: { dir: join(root, 'conv'), output: '/dev/stdout', format: 'jsonl' } },
      { id: 5, method: 'export', params: { dir: join(root, 'conv'), output: '/proc/self/fd/1', format: 'coco' } },
      // Other spellings, and other paths to the same pipe (they were written into the responses).
      { id: 6, method: 'export', params: { dir: join(root, 'conv'), output: '/dev//stdout', format: 'jsonl' } },
      { id: 7, method: 'export', params: { dir: join(root, 'conv'), output: '/dev/./stdout', format: 'jsonl' } },
      { id: 8, method: 'export', params: { dir: join(root, 'conv'), output: '/proc/thread-self/fd/1', format: 'jsonl' } },
      { id: 9, method: 'export', params: { dir: join(root, 'conv'), output: join(out, 'link-to-stdout'), format: 'jsonl' } },
    ].map((l) => JSON.stringify(l)).join('\n') + '\n';
    symlinkSync('/dev/stdout', join(out, 'link-to-stdout'));
    const r = await runCli(['serve', '--stdio'], { input: lines });
    const res = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Json);
    const by = (id: number) => res.find((x) => x.id === id)!;
    assert.equal(by(1).result.rows, 1);
    assert.equal(by(1).result.message, `Exported 1 images to: ${file}`);
    assert.deepEqual(by(2).result.categories, ['face', 'person'], 'in the order they first appear: conv/faces.json comes first');
    assert.match(by(3).error.message, /needs an output file/);
    for (const id of [4, 5, 6, 7, 8, 9]) assert.match(by(id).error.message, /needs an output file, not standard output/, `request ${id}`);
    assert.deepEqual(res.map((x) => x.id as number).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9], 'every line of stdout is a response');
  });
});

describe('embeddings between threads', () => {
  it('a batch\'s vectors travel in one buffer and its rows in one text: unpacked, each result is as it was', async () => {
    const { packInspections, unpackInspections } = await import('../src/tasks/inspect-wire.js');
    const ds = (rows: string[], vectors: Float32Array | null) => ({ namedImage: null, width: null, height: null, detected: false, boxes: [], rows, vectors, noEncoding: 1, otherDims: { 128: 2 }, problems: [] });
    const base = { size: 10, status: 'ok' as const, format: 'bin' as const, notes: [], shape: 'sidecar' as const, elapsedMs: 1 };
    const results: FileInspection[] = [
      { ...base, path: '/a', dataset: ds(['"face":0', '"face":1,"bbox":"x\\ny"'], new Float32Array([1, 2, 3, 4])) },
      { ...base, path: '/b' },
      { ...base, path: '/c', dataset: ds([], null) },
      { ...base, path: '/d', dataset: ds(['"face":0'], new Float32Array([5, 6])) },
    ];
    const items = results.map((r) => ({ path: r.path, name: r.path.slice(1) }));
    const { packed, transfer } = packInspections(results, items);
    assert.equal(packed.vectors!.all.length, 6);
    assert.ok(transfer.includes(packed.vectors!.all.buffer as ArrayBuffer));
    const back = unpackInspections(structuredClone(packed, { transfer }), items);
    assert.deepEqual(back, results);
    assert.deepEqual([...results[0].dataset!.vectors!], [1, 2, 3, 4], 'the results packed are left as they were');
  });
});

describe('a RAW+JPEG pair whose images each saved their own sidecar', () => {
  it('every format exports each image with its own sidecar (the RAW\'s results were left out), shards and merge too', async () => {
    const { saveSidecar } = await import('../src/ops/save.js');
    const root = tempDir('isc-ds-pair-');
    const out = tempDir('isc-ds-pair-out-');
    try {
      const enc = (s: number) => Array.from({ length: 512 }, (_, i) => Math.cos(s + i) / 4);
      const result = (s: number, n: number) => ({ success: true, faces: Array.from({ length: n }, (_, k) => ({ bbox: { x: 0.1 * s + k / 100, y: 0.05, width: 0.2, height: 0.3 }, confidence: 0.5 + k / 10, encoding: enc(s * 10 + k) })), metadata: { image_width: 640, image_height: 480 } });
      writeFileSync(join(root, 'IMG_1.JPG'), FAKE_JPEG);
      await saveSidecar(join(root, 'IMG_1.JPG'), 'face_detection', result(1, 1), { format: 'bin' });
      writeFileSync(join(root, 'IMG_1.CR2'), 'raw');
      await saveSidecar(join(root, 'IMG_1.CR2'), 'face_detection', result(2, 2), { format: 'bin' });
      const emb = await exportDataset(root, { format: 'embeddings', output: join(out, 'faces.npy'), index: false });
      assert.equal(emb.rows, 3);
      const lines = readFileSync(join(out, 'faces.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Json);
      assert.deepEqual(lines.map((l) => [l.image, l.sidecar, l.face]), [['IMG_1.CR2', 'IMG_1.CR2.bin', 0], ['IMG_1.CR2', 'IMG_1.CR2.bin', 1], ['IMG_1.JPG', 'IMG_1.bin', 0]]);
      const coco = await exportDataset(root, { format: 'coco', faces: true, output: join(out, 'coco.json'), index: false });
      assert.equal(coco.images, 2);
      const doc = JSON.parse(readFileSync(join(out, 'coco.json'), 'utf8')) as Json;
      assert.deepEqual(doc.images.map((i: Json) => i.file_name).sort(), ['IMG_1.CR2', 'IMG_1.JPG']);
      assert.equal(doc.annotations.length, 3);
      // Two shards and their merge give the one run's bytes.
      const one = readFileSync(join(out, 'faces.npy'));
      const parts: string[] = [];
      for (let i = 0; i < 2; i++) {
        parts.push(join(out, `s${i}.jsonl`));
        await exportDatasetShard(root, { format: 'embeddings', output: parts[i], shard: { index: i, count: 2 }, index: false });
      }
      await mergeShards(parts, { output: join(out, 'merged.npy') });
      assert.deepEqual(readFileSync(join(out, 'merged.npy')), one);
    } finally {
      removeTree(root);
      removeTree(out);
    }
  });
});

describe('a pair sharing one sidecar: the image it records', () => {
  it('every format names the image the shared sidecar was saved for, not the first of the pair, inline and on threads, tape and reference', async () => {
    const root = tempDir('isc-ds-shared-');
    const out = tempDir('isc-ds-shared-out-');
    try {
      const enc = Array.from({ length: 512 }, (_, i) => Math.cos(i) / 4);
      const face = { bbox: { x: 0.1, y: 0.1, width: 0.2, height: 0.2 }, confidence: 0.5, encoding: enc };
      writeFileSync(join(root, 'IMG_1.JPG'), FAKE_JPEG);
      writeFileSync(join(root, 'IMG_1.PNG'), FAKE_JPEG);
      // Both are trainable: without the record, the JPEG (first) would be named.
      const data = { sidecar_info: { image_path: join(root, 'IMG_1.PNG') }, face_detection: { success: true, faces: [face], metadata: { image_width: 640, image_height: 480 } } };
      for (const format of ['json', 'bin'] as const) {
        rmSync(join(root, 'IMG_1.json'), { force: true });
        rmSync(join(root, 'IMG_1.bin'), { force: true });
        writeFileSync(join(root, `IMG_1.${format}`), encodeSidecar(data, format));
        for (const engine of ['inline', 'threads'] as const) {
          for (const accel of [true, false]) {
            const what = `${format}, ${engine}, accel ${accel}`;
            await exportDataset(root, { format: 'embeddings', output: join(out, 'faces.npy'), index: false, engine, accel });
            const rows = readFileSync(join(out, 'faces.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Json);
            assert.deepEqual(rows.map((r) => r.image), ['IMG_1.PNG'], what);
            await exportDataset(root, { format: 'coco', faces: true, output: join(out, 'coco.json'), index: false, engine, accel });
            const doc = JSON.parse(readFileSync(join(out, 'coco.json'), 'utf8')) as Json;
            assert.deepEqual(doc.images.map((i: Json) => i.file_name), ['IMG_1.PNG'], what);
          }
        }
      }
    } finally {
      removeTree(root);
      removeTree(out);
    }
  });
});

describe('embeddings read on a bin file\'s tape (the accelerated path) give the reference decode\'s rows', () => {
  type Inspect = typeof import('../src/tasks/inspect.js').inspectBytes;
  let inspectBytes: Inspect;
  before(async () => {
    ({ inspectBytes } = await import('../src/tasks/inspect.js'));
  });
  /**
   * Both paths on one file: the tape's (accel on) and the reference's (accel off); `tape` says whether the tape decided.
   * As a shared sidecar's item (InspectItem.namesImage): both read the image the file records, and must agree on it.
   */
  function both(data: Json, req: { dim?: number; operation?: string } = {}, name = 'IMG_1.bin'): { tape: boolean; on: FileInspection; off: FileInspection } {
    const bytes = encodeSidecar(data, 'bin');
    const opts = { dataset: { format: 'embeddings' as const, ...req } };
    const on = inspectBytes({ path: `/lib/${name}`, name, namesImage: true }, bytes, { ...opts, accel: true });
    const off = inspectBytes({ path: `/lib/${name}`, name, namesImage: true }, bytes, { ...opts, accel: false });
    for (const r of [on, off]) r.elapsedMs = 0;
    const tape = on.accel === 'wasm';
    delete on.accel;
    return { tape, on, off };
  }
  const vec = (seed: number, n = 512) => Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + i) / 3);
  const face = (seed: number, extra: Json = {}) => ({ face_id: seed, bbox: { x: 10.5, y: 20, width: 30.25, height: 40 }, confidence: 0.9 + seed / 1000, landmarks: [[1.5, 2.5], [3.5, 4.5]], encoding: vec(seed), ...extra });
  const info = { operation_type: 'face_detection', image_path: '/photos/IMG_1.jpg' };

  it('the common form is read on the tape, equal to the reference: rows, bbox and confidence typed, vectors to the bit', () => {
    // Number types as JSON text spells them (1.0 a float, 1 an int), kept through bin.
    const typed = decodeSidecar(Buffer.from('{"face_id": 2, "confidence": 1.0, "bbox": {"x": 1, "y": 2.0, "width": 3, "height": 4}}'), {}).data;
    typed.encoding = vec(2);
    const data = { sidecar_info: info, face_detection: { success: true, faces: [face(1), typed], metadata: { image_width: 6000 } }, yolov8: { success: true, objects: [] } };
    const { tape, on, off } = both(data);
    assert.ok(tape, 'the tape decided');
    assert.deepEqual(on, off);
    assert.equal(on.dataset!.rows.length, 2);
    assert.match(on.dataset!.rows[1], /"confidence":1\.0$/, 'a float that is whole keeps its type');
    assert.match(on.dataset!.rows[1], /"bbox":\{"x":1,"y":2\.0,"width":3,"height":4\}/);
  });

  it('the image a sidecar records is read for a shared sidecar\'s item only (a record of several images), on both paths', () => {
    const data = { sidecar_info: info, face_detection: { success: true, faces: [face(1)] } };
    const { on, off } = both(data);
    assert.equal(on.dataset!.namedImage, 'IMG_1.jpg');
    assert.equal(off.dataset!.namedImage, 'IMG_1.jpg');
    const bytes = encodeSidecar(data, 'bin');
    for (const accel of [true, false]) {
      const one = inspectBytes({ path: '/lib/IMG_1.bin', name: 'IMG_1.bin' }, bytes, { dataset: { format: 'embeddings' }, accel });
      assert.equal(one.dataset!.namedImage, null, `an image's own sidecar, accel ${accel}: never used, not read`);
      assert.equal(one.dataset!.rows.length, 1);
      assert.equal(one.accel === 'wasm', accel, `decided on the tape: ${accel}`);
    }
  });

  it('each shape the reference reads differently: nested backends, wrappers, other dimensions, no encoding, aliases, failed results', () => {
    const cases: [string, Json, { dim?: number; operation?: string }?][] = [
      ['nested backends', { unified: { face_detection: { insightface: { success: true, faces: [face(3)] } } }, sidecar_info: info }],
      ['a data wrapper inside an operation', { quality_assessment: { sidecar_info: info, data: { success: true, quality: { overall_score: 0.5 } } }, face_detection: { success: true, faces: [face(4)] } }],
      ['a data wrapper at the top', { sidecar_info: info, data: { face_detection: { success: true, faces: [face(5)] } } }],
      ['backends deeper than a summary reads (a finding)', { face_detection: { a: { b: { c: { success: true, faces: [face(6)] } } } } }],
      ['another dimension counted, 128 asked', { face_detection: { success: true, faces: [face(7), { encoding: vec(8, 128) }] } }, { dim: 128 }],
      ['encodings null, absent, empty', { face_detection: { success: true, faces: [{ encoding: null }, {}, { encoding: [] }, { face_encoding: vec(9) }] } }],
      ['a short encoding (plain float items, no block)', { face_detection: { success: true, faces: [{ encoding: [0.5, 0.25, 0.125] }] } }, { dim: 3 }],
      ['an encoding of ints', { face_detection: { success: true, faces: [{ encoding: [1, 2, 3, 4] }] } }, { dim: 4 }],
      ['an encoding float32 cannot hold (a finding)', { face_detection: { success: true, faces: [face(10, { encoding: [...vec(10).slice(1), 1e39] })] } }],
      ['an encoding just inside 2^127 and one beyond', { face_detection: { success: true, faces: [face(11, { encoding: [...vec(11).slice(1), 2 ** 127] }), face(12, { encoding: [...vec(12).slice(1), 3.4e38] })] } }],
      ['a box as an array, a box of other keys, a box null', { face_detection: { success: true, faces: [face(13, { bbox: [1.5, 2.5, 3.5, 4.5] }), face(14, { bbox: { y: 1, x: 2, width: 3, height: 4 } }), face(15, { bbox: null }), { ...face(16), bbox: { y: 2, x: 1 }, coordinates: { x: 1, y: 2, width: 3, height: 4 } }, (({ bbox, ...f }) => ({ ...f, coordinates: { x: 1, y: 2, width: 3, height: 4 } }))(face(16))] } }],
      ['confidence absent, a string, an int', { face_detection: { success: true, faces: [(({ confidence, ...f }) => f)(face(17)), face(18, { confidence: 'high' }), face(19, { confidence: 1 })] } }],
      ['an alias of an operation key', { Face_detector: { faces: [face(20)] } }],
      ['aliases beside the key spelled as the operation: that one decides, else the first', { FaceDetection: { faces: [face(31)] }, Face_detector: { faces: [face(32)] }, face_detection: { faces: [face(33)] }, Unified: { faces: [face(34)] }, UNIFIED_: { faces: [face(35)] } }],
      ['a failed result with faces (a finding), and one without', { face_detection: { success: false, faces: [face(21)] }, yolov8: { success: false, objects: [] } }],
      ['faces not a list, a face not an object', { face_detection: { success: true, faces: { a: 1 } }, object_detection: { success: true, faces: [1, face(22)] } }],
      ['faces as a list of floats', { face_detection: { success: true, faces: [0.5, 0.25, 0.125, 0.0625] } }],
      ['only one operation asked', { face_detection: { success: true, faces: [face(23)] }, unified: { success: true, faces: [face(24)] } }, { operation: 'unified' }],
      ['a report', { games: [{ id: 1 }], face_detection: { success: true, faces: [face(25)] } }],
      ['no known operation', { something: { success: true, faces: [face(26)] } }],
      ['a symlinked image: its target named, in NFC', { sidecar_info: { image_path: '/g/IMG_1.jpg', symlink_info: { target_path: '/photos/Cafe\u0301.jpg' } }, face_detection: { success: true, faces: [face(27)] } }],
      ['keys the module never interned, unicode strings', { sidecar_info: { image_path: 'C:\\photos\\Ümlaut.jpg', note: 'ü' }, face_detection: { success: true, faces: [face(28, { 'ünïcode': 'ö', encoding: vec(28) })], extra_backend_key_that_is_long: 1 } }],
      ['more blocks than the module places (1,100 faces)', { face_detection: { success: true, faces: Array.from({ length: 1100 }, (_, i) => ({ encoding: vec(i, 8) })) } }, { dim: 8 }],
    ];
    let onTape = 0;
    for (const [what, data, req] of cases) {
      const { tape, on, off } = both(data, req);
      assert.deepEqual(on, off, what);
      if (tape) onTape++;
    }
    assert.ok(onTape >= 8, `the tape decided ${onTape} of ${cases.length} (the rest went to the reference)`);
  });

  it('a report\'s name is the reference\'s; a JSON file is read on its tape too', () => {
    const data = { face_detection: { success: true, faces: [face(30)] } };
    assert.equal(both(data, {}, 'game_detection_report.bin').tape, false);
    const bytes = Buffer.from(JSON.stringify(data));
    const on = inspectBytes({ path: '/lib/IMG_1.json', name: 'IMG_1.json' }, bytes, { dataset: { format: 'embeddings' }, accel: true });
    const off = inspectBytes({ path: '/lib/IMG_1.json', name: 'IMG_1.json' }, bytes, { dataset: { format: 'embeddings' }, accel: false });
    assert.equal(on.accel, 'wasm');
    delete on.accel;
    on.elapsedMs = off.elapsedMs = 0;
    assert.deepEqual(on, off);
    assert.equal(on.dataset!.rows.length, 1);
  });

  /** `data` as a bin file, the UTF-8 bytes of `from` (its last occurrence) replaced by `to` (same length), the header's CRC-32 fixed. */
  function patchedBin(data: Json, from: string, to: string): Buffer {
    const bytes = encodeSidecar(data, 'bin');
    const a = Buffer.from(from);
    const b = Buffer.from(to);
    assert.equal(a.length, b.length);
    const at = bytes.lastIndexOf(a);
    assert.ok(at >= 16);
    b.copy(bytes, at);
    bytes.writeUInt32LE(zlib.crc32(bytes.subarray(16)), 12);
    return bytes;
  }
  function bothOf(bytes: Buffer, dim: number, name = 'IMG_1.bin'): { tape: boolean; on: FileInspection; off: FileInspection } {
    const opts = { dataset: { format: 'embeddings' as const, dim } };
    const item = { path: `/lib/${name}`, name, namesImage: true as const };
    const on = inspectBytes(item, bytes, { ...opts, accel: true });
    const off = inspectBytes(item, bytes, { ...opts, accel: false });
    on.elapsedMs = off.elapsedMs = 0;
    const tape = on.accel === 'wasm';
    delete on.accel;
    return { tape, on, off };
  }
  const small = (s: number, extra: Json = {}) => ({ success: true, faces: [{ bbox: { x: 0.1, y: 0.2, width: 0.3, height: 0.4 }, confidence: 0.9, encoding: vec(s, 8), ...extra }] });

  it('a duplicate key the scan left unchecked (not interned; an object of over 64 keys) is corrupt, as the reference says', () => {
    const unicode = bothOf(patchedBin({ face_detection: small(1, { 'éa': 1, 'éb': 2 }) }, 'éb', 'éa'), 8);
    assert.equal(unicode.off.status, 'corrupt');
    assert.deepEqual(unicode.on, unicode.off);
    const many: Json = {};
    for (let i = 0; i < 70; i++) many[`k${String(i).padStart(2, '0')}`] = i;
    const wide = bothOf(patchedBin({ face_detection: small(1, many) }, 'k69', 'k03'), 8);
    assert.equal(wide.off.status, 'corrupt');
    assert.deepEqual(wide.on, wide.off);
  });

  it('an array-index key (a JavaScript object lists it first): operations and backends in the decoded data\'s order', () => {
    // Files holding { face_detection, "7" } and { insightface, "0" } in that order (a JS object would write the digit first: patched from "z").
    const top = bothOf(patchedBin({ face_detection: small(1), z: small(2) }, 'az', 'a7'), 8);
    assert.equal(top.off.dataset!.rows.length, 2);
    assert.deepEqual(top.on, top.off);
    const backend = bothOf(patchedBin({ face_detection: { insightface: small(1), z: small(2) } }, 'az', 'a0'), 8);
    assert.equal(backend.off.dataset!.rows.length, 2);
    assert.deepEqual(backend.on, backend.off);
  });

  it('random sidecars of the pipeline\'s parts: the tape and the reference agree on every one', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = <T,>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
    const num = () => pick([0.5, 1, 1.0, 25.0, -0.0, 0, 3e-7, 1e21, 123456789, rnd() * 5000, -rnd()]);
    const anyFace = (k: number): Json => {
      const f: Json = {};
      if (rnd() < 0.9) f.face_id = k;
      if (rnd() < 0.8) f.bbox = pick([{ x: num(), y: num(), width: num(), height: num() }, [num(), num(), num(), num()], null, { x: num() }]);
      if (rnd() < 0.2) f.coordinates = { x: num(), y: num(), width: num(), height: num() };
      if (rnd() < 0.9) f.confidence = pick([num(), 'x', null]);
      const enc = pick<unknown>([vec(k, 16), vec(k, 16), vec(k, 4), null, [], undefined, [1, 2], vec(k, 16).map((x, i) => (i === 3 ? 1e39 : x))]);
      if (enc !== undefined) f[pick(['encoding', 'encoding', 'face_encoding'])] = enc;
      return f;
    };
    const anyResult = (depth: number): Json => {
      if (depth < 3 && rnd() < 0.25) return { [pick(['insightface', 'data', 'dlib'])]: anyResult(depth + 1), ...(rnd() < 0.3 ? { metadata: { a: 1 } } : {}) };
      const r: Json = {};
      if (rnd() < 0.8) r.success = pick([true, true, false, 'yes']);
      if (rnd() < 0.85) r.faces = pick<unknown>([Array.from({ length: Math.floor(rnd() * 4) }, (_, k) => anyFace(k)), null, 'none', [0.5, 1.5, 2.5, 3.5]]);
      if (rnd() < 0.3) r.objects = [];
      if (rnd() < 0.3) r.metadata = { image_width: 10, detector: 'x' };
      return r;
    };
    let onTape = 0;
    for (let n = 0; n < 400; n++) {
      const data: Json = {};
      if (rnd() < 0.9) data.sidecar_info = pick([info, { image_path: 5 }, { symlink_info: { target_path: '/t/x.jpg' } }, 'x']);
      const ops = Math.floor(rnd() * 3) + 1;
      for (let k = 0; k < ops; k++) data[pick(['face_detection', 'unified', 'yolov8', 'face_detection_dlib', 'FaceDetection'])] = rnd() < 0.9 ? anyResult(0) : pick<unknown>([null, 3, 'x']);
      const { tape, on, off } = both(data, { dim: 16 });
      assert.deepEqual(on, off, `case ${n}: ${JSON.stringify(data).slice(0, 300)}`);
      if (tape) onTape++;
      // The same data as JSON text, pretty or compact, and as the earlier tool's legacy file.
      const text = JSON.stringify(data, null, n % 2 === 0 ? 2 : undefined);
      for (const [bytes, name] of [[Buffer.from(text), 'IMG_1.json'], [encodeSidecar(JSON.parse(text) as Json, 'legacy'), 'IMG_1.rkyv']] as const) {
        const j = bothOf(bytes, 16, name);
        assert.deepEqual(j.on, j.off, `case ${n} as ${name}: ${text.slice(0, 300)}`);
        if (j.tape) onTape++;
      }
    }
    assert.ok(onTape > 150, `the tape decided ${onTape} of 1,200`);
  });

  it('JSON text on the tape: escapes in names and keys, a BOM, whole floats and ints, float tokens in every spelling, a value float32 cannot hold', () => {
    const enc = vec(40, 8).map((x) => x.toString());
    const texts = [
      `{"sidecar_info": {"image_path": "C:\\\\photos\\\\caf\\u00e9.jpg"}, "face_detection": {"success": true, "faces": [{"bbox": {"x": 1.0, "y": 2, "width": 3.5e1, "height": -0.0}, "confidence": 1.0, "encoding": [${enc.join(', ')}]}]}}`,
      `\ufeff{"face_detection": {"success": true, "faces": [{"confidence": 0.5, "encoding": [${enc.join(',')}]}]}}`,
      `{"face_detection": {"insight\\u0066ace": {"success": true, "faces": [{"encoding": [${enc.map((x, i) => (i === 2 ? '1E-3' : i === 3 ? '-2.50e+2' : x)).join(',')}]}]}}}`,
      `{"face_detection": {"success": true, "faces": [{"encoding": [${enc.map((x, i) => (i === 0 ? '1e39' : x)).join(',')}]}]}}`,
      `{"face_detection": {"success": true, "faces": [{"encoding": [1, 2, 3, 4, 5, 6, 7, 8]}, {"encoding": [1.5, 2, 3, 4, 5, 6, 7, 8]}]}}`,
      `{"face_detection": {"success": true, "faces": [{"encoding": [${enc.join(',')}]}]}, "face_detection": {"success": true, "faces": []}}`,
      `{"face_detection": {"success": true, "faces": [{"\\u0065ncoding": [${enc.join(',')}]}]}}`,
    ];
    let onTape = 0;
    for (const t of texts) {
      const j = bothOf(Buffer.from(t), 8, 'IMG_1.json');
      assert.deepEqual(j.on, j.off, t.slice(0, 200));
      if (j.tape) onTape++;
    }
    // The escaped path, the BOM: on the tape; escaped keys, a finding, ints, a duplicate key: the reference's.
    assert.ok(onTape >= 2, `the tape decided ${onTape} of ${texts.length}`);
  });
});
