/**
 * Attacks on export --format coco | yolo | embeddings (docs/EXPORT.md): each test asserts one of
 * the feature's promises on a crafted tree. A failing test is a defect found; the passing ones stay
 * as regression guards.
 *
 *   1. boxes converted exactly per convention, never guessed, never dropped without a finding
 *   2. the embeddings .npy: valid NumPy, rows equal the sidecars' encodings, one row per jsonl line
 *   3. outputs atomic and safe
 *   4. shards + merge, engines and the index give the same bytes; filters apply consistently
 *   5. never over a user's files (a folder, an orphan, a planted link); each image of a pair with
 *      the sidecar its read takes; every finding named
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, relative } from 'node:path';
import { exportDataset, exportPublishProbe, type DatasetExportOptions, type DatasetExportReport, type DatasetFinding } from '../src/ops/datasets.js';
import { generateSampleLibrary } from '../src/sample/generate.js';
import { encodeSidecar } from '../src/formats/codec.js';
import { FAKE_JPEG, listTree, makeTree, removeTree, tempDir, type TreeNode } from './helpers/tree.js';
import { inTurn } from './helpers/campaign.js';
import { CLI_PATH, runCli } from './helpers/cli.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Debian's python3-yaml: the reader Ultralytics loads data.yaml with. */
const HAS_YAML = spawnSync('python3', ['-c', 'import yaml'], { stdio: 'ignore' }).status === 0;

async function run(root: string, opts: Partial<DatasetExportOptions> & Pick<DatasetExportOptions, 'format' | 'output'>): Promise<{ report: DatasetExportReport; findings: DatasetFinding[] }> {
  const findings: DatasetFinding[] = [];
  const report = await exportDataset(root, { engine: 'inline', index: false, onFinding: (f) => findings.push(f), ...opts });
  return { report, findings };
}

const yolo = (objects: Json[], w = 1000, h = 500) => ({ success: true, objects, metadata: { image_width: w, image_height: h } });
const obj = (box: Json, extra: Json = {}) => ({ class_name: 'person', ...box, confidence: 0.5, ...extra });
const enc = (n: number, v = 0.25) => Array.from({ length: n }, (_, i) => v + i / 1024);


function cocoOf(file: string): Json {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** A box is a box: positive width and height, inside the image when a size is written. */
function assertCocoBoxes(doc: Json): void {
  const ims = new Map<number, Json>(doc.images.map((i: Json) => [i.id, i]));
  for (const a of doc.annotations) {
    const [x, y, w, h] = a.bbox as number[];
    assert.ok(w > 0 && h > 0 && a.area > 0, `annotation ${a.id} of ${ims.get(a.image_id)!.file_name}: bbox ${JSON.stringify(a.bbox)} area ${a.area} is empty`);
    assert.ok(x >= 0 && y >= 0);
    const im = ims.get(a.image_id)!;
    if (im.width !== undefined) assert.ok(x + w <= im.width && y + h <= im.height, `bbox ${a.bbox} inside ${im.width}×${im.height}`);
  }
}

// ===================================================================== 1. boxes

describe('attack 1: boxes converted exactly, never guessed, never silently wrong or dropped', () => {
  let out: string;
  before(() => {
    out = tempDir('isc-atk-out-');
  });
  after(() => removeTree(out));

  it('a pixel box touching the edge within the one-pixel slack is never clamped into an empty box (w = 0)', async () => {
    // 1000 × 500: x = 1000, w = 1 passes the slack (x + w = 1001 ≤ 1000 + 1), and clamping leaves w = 0.
    const lib = makeTree({
      'a.jpg': FAKE_JPEG,
      'a.json': { json: { yolov8: yolo([obj({ coordinates_pixels: { x: 1000, y: 10, width: 1, height: 20 } })]) } },
      'b.jpg': FAKE_JPEG,
      'b.json': { json: { yolov8: yolo([obj({ coordinates_pixels: { x: -1, y: 10, width: 1, height: 20 } })]) } },
    });
    try {
      const file = join(out, 'edge.json');
      const { findings } = await run(lib, { format: 'coco', output: file });
      const doc = cocoOf(file);
      assertCocoBoxes(doc);
      // Either the box is a finding (the image left out), or it is written as a real box.
      assert.equal(doc.annotations.length + findings.length, 2, JSON.stringify(findings));
      const dir = join(out, 'edge-yolo');
      await run(lib, { format: 'yolo', output: dir });
      for (const name of ['a', 'b']) {
        const p = join(dir, 'labels', `${name}.txt`);
        if (!existsSync(p)) continue;
        for (const line of readFileSync(p, 'utf8').trimEnd().split('\n').filter(Boolean)) {
          const [, , , w, h] = line.split(' ').map(Number);
          assert.ok(w > 0 && h > 0, `yolo ${name}: "${line}" is an empty box`);
        }
      }
    } finally {
      removeTree(lib);
    }
  });

  it('a 0–1 box starting at the right edge (x = 1, w = 1e-10, within the 1e-9 slack) is never written as an empty box', async () => {
    const lib = makeTree({
      'a.jpg': FAKE_JPEG,
      'a.json': { json: { face_detection: { success: true, faces: [{ bbox: { x: 1, y: 0.5, width: 1e-10, height: 0.1 } }], metadata: { image_width: 1000, image_height: 500 } } } },
    });
    try {
      const file = join(out, 'edge-n.json');
      const { findings } = await run(lib, { format: 'coco', output: file, faces: true });
      const doc = cocoOf(file);
      assertCocoBoxes(doc);
      assert.equal(doc.annotations.length + findings.length, 1);
    } finally {
      removeTree(lib);
    }
  });

  it('findings, exit 1: 0–1 boxes without a size (COCO), negative, huge, string numbers, float pixels, bad size, xyxy reversed', async () => {
    const lib = makeTree({
      'nosize.jpg': FAKE_JPEG,
      'nosize.json': { json: { face_detection: { insightface: { success: true, faces: [{ bbox: { x: 0.1, y: 0.1, width: 0.2, height: 0.2 } }] } } } },
      'pctnosize.jpg': FAKE_JPEG,
      'pctnosize.json': { json: { yolov8: { success: true, objects: [obj({ coordinates_percent: { x: 1, y: 1, width: 2, height: 2 } })] } } },
      'neg.jpg': FAKE_JPEG,
      'neg.json': { json: { yolov8: yolo([obj({ coordinates_pixels: { x: -5, y: 10, width: 20, height: 20 } })]) } },
      'huge.jpg': FAKE_JPEG,
      'huge.json': '{"yolov8": {"success": true, "objects": [{"class_name": "p", "xyxy": [0, 0, 1e308, 1e308]}], "metadata": {"image_width": 1000, "image_height": 500}}}',
      'str.jpg': FAKE_JPEG,
      'str.json': { json: { yolov8: yolo([obj({ coordinates_pixels: { x: '10', y: 10, width: 20, height: 20 } })]) } },
      'floatpx.jpg': FAKE_JPEG,
      'floatpx.json': '{"face_detection": {"success": true, "faces": [{"bbox": [100, 50, 200.0, 100]}], "face_count": 1, "image_width": 1000, "image_height": 500}}',
      'badsize.jpg': FAKE_JPEG,
      'badsize.json': { json: { yolov8: yolo([obj({ coordinates_pixels: { x: 1, y: 1, width: 2, height: 2 } })], 1000.5, 500) } },
      'rev.jpg': FAKE_JPEG,
      'rev.json': { json: { object_detection: yolo([obj({ xyxy: [300, 150, 100, 50] })]) } },
      'ok.jpg': FAKE_JPEG,
      'ok.json': { json: { yolov8: yolo([obj({ coordinates_pixels: { x: 100, y: 50, width: 200, height: 100 } })]) } },
    });
    try {
      const file = join(out, 'findings.json');
      const r = await runCli(['export', lib, '--format', 'coco', '--include', 'faces', '-o', file, '--json']);
      assert.equal(r.code, 1, r.stderr);
      const doc = cocoOf(file);
      assert.deepEqual(doc.images.map((i: Json) => i.file_name), ['ok.jpg']);
      const rep = JSON.parse(r.stdout);
      assert.equal(rep.findings, 8, r.stderr);
      assert.deepEqual(doc.annotations[0].bbox, [100, 50, 200, 100]);
    } finally {
      removeTree(lib);
    }
  });

  it('lists that are not lists, faces that are not objects, boxes too small for a double: findings (exit 1), never skipped or written empty', async () => {
    const face = { bbox: { x: 0.1, y: 0.1, width: 0.2, height: 0.2 }, encoding: enc(512) };
    const lib = makeTree({
      'objmap.jpg': FAKE_JPEG,
      'objmap.json': { json: { yolov8: { success: true, objects: { 0: obj({ coordinates_pixels: { x: 1, y: 1, width: 2, height: 2 } }) }, metadata: { image_width: 10, image_height: 10 } } } },
      'objstr.jpg': FAKE_JPEG,
      'objstr.json': { json: { yolov8: { success: true, objects: '1 person', metadata: { image_width: 10, image_height: 10 } } } },
      'facemap.jpg': FAKE_JPEG,
      'facemap.json': { json: { face_detection: { success: true, faces: { 0: face } } } },
      'mixed.jpg': FAKE_JPEG,
      'mixed.json': { json: { face_detection: { success: true, faces: [null, 'garbage', 7, face] } } },
      'tiny.jpg': FAKE_JPEG,
      'tiny.json': { json: { yolov8: yolo([obj({ coordinates_pixels: { x: 1, y: 1, width: 5e-324, height: 1 } })], 3, 3) } },
      'failed.jpg': FAKE_JPEG,
      'failed.json': { json: { yolov8: yolo([obj({ coordinates_pixels: { x: 1, y: 1, width: 2, height: 2 } })], 10, 10), face_detection: { success: false, faces: 'none', metadata: { image_width: 0, image_height: 0 } } } },
      'ok.jpg': FAKE_JPEG,
      'ok.json': { json: { yolov8: yolo([obj({ coordinates_pixels: { x: 1, y: 1, width: 2, height: 2 } })], 10, 10) } },
      'huge.jpg': FAKE_JPEG,
      'huge.json': { json: { yolov8: { success: true, objects: [obj({ coordinates_pixels: { x: 0, y: 0, width: 1e200, height: 1e200 } })] } } },
    });
    try {
      const coco = await run(lib, { format: 'coco', faces: true, output: join(out, 'lists.json') });
      // Without an image size a pixel box has no edge to pass, but its area overflows: never "area":Infinity.
      assert.match(coco.findings.find((f) => f.path.endsWith('huge.json'))?.message ?? '', /cannot be written: .*area overflows/);
      coco.findings = coco.findings.filter((f) => !f.path.endsWith('huge.json'));
      const byFile = (fs: DatasetFinding[]) => new Map(fs.map((f) => [relative(lib, f.path), f.message]));
      const c = byFile(coco.findings);
      assert.deepEqual([...c.keys()].sort(), ['facemap.json', 'mixed.json', 'objmap.json', 'objstr.json']);
      assert.match(c.get('objmap.json')!, /\/yolov8\/objects: objects is \{"0":.*not a list/);
      assert.match(c.get('objstr.json')!, /objects is "1 person", not a list/);
      assert.match(c.get('facemap.json')!, /faces is .*not a list/);
      // A failed result's own size (0×0) says nothing about the image: its boxes are exported. In
      // pixels the tiny box is a positive double (5e-324 px); normalised for YOLO it is 0.
      assert.deepEqual(cocoOf(join(out, 'lists.json')).images.map((i: Json) => i.file_name).sort(), ['failed.jpg', 'ok.jpg', 'tiny.jpg']);
      const only = await run(lib, { format: 'coco', operationType: 'yolov8', output: join(out, 'v8.json') });
      assert.ok(!only.findings.some((f) => f.path.endsWith('failed.json')), JSON.stringify(only.findings));
      const yl = await run(lib, { format: 'yolo', output: join(out, 'lists-yolo') });
      assert.match(byFile(yl.findings).get('tiny.json') ?? '', /cannot be written: its size rounds to 0/);
      assert.equal(existsSync(join(out, 'lists-yolo', 'labels', 'tiny.txt')), false, 'no label with an empty box');
      const emb = await run(lib, { format: 'embeddings', output: join(out, 'lists.npy') });
      const e = byFile(emb.findings);
      assert.match(e.get('facemap.json') ?? '', /faces is .*not a list/);
      assert.match(e.get('mixed.json') ?? '', /face embeddings left out at 3 place\(s\): \/face_detection\/faces\/0: not an object; \/face_detection\/faces\/1: not an object; \/face_detection\/faces\/2: not an object/);
      assert.equal(emb.report.rows, 1, 'the valid face of mixed.json is exported');
      const cli = await runCli(['export', lib, '--format', 'embeddings', '-o', join(out, 'lists2.npy'), '-q']);
      assert.equal(cli.code, 1, cli.stderr);
    } finally {
      removeTree(lib);
    }
  });

  it('an image that is a broken symlink: a finding naming it, left out of every format (yolo --copy-images too), the run goes on', async () => {
    const lib = makeTree({
      'gone.json': { json: { yolov8: yolo([obj({ coordinates_pixels: { x: 1, y: 1, width: 2, height: 2 } })], 10, 10), face_detection: { success: true, faces: [{ bbox: null, encoding: enc(512) }] } } },
      'ok.jpg': FAKE_JPEG,
      'ok.json': { json: { yolov8: yolo([obj({ coordinates_pixels: { x: 1, y: 1, width: 2, height: 2 } })], 10, 10), face_detection: { success: true, faces: [{ bbox: null, encoding: enc(512) }] } } },
    });
    symlinkSync('/nonexistent/gone.jpg', join(lib, 'gone.jpg'));
    try {
      for (const [format, o, extra] of [
        ['coco', join(out, 'broken.json'), {}],
        ['yolo', join(out, 'broken-yolo'), {}],
        ['yolo', join(out, 'broken-yolo-copies'), { copyImages: true }],
        ['embeddings', join(out, 'broken.npy'), {}],
      ] as const) {
        const { report, findings } = await run(lib, { format, output: o, ...extra });
        assert.equal(findings.length, 1, `${format}: ${JSON.stringify(findings)}`);
        assert.match(findings[0].message, /left out: gone\.jpg is a broken symlink/);
        assert.equal(relative(lib, findings[0].path), 'gone.json');
        assert.equal(format === 'embeddings' ? report.rows : report.images, 1, format);
      }
      assert.deepEqual(readdirSync(join(out, 'broken-yolo-copies', 'images')), ['ok.jpg']);
      // The sidecar names the broken JPEG of a RAW+JPEG pair: its boxes are never given to the RAW.
      const pair = makeTree({ 'IMG_1.CR2': FAKE_JPEG, 'IMG_1.json': { json: { yolov8: yolo([obj({ coordinates_pixels: { x: 1, y: 1, width: 2, height: 2 } })], 10, 10), sidecar_info: { image_path: 'IMG_1.jpg' } } } });
      symlinkSync('/nonexistent/IMG_1.jpg', join(pair, 'IMG_1.jpg'));
      try {
        const p = await run(pair, { format: 'coco', output: join(out, 'pair.json') });
        assert.equal(p.findings.length, 1, JSON.stringify(p.findings));
        assert.match(p.findings[0].message, /IMG_1\.jpg is a broken symlink/);
        assert.deepEqual(cocoOf(join(out, 'pair.json')).images, []);
      } finally {
        removeTree(pair);
      }
      const cli = await runCli(['export', lib, '--format', 'yolo', '--copy-images', '-o', join(out, 'broken-cli'), '-q']);
      assert.equal(cli.code, 1, cli.stderr);
    } finally {
      removeTree(lib);
    }
  });

  it('YOLO data.yaml: class names and paths with DEL, C1 controls, NEL, U+2028 and a BOM load back exactly with a YAML reader (PyYAML)', { skip: HAS_YAML ? false : 'no PyYAML' }, async () => {
    const names = ['del\x7fx', 'c1\x90x', 'nel\x85x', 'ls\u2028x', 'bom\ufeffx', 'quote"back\\slash', 'tab\tx'];
    const spec: Record<string, TreeNode> = {};
    names.forEach((n, i) => {
      spec[`IMG_${i}.jpg`] = FAKE_JPEG;
      spec[`IMG_${i}.json`] = { json: { yolov8: yolo([obj({ coordinates_pixels: { x: 1, y: 1, width: 2, height: 2 } }, { class_name: n })], 10, 10) } };
    });
    const lib = makeTree(spec);
    const o = join(out, 'yolo-\x7fnames');
    try {
      const { findings } = await run(lib, { format: 'yolo', output: o });
      assert.deepEqual(findings, []);
      const py = spawnSync('python3', ['-c', 'import json, sys, yaml; d = yaml.safe_load(open(sys.argv[1], encoding="utf-8")); print(json.dumps([d["path"], [d["names"][i] for i in sorted(d["names"])]]))', join(o, 'data.yaml')], { encoding: 'utf8' });
      assert.equal(py.status, 0, py.stderr);
      const [path, loaded] = JSON.parse(py.stdout) as [string, string[]];
      assert.deepEqual(loaded, names);
      assert.equal(path, o);
    } finally {
      removeTree(lib);
    }
  });

  // Results are looked for three levels below an operation (analysis/operations.ts MAX_NESTING, as
  // every summary); a deeper one is a finding naming it, and its image is left out.
  it('a result nested deeper than the walker looks is never dropped silently (exported or a finding)', async () => {
    const lib = makeTree({
      'deep.jpg': FAKE_JPEG,
      'deep.json': { json: { unified: { pipeline: { stage: { detector: { v8: yolo([obj({ coordinates_pixels: { x: 1, y: 1, width: 2, height: 2 } })]) } } } } } },
    });
    try {
      const file = join(out, 'deep.json');
      const { report, findings } = await run(lib, { format: 'coco', output: file });
      assert.ok(report.annotations === 1 || findings.length === 1, `deep objects: ${report.annotations} annotations, ${findings.length} findings, without_detections ${report.without_detections}`);
      assert.match(JSON.stringify(findings), /unified\/pipeline\/stage\/detector.*nested more than three levels/, 'the finding names the deep result');
    } finally {
      removeTree(lib);
    }
  });

  it('RAW+JPEG with one name-ext sidecar each: neither image\'s boxes are dropped without a finding', async () => {
    const lib = makeTree({
      'p/IMG_1.CR2': FAKE_JPEG,
      'p/IMG_1.CR2.json': { json: { yolov8: yolo([obj({ coordinates_pixels: { x: 1, y: 1, width: 2, height: 2 } }, { class_name: 'raw' })]), sidecar_info: { image_path: 'IMG_1.CR2' } } },
      'p/IMG_1.JPG': FAKE_JPEG,
      'p/IMG_1.JPG.json': { json: { yolov8: yolo([obj({ coordinates_pixels: { x: 3, y: 3, width: 4, height: 4 } }, { class_name: 'jpg' })]), sidecar_info: { image_path: 'IMG_1.JPG' } } },
    });
    try {
      const file = join(out, 'pair.json');
      const { findings } = await run(lib, { format: 'coco', output: file });
      const doc = cocoOf(file);
      const names = doc.images.map((i: Json) => i.file_name);
      const cats = doc.categories.map((c: Json) => c.name);
      assert.ok(names.includes('p/IMG_1.JPG') && cats.includes('jpg'), `the JPEG's own boxes: ${names} ${cats}`);
      // The CR2's boxes: exported under the CR2, or a finding naming its sidecar.
      const raw = names.includes('p/IMG_1.CR2') && cats.includes('raw');
      assert.ok(raw || findings.some((f) => f.path.endsWith('IMG_1.CR2.json')), `the CR2's sidecar: ${JSON.stringify({ names, cats, findings })}`);
      // Never the CR2's boxes under the JPEG's name.
      const jpg = doc.images.find((i: Json) => i.file_name === 'p/IMG_1.JPG');
      const jpgCats = doc.annotations.filter((a: Json) => a.image_id === jpg.id).map((a: Json) => doc.categories[a.category_id - 1].name);
      assert.deepEqual(jpgCats, ['jpg']);
    } finally {
      removeTree(lib);
    }
  });

  it('YOLO: every label is where Ultralytics looks for it (img2label_paths: the last /images/ → /labels/), a library folder named "images" included', async () => {
    const lib = makeTree({
      'images/a.jpg': FAKE_JPEG,
      'images/a.json': { json: { yolov8: yolo([obj({ coordinates_pixels: { x: 100, y: 50, width: 200, height: 100 } })]) } },
      '2025/images/b.jpg': FAKE_JPEG,
      '2025/images/b.json': { json: { yolov8: yolo([obj({ coordinates_pixels: { x: 100, y: 50, width: 200, height: 100 } })]) } },
      'c.jpg': FAKE_JPEG,
      'c.json': { json: { yolov8: yolo([obj({ coordinates_pixels: { x: 100, y: 50, width: 200, height: 100 } })]) } },
    });
    try {
      const dir = join(out, 'ul');
      await run(lib, { format: 'yolo', output: dir });
      const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
      const imgs = walk(join(dir, 'images'));
      assert.equal(imgs.length, 3);
      for (const img of imgs) {
        // ultralytics/data/utils.py img2label_paths
        const sa = '/images/';
        const i = img.lastIndexOf(sa);
        const label = `${img.slice(0, i)}/labels/${img.slice(i + sa.length)}`.replace(/\.[^./]+$/, '') + '.txt';
        assert.ok(existsSync(label), `${relative(dir, img)}: Ultralytics reads its label from ${relative(dir, label)}, which is not there`);
      }
    } finally {
      removeTree(lib);
    }
  });

  it('YOLO: an image under a folder named "images" and one under "images_" whose dataset names meet: the finding says why (it blamed the extension, which both images share)', async () => {
    const box = { json: { yolov8: yolo([obj({ coordinates_pixels: { x: 100, y: 50, width: 200, height: 100 } })]) } };
    const lib = makeTree({ 'images/a.jpg': FAKE_JPEG, 'images/a.json': box, 'images_/a.jpg': FAKE_JPEG, 'images_/a.json': box });
    try {
      const r = await run(lib, { format: 'yolo', output: join(out, 'collide') });
      const messages = r.findings.map((f: { message: string }) => f.message);
      assert.equal(messages.length, 1, messages.join('\n'));
      assert.match(messages[0], /left out: its YOLO label labels\/images_\/a\.txt is already images(_)?\/a\.jpg's \(a library folder named images is images_ in the dataset/);
    } finally {
      removeTree(lib);
    }
  });

  it('percent boxes: one rounding per coordinate as documented (7 % of 6000 px is 420, not 420.00000000000006)', async () => {
    const lib = makeTree({
      'a.jpg': FAKE_JPEG,
      'a.json': { json: { yolov8: yolo([obj({ coordinates_percent: { x: 7, y: 14, width: 17, height: 7 } })], 6000, 4000) } },
    });
    try {
      const file = join(out, 'pct.json');
      await run(lib, { format: 'coco', output: file });
      // x·W/100 is exact for these; x/100·W rounds twice.
      assert.deepEqual(cocoOf(file).annotations[0].bbox, [420, 560, 1020, 280]);
    } finally {
      removeTree(lib);
    }
  });

  it('a stale JSON beside a newer .bin: the .bin decides (the effective sidecar), never both', async () => {
    const lib = makeTree({
      'a.jpg': FAKE_JPEG,
      'a.json': { json: { yolov8: yolo([obj({ coordinates_pixels: { x: 1, y: 1, width: 2, height: 2 } }, { class_name: 'stale' })]) } },
    });
    try {
      const w = await runCli(['write', join(lib, 'a.jpg'), '--operation', 'yolov8', '--format', 'bin', '--data', '-'], { input: JSON.stringify(yolo([obj({ coordinates_pixels: { x: 3, y: 3, width: 4, height: 4 } }, { class_name: 'fresh' })])) });
      assert.equal(w.code, 0, w.stderr);
      assert.ok(existsSync(join(lib, 'a.bin')) && existsSync(join(lib, 'a.json')));
      const file = join(out, 'stale.json');
      await run(lib, { format: 'coco', output: file });
      const doc = cocoOf(file);
      assert.deepEqual(doc.categories.map((c: Json) => c.name), ['fresh']);
      assert.equal(doc.images.length, 1);
      assert.equal(doc.images[0].sidecar, 'a.bin');
    } finally {
      removeTree(lib);
    }
  });

  it('an image reached through a symlink inside the tree (a game folder) is exported once, under its target\'s path', async () => {
    const lib = makeTree({
      'photos/a.jpg': FAKE_JPEG,
      'photos/a.json': { json: { yolov8: yolo([obj({ coordinates_pixels: { x: 1, y: 1, width: 2, height: 2 } })]) } },
      'Game1/a.jpg': { symlink: '../photos/a.jpg' },
      'Game1/b.jpg': { symlink: '../photos/missing.jpg' },
    });
    try {
      const file = join(out, 'game.json');
      await run(lib, { format: 'coco', output: file });
      assert.deepEqual(cocoOf(file).images.map((i: Json) => i.file_name), ['photos/a.jpg']);
      const dir = join(out, 'game-y');
      await run(lib, { format: 'yolo', output: dir });
      assert.deepEqual(Object.keys(listTree(dir)).filter((k) => !k.endsWith('.yaml')).sort(), ['images/photos/a.jpg', 'labels/photos/a.txt']);
    } finally {
      removeTree(lib);
    }
  });

  it('Unicode (NFD), spaces, quotes and a newline in names: COCO names the file on disk; YOLO labels parse back within 1e-6', async () => {
    const nfd = 'Cafe\u0301 "x".jpg';
    const nl = 'new\nline .jpg';
    const box = { json: { yolov8: yolo([obj({ coordinates_percent: { x: 10, y: 10, width: 20, height: 20 } })]) } };
    const lib = makeTree({ [nfd]: FAKE_JPEG, [nfd.replace('.jpg', '.json')]: box, [nl]: FAKE_JPEG, [nl.replace('.jpg', '.json')]: box });
    try {
      const file = join(out, 'uni.json');
      const { findings } = await run(lib, { format: 'coco', output: file });
      assert.deepEqual(findings, []);
      const doc = cocoOf(file);
      for (const im of doc.images) assert.ok(existsSync(join(lib, im.file_name)), JSON.stringify(im.file_name));
      assert.equal(doc.images.length, 2);
      const dir = join(out, 'uni-y');
      await run(lib, { format: 'yolo', output: dir });
      for (const name of [nfd, nl]) {
        assert.ok(lstatSync(join(dir, 'images', name)).isSymbolicLink());
        const text = readFileSync(join(dir, 'labels', name.replace('.jpg', '.txt')), 'utf8');
        const [c, cx, cy, w, h] = text.trim().split(' ').map(Number);
        assert.equal(c, 0);
        for (const [a, b] of [[cx, 0.2], [cy, 0.2], [w, 0.2], [h, 0.2]]) assert.ok(Math.abs(a - b) <= 1e-6);
      }
    } finally {
      removeTree(lib);
    }
  });

  it('bin sidecars give the bytes their JSON copies give (coco, yolo, embeddings), 25 vs 25.0 kept', async () => {
    const data = (name: string) =>
      `{"face_detection": {"insightface": {"success": true, "faces": [{"bbox": {"x": 0.1, "y": 0.25, "width": 0.2, "height": 0.125}, "confidence": 1.0, "encoding": [${enc(512, -0.3).map((v) => String(v)).join(', ')}]}], "metadata": {"image_width": 1000, "image_height": 500}}, ` +
      `"unified": {"success": true, "faces": [{"bbox": [100, 50, 200, 100], "confidence": 0.8123456835746765, "encoding": null}], "face_count": 1}}, ` +
      `"yolov8": {"success": true, "objects": [{"class_name": "ball", "coordinates_percent": {"x": 25, "y": 25.0, "width": 10.5, "height": 3}, "confidence": 0.22490839660167694}], "metadata": {"image_width": 1000, "image_height": 500}}, ` +
      `"sidecar_info": {"image_path": "${name}"}}`;
    const spec: Record<string, TreeNode> = {};
    for (const n of ['a', 'b', 'c']) {
      spec[`${n}.jpg`] = FAKE_JPEG;
      spec[`${n}.json`] = data(`${n}.jpg`);
    }
    const js = makeTree(spec);
    const bn = makeTree(spec);
    try {
      const conv = await runCli(['convert', bn, '--format', 'bin']);
      assert.equal(conv.code, 0, conv.stderr);
      assert.ok(existsSync(join(bn, 'a.bin')) && !existsSync(join(bn, 'a.json')));
      const norm = (s: string, root: string) => s.replaceAll(root, '<root>').replace(/\.(json|bin)"/g, '.<sc>"');
      for (const format of ['coco', 'yolo', 'embeddings'] as const) {
        const o1 = join(out, `jb-json-${format}${format === 'embeddings' ? '.npy' : ''}`);
        const o2 = join(out, `jb-bin-${format}${format === 'embeddings' ? '.npy' : ''}`);
        for (const engine of ['inline', 'threads'] as const) {
          await run(js, { format, output: o1, faces: format !== 'embeddings', engine, workers: 2 });
          await run(bn, { format, output: o2, faces: format !== 'embeddings', engine, workers: 2 });
          const read = (p: string, root: string) =>
            norm(format === 'yolo' ? JSON.stringify(listTree(p)).replaceAll(p, '<out>') : readFileSync(p, 'latin1') + (format === 'embeddings' ? readFileSync(p.replace(/\.npy$/, '.jsonl'), 'utf8') : ''), root);
          assert.equal(read(o2, bn), read(o1, js), `${format} ${engine}: bin vs json`);
        }
      }
      const c = readFileSync(join(out, 'jb-bin-coco'), 'utf8');
      assert.match(c, /"score":1\.0,/);
      assert.match(c, /"score":0\.22490839660167694,/);
    } finally {
      removeTree(js);
      removeTree(bn);
    }
  });

  it('an encrypted sidecar without its key: exit 2, an existing output untouched, no temp litter', async () => {
    const lib = makeTree({ 'a.jpg': FAKE_JPEG, 'a.json': { json: { yolov8: yolo([obj({ coordinates_pixels: { x: 1, y: 1, width: 2, height: 2 } })]) } } });
    const keyDir = tempDir('isc-atk-key-');
    const o = tempDir('isc-atk-enc-');
    try {
      const key = join(keyDir, 'k');
      assert.equal((await runCli(['keygen', '-o', key])).code, 0);
      assert.equal((await runCli(['convert', lib, '--format', 'bin', '--encrypt', '--key-file', key])).code, 0);
      for (const [format, name] of [['coco', 'c.json'], ['yolo', 'y'], ['embeddings', 'e.npy']] as const) {
        const target = join(o, name);
        if (format === 'yolo') {
          mkdirSync(target);
        } else writeFileSync(target, 'EARLIER');
        const before = readdirSync(o).sort();
        const r = await runCli(['export', lib, '--format', format, '-o', target], { env: { IMAGE_SIDECAR_KEY_FILE: undefined, IMAGE_SIDECAR_PASSPHRASE: undefined } });
        assert.equal(r.code, 2, `${format}: ${r.stderr}`);
        assert.match(r.stderr, /encrypt/i);
        if (format !== 'yolo') assert.equal(readFileSync(target, 'utf8'), 'EARLIER');
        assert.deepEqual(readdirSync(o).sort(), before, `${format}: litter`);
        const withKey = await runCli(['export', lib, '--format', format, '-o', target, '--key-file', key]);
        assert.equal(withKey.code, 0, withKey.stderr);
      }
    } finally {
      removeTree(lib);
      removeTree(keyDir);
      removeTree(o);
    }
  });
});

// ===================================================================== 2. embeddings

const HAS_NUMPY = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

function py(code: string, args: string[]): Json {
  const r = spawnSync('python3', ['-c', code, ...args], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: join(process.cwd(), 'clients', 'python') } });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const NUMPY_CHECK = `
import sys, json, numpy
p = sys.argv[1]
a = numpy.load(p, mmap_mode='r')
with open(p, 'rb') as f:
    head = f.read(10)
    hl = int.from_bytes(head[8:10], 'little')
rows = [json.loads(l) for l in open(p[:-4] + '.jsonl', encoding='utf-8') if l.strip()]
from image_sidecar.datasets import load_embeddings
v, r2 = load_embeddings(p)
print(json.dumps({'dtype': a.dtype.str, 'shape': list(a.shape), 'offset': 10 + hl, 'c': bool(a.flags['C_CONTIGUOUS']), 'rows': len(rows), 'client': [list(v.shape), len(r2)], 'first': [float(x) for x in a[0][:4]] if a.shape[0] else []}))
`;

describe('attack 2: the embeddings matrix', { skip: HAS_NUMPY ? false : 'no numpy' }, () => {
  let out: string;
  before(() => {
    out = tempDir('isc-atk-emb-');
  });
  after(() => removeTree(out));

  it('an empty library is still a valid .npy of shape (0, 512) with an empty rows file, loadable by numpy and load_embeddings', async () => {
    const lib = tempDir('isc-atk-empty-');
    try {
      const file = join(out, 'empty.npy');
      const r = await runCli(['export', lib, '--format', 'embeddings', '-o', file, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(readFileSync(file.replace('.npy', '.jsonl'), 'utf8'), '');
      const info = py(NUMPY_CHECK, [file]);
      assert.deepEqual(info.shape, [0, 512]);
      assert.equal(info.dtype, '<f4');
      assert.equal(info.offset % 64, 0);
      assert.deepEqual(info.client, [[0, 512], 0]);
    } finally {
      removeTree(lib);
    }
  });

  it('rows equal `read IMG --json` float32-rounded; 128 and 512 never mixed; null counted; strings and float32 overflow are findings, the rest kept; numpy mmap loads it', async () => {
    const big = enc(512, 0.1);
    big[3] = 3.4028234663852886e38; // FLT_MAX: fits
    big[8] = 3.4028235e38; // rounds down to FLT_MAX: fits
    big[4] = -1e-46; // underflows to -0 in float32: fits (rounding)
    big[5] = 0.22490839660167694;
    const over = enc(512);
    over[7] = 3.5e38;
    const str: unknown[] = enc(512);
    str[2] = '0.5';
    const lib = makeTree({
      'a.jpg': FAKE_JPEG,
      'a.json': {
        json: {
          face_detection: {
            success: true,
            faces: [
              { bbox: { x: 0.1, y: 0.1, width: 0.1, height: 0.1 }, encoding: big, confidence: 0.9 },
              { bbox: { x: 0.2, y: 0.1, width: 0.1, height: 0.1 }, encoding: null },
              { bbox: { x: 0.3, y: 0.1, width: 0.1, height: 0.1 }, encoding: enc(128) },
              { bbox: { x: 0.4, y: 0.1, width: 0.1, height: 0.1 }, encoding: over },
              { bbox: { x: 0.5, y: 0.1, width: 0.1, height: 0.1 }, encoding: str },
              { bbox: { x: 0.6, y: 0.1, width: 0.1, height: 0.1 } },
              { bbox: { x: 0.7, y: 0.1, width: 0.1, height: 0.1 }, encoding: enc(512, -0.7) },
            ],
            metadata: { image_width: 100, image_height: 100 },
          },
        },
      },
      'b.jpg': FAKE_JPEG,
      'b.json': { json: { Face_detector: { metadata: { image_dimensions: { width: 10, height: 10 } }, faces: [{ coordinates: { x: 1, y: 1, width: 2, height: 2 }, face_encoding: enc(128, 0.5) }] } } },
    });
    try {
      const file = join(out, 'm.npy');
      const r = await runCli(['export', lib, '--format', 'embeddings', '-o', file, '--json']);
      assert.equal(r.code, 1, r.stderr);
      const rep = JSON.parse(r.stdout);
      assert.equal(rep.rows, 2);
      assert.equal(rep.no_encoding, 2);
      assert.deepEqual(rep.other_dims, { 128: 2 });
      assert.equal(rep.findings, 1, 'one sidecar, two faces left out');
      assert.match(r.stderr, /face embeddings left out at 2 place\(s\)/);
      const info = py(NUMPY_CHECK, [file]);
      assert.deepEqual(info.shape, [2, 512]);
      assert.equal(info.dtype, '<f4');
      assert.equal(info.rows, 2);
      assert.deepEqual(info.client, [[2, 512], 2]);
      const read = JSON.parse((await runCli(['read', join(lib, 'a.jpg'), '--json'])).stdout);
      const want = [read.face_detection.faces[0].encoding, read.face_detection.faces[6].encoding].flat().map(Math.fround);
      const b = readFileSync(file);
      const got = Array.from({ length: 1024 }, (_, i) => b.readFloatLE(128 + 4 * i));
      assert.deepEqual(got, want);
      assert.ok(Object.is(got[4], -0), 'a float32 underflow keeps its sign');
      const rows = readFileSync(file.replace('.npy', '.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(rows.map((x) => x.face), [0, 6]);
      // --dim 128 takes only the 128s, never the 512s
      const f128 = join(out, 'm128.npy');
      const r128 = JSON.parse((await runCli(['export', lib, '--format', 'embeddings', '--dim', '128', '-o', f128, '--json'])).stdout);
      assert.equal(r128.rows, 2);
      assert.deepEqual(py(NUMPY_CHECK, [f128]).shape, [2, 128]);
    } finally {
      removeTree(lib);
    }
  });

  it('--dim that is not a positive integer is a usage error (exit 2)', async () => {
    const lib = tempDir('isc-atk-dim-');
    try {
      for (const d of ['0', '-1', '1.5', 'abc', '']) {
        const r = await runCli(['export', lib, '--format', 'embeddings', '--dim', d, '-o', join(out, 'd.npy')]);
        assert.equal(r.code, 2, `--dim ${JSON.stringify(d)}: ${r.code} ${r.stderr}`);
      }
    } finally {
      removeTree(lib);
    }
  });
});

// ===================================================================== 3. outputs

describe('attack 3: outputs atomic and safe', () => {
  let lib: string;
  let out: string;
  before(() => {
    lib = makeTree({
      'IMG_1.jpg': FAKE_JPEG,
      'IMG_1.json': { json: { yolov8: yolo([obj({ coordinates_pixels: { x: 1, y: 1, width: 2, height: 2 } })]), face_detection: { success: true, faces: [{ bbox: { x: 0.1, y: 0.1, width: 0.1, height: 0.1 }, encoding: enc(512) }], metadata: { image_width: 1000, image_height: 500 } } } },
      'sub/IMG_2.jpg': FAKE_JPEG,
      'sub/IMG_2.json': { json: { yolov8: yolo([]) } },
    });
    out = tempDir('isc-atk-o-');
  });
  after(() => {
    removeTree(lib);
    removeTree(out);
  });

  it('-o over a sidecar, over an image, through a symlink to a sidecar, a yolo folder through a symlinked folder into the library: refused (exit 2), the library unchanged', async () => {
    const before = JSON.stringify(listTree(lib));
    symlinkSync(join(lib, 'IMG_1.json'), join(out, 'link.json'));
    symlinkSync(join(lib, 'sub'), join(out, 'libsub'));
    const cases: [string, string][] = [
      ['coco', join(lib, 'IMG_1.json')],
      ['coco', join(lib, 'IMG_1.jpg')],
      ['coco', join(out, 'link.json')],
      ['embeddings', join(lib, 'IMG_1.json')],
      ['embeddings', join(lib, 'sub', 'IMG_2.jpg')],
      ['yolo', join(out, 'libsub', 'ds')],
      ['yolo', join(lib, 'sub')],
      ['yolo', lib],
      ['yolo', dirname(lib)],
    ];
    for (const [format, o] of cases) {
      const r = await runCli(['export', lib, '--format', format, '-o', o]);
      assert.equal(r.code, 2, `${format} -o ${o}: exit ${r.code} ${r.stderr}`);
    }
    assert.equal(JSON.stringify(listTree(lib)), before);
  });

  it('coco or embeddings -o inside the library never leaves a file the next scan takes for a sidecar (an orphan or another tool\'s)', async () => {
    const lib2 = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': { json: { yolov8: yolo([]) } } });
    try {
      const r = await runCli(['export', lib2, '--format', 'coco', '-o', join(lib2, 'coco.json')]);
      if (r.code === 0) {
        const scan = await runCli(['scan', lib2, '--json']);
        assert.doesNotMatch(scan.stdout, /"(orphan|unrelated)":\s*[1-9]/, `after export -o ${lib2}/coco.json: ${scan.stdout.slice(0, 600)}`);
      } else assert.equal(r.code, 2);
    } finally {
      removeTree(lib2);
    }
  });

  it('a read-only destination: exit 2, nothing written, no temp litter', async (t) => {
    if (process.getuid?.() === 0) return t.skip('root ignores permissions');
    const ro = join(out, 'ro');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    try {
      for (const [format, name] of [['coco', 'c.json'], ['yolo', 'y'], ['embeddings', 'e.npy']]) {
        const r = await runCli(['export', lib, '--format', format, '-o', join(ro, name)]);
        assert.equal(r.code, 2, r.stderr);
      }
      assert.deepEqual(readdirSync(ro), []);
    } finally {
      chmodSync(ro, 0o755);
    }
  });

  it('a read-only destination (a file that is read-only, a folder that is a file): exit 2, the file kept', async () => {
    const f = join(out, 'locked.json');
    writeFileSync(f, 'KEEP');
    chmodSync(f, 0o444);
    const notDir = join(out, 'plain');
    writeFileSync(notDir, 'x');
    const r1 = await runCli(['export', lib, '--format', 'coco', '-o', join(notDir, 'c.json')]);
    assert.equal(r1.code, 2, r1.stderr);
    const r2 = await runCli(['export', lib, '--format', 'yolo', '-o', notDir]);
    assert.equal(r2.code, 2, r2.stderr);
    assert.equal(readFileSync(notDir, 'utf8'), 'x');
  });

  it('yolo over an existing non-empty folder of something else, or a yolo export holding the user\'s file: refused or replaced whole, never merged', async () => {
    const dir = join(out, 'ydir');
    mkdirSync(join(dir, 'labels'), { recursive: true });
    writeFileSync(join(dir, 'labels', 'mine.txt'), '0 0.5 0.5 0.1 0.1\n');
    const r = await runCli(['export', lib, '--format', 'yolo', '-o', dir]);
    assert.equal(r.code, 2);
    assert.equal(readFileSync(join(dir, 'labels', 'mine.txt'), 'utf8'), '0 0.5 0.5 0.1 0.1\n');
  });

  it('exports of two libraries to one matrix path at once: the rows file beside the matrix is always of the same run', async () => {
    // A's vectors all start at 0.25, B's at 0.75; A's images are a_*, B's b_*.
    const libs = ['a', 'b'].map((tag, k) => {
      const spec: Record<string, TreeNode> = {};
      for (let i = 0; i < 3; i++) {
        spec[`${tag}_${i}.jpg`] = FAKE_JPEG;
        spec[`${tag}_${i}.json`] = { json: { face_detection: { success: true, faces: [{ bbox: { x: 0.1, y: 0.1, width: 0.2, height: 0.2 }, encoding: enc(512, 0.25 + k / 2) }] } } };
      }
      return makeTree(spec);
    });
    const o = tempDir('isc-atk-pair-');
    const npy = join(o, 'faces.npy');
    try {
      for (let round = 0; round < 8; round++) {
        await Promise.all([0, 1, 0, 1].map((k) => run(libs[k], { format: 'embeddings', output: npy })));
        const bytes = readFileSync(npy);
        const first = bytes.readFloatLE(10 + bytes.readUInt16LE(8));
        const image = (JSON.parse(readFileSync(join(o, 'faces.jsonl'), 'utf8').split('\n')[0]) as Json).image as string;
        assert.equal(first === 0.25 ? 'a' : first === 0.75 ? 'b' : String(first), image[0], `round ${round}: rows of ${image[0]}'s run beside a matrix starting ${first}`);
        assert.deepEqual(readdirSync(o).sort(), ['faces.jsonl', 'faces.npy'], 'no temp file, no lock left');
      }
    } finally {
      for (const l of libs) removeTree(l);
      removeTree(o);
    }
  });

  it('exports of two libraries to one matrix path from two processes at once: the pair is always of one run (the lock folder beside the matrix)', async () => {
    const libs = ['a', 'b'].map((tag, k) => {
      const spec: Record<string, TreeNode> = {};
      for (let i = 0; i < 40; i++) {
        spec[`${tag}_${i}.jpg`] = FAKE_JPEG;
        spec[`${tag}_${i}.json`] = { json: { face_detection: { success: true, faces: [{ bbox: null, encoding: enc(512, 0.25 + k / 2) }] } } };
      }
      return makeTree(spec);
    });
    const o = tempDir('isc-atk-pair2-');
    const npy = join(o, 'faces.npy');
    const exportOf = (lib: string) =>
      new Promise<number | null>((resolve) => spawn(process.execPath, [CLI_PATH, 'export', lib, '--format', 'embeddings', '-o', npy, '-q', '--engine', 'inline'], { stdio: 'ignore' }).once('exit', resolve));
    try {
      for (let round = 0; round < 3; round++) {
        assert.deepEqual(await Promise.all([exportOf(libs[0]), exportOf(libs[1])]), [0, 0]);
        const bytes = readFileSync(npy);
        const first = bytes.readFloatLE(10 + bytes.readUInt16LE(8));
        const image = (JSON.parse(readFileSync(join(o, 'faces.jsonl'), 'utf8').split('\n')[0]) as Json).image as string;
        assert.equal(first === 0.25 ? 'a' : first === 0.75 ? 'b' : String(first), image[0], `round ${round}`);
        assert.deepEqual(readdirSync(o).sort(), ['faces.jsonl', 'faces.npy'], 'no temp file, no lock left');
      }
    } finally {
      for (const l of libs) removeTree(l);
      removeTree(o);
    }
  });

  it('a run stopped between the rows\' rename and the matrix\'s leaves its rows without a matrix, never beside the earlier run\'s matrix', async () => {
    const o = tempDir('isc-atk-stop-');
    const npy = join(o, 'faces.npy');
    try {
      await run(lib, { format: 'embeddings', output: npy });
      const rowsBefore = readFileSync(join(o, 'faces.jsonl'), 'utf8');
      const other = makeTree({ 'Z_1.jpg': FAKE_JPEG, 'Z_1.json': { json: { face_detection: { success: true, faces: [{ bbox: null, encoding: enc(512, 0.5) }] } } } });
      exportPublishProbe.betweenRenames = () => {
        throw new Error('stopped between the renames');
      };
      try {
        await assert.rejects(run(other, { format: 'embeddings', output: npy }), /stopped between the renames/);
      } finally {
        exportPublishProbe.betweenRenames = undefined;
        removeTree(other);
      }
      const rows = readFileSync(join(o, 'faces.jsonl'), 'utf8');
      assert.notEqual(rows, rowsBefore);
      assert.match(rows, /"image":"Z_1\.jpg"/, 'the stopped run\'s rows');
      assert.equal(existsSync(npy), false, 'no matrix of another run beside them');
      assert.deepEqual(readdirSync(o).sort(), ['faces.jsonl'], 'no temp file, no lock left');
    } finally {
      removeTree(o);
    }
  });

  it('SIGKILL mid-export leaves nothing under the final name, and the next run succeeds and leaves no temp litter of its own', async () => {
    const big = tempDir('isc-atk-big-');
    const o = tempDir('isc-atk-kill-');
    try {
      let kills = 0;
      await generateSampleLibrary(big, { images: 400, seed: 3, formatMix: { json: 1, bin: 0, legacy: 0 } });
      for (const [format, name] of [['embeddings', 'e.npy'], ['coco', 'c.json'], ['yolo', 'y']] as const) {
        const target = join(o, name);
        const child = spawn(process.execPath, [CLI_PATH, 'export', big, '--format', format, '--include', ...(format === 'embeddings' ? [] : ['faces']), '-o', target, '--engine', 'inline'].filter((a) => a !== '--include' || format !== 'embeddings'), { stdio: 'ignore' });
        // Kill as soon as a temp file or folder of this output appears.
        const t0 = Date.now();
        let killed = false;
        while (Date.now() - t0 < 20_000) {
          if (readdirSync(o).some((n) => n.includes('isc-tmp'))) {
            child.kill('SIGKILL');
            killed = true;
            break;
          }
          await new Promise((r) => setTimeout(r, 5));
        }
        await new Promise((r) => child.once('exit', r));
        if (!killed) continue;
        kills++;
        assert.equal(existsSync(target), false, `${format}: a partial output under the final name`);
        if (format === 'embeddings') assert.equal(existsSync(join(o, 'e.jsonl')), false, 'a partial rows file under the final name');
        const litter = readdirSync(o).filter((n) => n.includes('isc-tmp'));
        const again = await runCli(['export', big, '--format', format, '-o', target]);
        assert.ok(again.code === 0 || again.code === 1, again.stderr);
        assert.ok(existsSync(target));
        const after = readdirSync(o).filter((n) => n.includes('isc-tmp'));
        assert.deepEqual(after, [], `${format}: temp litter after the next run (the killed run's: ${litter.join(', ')})`);
      }
      assert.ok(kills >= 2, `killed mid-way ${kills} times`);
    } finally {
      removeTree(big);
      removeTree(o);
    }
  });
});

// ===================================================================== 4. shards, engines, index, filters

describe('attack 4: shards + merge, engines, the index and filters give the bytes of one run', () => {
  let lib: string;
  let out: string;
  before(() => {
    const spec: Record<string, TreeNode> = {};
    for (let i = 0; i < 12; i++) {
      spec[`d${i % 3}/IMG_${i}.jpg`] = FAKE_JPEG;
      spec[`d${i % 3}/IMG_${i}.json`] = {
        json: {
          yolov8: yolo([obj({ coordinates_pixels: { x: i, y: 1, width: 20, height: 20 } }, { class_name: i % 2 ? 'ball' : 'person' })]),
          face_detection: { success: true, faces: Array.from({ length: i % 4 }, (_, k) => ({ bbox: { x: 0.1 * k, y: 0.1, width: 0.05, height: 0.05 }, encoding: enc(512, i + k) })), metadata: { image_width: 1000, image_height: 500 } },
        },
      };
    }
    // A YOLO label clash, a finding, a corrupt file.
    spec['d0/IMG_0.png'] = FAKE_JPEG;
    spec['d0/IMG_0.png.json'] = { json: { yolov8: yolo([]) } };
    spec['d1/bad.jpg'] = FAKE_JPEG;
    spec['d1/bad.json'] = { json: { yolov8: yolo([obj({ xywh: [1, 2, 3, 4] })]) } };
    spec['d2/corrupt.jpg'] = FAKE_JPEG;
    spec['d2/corrupt.json'] = '{"yolov8": ';
    lib = makeTree(spec);
    out = tempDir('isc-atk-sh-');
  });
  after(() => {
    removeTree(lib);
    removeTree(out);
  });

  const read = (format: string, p: string) =>
    format === 'yolo' ? JSON.stringify(listTree(p)).replaceAll(p, '<out>') : readFileSync(p, 'latin1') + (format === 'embeddings' ? readFileSync(p.replace(/\.npy$/, '.jsonl'), 'utf8') : '');

  for (const [fi, format] of (['coco', 'yolo', 'embeddings'] as const).entries()) {
    it(`${format}: CLI shards (2 and 3 of them) + merge = one run, bytes and exit code; --engine threads and --index the same`, async () => {
      const ext = format === 'yolo' ? '' : format === 'coco' ? '.json' : '.npy';
      const inc = format === 'embeddings' ? [] : ['--include', 'faces'];
      const whole = join(out, `${format}-whole${ext}`);
      const one = await runCli(['export', lib, '--format', format, ...inc, '-o', whole, '--json', '--engine', 'inline']);
      assert.equal(one.code, 1, one.stderr);
      const base = read(format, whole);
      for (const n of inTurn([2, 3], fi)) {
        const shards = Array.from({ length: n }, (_, i) => join(out, `${format}-${n}-s${i}.jsonl`));
        for (let i = 0; i < n; i++) {
          const s = await runCli(['export', lib, '--format', format, ...inc, '--shard', `${i}/${n}`, '-o', shards[i]]);
          assert.ok(s.code === 0 || s.code === 1, s.stderr);
        }
        const merged = join(out, `${format}-merged-${n}${ext}`);
        const m = await runCli(['merge', ...shards, '-o', merged, '--json']);
        assert.equal(m.code, one.code, `merge of ${n} shards exits as the run does: ${m.stderr}`);
        assert.equal(read(format, merged), base, `${format}: merge of ${n}`);
      }
      const threads = join(out, `${format}-threads${ext}`);
      assert.equal((await runCli(['export', lib, '--format', format, ...inc, '-o', threads, '--engine', 'threads', '-w', '2'])).code, 1);
      assert.equal(read(format, threads), base, 'threads');
      const indexed = join(out, `${format}-index${ext}`);
      for (let k = 0; k < 2; k++) await runCli(['export', lib, '--format', format, ...inc, '-o', indexed, '--index', join(out, `idx-${format}`)]);
      assert.equal(read(format, indexed), base, 'index');
      const noIndex = join(out, `${format}-noindex${ext}`);
      await runCli(['export', lib, '--format', format, ...inc, '-o', noIndex, '--no-index']);
      assert.equal(read(format, noIndex), base, 'no-index');
    });
  }

  it('--where / --operation: shards + merge give the filtered run\'s bytes; --operation yolov8 never takes face_detection\'s boxes', async () => {
    const filters = [['--where', 'faces >= 2'], ['--operation', 'yolov8'], ['--operation-type', 'face_detection']];
    for (const f of filters) {
      const whole = join(out, 'f-whole.json');
      await runCli(['export', lib, '--format', 'coco', '--include', 'faces', ...f, '-o', whole]);
      const base = readFileSync(whole, 'utf8');
      const doc = JSON.parse(base);
      if (f[1] === 'yolov8') assert.ok(doc.annotations.every((a: Json) => a.source.operation === 'yolov8') && doc.annotations.length > 0);
      if (f[0] === '--where') {
        const per = new Map<number, number>();
        for (const a of doc.annotations) if (a.source.list === 'faces') per.set(a.image_id, (per.get(a.image_id) ?? 0) + 1);
        assert.ok(doc.images.length > 0 && doc.images.every((i: Json) => (per.get(i.id) ?? 0) >= 2), f.join(' '));
      }
      const shards = [0, 1, 2].map((i) => join(out, `f-s${i}.jsonl`));
      for (let i = 0; i < 3; i++) await runCli(['export', lib, '--format', 'coco', '--include', 'faces', ...f, '--shard', `${i}/3`, '-o', shards[i]]);
      const merged = join(out, 'f-merged.json');
      await runCli(['merge', ...shards, '-o', merged]);
      assert.equal(readFileSync(merged, 'utf8'), base, f.join(' '));
    }
  });

  it('merge refuses shards of different options (--include, --dim, --operation)', async () => {
    const a = join(out, 'o-a.jsonl');
    const b = join(out, 'o-b.jsonl');
    for (const [x, y] of [
      [['--format', 'coco', '--include', 'faces'], ['--format', 'coco']],
      [['--format', 'embeddings'], ['--format', 'embeddings', '--dim', '128']],
      [['--format', 'coco', '--operation', 'yolov8'], ['--format', 'coco']],
    ]) {
      await runCli(['export', lib, ...x, '--shard', '0/2', '-o', a]);
      await runCli(['export', lib, ...y, '--shard', '1/2', '-o', b]);
      const m = await runCli(['merge', a, b, '-o', join(out, 'o-m.json')]);
      assert.equal(m.code, 2, `merge of ${x.join(' ')} and ${y.join(' ')}: ${m.code} ${m.stderr}`);
      rmSync(join(out, 'o-m.json'), { force: true });
    }
  });
});


// ===================================================================== 5. users' files and pairs

/** Every file under `dir` by path and sha256 (a big file hashed, not held as text). */
function treeDigest(dir: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else out.push(`${relative(dir, p)} ${st.isSymbolicLink() ? 'link' : createHash('sha256').update(readFileSync(p)).digest('hex')}`);
    }
  };
  walk(dir);
  return out.join('\n');
}

describe('attack 5: never over a user\'s files; each image with the sidecar its read takes; every finding named', () => {
  let out: string;
  before(() => {
    out = tempDir('isc-atk5-');
  });
  after(() => removeTree(out));
  const detection = { yolov8: yolo([obj({ coordinates_pixels: { x: 1, y: 1, width: 2, height: 2 } })]) };
  /** A face detection result of one face, its 512-float encoding starting at `v` (enc). */
  const face = (v: number) => ({ success: true, faces: [{ bbox: { x: 0.1, y: 0.1, width: 0.2, height: 0.2 }, encoding: enc(512, v) }] });
  /** A library of `n` images `i0.jpg` … each with the same sidecar. */
  const imagesEach = (n: number, sidecar: TreeNode) => {
    const spec: Record<string, TreeNode> = {};
    for (let i = 0; i < n; i++) {
      spec[`i${i}.jpg`] = FAKE_JPEG;
      spec[`i${i}.json`] = sidecar;
    }
    return makeTree(spec);
  };

  it('yolo -o over a folder holding our data.yaml (a copy, or a link to an earlier export\'s) beside other files: refused, every file kept; an earlier export with Ultralytics\' label caches is replaced', async () => {
    const lib = makeTree({ 'a.jpg': FAKE_JPEG, 'a.json': { json: detection } });
    try {
      const earlier = join(out, 'earlier');
      await run(lib, { format: 'yolo', output: earlier });
      for (const how of ['copy', 'link'] as const) {
        const proj = makeTree({ 'src/train.py': 'my code\n', 'NOTES.md': 'notes\n' }, join(out, `proj-${how}`));
        if (how === 'copy') writeFileSync(join(proj, 'data.yaml'), readFileSync(join(earlier, 'data.yaml')));
        else symlinkSync(join(earlier, 'data.yaml'), join(proj, 'data.yaml'));
        await assert.rejects(run(lib, { format: 'yolo', output: proj }), /not an earlier yolo export/);
        assert.equal(readFileSync(join(proj, 'src', 'train.py'), 'utf8'), 'my code\n', how);
        assert.equal(readFileSync(join(proj, 'NOTES.md'), 'utf8'), 'notes\n', how);
      }
      // A file of the user's inside an export's labels/ that is no label: refused too.
      const mixed = join(out, 'mixed');
      await run(lib, { format: 'yolo', output: mixed });
      writeFileSync(join(mixed, 'labels', 'train.py'), 'mine\n');
      await assert.rejects(run(lib, { format: 'yolo', output: mixed }), /labels\/train\.py/);
      assert.equal(readFileSync(join(mixed, 'labels', 'train.py'), 'utf8'), 'mine\n');
      // A photo (a regular file) added to a linked export's images/, a label with no image, another cache: refused.
      for (const [rel, why] of [['images/extra.jpg', /images\/extra\.jpg/], ['labels/hand_labelled.txt', /labels\/hand_labelled\.txt/], ['embeddings.cache', /embeddings\.cache/]] as const) {
        const d = join(out, `more-${rel.replace(/\W/g, '_')}`);
        await run(lib, { format: 'yolo', output: d });
        writeFileSync(join(d, rel), 'mine\n');
        await assert.rejects(run(lib, { format: 'yolo', output: d }), why);
        assert.equal(readFileSync(join(d, rel), 'utf8'), 'mine\n');
      }
      // Ultralytics writes labels.cache (and labels/<folder>.cache) after a training run: still ours.
      writeFileSync(join(earlier, 'labels.cache'), 'cache');
      mkdirSync(join(earlier, 'labels', 'x'));
      writeFileSync(join(earlier, 'labels', 'x.cache'), 'cache');
      const { report } = await run(lib, { format: 'yolo', output: earlier });
      assert.equal(report.images, 1);
      assert.ok(!existsSync(join(earlier, 'labels.cache')));
    } finally {
      removeTree(lib);
    }
  });

  it('coco or embeddings -o over an orphaned sidecar, a sidecar of an image of an unknown type, or a damaged file in a sidecar\'s name: refused (exit 2), the file kept; over an earlier export, replaced', async () => {
    const orphan = { face_detection: { success: true, faces: [] }, sidecar_info: { image_path: 'old/IMG_8.jpg' } };
    const lib = makeTree({
      'a/IMG_1.jpg': FAKE_JPEG,
      'a/IMG_1.json': { json: detection },
      'old/IMG_8.json': { json: orphan },
      'old/IMG_9.json': '{"sidecar_info": {"image_path": "IMG_9.jpg"}, "face_detection": {"success": tr',
      'old/IMG_7.bin': encodeSidecar(orphan, 'bin').subarray(0, 40),
      'old/IMG_6.json': '{"Face_detector": {"faces": [{"bbox": [1, 2',
      'old/IMG_5.json': Buffer.concat([Buffer.alloc(64), Buffer.from('{"face_detection": {}}')]),
      'c/clip.xyz': 'video',
      'c/clip.json': { json: detection },
    });
    try {
      // An orphan larger than any sidecar is read (sparse: its first member is all that is looked at).
      writeFileSync(join(lib, 'old', 'IMG_4.json'), '{"face_detection": {"success": true, "faces": [');
      truncateSync(join(lib, 'old', 'IMG_4.json'), 65 * 1024 * 1024);
      const before = treeDigest(lib);
      for (const [format, o] of [['coco', 'old/IMG_8.json'], ['embeddings', 'c/clip.json'], ['coco', 'old/IMG_9.json'], ['coco', 'old/IMG_7.bin'], ['coco', 'old/IMG_6.json'], ['coco', 'old/IMG_5.json'], ['coco', 'old/IMG_4.json']]) {
        const r = await runCli(['export', lib, '--format', format, '-o', join(lib, o)]);
        assert.equal(r.code, 2, `${format} -o ${o}: exit ${r.code} ${r.stderr}`);
        assert.match(r.stderr, /which an output never replaces/);
      }
      assert.equal(treeDigest(lib), before);
      // An earlier export (and a stats report), or text that was never a sidecar, in a sidecar's name next to no image: replaced.
      writeFileSync(join(out, 'again.json'), 'EARLIER');
      const coco = join(out, 'again.json');
      for (let i = 0; i < 2; i++) assert.equal((await runCli(['export', lib, '--format', 'coco', '-o', coco])).code, 1, 'exit 1: the orphans and the damaged files are findings');
      assert.ok(Array.isArray(cocoOf(coco).annotations));
      const stats = join(out, 'stats.json');
      for (let i = 0; i < 2; i++) assert.ok([0, 1].includes((await runCli(['stats', lib, '--no-index', '-o', stats])).code!));
      assert.ok('total_images' in cocoOf(stats));
    } finally {
      removeTree(lib);
    }
  });

  it('the embeddings\' rows (a name the user never gave) are never written through a link planted to another file; a link to their place beside a linked matrix is followed', async () => {
    const lib = makeTree({ 'a.jpg': FAKE_JPEG, 'a.json': { json: { face_detection: { success: true, faces: [{ bbox: { x: 0.1, y: 0.1, width: 0.1, height: 0.1 }, encoding: enc(512) }] } } } });
    try {
      const dir = join(out, 'rows');
      mkdirSync(dir);
      writeFileSync(join(dir, 'victim.txt'), 'IMPORTANT\n');
      symlinkSync(join(dir, 'victim.txt'), join(dir, 'faces.jsonl'));
      await assert.rejects(run(lib, { format: 'embeddings', output: join(dir, 'faces.npy') }), /rows .*symlink/);
      assert.equal(readFileSync(join(dir, 'victim.txt'), 'utf8'), 'IMPORTANT\n');
      assert.ok(!existsSync(join(dir, 'faces.npy')));
      // A FIFO planted there: refused, never waited on.
      const fifoDir = join(out, 'rows-fifo');
      mkdirSync(fifoDir);
      spawnSync('mkfifo', [join(fifoDir, 'faces.jsonl')]);
      await assert.rejects(run(lib, { format: 'embeddings', output: join(fifoDir, 'faces.npy') }), /not a regular file/);
      // Both linked to another disk: allowed, the files written there.
      const disk = join(out, 'disk');
      mkdirSync(disk);
      const linked = join(out, 'linked');
      mkdirSync(linked);
      writeFileSync(join(disk, 'm.npy'), 'an earlier matrix');
      writeFileSync(join(disk, 'm.jsonl'), 'its rows');
      symlinkSync(join(disk, 'm.npy'), join(linked, 'm.npy'));
      symlinkSync(join(disk, 'm.jsonl'), join(linked, 'm.jsonl'));
      const { report } = await run(lib, { format: 'embeddings', output: join(linked, 'm.npy') });
      assert.equal(report.rows, 1);
      assert.equal(readFileSync(join(disk, 'm.jsonl'), 'utf8').split('\n').filter(Boolean).length, 1);
    } finally {
      removeTree(lib);
    }
  });

  it('coco\'s annotations spill leaves nothing behind: to a pipe closed early, or to a device, no temp file in the temp folder or beside the output', async () => {
    // Enough images that the output outgrows a pipe's buffer: the writer meets the closed pipe.
    const lib = imagesEach(1500, { json: detection, indent: 0 });
    const tmp = tempDir('isc-atk5-tmp-');
    try {
      // A shell's pipe closed after a few bytes (`| head -c 10`), by '-' and by /dev/stdout; a device.
      for (const o of ['-', '/dev/stdout', '/dev/null']) {
        const r = spawnSync('sh', ['-c', `"$0" "$1" export "$2" --format coco -o "$3" | head -c 10 >/dev/null`, process.execPath, CLI_PATH, lib, o], { env: { ...process.env, TMPDIR: tmp }, encoding: 'utf8' });
        assert.equal(r.status, 0, `-o ${o}: ${r.stderr}`);
        assert.deepEqual(readdirSync(tmp), [], `-o ${o}: left in the temp folder`);
      }
      // /dev/stdout is standard output, as '-': a shell's `>> log` behind it is appended to, never replaced.
      const log = join(out, 'log.txt');
      writeFileSync(log, 'line 1 of my log\n');
      const app = spawnSync('sh', ['-c', `"$0" "$1" export "$2" --format coco -o /dev/stdout >> "$3"`, process.execPath, CLI_PATH, lib, log], { encoding: 'utf8' });
      assert.equal(app.status, 0, app.stderr);
      assert.ok(readFileSync(log, 'utf8').startsWith('line 1 of my log\n{"info"'));
      // So is every other path to it (the log was replaced by the export, exit 0).
      for (const o of ['/dev/./stdout', '/dev//stdout', '/proc/thread-self/fd/1']) {
        writeFileSync(log, 'line 1 of my log\n');
        const again = spawnSync('sh', ['-c', `"$0" "$1" export "$2" --format jsonl -o "$4" >> "$3"`, process.execPath, CLI_PATH, lib, log, o], { encoding: 'utf8' });
        assert.equal(again.status, 0, `-o ${o}: ${again.stderr}`);
        assert.ok(readFileSync(log, 'utf8').startsWith('line 1 of my log\n{'), `-o ${o}: the log was replaced`);
      }
      const emb = await runCli(['export', lib, '--format', 'embeddings', '-o', '/dev/stdout']);
      assert.equal(emb.code, 2);
      assert.match(emb.stderr, /not stdout/);
      // A file output: the spill sits beside it only while open (removed at once).
      const file = join(out, 'spill', 'c.json');
      mkdirSync(dirname(file));
      await run(lib, { format: 'coco', output: file });
      assert.deepEqual(readdirSync(dirname(file)), ['c.json']);
    } finally {
      removeTree(lib);
      removeTree(tmp);
    }
  });

  it('an image that is a FIFO: yolo --copy-images names it and goes on (it waited forever)', async () => {
    const lib = makeTree({ 'a.jpg': FAKE_JPEG, 'a.json': { json: detection }, 'b.json': { json: detection } });
    try {
      spawnSync('mkfifo', [join(lib, 'b.jpg')]);
      const { report, findings } = await run(lib, { format: 'yolo', output: join(out, 'fifo'), copyImages: true });
      assert.equal(report.images, 1);
      assert.ok(findings.some((f) => f.path.endsWith('b.json') && /not a regular file/.test(f.message)), JSON.stringify(findings));
    } finally {
      removeTree(lib);
    }
  });

  it('RAW+JPEG, the JPEG with its own sidecar beside a shared one recording neither image: the JPEG exported with its own (as `read` takes it), the shared file a finding, never another file\'s vector under the JPEG', async () => {
    for (const own of ['IMG_1.JPG', 'IMG_1.CR2']) {
      const lib = makeTree({
        'IMG_1.CR2': FAKE_JPEG,
        'IMG_1.JPG': FAKE_JPEG,
        'IMG_1.json': { json: { face_detection: face(0.75), sidecar_info: { image_path: 'elsewhere/IMG_1.TIF' } } },
        [`${own}.json`]: { json: { face_detection: face(0.25) } },
      });
      try {
        const npy = join(out, `pair-${own}.npy`);
        const { report, findings } = await run(lib, { format: 'embeddings', output: npy });
        assert.equal(report.rows, 1, own);
        const rows = readFileSync(npy.replace(/\.npy$/, '.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Json);
        assert.deepEqual(rows.map((r) => [r.image, r.sidecar]), [[own, `${own}.json`]]);
        const bytes = readFileSync(npy);
        assert.equal(bytes.readFloatLE(128), Math.fround(0.25), 'the own file\'s vector');
        assert.ok(findings.some((f) => f.path === join(lib, 'IMG_1.json') && /whose results these are cannot be told/.test(f.message)), JSON.stringify(findings));
      } finally {
        removeTree(lib);
      }
    }
  });

  it('RAW+JPEG, the JPEG a symlink whose own sidecar is beside its target: the JPEG exported with it (as `read` takes it), a shared stem file recording neither a finding', async () => {
    // [the RAW's own file?]: with it, the JPEG's results left the export unnamed once the stem file
    // came; without it, the stem file (the RAW's read takes it, ambiguous) was dropped unnamed.
    for (const rawOwn of [true, false]) {
      const ext = makeTree({ 'IMG_1.JPG': FAKE_JPEG, 'IMG_1.JPG.json': { json: { face_detection: face(0.25) } } });
      const lib = makeTree({
        'IMG_1.CR2': FAKE_JPEG,
        'IMG_1.JPG': { symlink: join(ext, 'IMG_1.JPG') },
        'IMG_1.json': { json: { face_detection: face(0.75) } },
        ...(rawOwn ? { 'IMG_1.CR2.json': { json: { face_detection: face(0.5) } } } : {}),
      });
      try {
        const npy = join(out, `linked-pair-${rawOwn}.npy`);
        const { findings } = await run(lib, { format: 'embeddings', output: npy });
        const rows = readFileSync(npy.replace(/\.npy$/, '.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Json);
        const bytes = readFileSync(npy);
        const taken = rows.map((r, i) => [r.image, r.sidecar, bytes.readFloatLE(128 + i * 2048)]);
        const jpeg: unknown[] = ['IMG_1.JPG', relative(lib, join(ext, 'IMG_1.JPG.json')), Math.fround(0.25)];
        assert.deepEqual(taken, rawOwn ? [['IMG_1.CR2', 'IMG_1.CR2.json', Math.fround(0.5)], jpeg] : [jpeg], `rawOwn ${rawOwn}`);
        assert.ok(findings.some((f) => f.path === join(lib, 'IMG_1.json') && /whose results these are cannot be told/.test(f.message)), `rawOwn ${rawOwn}: ${JSON.stringify(findings)}`);
      } finally {
        removeTree(lib);
        removeTree(ext);
      }
    }
  });

  it('a JPEG linked from a RAW+JPEG pair outside the library: exported with its own file beside the target (as `read` takes it), never the RAW\'s; a damaged file there is named', async () => {
    const ext = makeTree({
      'IMG_1.CR2': FAKE_JPEG,
      'IMG_1.JPG': FAKE_JPEG,
      'IMG_1.JPG.json': { json: { face_detection: face(0.25), sidecar_info: { image_path: 'IMG_1.JPG' } } },
      'IMG_1.json': { json: { face_detection: face(0.75), sidecar_info: { image_path: 'IMG_1.CR2' } } },
      'A.jpg': FAKE_JPEG,
      'A.json': { json: { face_detection: face(0.5) } },
      'A.bin': 'garbage, first in read order',
    });
    const lib = makeTree({ 'p/IMG_1.JPG': { symlink: join(ext, 'IMG_1.JPG') }, 'p/A.jpg': { symlink: join(ext, 'A.jpg') } });
    try {
      const npy = join(out, 'linked-from-pair.npy');
      const { findings } = await run(lib, { format: 'embeddings', output: npy });
      const rows = readFileSync(npy.replace(/\.npy$/, '.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Json);
      const bytes = readFileSync(npy);
      // It was exported with the RAW's stem file (the first of the target's group): another photo's face.
      assert.deepEqual(rows.map((r, i) => [r.image, r.sidecar, bytes.readFloatLE(128 + i * 2048)]), [
        ['p/A.jpg', relative(lib, join(ext, 'A.json')), Math.fround(0.5)],
        ['p/IMG_1.JPG', relative(lib, join(ext, 'IMG_1.JPG.json')), Math.fround(0.25)],
      ]);
      assert.ok(findings.some((f) => f.path === join(ext, 'IMG_1.json')), `the RAW's file is a finding: ${JSON.stringify(findings)}`);
      // The damaged file beside a target outside the root was named by no one, exit 0.
      assert.ok(findings.some((f) => f.path === join(ext, 'A.bin') && f.kind === 'corrupt'), `the damaged file is named: ${JSON.stringify(findings)}`);
    } finally {
      removeTree(lib);
      removeTree(ext);
    }
  });

  it('RAW+JPEG, the JPEG\'s own sidecar corrupt and the shared one read instead: the corrupt file is named (exit 1), as validate names it', async () => {
    const lib = makeTree({
      'IMG_1.CR2': FAKE_JPEG,
      'IMG_1.JPG': FAKE_JPEG,
      'IMG_1.json': { json: detection },
      'IMG_1.JPG.json': '{"yolov8": {"success": true,\n',
    });
    try {
      for (const format of ['coco', 'embeddings'] as const) {
        const { report, findings } = await run(lib, { format, output: join(out, `corrupt-own-${format}${format === 'coco' ? '.json' : '.npy'}`) });
        assert.equal(report.problems, 1, format);
        assert.ok(findings.some((f) => f.path === join(lib, 'IMG_1.JPG.json') && f.kind === 'corrupt'), `${format}: ${JSON.stringify(findings)}`);
      }
    } finally {
      removeTree(lib);
    }
  });

  it('yolo, RAW+JPEG with a sidecar each: the label goes to the JPEG a trainer decodes, the RAW is the finding', async () => {
    const lib = makeTree({
      'IMG_1.CR2': FAKE_JPEG,
      'IMG_1.CR2.json': { json: { ...detection, sidecar_info: { image_path: 'IMG_1.CR2' } } },
      'IMG_1.JPG': FAKE_JPEG,
      'IMG_1.JPG.json': { json: { yolov8: yolo([obj({ coordinates_pixels: { x: 3, y: 3, width: 4, height: 4 } }), obj({ coordinates_pixels: { x: 5, y: 5, width: 4, height: 4 } })]), sidecar_info: { image_path: 'IMG_1.JPG' } } },
    });
    try {
      // With copies too: the RAW's copy, removed for the JPEG's, is not fsynced afterwards (it failed the export).
      const copies = await run(lib, { format: 'yolo', output: join(out, 'rawjpeg-copies'), copyImages: true });
      assert.deepEqual(readdirSync(join(out, 'rawjpeg-copies', 'images')), ['IMG_1.JPG']);
      assert.equal(copies.report.images, 1);
      const dir = join(out, 'rawjpeg');
      const { report, findings } = await run(lib, { format: 'yolo', output: dir });
      assert.deepEqual(readdirSync(join(dir, 'images')), ['IMG_1.JPG']);
      assert.equal(readFileSync(join(dir, 'labels', 'IMG_1.txt'), 'utf8').split('\n').filter(Boolean).length, 2);
      assert.equal(report.images, 1);
      assert.equal(report.annotations, 2);
      assert.deepEqual(findings.map((f) => f.path), [join(lib, 'IMG_1.CR2.json')]);
    } finally {
      removeTree(lib);
    }
  });

  it('every finding is named on stderr (more than 50), and what made the scan incomplete too (a folder whose name is not UTF-8)', async () => {
    const lib = imagesEach(60, { json: { yolov8: yolo([obj({ xywh: [1, 1, 2, 2] })]) } });
    try {
      const bad = Buffer.concat([Buffer.from(lib + '/d'), Buffer.from([0xff])]);
      mkdirSync(bad);
      const r = await runCli(['export', lib, '--format', 'coco', '-o', join(out, 'named.json')]);
      assert.equal(r.code, 1);
      for (let i = 0; i < 60; i++) assert.ok(r.stderr.includes(`i${i}.json`), `i${i}.json not named`);
      assert.doesNotMatch(r.stderr, /… and \d+ more/);
      assert.match(r.stderr, /not exported \(unreadable\): .*not valid UTF-8/);
    } finally {
      removeTree(lib);
    }
  });
});
