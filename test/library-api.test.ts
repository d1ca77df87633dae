// The library's public surface as the docs present it: every call a "Library:" line or the README's
// library example names is exported by the package, and the example itself is valid code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as api from '../src/index.js';

const repo = (rel: string) => fileURLToPath(new URL(`../../${rel}`, import.meta.url));
const read = (rel: string) => readFileSync(repo(rel), 'utf8');
const docFiles = ['README.md', ...readdirSync(repo('docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** The README's ```ts block under "## Library". */
function libraryExample(): string {
  const readme = read('README.md');
  const at = readme.indexOf('\n## Library\n');
  assert.ok(at >= 0, 'README.md has a "## Library" section');
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(block, 'the Library section holds a ts example');
  return block[1];
}

test('every call a "Library:" line of the docs names is exported by the package', () => {
  const named = new Map<string, string>();
  for (const file of docFiles) {
    // A "Library:" line and the lines it wraps onto (up to a blank line or the next list item).
    for (const m of read(file).matchAll(/Library:((?:.|\n(?!\n|- ))*)/g)) {
      const text = m[1].split('Python:')[0]; // the Python client's calls, if the line goes on to them
      for (const call of text.matchAll(/`([A-Za-z_$][\w$]*)\(/g)) named.set(call[1], file);
    }
  }
  assert.ok(named.size >= 6, `the docs' Library lines name calls (found ${[...named.keys()].join(', ')})`);
  for (const [name, file] of named) {
    assert.equal(typeof (api as Record<string, unknown>)[name], 'function', `${file} presents ${name}() as a library call`);
  }
});

test("the README's library example imports only exports and shadows none of them", () => {
  const code = libraryExample();
  const imports = /import \{([^}]*)\} from 'image-sidecar'/.exec(code);
  assert.ok(imports, "the example imports from 'image-sidecar'");
  const names = imports[1].split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const name of names) assert.equal(typeof (api as Record<string, unknown>)[name], 'function', `${name} is exported`);
  // A `const x` with an imported name is a SyntaxError ("Identifier has already been declared").
  for (const m of code.matchAll(/\b(?:const|let|var)\s+([A-Za-z_$][\w$]*)/g)) {
    assert.ok(!names.includes(m[1]), `the example declares ${m[1]}, which it imports`);
  }
  // Each imported call is used as one.
  for (const name of names) assert.match(code, new RegExp(`\\b${name}\\(`), `the example calls ${name}`);
});

/** True when A and B are the same type (checked by the compiler: this file does not build otherwise). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

test("each exported call's option and result types can be named from the package", () => {
  // Written for the compiler: a type missing from the package or not the call's own fails the build.
  const named: [
    Same<Parameters<typeof api.saveSidecar>[3], api.SaveOptions | undefined>,
    Same<Awaited<ReturnType<typeof api.saveSidecar>>, api.SaveResult>,
    Same<Awaited<ReturnType<typeof api.readSidecarDetailed>>, api.ReadResult>,
    Same<api.ReadResult['findings'][number], api.ReadFinding>,
    Same<Awaited<ReturnType<typeof api.readSidecarText>>, api.ReadTextResult>,
    Same<Parameters<typeof api.locateSidecar>[1], api.LocateOptions | undefined>,
    Same<Awaited<ReturnType<typeof api.locateSidecar>>, api.SidecarLocation>,
    Same<Awaited<ReturnType<typeof api.findOrphans>>, api.OrphanList>,
    Same<ReturnType<typeof api.decodeSidecar>, api.DecodedSidecar>,
    Same<Parameters<typeof api.serveStdio>[0], api.ServeStdioOptions | undefined>,
    Same<Parameters<typeof api.moveImages>[2], api.TransferOptions | undefined>,
    Same<Awaited<ReturnType<typeof api.copyImages>>, api.TransferReport>,
    Same<api.TransferReport['mode'], api.TransferMode>,
    Same<api.TransferUnit['files'][number], api.TransferFile>,
    Same<Parameters<typeof api.find>[1], api.FindOptions>,
    Same<Awaited<ReturnType<typeof api.find>>, api.FindReport>,
    Same<ReturnType<typeof api.compileQuery>, api.Predicate>,
    Same<Awaited<ReturnType<typeof api.relink>>, api.RelinkReport>,
    Same<Parameters<typeof api.validateFiles>[1], api.ValidateFilesOptions | undefined>,
    Same<Awaited<ReturnType<typeof api.validateFiles>>, api.FilesValidationReport>,
  ] = [true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true];
  assert.ok(named.every((x) => x));
});
