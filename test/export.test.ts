import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { exportSidecars, CSV_COLUMNS, type ExportFormat } from '../src/ops/export.js';
import { csvField, csvRow } from '../src/ops/csv.js';
import { isSidecarError } from '../src/errors.js';
import { FAKE_JPEG, makeTree, removeTree, sidecarData, tempDir, type TreeNode } from './helpers/tree.js';

const WEIRD = 'we,ird "q"\nline';

const quality = {
  quality_assessment: { success: true, quality: { overall_score: 0.8123456835746765, grade: 'B', sharpness: 0.7 }, processing_time: 0.1 },
  sidecar_info: { operation_type: 'quality_assessment', created_at: '2025-10-01T12:40:11.886386' },
};

function legacyBytes(data: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(data));
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(body.length));
  return Buffer.concat([head, body]);
}

function library(): string {
  const spec: Record<string, TreeNode> = {
    '0top.jpg': FAKE_JPEG,
    '0top.json': { json: sidecarData('0top.jpg', 1, 4) },
    'a/IMG_1.jpg': FAKE_JPEG,
    'a/IMG_1.json': { json: sidecarData('IMG_1.jpg', 2, 4) },
    'a/IMG_2.jpg': FAKE_JPEG,
    'a/IMG_2.json': { json: quality },
    'a/b/IMG_3.JPG': FAKE_JPEG,
    'a/b/IMG_3.bin': legacyBytes(sidecarData('IMG_3.JPG', 3, 0)),
    'a/orphan.json': { json: sidecarData('orphan.jpg', 1, 4) },
    'a/corrupt.jpg': FAKE_JPEG,
    'a/corrupt.json': '{"face_detection": {"success": tr',
    'a/missing.jpg': FAKE_JPEG,
    'a/game_detection.json': { json: { success: true, games: [{ game_id: 1, photo_files: ['IMG_1.jpg'] }] } },
    [`a/${WEIRD}.jpg`]: FAKE_JPEG,
    [`a/${WEIRD}.json`]: { json: sidecarData(`${WEIRD}.jpg`, 1, 4) },
    'games/g1/IMG_1.jpg': { symlink: '../../a/IMG_1.jpg' },
  };
  return makeTree(spec);
}

/** Exported image order: scan order (files of a folder before its subfolders, names by code unit). */
const EXPECTED_IMAGES = ['0top.jpg', 'a/IMG_1.jpg', 'a/IMG_2.jpg', `a/${WEIRD}.jpg`, 'a/b/IMG_3.JPG'];

/** A strict RFC 4180 reader (quoted fields may hold commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  while (i < text.length) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        assert.ok(i < text.length, 'unterminated quoted field');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            i++;
            break;
          }
        } else field += text[i++];
      }
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== '\r' && text[i] !== '\n') {
        assert.notEqual(text[i], '"', 'a quote inside an unquoted field');
        field += text[i++];
      }
    }
    row.push(field);
    if (text[i] === ',') i++;
    else {
      assert.equal(text.slice(i, i + 2), '\r\n', `records end with CRLF (at ${i})`);
      i += 2;
      rows.push(row);
      row = [];
    }
  }
  return rows;
}

async function exportToFile(root: string, format: ExportFormat, extra: { operationType?: string; engine?: 'inline' | 'threads' } = {}) {
  const dir = tempDir('isc-export-');
  const out = join(dir, `out.${format}`);
  try {
    const report = await exportSidecars(root, { format, output: out, engine: extra.engine ?? 'inline', workers: 2, operationType: extra.operationType });
    assert.equal(report.output, out);
    assert.deepEqual(readdirSync(dir), [`out.${format}`], 'no temp file left behind');
    return { report, bytes: readFileSync(out) };
  } finally {
    removeTree(dir);
  }
}

test('csv quoting follows RFC 4180', () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField('cr\r'), '"cr\r"');
  assert.equal(csvField(null), '');
  assert.equal(csvField(0.5), '0.5');
  assert.equal(csvRow(['a', 'b,c', 3]), 'a,"b,c",3\r\n');
  assert.deepEqual(parseCsv(csvRow(['x', WEIRD, '', '"'])), [['x', WEIRD, '', '"']]);
});

test('json export: the earlier tool\'s object, in path order, with exact data', async () => {
  const root = library();
  try {
    const { report, bytes } = await exportToFile(root, 'json');
    assert.equal(report.exported, 5);
    assert.equal(report.format, 'json');
    assert.equal(report.complete, true);
    const text = bytes.toString('utf8');
    const doc = JSON.parse(text);
    assert.deepEqual(Object.keys(doc), ['exported_at', 'source_directory', 'sidecars', 'total_sidecars']);
    assert.equal(doc.exported_at, null);
    assert.equal(doc.source_directory, root);
    assert.equal(doc.total_sidecars, 5);
    assert.deepEqual(doc.sidecars.map((s: { image: string }) => s.image), EXPECTED_IMAGES);
    const img1 = doc.sidecars[1];
    assert.deepEqual(img1, { image: 'a/IMG_1.jpg', sidecar: 'a/IMG_1.json', format: 'json', data: sidecarData('IMG_1.jpg', 2, 4) });
    assert.deepEqual(doc.sidecars[2].data, quality);
    const legacy = doc.sidecars[4];
    assert.equal(legacy.sidecar, 'a/b/IMG_3.bin');
    assert.equal(legacy.format, 'legacy');
    assert.deepEqual(legacy.data, sidecarData('IMG_3.JPG', 3, 0));
    // Floats survive bit for bit (the earlier tool's converter changed them).
    assert.equal(Object.is(doc.sidecars[2].data.quality_assessment.quality.overall_score, 0.8123456835746765), true);
    // One entry per line, so the file stays greppable and line-diffable.
    assert.equal(text.split('\n').length, 4 + 5 + 3 + 1); // header lines, entries, closing lines, final LF
  } finally {
    removeTree(root);
  }
});

test('an empty tree exports a valid, empty JSON document', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': FAKE_JPEG });
  try {
    const { report, bytes } = await exportToFile(root, 'json');
    assert.equal(report.exported, 0);
    assert.deepEqual(JSON.parse(bytes.toString('utf8')), { exported_at: null, source_directory: root, sidecars: [], total_sidecars: 0 });
  } finally {
    removeTree(root);
  }
});

test('jsonl export: one object per line', async () => {
  const root = library();
  try {
    const { report, bytes } = await exportToFile(root, 'jsonl');
    assert.equal(report.exported, 5);
    const text = bytes.toString('utf8');
    assert.ok(text.endsWith('\n'));
    const lines = text.slice(0, -1).split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.image), EXPECTED_IMAGES);
    assert.deepEqual(Object.keys(lines[0]), ['image', 'sidecar', 'format', 'data']);
    assert.equal(lines[3].sidecar, `a/${WEIRD}.json`, 'a newline in a name is escaped inside JSON');
    assert.deepEqual(lines[3].data, sidecarData(`${WEIRD}.jpg`, 1, 4));
  } finally {
    removeTree(root);
  }
});

test('csv export: documented columns, one row per image, awkward names survive', async () => {
  const root = library();
  try {
    const { report, bytes } = await exportToFile(root, 'csv');
    assert.equal(report.exported, 5);
    const rows = parseCsv(bytes.toString('utf8'));
    assert.deepEqual(rows[0], [...CSV_COLUMNS]);
    assert.equal(rows.length, 6);
    const byImage = new Map(rows.slice(1).map((r) => [r[0], Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, r[i]]))]));
    assert.deepEqual([...byImage.keys()], EXPECTED_IMAGES);
    assert.deepEqual(byImage.get('a/IMG_1.jpg'), {
      image: 'a/IMG_1.jpg',
      sidecar: 'a/IMG_1.json',
      format: 'json',
      operations: 'face_detection;yolov8',
      faces: '2',
      objects: '1',
      embeddings: '2',
      quality_grade: '',
      quality_score: '',
      size_bytes: String(readFileSync(join(root, 'a/IMG_1.json')).length),
      category: 'ok',
    });
    const q = byImage.get('a/IMG_2.jpg')!;
    assert.equal(q.operations, 'quality_assessment');
    assert.equal(q.quality_grade, 'B');
    assert.equal(Number(q.quality_score), 0.8123456835746765);
    const weird = byImage.get(`a/${WEIRD}.jpg`)!;
    assert.equal(weird.sidecar, `a/${WEIRD}.json`);
    const legacy = byImage.get('a/b/IMG_3.JPG')!;
    assert.equal(legacy.format, 'legacy');
    assert.equal(legacy.faces, '3');
    assert.equal(legacy.embeddings, '0', 'empty encodings are not embeddings');
  } finally {
    removeTree(root);
  }
});

test('two runs give identical bytes, whatever the engine', async () => {
  const root = library();
  try {
    for (const format of ['json', 'jsonl', 'csv'] as const) {
      const a = await exportToFile(root, format);
      const b = await exportToFile(root, format, { engine: 'threads' });
      assert.ok(a.bytes.length > 0);
      assert.ok(a.bytes.equals(b.bytes), `${format} output differs between runs`);
    }
  } finally {
    removeTree(root);
  }
});

test('--operation-type keeps only sidecars with that operation, in any spelling', async () => {
  const root = library();
  try {
    for (const op of ['quality_assessment', 'Quality_assessor', 'QualityAssessment']) {
      const { report, bytes } = await exportToFile(root, 'jsonl', { operationType: op });
      assert.equal(report.exported, 1, op);
      assert.equal(JSON.parse(bytes.toString('utf8')).image, 'a/IMG_2.jpg');
    }
    const faces = await exportToFile(root, 'csv', { operationType: 'face_detection' });
    assert.equal(faces.report.exported, 4);
    assert.ok(!faces.bytes.toString('utf8').includes('IMG_2'));
  } finally {
    removeTree(root);
  }
});

test('a slow stream gets the same bytes, with back-pressure respected', async () => {
  const spec: Record<string, TreeNode> = {};
  for (let i = 0; i < 30; i++) {
    spec[`p/IMG_${String(i).padStart(2, '0')}.jpg`] = FAKE_JPEG;
    spec[`p/IMG_${String(i).padStart(2, '0')}.json`] = { json: sidecarData(`IMG_${i}.jpg`, 2, 512) };
  }
  const root = makeTree(spec);
  try {
    const chunks: Buffer[] = [];
    let refused = 0;
    let buffered = 0;
    let maxBuffered = 0;
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, cb) {
        buffered -= chunk.length;
        chunks.push(chunk);
        setImmediate(cb);
      },
    });
    const write = slow.write.bind(slow);
    slow.write = ((chunk: string | Buffer, ...rest: never[]) => {
      buffered += Buffer.byteLength(chunk);
      maxBuffered = Math.max(maxBuffered, buffered);
      const ok = write(chunk, ...rest);
      if (!ok) refused++;
      return ok;
    }) as typeof slow.write;
    const report = await exportSidecars(root, { format: 'json', output: slow, engine: 'inline' });
    assert.equal(report.output, null);
    assert.equal(report.exported, 30);
    const viaStream = Buffer.concat(chunks);
    const viaFile = await exportToFile(root, 'json');
    assert.ok(viaFile.bytes.length > 4 * 64 * 1024, 'enough data for several chunks');
    assert.ok(viaStream.equals(viaFile.bytes));
    assert.ok(refused >= 2, 'the stream pushed back');
    assert.ok(maxBuffered < 2 * 64 * 1024 * 3, `never more than a chunk or so queued (saw ${maxBuffered})`);
  } finally {
    removeTree(root);
  }
});

test('a path output appears only when complete; a failed export leaves the old file alone', async () => {
  const root = library();
  const dir = tempDir('isc-export-');
  try {
    const out = join(dir, 'export.json');
    writeFileSync(out, 'previous export');
    let checked = 0;
    const report = await exportSidecars(root, {
      format: 'json',
      output: out,
      engine: 'inline',
      onProgress: () => {
        // Mid-export the final name still holds the previous content; the new one is a temp file.
        assert.equal(readFileSync(out, 'utf8'), 'previous export');
        assert.equal(readdirSync(dir).length, 2);
        checked++;
      },
    });
    assert.ok(checked > 0);
    assert.equal(report.exported, 5);
    assert.equal(JSON.parse(readFileSync(out, 'utf8')).total_sidecars, 5);

    writeFileSync(out, 'previous export');
    await assert.rejects(exportSidecars(join(root, 'no-such-dir'), { format: 'csv', output: out, engine: 'inline' }), (e: unknown) => isSidecarError(e) && e.code === 'NOT_FOUND');
    assert.equal(readFileSync(out, 'utf8'), 'previous export');
    assert.deepEqual(readdirSync(dir), ['export.json'], 'the temp file is removed');

    await assert.rejects(exportSidecars(root, { format: 'xml' as ExportFormat, output: out }), (e: unknown) => isSidecarError(e) && e.code === 'USAGE');
    assert.equal(existsSync(join(dir, 'export.json')), true);
  } finally {
    removeTree(root);
    removeTree(dir);
  }
});

test('corrupt sidecars are not exported silently: onProblem names each, report.problems counts them', async (t) => {
  const dir = makeTree({
    'a.jpg': FAKE_JPEG,
    'a.json': { json: { quality_assessment: { success: true } } },
    'b.jpg': FAKE_JPEG,
    'b.json': '{"face_detection": [',
    'c.jpg': FAKE_JPEG,
    'c.bin': Buffer.from([1, 2, 3]),
  });
  t.after(() => removeTree(dir));
  const seen: { path: string; category: string; code: string }[] = [];
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const r = await exportSidecars(dir, { format: 'jsonl', output: sink, engine: 'inline', onProblem: (p) => seen.push(p) });
  assert.equal(r.exported, 1);
  assert.equal(r.problems, 2);
  assert.deepEqual(seen.map((p) => [p.path.slice(dir.length + 1), p.category, p.code]).sort(), [['b.json', 'corrupt', 'CORRUPT'], ['c.bin', 'corrupt', 'CORRUPT']]);
});

test('CSV cells that a spreadsheet would run as formulas are neutralised (OWASP); --csv-raw keeps them', async () => {
  const { neutralizeFormula } = await import('../src/ops/csv.js');
  for (const bad of ['=1+1', '+1', '-1', '@SUM(A1)', '\t=1', '\r=1', '=HYPERLINK("http://x")']) {
    assert.equal(neutralizeFormula(bad), `'${bad}`);
  }
  for (const ok of ['', 'IMG_1.jpg', "'=already", ' =1', 'a=b']) assert.equal(neutralizeFormula(ok), ok);
  assert.equal(csvField('=1+1'), "'=1+1");
  assert.equal(csvField('=1,2'), `"'=1,2"`);
  assert.equal(csvField(-1.5), '-1.5', 'numbers are not text: never prefixed');
  assert.equal(csvField('=1+1', { raw: true }), '=1+1');
  assert.equal(csvRow(['@x', 3, null], { raw: true }), '@x,3,\r\n');

  const evil = '=HYPERLINK("http://evil.example","x")';
  const dir = makeTree({ [`${evil}.jpg`]: FAKE_JPEG, [`${evil}.json`]: { json: sidecarData('x.jpg', 1, 4) }, 'sub/-1.jpg': FAKE_JPEG, 'sub/-1.json': { json: sidecarData('-1.jpg', 0, 4) } });
  const out = tempDir();
  try {
    const guarded = join(out, 'guarded.csv');
    await exportSidecars(dir, { format: 'csv', output: guarded, engine: 'inline' });
    const rows = readFileSync(guarded, 'utf8').split('\r\n');
    const evilRow = rows.find((r) => r.startsWith(`"'=HYPERLINK(`));
    assert.ok(evilRow, 'the image cell is prefixed with an apostrophe');
    assert.ok(evilRow.includes(`.jpg","'=HYPERLINK(`), 'and so is the sidecar cell');
    assert.ok(rows.some((r) => r.startsWith('sub/-1.jpg,sub/-1.json,')), 'a path starting with a folder name is untouched');
    for (const r of rows) assert.ok(!r.startsWith('=') && !r.startsWith('"='), r);
    const raw = join(out, 'raw.csv');
    await exportSidecars(dir, { format: 'csv', output: raw, engine: 'inline', csvRaw: true });
    assert.ok(readFileSync(raw, 'utf8').split('\r\n').some((r) => r.startsWith('"=HYPERLINK(')));
  } finally {
    removeTree(dir);
    removeTree(out);
  }
});

test('the library refuses an export or manifest path that is a sidecar of another tree too, as the CLI does (it guarded only sidecars inside the tree read)', async () => {
  const dir = tempDir();
  try {
    const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': { json: sidecarData('IMG_1.jpg', 1) } }, join(dir, 'lib'));
    const other = makeTree({ 'IMG_9.jpg': FAKE_JPEG, 'IMG_9.json': { json: sidecarData('IMG_9.jpg', 9) } }, join(dir, 'other'));
    const victim = join(other, 'IMG_9.json');
    const before = readFileSync(victim);
    await assert.rejects(exportSidecars(root, { format: 'json', output: victim, engine: 'inline' }), (e: unknown) => isSidecarError(e) && e.code === 'USAGE' && /sidecar file of an image in its folder/.test(e.message));
    const { hashTree } = await import('../src/ops/hash.js');
    await assert.rejects(hashTree(root, { manifest: victim }), (e: unknown) => isSidecarError(e) && e.code === 'USAGE');
    assert.deepEqual(readFileSync(victim), before, 'the other tree\'s sidecar is untouched');
    // A file next to no image may be written.
    const report = await exportSidecars(root, { format: 'json', output: join(other, 'export.json'), engine: 'inline' });
    assert.equal(report.exported, 1);
  } finally {
    removeTree(dir);
  }
});

test('a RAW+JPEG pair whose shared stem file holds the JPEG\'s results: json, jsonl and csv name the JPEG, not the pair\'s first image (the JPEG\'s faces went out as the RAW\'s)', async () => {
  const root = tempDir('isc-export-pair-');
  try {
    makeTree(
      {
        'IMG_1.CR2': 'raw',
        'IMG_1.JPG': FAKE_JPEG,
        'IMG_1.json': { json: { ...sidecarData('IMG_1.JPG', 2, 4), sidecar_info: { image_path: join(root, 'IMG_1.JPG') } } },
        'IMG_2.CR2': 'raw',
        'IMG_2.JPG': FAKE_JPEG,
        'IMG_2.json': { json: { face_detection: { success: true, faces: [] } } }, // records nobody: the first image, as before
      },
      root,
    );
    for (const format of ['json', 'jsonl', 'csv'] as const) {
      const { bytes } = await exportToFile(root, format);
      const text = bytes.toString('utf8');
      const images =
        format === 'json'
          ? (JSON.parse(text).sidecars as { image: string }[]).map((e) => e.image)
          : format === 'jsonl'
            ? text.trim().split('\n').map((l) => (JSON.parse(l) as { image: string }).image)
            : text.trim().split('\r\n').slice(1).map((l) => l.split(',')[0]);
      assert.deepEqual(images, ['IMG_1.JPG', 'IMG_2.CR2'], format);
    }
  } finally {
    removeTree(root);
  }
});

test('export names the image a shared stem file records under another case of its extension (the JPEG renamed IMG_1.jpg → IMG_1.JPG)', async () => {
  const root = tempDir('isc-export-case-');
  try {
    makeTree({ 'IMG_1.CR2': 'raw', 'IMG_1.JPG': FAKE_JPEG, 'IMG_1.json': { json: { ...sidecarData('IMG_1.jpg', 2, 4), sidecar_info: { image_path: '/old/IMG_1.jpg' } } } }, root);
    const { bytes } = await exportToFile(root, 'jsonl');
    assert.deepEqual(bytes.toString('utf8').trim().split('\n').map((l) => (JSON.parse(l) as { image: string }).image), ['IMG_1.JPG']);
  } finally {
    removeTree(root);
  }
});

test('export names a symlinked image of a pair by its target\'s name, which a save through the link records (the link\'s results went out as the RAW\'s)', async () => {
  const root = tempDir('isc-export-link-');
  try {
    makeTree({ 'out/photo.jpg': FAKE_JPEG, 'D/IMG_1.CR2': 'raw', 'D/IMG_1.jpg': { symlink: '../out/photo.jpg' } }, root);
    writeFileSync(join(root, 'D', 'IMG_1.json'), JSON.stringify({ ...sidecarData('photo.jpg', 2, 4), sidecar_info: { image_path: join(root, 'out', 'photo.jpg'), symlink_info: { target_path: join(root, 'out', 'photo.jpg') } } }));
    const { bytes } = await exportToFile(join(root, 'D'), 'jsonl');
    assert.deepEqual(bytes.toString('utf8').trim().split('\n').map((l) => (JSON.parse(l) as { image: string }).image), ['IMG_1.jpg']);
  } finally {
    removeTree(root);
  }
});

test('a RAW+JPEG pair whose images each saved their own sidecar: json, jsonl and csv export both, each under its image (the RAW\'s results were left out)', async () => {
  const { saveSidecar } = await import('../src/ops/save.js');
  const root = tempDir('isc-export-pair-own-');
  try {
    makeTree({ 'IMG_1.JPG': FAKE_JPEG, 'IMG_2.JPG': FAKE_JPEG }, root);
    // The JPEG saved alone writes the stem file; the RAW arrives and saves its own (name-ext) file.
    await saveSidecar(join(root, 'IMG_1.JPG'), 'face_detection', { success: true, faces: [{ confidence: 0.5 }] }, { format: 'bin' });
    await saveSidecar(join(root, 'IMG_2.JPG'), 'face_detection', { success: true, faces: [{ confidence: 0.4 }] });
    writeFileSync(join(root, 'IMG_1.CR2'), 'raw');
    writeFileSync(join(root, 'IMG_2.CR2'), 'raw');
    await saveSidecar(join(root, 'IMG_1.CR2'), 'face_detection', { success: true, faces: [{ confidence: 0.7 }, { confidence: 0.8 }] }, { format: 'bin' });
    assert.deepEqual(readdirSync(root).filter((n) => /\.(bin|json)$/.test(n)).sort(), ['IMG_1.CR2.bin', 'IMG_1.bin', 'IMG_2.bin']);
    for (const format of ['json', 'jsonl', 'csv'] as const) {
      const { bytes } = await exportToFile(root, format);
      const text = bytes.toString('utf8');
      const rows =
        format === 'json'
          ? (JSON.parse(text).sidecars as { image: string; sidecar: string }[]).map((e) => [e.image, e.sidecar])
          : format === 'jsonl'
            ? text.trim().split('\n').map((l) => JSON.parse(l) as { image: string; sidecar: string }).map((e) => [e.image, e.sidecar])
            : text.trim().split('\r\n').slice(1).map((l) => l.split(',').slice(0, 2));
      // IMG_2's RAW has no sidecar of its own: one entry, the JPEG's, as before.
      assert.deepEqual(rows, [['IMG_1.CR2', 'IMG_1.CR2.bin'], ['IMG_1.JPG', 'IMG_1.bin'], ['IMG_2.JPG', 'IMG_2.bin']], format);
    }
  } finally {
    removeTree(root);
  }
});
