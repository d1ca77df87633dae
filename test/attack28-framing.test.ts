/**
 * attack28: a file entry's framing as the reading thread writes it (store.ts beginFileEntry /
 * sealFileEntry: an ASCII key copied by hand, a multi-byte one through Buffer's UTF-8 write, the
 * numbers through a DataView) against a framing built here from Buffer.from(key) alone: keys whose
 * first non-ASCII unit is at every position, lone surrogates, astral characters, NUL, keys whose
 * UTF-8 length is 65,535 (kept) or 65,536 (refused) in one- and multi-byte characters; any result
 * number; odd offsets in a buffer that is a view at an offset, sized exactly fileEntryBound. Then
 * entry.ts fileEntry: the packed form made of the result as it is (its real path) is the bytes of
 * the path-emptied result, the key follows the root from one call to the next (relativeTo's last base), and
 * the result is left as it was. Written by attack28 (helper) against da4fb0e, which held: the same
 * bytes as 2947791 over ~350k random and adversarial framings and ~250k fileEntry calls.
 */
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { fileEntry, PATH_MARK } from '../src/incremental/entry.js';
import { IdentityScratch } from '../src/fs/identity.js';
import { beginFileEntry, fileEntryBound, sealFileEntry, writeFileEntry } from '../src/incremental/store.js';
import { packResult } from '../src/tasks/inspect-wire.js';
import { relativeTo } from '../src/fs/rel-path.js';
import type { FileInspection } from '../src/model/inspection.js';

/** The entry of one result, built from the format's description (store.ts header), or null past 65,535 key bytes. */
function reference(key: string, id: Uint8Array, keyNo: number, result: string | Uint8Array): Buffer | null {
  const k = Buffer.from(key, 'utf8');
  if (k.length > 0xffff) return null;
  const r = typeof result === 'string' ? Buffer.from(result, 'utf8') : Buffer.from(result);
  const head = Buffer.alloc(11);
  head[8] = 0;
  head.writeUInt16LE(k.length, 9);
  const res = Buffer.alloc(7);
  res[0] = 1;
  res.writeUInt16LE(keyNo, 1);
  res.writeUInt32LE(r.length, 3);
  const e = Buffer.concat([head, k, Buffer.from(id.subarray(0, 40)), res, r]);
  e.writeUInt32LE(e.length, 0);
  e.writeUInt32LE(crc32(e.subarray(8)) >>> 0, 4);
  return e;
}

let seed = 28;
const rnd = (n: number) => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return ((seed ^ (seed >>> 16)) >>> 0) % n;
};

function keys(): string[] {
  const out = ['', 'a', '\0', '\0a\0', '\x7f', '\x80', 'é', '😀', '\ud800', '\udfff', '\udc00\ud800', 'a\ud83d', '\ude00a', 'photos/IMG_1.json'];
  const base = 'photos/d1';
  for (const ch of ['\x80', 'é', '\u07ff', '\u0800', '€', '\uffff', '😀', '\ud800', '\udbff', '\udc00', '\ud83d\ude00']) {
    for (let i = 0; i <= base.length; i++) out.push(base.slice(0, i) + ch + base.slice(i));
  }
  // UTF-8 lengths at and past the format's 65,535.
  for (const n of [65534, 65535, 65536]) out.push('a'.repeat(n), 'a'.repeat(n - 2) + 'é', 'é' + 'a'.repeat(n - 2), 'a'.repeat(n - 4) + '😀', 'a'.repeat(n - 3) + '\ud800');
  out.push('é'.repeat(32767) + 'a', 'é'.repeat(32768), '€'.repeat(21845), '€'.repeat(21845) + 'a', '😀'.repeat(16383) + 'abc', '😀'.repeat(16384), '\ud800'.repeat(21845), '\ud800'.repeat(21846));
  return out;
}

test('attack28 framing: writeFileEntry and beginFileEntry + sealFileEntry write the format\'s bytes for any key, result number and offset', () => {
  const payloads: (string | Uint8Array)[] = ['', new Uint8Array(0), '{"path":"","s":"é \ud800"}', Uint8Array.from([0xff, 0x0f, 0, 1, 2])];
  let n = 0;
  for (const key of keys()) {
    for (const payload of payloads) {
      const idLen = [40, 40, 41, 64][rnd(4)];
      const id = Uint8Array.from({ length: idLen }, () => rnd(256));
      const keyNo = [0, 1, 7, 255, 256, 0xfffe, 0xffff, rnd(0x10000)][rnd(8)];
      const want = reference(key, id, keyNo, payload);
      const bound = fileEntryBound(key, payload);
      for (const at of [0, 1, 3]) {
        // A Buffer at an offset of its ArrayBuffer, ending exactly where the bound says.
        const ab = new ArrayBuffer(5 + at + bound);
        const out = Buffer.from(ab, 5, at + bound).fill(0xee);
        const len = writeFileEntry(out, at, key, id, keyNo, payload);
        if (want === null) assert.equal(len, -1, `key of ${key.length} units refused`);
        else assert.deepEqual(out.subarray(at, at + len), want, `writeFileEntry: key ${JSON.stringify(key.slice(0, 24))} (${key.length}) at ${at}`);
        // The two halves with a view of all of `out`, the result written between them.
        const out2 = Buffer.from(new ArrayBuffer(3 + at + bound), 3, at + bound).fill(0x11);
        const view = new DataView(out2.buffer, out2.byteOffset, out2.length);
        const r = beginFileEntry(out2, view, at, key, id, keyNo);
        if (want === null) assert.equal(r, -1);
        else {
          const p = typeof payload === 'string' ? Buffer.from(payload) : payload;
          out2.set(p, r);
          const len2 = sealFileEntry(out2, view, at, r + p.length);
          assert.deepEqual(out2.subarray(at, at + len2), want, `begin/seal: key ${JSON.stringify(key.slice(0, 24))} (${key.length}) at ${at}`);
        }
        n++;
      }
    }
  }
  assert.ok(n > 1000, `${n} framings`);
});

test('attack28 framing: fileEntry packs the result as it is into the bytes of its path-emptied form, keyed by the root of each call, the result untouched', () => {
  const id = new IdentityScratch();
  const roots = ['/lib', '/lib/', '/', '/lib/sub', '/x/é'];
  const parts = ['a.json', '.hidden', '..', '.', 'é', '😀', 'sub', 'lib'];
  for (let i = 0; i < 600; i++) {
    const root = roots[(i >> 3) % roots.length]; // the root changes every few calls
    let rel = parts[rnd(parts.length)];
    for (let j = rnd(3); j > 0; j--) rel += '/' + parts[rnd(parts.length)];
    const path = [`${root.endsWith('/') ? root : root + '/'}${rel}`, `/other/${rel}`, `${root}x/${rel}`][rnd(3)];
    const kind = i % 4; // 0, 1: packed (-0 kept); 2: an error naming the path (JSON, PATH_MARK); 3: problems (JSON)
    const r: Record<string, unknown> = { path, size: rnd(100), status: 'ok', format: 'json', notes: [], shape: 'sidecar', elapsedMs: i % 5 === 0 && kind < 2 ? -0 : 0.5 };
    if (i % 3 === 0) r.brief = { detectionCount: i, toolName: i % 2 ? null : path, operationType: 'op' };
    if (kind === 2) {
      r.status = 'corrupt';
      r.error = { code: 'CORRUPT', message: `bad ${path}: ${path}` };
    }
    if (kind === 3) r.problems = [{ pointer: '', message: `in ${path}`, severity: 'warning' }];
    const before = structuredClone(r);
    id.load({ dev: 1n, ino: BigInt(i + 1), size: BigInt(r.size as number), mtimeNs: 2n, ctimeNs: 3n });
    const e = fileEntry(r as unknown as FileInspection, id, { racyCutoffMs: 0, root, keyNo: i % 8 }, 10n, false);
    assert.ok(e !== null);
    assert.deepStrictEqual(r, before, 'the result left as it was');
    assert.deepEqual(Object.keys(r), Object.keys(before));
    const stored: Record<string, unknown> = { ...before, path: '' };
    if (kind === 2) stored.error = { code: 'CORRUPT', message: `bad ${PATH_MARK}: ${PATH_MARK}` };
    const payload = kind < 2 ? packResult(stored as unknown as FileInspection)! : JSON.stringify(stored);
    assert.ok(payload !== null);
    const want = reference(relativeTo(root)(path), id.bytes, i % 8, payload)!;
    assert.deepEqual(Buffer.from(e), want, `entry ${i}: root ${root}, path ${path}`);
  }
});

test("attack28 framing: an empty root on a thread's first entry is a root like any other (relativeTo has no last base before its first call)", () => {
  // A fresh process: relativeTo's last base is module state, so the first call must be this one.
  const entryUrl = new URL('../src/incremental/entry.js', import.meta.url).href;
  const identityUrl = new URL('../src/fs/identity.js', import.meta.url).href;
  const relUrl = new URL('../src/fs/rel-path.js', import.meta.url).href;
  const script = `
    const { fileEntry } = await import(${JSON.stringify(entryUrl)});
    const { IdentityScratch } = await import(${JSON.stringify(identityUrl)});
    const { relativeTo } = await import(${JSON.stringify(relUrl)});
    const id = new IdentityScratch();
    id.load({ dev: 1n, ino: 2n, size: 0n, mtimeNs: 2n, ctimeNs: 3n });
    const path = '/lib/a.json';
    const e = fileEntry({ path, size: 0, status: 'ok', format: 'json', notes: [], shape: 'sidecar', elapsedMs: 0 }, id, { racyCutoffMs: 0, root: '', keyNo: 0 }, 10n, false);
    const kl = e[9] | (e[10] << 8);
    process.stdout.write(JSON.stringify({ key: Buffer.from(e.subarray(11, 11 + kl)).toString('utf8'), want: relativeTo('')(path) }));
  `;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  const { key, want } = JSON.parse(out.stdout) as { key: string; want: string };
  assert.equal(key, want);
  assert.notEqual(key, '/lib/a.json'); // 2d5ce53's first call kept the path as it was
});
