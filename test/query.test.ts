/**
 * The --where language: grammar, types, errors with a caret at the column, and `find` / `--where`
 * on stats, export and validate over the sample library — expected matches computed here from the
 * raw sidecar files (fs + JSON.parse), not by the summary code.
 */
import assert from 'node:assert/strict';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { compileQuery, parseQuery, type QueryRecord } from '../src/analysis/query.js';
import { summarizeSidecar } from '../src/analysis/summary.js';
import { generateSampleLibrary } from '../src/sample/generate.js';
import { find } from '../src/ops/find.js';
import { stats } from '../src/ops/stats.js';
import { validate } from '../src/ops/validate.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tree.js';
import { ORACLE_IMAGE_EXTS, parseRawSidecar } from './helpers/raw-oracle.js';
import type { SidecarSummary } from '../src/model/summary.js';

function rec(s: Partial<SidecarSummary>, format: QueryRecord['format'] = 'json', size = 1000): QueryRecord {
  const base = summarizeSidecar({});
  return { summary: { ...base, ...s }, format, size };
}

function usageError(expr: string): string {
  try {
    compileQuery(expr);
  } catch (e) {
    assert.equal((e as { code?: string }).code, 'USAGE', expr);
    return (e as Error).message;
  }
  assert.fail(`accepted: ${expr}`);
}

/** The column the caret points at (1-based), checked against the expression line above it. */
function caretColumn(message: string, expr: string): number {
  const lines = message.split('\n');
  assert.equal(lines[1], `  ${expr}`);
  assert.match(lines[2], /^ *\^$/);
  const col = lines[2].length - 2;
  assert.match(lines[0], new RegExp(`at column ${col}:`));
  return col;
}

describe('--where language', () => {
  const r1 = rec({ operations: ['face_detection', 'yolov8'], faces: 3, objects: 4, objectClasses: { person: 3, 'sports ball': 1 }, qualityGrade: 'B', qualityScore: 0.7, success: { face_detection: true, yolov8: true } });
  const r2 = rec({ operations: ['face_detection'], faces: 0, success: { face_detection: false } }, 'bin', 50);

  it('evaluates the examples of the issue', () => {
    const t = (e: string) => [r1, r2].map((r) => compileQuery(e)(r));
    assert.deepEqual(t('faces >= 3'), [true, false]);
    assert.deepEqual(t('quality.grade in [A, B]'), [true, false]);
    assert.deepEqual(t('has yolov8 and objects.person > 2'), [true, false]);
    assert.deepEqual(t('face_detection failed'), [false, true]);
    assert.deepEqual(t('face_detection succeeded'), [true, false]);
    assert.deepEqual(t('yolov8 failed'), [false, false]); // absent is not failed
  });

  it('precedence: not > and > or; parentheses; && || ! and = aliases; keywords in any case', () => {
    const t = (e: string) => [r1, r2].map((r) => compileQuery(e)(r));
    assert.deepEqual(t('faces == 0 or faces == 3 and format == bin'), [false, true]); // and binds tighter
    assert.deepEqual(t('(faces == 0 or faces == 3) and format == bin'), [false, true]);
    assert.deepEqual(t('(faces == 3 or faces == 0) and format == json'), [true, false]);
    assert.deepEqual(t('not has yolov8 and faces = 0'), [false, true]);
    assert.deepEqual(t('not (has yolov8 and faces = 3)'), [false, true]);
    assert.deepEqual(t('!has yolov8 || faces=3 && size<100'), [false, true]);
    assert.deepEqual(t('NOT HAS yolov8 AND Face_detector FAILED'), [false, true]); // operation spellings normalised
    assert.deepEqual(t('not not faces > 1'), [true, false]);
  });

  it('values: numbers, words, quoted text, null; missing values never compare', () => {
    const t = (e: string) => [r1, r2].map((r) => compileQuery(e)(r));
    assert.deepEqual(t('objects.sports_ball == 1'), [true, false]); // class names with a space
    assert.deepEqual(t("objects.'sports ball' == 1".replace("'sports ball'", 'person')), [false, false]);
    assert.deepEqual(t('quality.grade == "B"'), [true, false]);
    assert.deepEqual(t("quality.grade == 'B'"), [true, false]);
    assert.deepEqual(t('quality.grade == null'), [false, true]);
    assert.deepEqual(t('quality.grade != B'), [false, true]);
    assert.deepEqual(t('quality.grade not in [A, B]'), [false, true]);
    assert.deepEqual(t('quality.score < 0.8'), [true, false]); // null is not < 0.8
    assert.deepEqual(t('quality.score >= .5'), [true, false]);
    assert.deepEqual(t('size > 1e2'), [true, false]);
    assert.deepEqual(t('faces in [0, 1, 2]'), [false, true]);
    assert.deepEqual(t('faces > -1'), [true, true]);
    assert.deepEqual(t('operations == 2'), [true, false]);
    assert.deepEqual(t('quality.grade in []'), [false, false]);
  });

  it('parse errors point at the column with a caret', () => {
    const cases: [string, number, RegExp][] = [
      ['faces >= ', 10, /expected a value/],
      ['faces >>= 3', 8, /expected a value/],
      ['faces 3', 7, /expected a comparison/],
      ['(faces > 1', 11, /expected "\)" to close the "\(" at column 1/],
      ['faces > 1)', 10, /expected "and", "or" or the end/],
      ['has', 4, /operation name after "has"/],
      ['quality.grade in [A B]', 21, /expected "," or "\]"/],
      ['quality.grade in A', 18, /expected "\[" after "in"/],
      ['faces > 1 and', 14, /expected a field/],
      ['faces @ 1', 7, /unexpected character "@"/],
      ['tool == "open', 9, /string not closed/],
      ['', 1, /empty expression/],
      ['fcaes > 1', 1, /unknown field "fcaes"/],
      ['faces > B', 9, /faces is a number/],
      ['quality.grade > 3', 17, /quality.grade is text/],
      ['quality.grade < B', 1, /quality.grade is text: use ==, != or in/],
      ['faces in [1, x]', 14, /faces is a number/],
      ['objects.person failed', 1, /follows an operation name/],
      ['faces > 3x', 10, /after the number 3/],
      ['faces not 3', 11, /expected "in" after "faces not"/],
    ];
    for (const [expr, col, re] of cases) {
      const msg = usageError(expr);
      assert.match(msg, re, expr);
      assert.equal(caretColumn(msg, expr), col, `${expr}: ${msg}`);
    }
  });

  it('random and mutated expressions give a predicate or a USAGE error with a caret, never a crash', () => {
    const atoms = ['faces > 3', 'has yolov8', 'quality.grade in [A, B]', 'face_detection failed', 'objects.person >= 1', 'format == bin', 'quality.score < .5', 'tool != null', 'faces not in [0]'];
    const noise = ['(', ')', '[', ']', ',', '.', '==', '<', 'and', 'or', 'not', 'in', '"', "'", '@', 'é', '3', 'x', '\\', ' '];
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
    const gen = (d: number): string => {
      const r = rnd(d > 2 ? 2 : 5);
      if (r === 0 || r === 1) return atoms[rnd(atoms.length)];
      if (r === 2) return `not ${gen(d + 1)}`;
      if (r === 3) return `(${gen(d + 1)})`;
      return `${gen(d + 1)} ${rnd(2) ? 'and' : 'or'} ${gen(d + 1)}`;
    };
    let compiled = 0;
    let refused = 0;
    for (let k = 0; k < 3000; k++) {
      let expr = gen(0);
      const mutated = k % 2 === 1;
      if (mutated) {
        const at = rnd(expr.length + 1);
        expr = rnd(2) === 0 ? expr.slice(0, at) + noise[rnd(noise.length)] + expr.slice(at) : expr.slice(0, at) + expr.slice(at + 1 + rnd(3));
      }
      let p;
      try {
        p = compileQuery(expr);
      } catch (e) {
        assert.ok(mutated, `a grammatical expression was refused: ${expr}: ${(e as Error).message}`);
        assert.equal((e as { code?: string }).code, 'USAGE', expr);
        const lines = (e as Error).message.split('\n');
        assert.equal(lines.length, 3, expr);
        assert.match(lines[2], /^ *\^$/, expr);
        assert.ok(lines[2].length - 2 <= expr.length + 1, `caret inside the expression: ${expr}`);
        refused++;
        continue;
      }
      compiled++;
      for (const r of [r1, r2]) assert.equal(typeof p(r), 'boolean', expr);
    }
    assert.ok(compiled > 1500 && refused > 200, `${compiled} compiled, ${refused} refused`);
  });

  it('deep nesting is a usage error, long and/or chains work: never a stack overflow (INTERNAL)', () => {
    assert.match(usageError('('.repeat(20_000) + 'faces > 0' + ')'.repeat(20_000)), /nested deeper than 256 levels/);
    assert.match(usageError('not '.repeat(20_000) + 'faces > 0'), /nested deeper than 256 levels/);
    const t = (e: string) => [r1, r2].map((r) => compileQuery(e)(r));
    assert.deepEqual(t('('.repeat(200) + 'faces > 0' + ')'.repeat(200)), [true, false]);
    assert.deepEqual(t('not '.repeat(200) + 'faces > 0'), [true, false]);
    const many = (n: number, op: string, term: (i: number) => string) => Array.from({ length: n }, (_, i) => term(i)).join(` ${op} `);
    assert.deepEqual(t(many(20_000, 'and', () => 'faces >= 0')), [true, true]);
    assert.deepEqual(t(many(20_000, 'and', (i) => (i === 19_999 ? 'format == bin' : 'faces >= 0'))), [false, true]);
    assert.deepEqual(t(many(20_000, 'or', (i) => `faces == ${i + 3}`)), [true, false]);
    assert.deepEqual(t(many(20_000, 'or', () => 'faces == 1') + ' and format == json or faces == 0'), [false, true]); // and still binds tighter
  });

  it('parses to a tree once (no re-parse per record)', () => {
    const tree = parseQuery('has yolov8 and (faces > 1 or not format == bin)');
    assert.equal(tree.type, 'and');
  });
});

// ---------------------------------------------------------------------------------------------
// On the sample library, against raw files
// ---------------------------------------------------------------------------------------------

type Raw = Record<string, any>;


/** An operation's result object(s): the value itself, or its backends (nested form). */
function results(v: any): Raw[] {
  if (!v || typeof v !== 'object') return [];
  if ('success' in v || 'faces' in v || 'objects' in v || 'quality' in v) return [v];
  return Object.values(v).filter((x): x is Raw => !!x && typeof x === 'object' && !Array.isArray(x));
}

/** What the expressions below look at, counted by hand from the raw object. */
function facts(d: Raw) {
  const fd = [...results(d.face_detection), ...results(d.Face_detector)];
  const yolo = results(d.yolov8);
  const faces = fd.reduce((n, r) => n + (Array.isArray(r.faces) ? r.faces.length : 0), 0);
  const persons = yolo.reduce((n, r) => n + (Array.isArray(r.objects) ? r.objects.filter((o: Raw) => o.class_name === 'person').length : 0), 0);
  const grade = results(d.quality_assessment).map((r) => r.quality?.grade).find((g) => typeof g === 'string') ?? null;
  return {
    faces,
    persons,
    grade,
    hasYolo: 'yolov8' in d,
    hasQuality: 'quality_assessment' in d,
    faceFailed: fd.some((r) => r.success === false),
    yoloFailed: yolo.some((r) => r.success === false),
  };
}

type Facts = ReturnType<typeof facts>;

/** Image → effective sidecar facts, by the documented pairing (bin > rkyv > json, stem before name.ext). */
function library(root: string): { rel: string; sidecar: string; facts: Facts }[] {
  const out: { rel: string; sidecar: string; facts: Facts }[] = [];
  const walk = (rel: string) => {
    const dir = join(root, rel);
    const names = readdirSync(dir).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const subdirs: string[] = [];
    for (const name of names) {
      const st = lstatSync(join(dir, name));
      if (st.isDirectory()) {
        if (name !== '.image-sidecar-quarantine') subdirs.push(name);
        continue;
      }
      const dot = name.lastIndexOf('.');
      if (!st.isFile() || !ORACLE_IMAGE_EXTS.has(name.slice(dot + 1).toLowerCase())) continue; // links: found through their targets
      const stem = name.slice(0, dot);
      // Names are compared after Unicode NFC (a Mac writes NFD).
      const byNfc = new Map(names.map((n) => [n.normalize('NFC'), n]));
      for (const want of [`${stem}.bin`, `${stem}.rkyv`, `${stem}.json`, `${name}.bin`, `${name}.rkyv`, `${name}.json`]) {
        const cand = byNfc.get(want.normalize('NFC'));
        if (cand === undefined) continue;
        const d = parseRawSidecar(readFileSync(join(dir, cand)));
        if (d === null) continue;
        out.push({ rel: rel === '' ? name : `${rel}/${name}`, sidecar: join(dir, cand), facts: facts(d) });
        break;
      }
    }
    for (const s of subdirs) walk(rel === '' ? s : `${rel}/${s}`);
  };
  walk('');
  return out;
}

const EXAMPLES: [string, (f: Facts) => boolean][] = [
  ['faces >= 3', (f) => f.faces >= 3],
  ['quality.grade in [A, B]', (f) => f.grade === 'A' || f.grade === 'B'],
  ['has yolov8 and objects.person > 2', (f) => f.hasYolo && f.persons > 2],
  ['face_detection failed', (f) => f.faceFailed],
  ['(has quality_assessment or faces == 0) and not yolov8 failed', (f) => (f.hasQuality || f.faces === 0) && !f.yoloFailed],
  ['not has yolov8 or quality.grade == null', (f) => !f.hasYolo || f.grade === null],
];

describe('find and --where on the sample library (expected from raw files)', () => {
  let root: string;
  let lib: { rel: string; sidecar: string; facts: Facts }[];
  before(async () => {
    root = tempDir('isc-query-');
    await generateSampleLibrary(root, { images: 400, seed: 5 });
    lib = library(root);
  });

  for (const [expr, expected] of EXAMPLES) {
    it(`find --where '${expr}'`, async () => {
      const want = lib.filter((x) => expected(x.facts)).map((x) => x.rel);
      assert.ok(want.length > 0 && want.length < lib.length, `the sample has matches and non-matches (${want.length}/${lib.length})`);
      const r = await find(root, { where: expr });
      assert.deepEqual(r.entries!.map((e) => e.rel), want);
      assert.equal(r.examined, new Set(lib.map((x) => x.sidecar)).size); // RAW+JPEG pairs share one
    });
  }

  it('CLI find: paths, --print0, --jsonl records; stats, export and validate take the same --where', async () => {
    const [expr, expected] = EXAMPLES[2];
    const want = lib.filter((x) => expected(x.facts)).map((x) => join(root, x.rel));
    const plain = await runCli(['find', root, '--where', expr, '-q']);
    // The sample library holds images whose sidecar is corrupt: find names them as problems and exits 1.
    const doc = JSON.parse((await runCli(['find', root, '--where', expr, '--json', '-q'])).stdout);
    assert.ok(doc.problem_count > 0 && doc.problems.every((p: { category: string }) => p.category === 'corrupt'), JSON.stringify(doc.problems));
    assert.equal(plain.code, 1, plain.stderr);
    assert.deepEqual(plain.stdout.trimEnd().split('\n'), want);
    const p0 = await runCli(['find', root, '--where', expr, '--print0', '-q']);
    assert.deepEqual(p0.stdout.slice(0, -1).split('\0'), want);
    const jl = await runCli(['find', root, '--where', expr, '--jsonl', '-q']);
    const recs = jl.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(recs.map((r) => r.image), want);
    assert.ok(recs.every((r) => r.object_classes.person > 2 && r.operations.includes('yolov8')));

    // The same filter elsewhere: each counts matching sidecars (RAW+JPEG pairs share one).
    const sidecars = new Set(recs.map((r) => r.sidecar)).size;
    const s = await stats(root, { where: expr });
    assert.equal(s.total_sidecars, sidecars);
    assert.equal(s.where, expr);
    const ex = await runCli(['export', root, '--format', 'jsonl', '--where', expr, '-q']);
    // The sample library holds corrupt sidecars: export names them on stderr and exits 1 (issue 11).
    assert.equal(ex.code, s.categories.corrupt > 0 ? 1 : 0, ex.stderr);
    assert.equal(new Set(ex.stdout.trim().split('\n').map((l) => JSON.parse(l).sidecar)).size, sidecars);
    // validate checks every sidecar FILE (not only the one an image reads): expected = every
    // decodable sidecar file in the tree whose content matches, plus corrupt ones (always reported).
    const files: string[] = [];
    const corrupt: string[] = [];
    const walkFiles = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        const st = lstatSync(p);
        if (st.isDirectory()) walkFiles(p);
        else if (st.isFile() && /\.(json|bin|rkyv)$/.test(name) && !/^game_detection(_report)?\.json$/.test(name)) {
          const d = parseRawSidecar(readFileSync(p));
          if (d === null) corrupt.push(p);
          else if (expected(facts(d))) files.push(p);
        }
      }
    };
    walkFiles(root);
    const v = await validate(root, { where: expr });
    const got = v.results!.filter((x) => x.error === null || !/cannot|invalid|empty|NaN|corrupt|truncat|unexpected/i.test(x.error));
    assert.deepEqual(new Set(v.results!.filter((x) => x.format !== null).map((x) => x.file_path)), new Set(files));
    assert.deepEqual(new Set(v.results!.filter((x) => x.format === null).map((x) => x.file_path)), new Set(corrupt));
    assert.ok(got.length > 0);
    const vc = await runCli(['validate', root, '--where', expr, '--json', '-q']);
    assert.equal(JSON.parse(vc.stdout).total_files, v.total_files);
  });

  it('CLI: a bad expression exits 2 with the caret on stderr, before any work', async () => {
    for (const cmd of [['find', root], ['stats', root], ['export', root, '--format', 'jsonl'], ['validate', root]]) {
      const r = await runCli([...cmd, '--where', 'faces >> 2']);
      assert.equal(r.code, 2, `${cmd[0]}: ${r.stderr}`);
      assert.match(r.stderr, /column 8/);
      assert.match(r.stderr, /\n\s+faces >> 2\n\s+\^/);
      assert.equal(r.stdout, '');
    }
  });
});
