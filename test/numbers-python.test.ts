/**
 * The number model against Python's own `json` module: a corpus written by `json.dump` (whole
 * floats such as 25.0, tiny and huge exponents, ints of any size up to Python's 4300-digit limit,
 * arrays mixing ints and floats) goes through every path that re-encodes data we read — each
 * format's round trip, canonical JSON, convert, a merge-save of another operation (library and
 * CLI `write`), and saves and reads from the Python client through `serve --stdio` — and Python
 * compares the values *and types* of every number with what it wrote. Skipped only when the
 * machine has no python3.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalJson, decodeSidecar, encodeSidecar } from '../src/formats/codec.js';
import { convert } from '../src/ops/convert.js';
import { saveSidecar } from '../src/ops/save.js';
import type { SidecarFormat } from '../src/types.js';
import { CLI_PATH as CLI } from './helpers/cli.js';

function findUp(rel: string): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, rel))) return path.join(dir, rel);
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`${rel} not found above the compiled test`);
    dir = parent;
  }
}

function findPython(): string | null {
  for (const name of ['python3', 'python']) {
    const r = spawnSync(name, ['-c', 'import sys; print(sys.version_info >= (3, 9))'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() === 'True') return name;
  }
  return null;
}
const python = findPython();

/** Writes the corpus: lib/photos/IMG_nnnn.{jpg,json} and ops/IMG_nnnn.face_detection.json. */
const GEN_PY = String.raw`
import json, os, random, sys
out, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
SPECIAL_FLOATS = [0.0, -0.0, 25.0, 10.0, 1.0, 100.0, 1e16, 1e22, 1e300, -1e300, 5e-324, -5e-324, 1e-320,
    2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308, 0.1, 0.22490839660167694,
    9007199254740993.0, 2.0**53, 2.0**64, 2.0**70, 1e21, 1e-7, 123456789012345.0, 0.9999999999999999,
    1.0000000000000002, 1e-05, 12345.678, 4503599627370495.5]
SPECIAL_INTS = [0, 1, -1, 2**53 - 1, 2**53, 2**53 + 1, -(2**53) - 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64,
    -(2**63), -(2**63) - 1, -(2**64), -(2**64) - 1, 1763805012345678901, 12345678901234567890123,
    -9223372036854775809, 10**21, 10**100, -(10**300), 10**400, 10**4000, 99999999999999999]

def rfloat():
    k = rnd.randrange(7)
    if k == 0: return rnd.choice(SPECIAL_FLOATS)
    if k == 1: return float(rnd.randint(-10**6, 10**6))
    if k == 2: return rnd.gauss(0, 0.05)
    if k == 3: return rnd.random() * 10.0 ** rnd.randint(-323, 307)
    if k == 4: return -rnd.random() * 10.0 ** rnd.randint(-30, 30)
    if k == 5: return float(rnd.randint(-2**70, 2**70))
    return rnd.choice([0.5, 2.0, 1e2, -3.0])

def rint():
    k = rnd.randrange(4)
    if k == 0: return rnd.choice(SPECIAL_INTS)
    if k == 1: return rnd.randint(-1000, 1000)
    if k == 2: return rnd.randint(-2**64, 2**64)
    return rnd.randint(-10**30, 10**30)

def leaf():
    k = rnd.randrange(8)
    if k < 3: return rfloat()
    if k < 5: return rint()
    if k == 5: return rnd.choice([True, False, None])
    if k == 6: return rnd.choice(["25.0", ":x", "1e400", "-0", "x\":1", "caf\u00e9"])
    return rnd.choice([[], {}])

def array():
    k = rnd.randrange(6)
    n = rnd.randrange(0, 9)
    if k == 0: return [rfloat() for _ in range(n)]
    if k == 1: return [float(rnd.randint(-100, 100)) for _ in range(max(n, 4))]
    if k == 2: return [rint() for _ in range(n)]
    if k == 3: return [rnd.choice([rint(), rfloat()]) for _ in range(max(n, 4))]
    if k == 4: return [rnd.gauss(0, 0.05) for _ in range(64)]
    return [value(2) for _ in range(n)]

def value(depth):
    k = rnd.randrange(4) if depth < 4 else 0
    if k <= 1: return leaf()
    if k == 2: return array()
    return {("k%d" % i if rnd.random() < 0.9 else "__proto__"): value(depth + 1) for i in range(rnd.randrange(0, 6))}

def face(i):
    return {"face_id": i, "bbox": {"x": rnd.random(), "y": rnd.random(), "width": 0.25, "height": 0.5},
            "confidence": rnd.random(), "landmarks": [[float(rnd.randint(0, 4000)), rnd.random() * 4000] for _ in range(5)],
            "encoding": [rnd.gauss(0, 0.05) for _ in range(512)], "box_px": [10.0, 20.0, 30.0, 40.0]}

def doc(i):
    fd = {"success": True, "faces": [face(j) for j in range(rnd.randrange(0, 3))], "ts_ns": 1763805012345678901 + i,
          "metadata": {"image_width": 4000, "processing_time": rnd.random(), "confidence_threshold": 0.5, "scale": 1.0}}
    return {"face_detection": fd,
            "yolov8": {"success": True, "objects": [], "metadata": {"border_padding_percentage": 25.0, "gpu_enabled": True}},
            "numbers": value(0), "mixed": array(), "more": {"a": array(), "b": value(1)},
            "sidecar_info": {"operation_type": "face_detection", "created_at": "2025-10-01T12:40:11.886386"}}

photos = os.path.join(out, "lib", "photos")
ops = os.path.join(out, "ops")
os.makedirs(photos); os.makedirs(ops)
for i in range(count):
    d = doc(i)
    name = "IMG_%04d" % i
    open(os.path.join(photos, name + ".jpg"), "wb").close()
    with open(os.path.join(photos, name + ".json"), "w", encoding="utf-8") as f:
        if i % 3 == 0: json.dump(d, f, indent=2)
        elif i % 3 == 1: json.dump(d, f)
        else: json.dump(d, f, separators=(",", ":"), ensure_ascii=False)
    with open(os.path.join(ops, name + ".face_detection.json"), "w", encoding="utf-8") as f:
        json.dump(d["face_detection"], f, indent=2)
print(count)
`;

/**
 * Compares pairs listed in a JSON file: [original, other, mode]. Modes: exact (same values, types
 * and key order), unordered (keys in any order: canonical JSON), merged:OP (every key but
 * sidecar_info as in the original, OP added), op:OP (other[OP] equals the original).
 */
const COMPARE_PY = String.raw`
import json, struct, sys
pairs = json.load(open(sys.argv[1]))
problems, numbers = [], [0]
def same(a, b, where, ordered):
    if type(a) is not type(b):
        problems.append("%s: %r (%s) became %r (%s)" % (where, a, type(a).__name__, b, type(b).__name__)); return
    if isinstance(a, float):
        numbers[0] += 1
        if struct.pack("<d", a) != struct.pack("<d", b): problems.append("%s: float %r became %r" % (where, a, b))
    elif isinstance(a, int) and not isinstance(a, bool):
        numbers[0] += 1
        if a != b: problems.append("%s: int %d became %d" % (where, a, b))
    elif isinstance(a, dict):
        if (list(a) != list(b)) if ordered else (set(a) != set(b)):
            problems.append("%s: keys %r became %r" % (where, list(a)[:8], list(b)[:8])); return
        for k in a: same(a[k], b[k], where + "/" + k, ordered)
    elif isinstance(a, list):
        if len(a) != len(b): problems.append("%s: length %d became %d" % (where, len(a), len(b))); return
        for i, (x, y) in enumerate(zip(a, b)): same(x, y, "%s/%d" % (where, i), ordered)
    elif a != b:
        problems.append("%s: %r became %r" % (where, a, b))
for orig, other, mode in pairs:
    a = json.load(open(orig, encoding="utf-8"))
    b = json.load(open(other, encoding="utf-8"))
    where = other
    if mode == "exact": same(a, b, where, True)
    elif mode == "unordered": same(a, b, where, False)
    elif mode.startswith("merged:"):
        op = mode[7:]
        if op not in b: problems.append("%s: %s missing" % (where, op))
        same({k: v for k, v in a.items() if k not in ("sidecar_info", op)}, {k: v for k, v in b.items() if k not in ("sidecar_info", op)}, where, True)
    elif mode.startswith("op:"):
        same(a, b.get(mode[3:]), where, True)
    else: problems.append("unknown mode " + mode)
print("compared %d pairs, %d numbers, %d problems" % (len(pairs), numbers[0], len(problems)))
for p in problems[:30]: print(p)
sys.exit(1 if problems else 0)
`;

/** The Python client through `serve --stdio` (inside `with`) and through the CLI (outside). */
const CLIENT_PY = String.raw`
import json, os, struct, sys
from image_sidecar import ImageSidecarManager
lib, cli = sys.argv[1], sys.argv[2]
problems, numbers = [], [0]
def same(a, b, where):
    if type(a) is not type(b):
        problems.append("%s: %r (%s) became %r (%s)" % (where, a, type(a).__name__, b, type(b).__name__)); return
    if isinstance(a, float):
        numbers[0] += 1
        if struct.pack("<d", a) != struct.pack("<d", b): problems.append("%s: %r became %r" % (where, a, b))
    elif isinstance(a, dict):
        if list(a) != list(b): problems.append("%s: keys %r became %r" % (where, list(a)[:8], list(b)[:8])); return
        for k in a: same(a[k], b[k], where + "/" + k)
    elif isinstance(a, list):
        if len(a) != len(b): problems.append("%s: length %d became %d" % (where, len(a), len(b))); return
        for i, (x, y) in enumerate(zip(a, b)): same(x, y, "%s/%d" % (where, i))
    else:
        if isinstance(a, int) and not isinstance(a, bool): numbers[0] += 1
        if a != b: problems.append("%s: %r became %r" % (where, a, b))
photos = os.path.join(lib, "photos")
names = sorted(n[:-5] for n in os.listdir(photos) if n.endswith(".json"))
originals = {n: json.load(open(os.path.join(photos, n + ".json"), encoding="utf-8")) for n in names}
with ImageSidecarManager(binary_path=cli) as m:
    for n in names:
        img = os.path.join(photos, n + ".jpg")
        same(originals[n], m.read_data(img), "serve read " + n)
        data = originals[n]["numbers"], originals[n]["mixed"], [10.0, 20.0], 1763805012345678901
        m.save_data(img, "python_op", {"numbers": data[0], "mixed": data[1], "box": data[2], "ts_ns": data[3]})
        back = m.read_data(img)
        same({"numbers": data[0], "mixed": data[1], "box": data[2], "ts_ns": data[3]}, back["python_op"], "serve save " + n)
        same({k: v for k, v in originals[n].items() if k != "sidecar_info"}, {k: v for k, v in back.items() if k not in ("sidecar_info", "python_op")}, "serve merge " + n)
        # A new sidecar (bin) written from Python data.
        new_img = os.path.join(photos, "NEW_" + n + ".jpg")
        open(new_img, "wb").close()
        m.save_data(new_img, "face_detection", originals[n]["face_detection"])
        same(originals[n]["face_detection"], m.read_data(new_img)["face_detection"], "serve new bin " + n)
outside = ImageSidecarManager(binary_path=cli)
for n in names[:2]:
    same(originals[n]["numbers"], outside.read_data(os.path.join(photos, n + ".jpg"))["numbers"], "cli read " + n)
print("client compared %d numbers, %d problems" % (numbers[0], len(problems)))
for p in problems[:30]: print(p)
sys.exit(1 if problems else 0)
`;

const CORPUS_SIZE = 24;

describe('number model against Python json (values and types)', { skip: python ? false : 'no python3 >= 3.9 on this machine', timeout: 300_000 }, () => {
  let root: string;
  let lib: string;
  let names: string[];
  const pairs: [string, string, string][] = [];

  function py(script: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
    const file = path.join(root, `script-${Math.random().toString(36).slice(2)}.py`);
    fs.writeFileSync(file, script);
    const r = spawnSync(python!, [file, ...args], { encoding: 'utf8', env: { ...process.env, ...env, PYTHONDONTWRITEBYTECODE: '1' }, maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, `python ${path.basename(file)} failed:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  function copyTree(name: string): string {
    const dest = path.join(root, name);
    fs.cpSync(lib, dest, { recursive: true });
    return dest;
  }

  const photo = (dir: string, n: string, ext: string) => path.join(dir, 'photos', `${n}.${ext}`);

  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'isc-numbers-'));
    py(GEN_PY, [root, String(CORPUS_SIZE), '20251122']);
    lib = path.join(root, 'lib');
    names = fs.readdirSync(path.join(lib, 'photos')).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
    assert.equal(names.length, CORPUS_SIZE);
  });

  it('json → bin / rkyv / legacy / json → json, and canonical JSON, keep every number', () => {
    for (const fmt of ['json', 'bin', 'rkyv', 'legacy'] as SidecarFormat[]) {
      const dir = path.join(root, 'formats', fmt);
      fs.mkdirSync(dir, { recursive: true });
      for (const n of names) {
        const data = decodeSidecar(fs.readFileSync(photo(lib, n, 'json'))).data;
        const encoded = encodeSidecar(data, fmt);
        const back = decodeSidecar(encoded);
        assert.equal(back.format, fmt);
        // The same data in every format has one canonical form.
        assert.equal(canonicalJson(back.data), canonicalJson(data), `${fmt} ${n}`);
        const out = path.join(dir, `${n}.json`);
        fs.writeFileSync(out, encodeSidecar(back.data, 'json'));
        pairs.push([photo(lib, n, 'json'), out, 'exact']);
        if (fmt === 'json') {
          const canon = path.join(dir, `${n}.canonical.json`);
          fs.writeFileSync(canon, canonicalJson(data));
          pairs.push([photo(lib, n, 'json'), canon, 'unordered']);
        }
      }
    }
  });

  it('convert json → bin → rkyv → json (verified, sources removed) keeps every number', async () => {
    const dir = copyTree('convert');
    for (const fmt of ['bin', 'rkyv', 'json'] as const) {
      const r = await convert(dir, fmt, { workers: 1 });
      assert.equal(r.failed, 0, JSON.stringify(r.items?.filter((i) => !i.ok)));
      assert.equal(r.converted, CORPUS_SIZE, fmt);
    }
    for (const n of names) pairs.push([photo(lib, n, 'json'), photo(dir, n, 'json'), 'exact']);
  });

  it('a merge-save of another operation (json and bin sidecars) keeps every number', async () => {
    const jsonDir = copyTree('merge-json');
    const binDir = copyTree('merge-bin');
    assert.equal((await convert(binDir, 'bin', { workers: 1 })).converted, CORPUS_SIZE);
    for (const n of names) {
      await saveSidecar(photo(jsonDir, n, 'jpg'), 'other_op', { x: 1 });
      await saveSidecar(photo(binDir, n, 'jpg'), 'other_op', { x: 1 });
      pairs.push([photo(lib, n, 'json'), photo(jsonDir, n, 'json'), 'merged:other_op']);
      const back = path.join(binDir, `${n}.merged.json`);
      fs.writeFileSync(back, encodeSidecar(decodeSidecar(fs.readFileSync(photo(binDir, n, 'bin'))).data, 'json'));
      pairs.push([photo(lib, n, 'json'), back, 'merged:other_op']);
    }
  });

  it('CLI write of Python-written data (merged into a json and a new bin sidecar) keeps every number', () => {
    const dir = copyTree('cli-write');
    for (const n of names.slice(0, 3)) {
      const dataFile = path.join(root, 'ops', `${n}.face_detection.json`);
      for (const image of [photo(dir, n, 'jpg'), photo(dir, `NEW_${n}`, 'jpg')]) {
        fs.writeFileSync(image, '');
        // --format bin: a new sidecar would otherwise follow its JSON folder (the existing one keeps its format anyway).
        const r = spawnSync(process.execPath, [CLI, 'write', image, '--operation', 'face_detection', '--data', dataFile, '--format', 'bin', '--json'], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
      }
      pairs.push([photo(lib, n, 'json'), photo(dir, n, 'json'), 'merged:face_detection']);
      pairs.push([dataFile, photo(dir, n, 'json'), 'op:face_detection']);
      const back = path.join(dir, `NEW_${n}.back.json`);
      fs.writeFileSync(back, encodeSidecar(decodeSidecar(fs.readFileSync(photo(dir, `NEW_${n}`, 'bin'))).data, 'json'));
      pairs.push([dataFile, back, 'op:face_detection']);
    }
  });

  it('Python compares every pair: identical values and types', () => {
    assert.ok(pairs.length >= CORPUS_SIZE * 7, `${pairs.length} pairs`);
    const list = path.join(root, 'pairs.json');
    fs.writeFileSync(list, JSON.stringify(pairs));
    const out = py(COMPARE_PY, [list]);
    const m = /compared (\d+) pairs, (\d+) numbers, 0 problems/.exec(out);
    assert.ok(m && Number(m[2]) > 10_000, out);
  });

  it('the Python client saves and reads through serve --stdio (and the CLI) with identical values and types', () => {
    const dir = copyTree('client');
    const client = findUp(path.join('clients', 'python'));
    const out = py(CLIENT_PY, [dir, CLI], {
      PYTHONPATH: [client, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter),
      IMAGE_SIDECAR_NODE: process.execPath,
    });
    assert.match(out, /client compared \d+ numbers, 0 problems/);
  });
});
