/**
 * The dependency rule of src/ (ARCHITECTURE.md): every folder sits on a floor, and a module imports
 * only modules of its own floor or lower ones; no module imports itself back through others (no
 * import cycle, within a folder too). Type-only imports count: a type is still a dependency.
 * Imports are read by TypeScript's own pre-processor (static `import`/`export … from`, dynamic
 * `import()`, type-only forms), never by a regular expression over the text.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The floors, lowest first. ARCHITECTURE.md writes down the same list: the two must agree.
 * `*.ts` is every module directly in src/ other than the ones named on a floor (errors, types,
 * vocabulary, time, byte-order, …); every other name is a folder of src/ or a module in src/.
 */
const FLOORS: readonly (readonly string[])[] = [
  ['*.ts', 'model'],
  ['crypto'],
  ['formats'],
  ['fs'],
  ['discovery'],
  ['analysis'],
  ['accel'],
  ['tasks'],
  ['engine'],
  ['scan'],
  ['incremental'],
  ['integrity'],
  ['ops'],
  ['report', 'shard', 'sample'],
  ['server'],
  ['cli', 'cli.ts', 'index.ts'],
];

/** An import graph: each module (path relative to src/, POSIX) with the modules it imports, in source order. */
type ImportGraph = Map<string, string[]>;

/** The modules `text` (the source of `file`) imports from src/, as paths relative to src/ (`./x.js` → `x.ts`). */
function importsOf(file: string, text: string): string[] {
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map((i) => i.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => posix.normalize(posix.join(posix.dirname(file), spec)).replace(/\.js$/, '.ts'));
}

function graphOf(sources: ReadonlyMap<string, string>): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const [file, text] of sources) graph.set(file, importsOf(file, text));
  return graph;
}

/** The floor name of a module: its folder, its own name when a floor names it, else `*.ts`. */
function placeOf(file: string): string {
  const slash = file.indexOf('/');
  if (slash >= 0) return file.slice(0, slash);
  return FLOORS.some((f) => f.includes(file)) ? file : '*.ts';
}

function floorOf(file: string): number {
  const place = placeOf(file);
  return FLOORS.findIndex((f) => f.includes(place));
}

/**
 * Every import of a lower floor's module into a higher one, and every module on no floor. Not
 * checked: the imports of `exempt` modules.
 */
function layerViolations(graph: ImportGraph, exempt: ReadonlySet<string> = new Set()): string[] {
  const out: string[] = [];
  for (const [file, targets] of graph) {
    const floor = floorOf(file);
    if (floor < 0) {
      out.push(`src/${file}: its folder "${placeOf(file)}" is on no floor (add it to FLOORS and ARCHITECTURE.md)`);
      continue;
    }
    if (exempt.has(file)) continue;
    for (const target of targets) {
      const to = floorOf(target);
      if (to > floor) out.push(`src/${file} (floor ${floor}: ${placeOf(file)}) imports src/${target} (floor ${to}: ${placeOf(target)})`);
    }
  }
  return out;
}

/**
 * One cycle per strongly connected set of modules (Tarjan), each written as the path around it
 * (`a.ts → b.ts → a.ts`). The imports of `exempt` modules are left out of the graph.
 */
function importCycles(graph: ImportGraph, exempt: ReadonlySet<string> = new Set()): string[] {
  const edges = (f: string) => (exempt.has(f) ? [] : (graph.get(f) ?? []).filter((t) => graph.has(t)));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const sets: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of edges(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const set: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      set.push(w);
    } while (w !== v);
    if (set.length > 1 || edges(v).includes(v)) sets.push(set);
  };
  for (const f of [...graph.keys()].sort()) if (!index.has(f)) visit(f);
  return sets.map((set) => {
    // The shortest way back to the set's first module (breadth first, within the set): one cycle to read.
    const members = new Set(set);
    const start = set.sort()[0];
    const cameFrom = new Map<string, string>();
    const queue = [start];
    for (let i = 0; i < queue.length && !cameFrom.has(start); i++) {
      for (const t of edges(queue[i])) {
        if (!members.has(t) || cameFrom.has(t)) continue;
        cameFrom.set(t, queue[i]);
        queue.push(t);
      }
    }
    const path = [start];
    for (let f = cameFrom.get(start)!; f !== start; f = cameFrom.get(f)!) path.unshift(f);
    path.unshift(start);
    return `${set.length} modules import each other, e.g. ${path.map((f) => `src/${f}`).join(' → ')}`;
  });
}

/** Every .ts module under src/, by path relative to src/ (POSIX), with its text. */
function sourcesOfSrc(): Map<string, string> {
  const top = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');
  const sources = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) sources.set(relative(top, p).split('\\').join('/'), readFileSync(p, 'utf8'));
    }
  };
  walk(top);
  return sources;
}

describe('import layers of src/', () => {
  const graph = graphOf(sourcesOfSrc());

  it('reads the modules of src/ and their imports', () => {
    assert.ok(graph.size > 100, `found only ${graph.size} modules`);
    assert.ok(graph.get('index.ts')!.includes('errors.ts'), 'index.ts imports errors.ts');
    for (const [file, targets] of graph) for (const t of targets) assert.ok(graph.has(t), `src/${file} imports src/${t}, which is not there`);
  });

  it('no module imports a module of a higher floor', () => {
    const found = layerViolations(graph);
    assert.deepEqual(found, [], `imports against the floors (FLOORS, ARCHITECTURE.md):\n${found.join('\n')}`);
  });

  it('no modules import each other in a circle', () => {
    const found = importCycles(graph);
    assert.deepEqual(found, [], `import cycles:\n${found.join('\n')}`);
  });

  it('ARCHITECTURE.md writes down the same floors, in the same order', () => {
    const map = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'ARCHITECTURE.md'), 'utf8');
    const line = /Floors, low → high:([\s\S]*?)\n\n/.exec(map);
    assert.ok(line, 'ARCHITECTURE.md has a "Floors, low → high:" paragraph');
    const written = line[1].split('·').map((floor) => [...floor.matchAll(/`([^`]+)`/g)].map((m) => m[1].replace(/\/$/, '').replace(/^src\//, '')));
    assert.deepEqual(written, FLOORS.map((floor) => [...floor]));
  });
});

describe('the layer checker itself', () => {
  const example = (files: Record<string, string>) => graphOf(new Map(Object.entries(files)));

  it('reads static, type-only, re-export and dynamic imports, and ignores packages and strings', () => {
    const g = example({
      'ops/a.ts': [
        "import { x } from '../fs/x.js';",
        "import type { T } from '../types.js';",
        "export { y } from './y.js';",
        "export type { Z } from '../model/z.js';",
        "const m = await import('../formats/m.js');",
        "import * as path from 'node:path';",
        "const s = 'import \"./not-an-import.js\"';",
      ].join('\n'),
    });
    assert.deepEqual(g.get('ops/a.ts'), ['fs/x.ts', 'types.ts', 'ops/y.ts', 'model/z.ts', 'formats/m.ts']);
  });

  it('names the file and the import that goes up a floor, type-only or dynamic', () => {
    const g = example({
      'types.ts': "import type { IndexOptions } from './incremental/scan-index.js';",
      'tasks/inspect.ts': "import { fileEntry } from '../incremental/entry.js';\nimport { ok } from '../fs/ok.js';",
      'formats/codec.ts': "const c = await import('../crypto/container.js');",
      'crypto/container.ts': "import { readBinHeader } from '../formats/bin.js';",
      'incremental/scan-index.ts': '',
      'incremental/entry.ts': '',
      'fs/ok.ts': '',
      'formats/bin.ts': '',
    });
    assert.deepEqual(layerViolations(g), [
      'src/types.ts (floor 0: *.ts) imports src/incremental/scan-index.ts (floor 10: incremental)',
      'src/tasks/inspect.ts (floor 7: tasks) imports src/incremental/entry.ts (floor 10: incremental)',
      'src/crypto/container.ts (floor 1: crypto) imports src/formats/bin.ts (floor 2: formats)',
    ]);
    assert.deepEqual(layerViolations(g, new Set(['types.ts', 'tasks/inspect.ts', 'crypto/container.ts'])), []);
  });

  it('puts src/index.ts and src/cli.ts on the top floor and a folder on no floor in the report', () => {
    const g = example({ 'index.ts': "export * from './ops/a.js';", 'errors.ts': "import { run } from './cli.js';", 'cli.ts': '', 'ops/a.ts': '', 'gadgets/g.ts': '' });
    assert.deepEqual(layerViolations(g), ['src/errors.ts (floor 0: *.ts) imports src/cli.ts (floor 15: cli.ts)', 'src/gadgets/g.ts: its folder "gadgets" is on no floor (add it to FLOORS and ARCHITECTURE.md)']);
  });

  it('finds a cycle within a folder, across folders, and of one module, and none in a tree', () => {
    const g = example({
      'cli/context.ts': "import { k } from './keys.js';",
      'cli/keys.ts': "import type { Ctx } from './context.js';",
      'errors.ts': "import { t } from './fs/temp-files.js';",
      'fs/temp-files.ts': "import { a } from './atomic.js';",
      'fs/atomic.ts': "import { errors } from '../errors.js';",
      'fs/self.ts': "import { me } from './self.js';",
      'ops/tree.ts': "import { a } from '../fs/atomic.js';\nimport { k } from '../cli/keys.js';",
    });
    assert.deepEqual(importCycles(g).sort(), [
      '1 modules import each other, e.g. src/fs/self.ts → src/fs/self.ts',
      '2 modules import each other, e.g. src/cli/context.ts → src/cli/keys.ts → src/cli/context.ts',
      '3 modules import each other, e.g. src/errors.ts → src/fs/temp-files.ts → src/fs/atomic.ts → src/errors.ts',
    ]);
    assert.deepEqual(importCycles(g, new Set(['cli/keys.ts', 'errors.ts', 'fs/self.ts'])), []);
  });
});
