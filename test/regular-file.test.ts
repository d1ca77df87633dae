/**
 * fs/regular-file.ts: the one rule for opening a file the library expects to be regular. Attacks:
 * a FIFO where a file was (an open without O_NONBLOCK waits for a writer forever: the run hangs),
 * a symlink swapped in where links are refused, and files bigger than the stream's chunk.
 * Each FIFO case runs in a child process with a deadline, so a regression shows as a failed test
 * rather than a test run that never ends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { READ_FLAGS, READ_NOFOLLOW_FLAGS, streamRegularFile, streamRegularFileSync } from '../src/fs/regular-file.js';
import { hashRegularFile } from '../src/fs/file-hash.js';
import { hashFileSync } from '../src/analysis/image-identity.js';
import { SidecarError } from '../src/errors.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'is-regular-'));
const srcUrl = (rel: string) => new URL(`../src/${rel}`, import.meta.url).href;

function mkfifo(p: string): boolean {
  return spawnSync('mkfifo', [p]).status === 0;
}

/** A fresh folder where FIFOs can be made, or null (the test skipped) where they cannot. */
function fifoCapableDir(t: { skip: (why: string) => void }): string | null {
  const dir = tmp();
  const probe = path.join(dir, 'probe');
  if (!mkfifo(probe)) {
    t.skip('mkfifo is not available');
    fs.rmSync(dir, { recursive: true, force: true });
    return null;
  }
  fs.rmSync(probe);
  return dir;
}

/** Run an ES module body in a child; it must print its result and exit within `ms`. */
function runChild(body: string, ms = 20_000): { status: number | null; out: string; err: string; timedOut: boolean } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', body], { encoding: 'utf8', timeout: ms });
  return { status: r.status, out: r.stdout, err: r.stderr, timedOut: r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT' };
}

test('streamed hashing: several chunks and an empty file give the digest of the whole content', async () => {
  const dir = tmp();
  const big = path.join(dir, 'big.bin');
  const content = randomBytes((1 << 20) * 2 + 12_345); // two full chunks and a partial one
  fs.writeFileSync(big, content);
  const want = createHash('sha256').update(content).digest('hex');
  const h1 = createHash('sha256');
  const synced = streamRegularFileSync(big, READ_FLAGS, (b) => h1.update(b));
  assert.equal(synced.size, content.length);
  assert.equal(synced.ino, fs.statSync(big).ino, 'the identity of the file read (fstat of its descriptor)');
  assert.equal(h1.digest('hex'), want);
  const h2 = createHash('sha256');
  const st = await streamRegularFile(big, READ_NOFOLLOW_FLAGS, (b) => h2.update(b));
  assert.equal(st.size, content.length);
  assert.equal(st.ino, fs.statSync(big).ino);
  assert.equal(h2.digest('hex'), want);
  assert.equal(hashFileSync(big), want);
  const r = await hashRegularFile(big);
  assert.equal(r.sha256, want);
  assert.equal(r.snapshot.size, content.length);

  const empty = path.join(dir, 'empty.bin');
  fs.writeFileSync(empty, '');
  assert.equal(hashFileSync(empty), createHash('sha256').digest('hex'));
  assert.equal((await hashRegularFile(empty)).snapshot.size, 0);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a symlink is refused where links are not followed, and followed where they are', async () => {
  const dir = tmp();
  const real = path.join(dir, 'real.jpg');
  fs.writeFileSync(real, 'image bytes');
  const link = path.join(dir, 'link.jpg');
  fs.symlinkSync(real, link);
  assert.throws(() => streamRegularFileSync(link, READ_NOFOLLOW_FLAGS, () => undefined), (e: unknown) => e instanceof SidecarError);
  await assert.rejects(hashRegularFile(link), (e: unknown) => e instanceof SidecarError && e.code === 'CONFLICT' && /symlink/.test(e.message));
  // An image may be a link: its identity hash follows it.
  assert.equal(hashFileSync(link), createHash('sha256').update('image bytes').digest('hex'));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a FIFO is refused at once by every reader, never waited on (regression: hashFileSync and hashRegularFile blocked forever)', (t) => {
  const dir = fifoCapableDir(t);
  if (dir === null) return;
  const fifo = path.join(dir, 'IMG_0001.jpg');
  mkfifo(fifo);
  const body = `
    const { hashFileSync } = await import(${JSON.stringify(srcUrl('analysis/image-identity.js'))});
    const { hashRegularFile } = await import(${JSON.stringify(srcUrl('fs/file-hash.js'))});
    const { readFileLimitedSync } = await import(${JSON.stringify(srcUrl('fs/read-file.js'))});
    const { checkImageIdentity } = await import(${JSON.stringify(srcUrl('analysis/image-identity.js'))});
    const p = ${JSON.stringify(fifo)};
    const out = [];
    try { hashFileSync(p); out.push('image-hash: read'); } catch (e) { out.push('image-hash: ' + e.code); }
    try { await hashRegularFile(p); out.push('quarantine-hash: read'); } catch (e) { out.push('quarantine-hash: ' + e.code); }
    try { readFileLimitedSync(p); out.push('sidecar-read: read'); } catch (e) { out.push('sidecar-read: ' + e.code); }
    // A sidecar recorded an empty image with its hash; the image is now a FIFO (size 0 too).
    const empty = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    const check = checkImageIdentity(p, { size: 0, mtimeNs: 0n, sha256: empty, operations: [], staleOperations: [] }, { verifyHash: true });
    out.push('identity: ' + check.state + ' ' + check.reasons.join(','));
    console.log(out.join('\\n'));
  `;
  const r = runChild(body);
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(r.timedOut, false, `a reader waited on the FIFO (${r.out}${r.err})`);
  assert.equal(r.status, 0, r.err);
  assert.deepEqual(r.out.trim().split('\n'), ['image-hash: IO', 'quarantine-hash: CONFLICT', 'sidecar-read: IO', 'identity: unknown image-unreadable']);
});

test('cleanup: an orphan swapped for a FIFO after the scan is left alone with a finding, and the rest is quarantined (regression: the run hung)', (t) => {
  const dir = fifoCapableDir(t);
  if (dir === null) return;
  const root = path.join(dir, 'lib');
  fs.mkdirSync(root);
  // Enough kept sidecars that two orphans stay under the guard's fraction.
  for (let i = 0; i < 20; i++) {
    fs.writeFileSync(path.join(root, `IMG_${i}.jpg`), 'jpg');
    fs.writeFileSync(path.join(root, `IMG_${i}.json`), JSON.stringify({ face_detection: { faces: [] } }));
  }
  fs.writeFileSync(path.join(root, 'gone_1.json'), JSON.stringify({ face_detection: { faces: [1] } }));
  fs.writeFileSync(path.join(root, 'gone_2.json'), JSON.stringify({ face_detection: { faces: [2] } }));
  const body = `
    const { cleanup } = await import(${JSON.stringify(srcUrl('ops/cleanup.js'))});
    const { execFileSync } = await import('node:child_process');
    const fs = await import('node:fs');
    const victim = ${JSON.stringify(path.join(root, 'gone_1.json'))};
    // The clock is read after the scan planned the orphans and before they are hashed and moved.
    const now = () => { fs.rmSync(victim); execFileSync('mkfifo', [victim]); return new Date(Date.UTC(2026, 0, 2, 3, 4, 5)); };
    const r = await cleanup(${JSON.stringify(root)}, { engine: 'inline', now, force: true });
    console.log(JSON.stringify({ orphans: r.orphans, removed: r.removed, skipped: r.skipped.map((s) => ({ rel: s.rel ?? s.path, code: s.code ?? s.error?.code })) }));
  `;
  const r = runChild(body);
  try {
    assert.equal(r.timedOut, false, `cleanup waited on the FIFO (${r.out}${r.err})`);
    assert.equal(r.status, 0, r.err);
    const rep = JSON.parse(r.out.trim().split('\n').pop()!) as { orphans: number; removed: number; skipped: { rel: string; code: string }[] };
    assert.equal(rep.orphans, 2);
    assert.equal(rep.removed, 1);
    assert.equal(rep.skipped.length, 1);
    assert.match(JSON.stringify(rep.skipped[0]), /gone_1\.json/);
    // The FIFO is where it was, the other orphan went to quarantine.
    assert.ok(fs.lstatSync(path.join(root, 'gone_1.json')).isFIFO());
    assert.equal(fs.existsSync(path.join(root, 'gone_2.json')), false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the library config: a FIFO, an oversized file or a directory under its name never hangs or is read whole (regression: a FIFO .image-sidecar.json hung every command in the tree)', (t) => {
  const dir = fifoCapableDir(t);
  if (dir === null) return;
  const probe = path.join(dir, 'probe');
  mkfifo(probe);
  const lib = path.join(dir, 'lib');
  fs.mkdirSync(lib);
  const cfg = path.join(lib, '.image-sidecar.json');
  fs.renameSync(probe, cfg);
  const body = `
    const { resolveImageExtensions, findConfigFile } = await import(${JSON.stringify(srcUrl('discovery/config.js'))});
    const fs = await import('node:fs');
    const out = [];
    const attempt = (label) => { try { const r = resolveImageExtensions({ startDir: ${JSON.stringify(lib)} }); out.push(label + ': ' + JSON.stringify(r ?? null)); } catch (e) { out.push(label + ': ' + e.code); } };
    attempt('fifo');
    fs.rmSync(${JSON.stringify(cfg)});
    fs.writeFileSync(${JSON.stringify(cfg)}, JSON.stringify({ imageExtensions: ['qqq'], pad: 'x'.repeat(2 << 20) }));
    attempt('oversized');
    fs.rmSync(${JSON.stringify(cfg)});
    fs.mkdirSync(${JSON.stringify(cfg)});
    out.push('directory: ' + findConfigFile(${JSON.stringify(lib)}));
    fs.rmdirSync(${JSON.stringify(cfg)});
    fs.writeFileSync(${JSON.stringify(cfg)}, JSON.stringify({ imageExtensions: ['qqq'] }));
    attempt('plain');
    console.log(out.join('\\n'));
  `;
  const r = runChild(body);
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(r.timedOut, false, `reading the config waited on the FIFO (${r.out}${r.err})`);
  assert.equal(r.status, 0, r.err);
  const lines = r.out.trim().split('\n');
  assert.equal(lines[0], 'fifo: IO');
  assert.equal(lines[1], 'oversized: TOO_LARGE');
  // A directory of that name is not a config: the search goes on above it (none there).
  assert.ok(lines[2] === 'directory: null' || !lines[2].includes(lib), lines[2]);
  assert.match(lines[3], /^plain: \[.*"qqq".*\]$/);
});

test('the incremental index: a FIFO at its path, or at its last-run record, is a foreign file, not a wait (regression: every run in the tree hung)', (t) => {
  const dir = fifoCapableDir(t);
  if (dir === null) return;
  const lib = path.join(dir, 'lib');
  fs.mkdirSync(lib);
  fs.writeFileSync(path.join(lib, 'IMG_1.jpg'), 'jpg');
  fs.writeFileSync(path.join(lib, 'IMG_1.json'), JSON.stringify({ face_detection: { faces: [] } }));
  const idx = path.join(dir, 'idx');
  const idx2 = path.join(dir, 'idx2');
  mkfifo(idx);
  const body = `
    const { validate } = await import(${JSON.stringify(srcUrl('ops/validate.js'))});
    const { indexStatus } = await import(${JSON.stringify(srcUrl('incremental/manage.js'))});
    const fs = await import('node:fs');
    const warnings = [];
    const rows = (r) => r.results.map((x) => x.file_path + ' ' + x.is_valid).join(',');
    const served = await validate(${JSON.stringify(lib)}, { engine: 'inline', index: { path: ${JSON.stringify(idx)}, onWarning: (m) => warnings.push(m) } });
    const plain = await validate(${JSON.stringify(lib)}, { engine: 'inline' });
    // A run replaces the last-run record (temp file + rename); one planted after it is read by status.
    await validate(${JSON.stringify(lib)}, { engine: 'inline', index: { path: ${JSON.stringify(idx2)} } });
    const { execFileSync } = await import('node:child_process');
    fs.rmSync(${JSON.stringify(idx2)} + '.last-run.json', { force: true });
    execFileSync('mkfifo', [${JSON.stringify(idx2)} + '.last-run.json']);
    const status = indexStatus(${JSON.stringify(lib)}, { path: ${JSON.stringify(idx2)} });
    console.log(JSON.stringify({ same: rows(served) === rows(plain), warnings, fifo: fs.statSync(${JSON.stringify(idx)}).isFIFO(), statusValid: status.valid, lastRun: status.last_run }));
  `;
  const r = runChild(body);
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(r.timedOut, false, `a run waited on the FIFO (${r.out}${r.err})`);
  assert.equal(r.status, 0, r.err);
  const out = JSON.parse(r.out.trim().split('\n').pop()!) as { same: boolean; warnings: string[]; fifo: boolean; statusValid: boolean; lastRun: unknown };
  assert.equal(out.statusValid, true);
  assert.equal(out.lastRun, null, 'a FIFO last-run record reads as none');
  assert.equal(out.same, true);
  assert.ok(out.warnings.some((w) => /is not an image-sidecar index/.test(w)), JSON.stringify(out.warnings));
  // --index may name anything: what is not an index is never written over (location.ts).
  assert.equal(out.fifo, true, 'the FIFO is left as it is');
});

test('a stale sidecar lock whose owner file is a FIFO is taken over, never waited on (regression: the stale-lock check blocked on it; then it was kept for good)', (t) => {
  const dir = fifoCapableDir(t);
  if (dir === null) return;
  const sidecar = path.join(dir, 'IMG_1.json');
  const body = `
    const { acquireSidecarLockSync, lockPathFor } = await import(${JSON.stringify(srcUrl('fs/lock.js'))});
    const fs = await import('node:fs');
    const { execFileSync } = await import('node:child_process');
    const lockDir = lockPathFor(${JSON.stringify(sidecar)});
    fs.mkdirSync(lockDir);
    execFileSync('mkfifo', [lockDir + '/owner']);
    const old = new Date(Date.now() - 3600_000);
    fs.utimesSync(lockDir, old, old); // stale: the taker reads its owner before moving it aside
    try { acquireSidecarLockSync(${JSON.stringify(sidecar)}, { timeoutMs: 500 }); console.log('acquired'); } catch (e) { console.log(e.code); }
  `;
  const r = runChild(body);
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(r.timedOut, false, `the lock waited on the FIFO (${r.out}${r.err})`);
  assert.equal(r.status, 0, r.err);
  assert.equal(r.out.trim(), 'acquired');
});

test('manifests found in the tree (a quarantine\'s, the integrity manifest) planted as FIFOs are reported, not waited on (regression: quarantines and verify hung)', (t) => {
  const dir = fifoCapableDir(t);
  if (dir === null) return;
  const root = path.join(dir, 'lib');
  const folder = path.join(root, '.image-sidecar-quarantine', '20260102T030405Z');
  fs.mkdirSync(folder, { recursive: true });
  const body = `
    const { listQuarantines } = await import(${JSON.stringify(srcUrl('ops/quarantines.js'))});
    const { MANIFEST_NAME } = await import(${JSON.stringify(srcUrl('ops/cleanup.js'))});
    const { readManifest } = await import(${JSON.stringify(srcUrl('integrity/manifest.js'))});
    const { execFileSync } = await import('node:child_process');
    execFileSync('mkfifo', [${JSON.stringify(folder)} + '/' + MANIFEST_NAME]);
    execFileSync('mkfifo', [${JSON.stringify(path.join(root, 'manifest.json'))}]);
    const list = await listQuarantines(${JSON.stringify(root)});
    let verify;
    try { await readManifest(${JSON.stringify(path.join(root, 'manifest.json'))}); verify = 'read'; } catch (e) { verify = e.code; }
    console.log(JSON.stringify({ problem: list.folders[0]?.problem ?? null, verify }));
  `;
  const r = runChild(body);
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(r.timedOut, false, `a manifest read waited on the FIFO (${r.out}${r.err})`);
  assert.equal(r.status, 0, r.err);
  const out = JSON.parse(r.out.trim().split('\n').pop()!) as { problem: string | null; verify: string };
  assert.match(out.problem ?? '', /not a regular file/);
  assert.equal(out.verify, 'IO');
});

test('an atomic write comparing with the current file never waits on a FIFO swapped in after its lstat (regression: the skip-if-same read blocked)', (t) => {
  const dir = fifoCapableDir(t);
  if (dir === null) return;
  const target = path.join(dir, 'IMG_1.json');
  // A racer swaps the target between a regular file of the same size and a FIFO, as fast as it can,
  // while a writer rewrites the same bytes (skipIfSame: lstat, then read to compare). The old read
  // landed on the FIFO within a few seconds on this machine; the rule never waits on one.
  const racer = spawn('bash', ['-c', `cd ${JSON.stringify(dir)}; end=$((SECONDS+4)); while [ $SECONDS -lt $end ]; do printf '%0100d' 0 > r.tmp; mv -f r.tmp IMG_1.json; rm -f fq; mkfifo fq; mv -f fq IMG_1.json; done`], { stdio: 'ignore', detached: true });
  const body = `
    const { writeFileAtomicSync } = await import(${JSON.stringify(srcUrl('fs/atomic-write.js'))});
    const bytes = Buffer.from('0'.repeat(100));
    let writes = 0, refused = 0;
    const t0 = Date.now();
    while (Date.now() - t0 < 3000) { try { writeFileAtomicSync(${JSON.stringify(target)}, bytes, { skipIfSame: true, syncDir: false }); } catch { refused++; } writes++; }
    console.log(JSON.stringify({ writes, refused }));
  `;
  const r = runChild(body, 30_000);
  // The racer's whole process group (its mv and mkfifo children too), then its files.
  try {
    process.kill(-racer.pid!, 'SIGKILL');
  } catch {
    /* gone already */
  }
  fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  assert.equal(r.timedOut, false, 'the writer waited on the FIFO');
  assert.equal(r.status, 0, r.err);
  const out = JSON.parse(r.out.trim()) as { writes: number; refused: number };
  assert.ok(out.writes > 0);
});

test('merge: a FIFO given as a shard output is refused at once (regression: merge waited on it forever)', (t) => {
  const dir = fifoCapableDir(t);
  if (dir === null) return;
  const fifo = path.join(dir, 'stats-1.jsonl');
  mkfifo(fifo);
  const body = `
    const { openShardFile } = await import(${JSON.stringify(srcUrl('shard/format.js'))});
    try { await openShardFile(${JSON.stringify(fifo)}); console.log('opened'); } catch (e) { console.log(e.code + ' ' + e.message); }
  `;
  const r = runChild(body);
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(r.timedOut, false, 'merge waited on the FIFO');
  assert.equal(r.status, 0, r.err);
  assert.match(r.out.trim(), /not a regular file/);
});
