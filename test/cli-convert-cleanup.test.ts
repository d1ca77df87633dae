/** `convert`, `cleanup` and `restore` end to end: formats, exit codes, guards, undo. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAKE_JPEG, hasScript, makeCornerTree, makeTree, parseJson, removeTree, runCli, runCliTty, sidecarData } from './helpers/cli.js';

/** The earlier tool's binary layout: u64-LE length + compact JSON. */
function legacyBin(text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(body.length));
  return Buffer.concat([head, body]);
}

/** Floats the earlier converter changed (0.22490839660167694 → …697) must survive bit for bit. */
const TRICKY = '{"face_detection":{"success":true,"faces":[{"face_id":0,"confidence":0.22490839660167694,"bbox":{"x":0.1,"y":5e-324,"width":1.7976931348623157e308,"height":0.30000000000000004}}]},"sidecar_info":{"operation_type":"face_detection","image_path":"A.jpg"}}';

function orphanTree(orphans: number, valid: number): string {
  const spec: Record<string, Parameters<typeof makeTree>[0][string]> = {};
  for (let i = 0; i < valid; i++) {
    spec[`p/IMG_${i}.jpg`] = FAKE_JPEG;
    spec[`p/IMG_${i}.json`] = { json: sidecarData(`IMG_${i}.jpg`, 1, 4) };
  }
  for (let i = 0; i < orphans; i++) spec[`p/gone_${i}.json`] = { json: sidecarData(`gone_${i}.jpg`, 1, 4) };
  return makeTree(spec);
}

describe('cli convert', () => {
  it('an unknown or missing format is a usage error (exit 2) and touches nothing', async () => {
    const root = makeTree({ 'A.jpg': FAKE_JPEG, 'A.json': { json: sidecarData('A.jpg', 1, 4) } });
    const before = readFileSync(join(root, 'A.json'));
    const [unknown, missing] = await Promise.all([runCli(['convert', '--input', root, '--format', 'yaml']), runCli(['convert', root])]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /'yaml' is invalid\. Allowed choices are json, bin, rkyv, legacy, binary/);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /\[USAGE\]: convert needs -f\/--format/);
    assert.deepEqual(readdirSync(root).sort(), ['A.jpg', 'A.json']);
    assert.deepEqual(readFileSync(join(root, 'A.json')), before);
    removeTree(root);
  });

  it('legacy .bin → json → bin → json keeps every float bit for bit; --verify checks it', async () => {
    const root = makeTree({ 'x/A.jpg': FAKE_JPEG, 'x/A.bin': legacyBin(TRICKY) });
    const toJson = await runCli(['convert', root, '-f', 'json', '--verify']);
    assert.equal(toJson.code, 0, toJson.stderr);
    const rep = parseJson<Record<string, any>>(toJson);
    assert.equal(rep.message, 'Converted 1 sidecar files to json');
    assert.equal(rep.converted, 1);
    assert.deepEqual(rep.verify, { checked: 1, mismatches: [] });
    assert.deepEqual(readdirSync(join(root, 'x')).sort(), ['A.jpg', 'A.json']);
    assert.match(readFileSync(join(root, 'x/A.json'), 'utf8'), /0\.22490839660167694/);

    const toBin = await runCli(['convert', root, '-f', 'bin', '--keep-source']);
    assert.equal(toBin.code, 0, toBin.stderr);
    assert.deepEqual(readdirSync(join(root, 'x')).sort(), ['A.bin', 'A.jpg', 'A.json'], '--keep-source keeps A.json');
    const read = await runCli(['read', join(root, 'x/A.jpg'), '--detailed']);
    const detailed = parseJson<Record<string, any>>(read);
    assert.equal(detailed.format, 'bin', 'bin is read before json');
    assert.deepEqual(detailed.data, JSON.parse(TRICKY));
    assert.equal(Object.is(detailed.data.face_detection.faces[0].confidence, 0.22490839660167694), true);
    removeTree(root);
  });

  it('exit 1 when sidecars of one image disagree (a stale .json next to a newer .bin); both kept', async () => {
    const root = makeTree({
      'A.jpg': FAKE_JPEG,
      'A.json': { json: sidecarData('A.jpg', 1, 4) },
      'A.bin': legacyBin(JSON.stringify(sidecarData('A.jpg', 2, 4))),
    });
    const a = readFileSync(join(root, 'A.bin'));
    const r = await runCli(['convert', root, '--format', 'bin']);
    assert.equal(r.code, 1);
    const rep = parseJson<Record<string, any>>(r);
    assert.equal(rep.conflicts > 0, true);
    assert.equal(rep.problems.every((p: { action: string }) => p.action === 'conflict'), true);
    assert.deepEqual(readFileSync(join(root, 'A.bin')), a, 'the newer .bin is not overwritten by the stale .json');
    assert.equal(existsSync(join(root, 'A.json')), true);
    removeTree(root);
  });

  it('on the corner-case tree: sidecars of images converted; report, corrupt file, orphan and links untouched', async () => {
    const root = makeCornerTree();
    const untouched = ['photos/game_detection.json', 'photos/broken.json', 'photos/lost.json'].map((f) => [f, readFileSync(join(root, f))] as const);
    const r = await runCli(['convert', '--input', root, '--format', 'bin', '--verify', '--workers', '2']);
    // The corrupt file is a finding (exit 1), left as it is; the run went on.
    assert.equal(r.code, 1, r.stderr);
    const rep = parseJson<Record<string, any>>(r);
    assert.equal(rep.message, 'Converted 6 sidecar files to bin');
    assert.equal(rep.failed, 1);
    assert.deepEqual(rep.problems.map((p: { source: string; action: string }) => [p.source.slice(root.length + 1), p.action]), [['photos/broken.json', 'skip-corrupt']]);
    assert.deepEqual(rep.verify.mismatches, []);
    for (const name of ['photos/IMG_1', 'photos/DSC_0042', 'photos/Ünïcode café', 'photos/q', 'photos/2025/09/20/20250920_143022', 'photos/2025/09/20/20250920_143022_001']) {
      assert.equal(existsSync(join(root, `${name}.bin`)), true, name);
      assert.equal(existsSync(join(root, `${name}.json`)), false, name);
    }
    for (const [f, bytes] of untouched) assert.deepEqual(readFileSync(join(root, f)), bytes, f);
    assert.deepEqual(readdirSync(join(root, 'games/Game1')), ['IMG_1.jpg']);
    const fs = parseJson<Record<string, any>>(await runCli(['format-stats', root]));
    assert.equal(fs.format_distribution.Binary, 6);
    removeTree(root);
  });

  it('--dry-run reports the plan and changes nothing', async () => {
    const root = makeTree({ 'A.jpg': FAKE_JPEG, 'A.json': { json: sidecarData('A.jpg', 1, 4) }, 'B.jpg': FAKE_JPEG, 'B.json': { json: sidecarData('B.jpg', 1, 4) } });
    const r = await runCli(['convert', root, '--format', 'rkyv', '--dry-run']);
    assert.equal(r.code, 0);
    const rep = parseJson<Record<string, any>>(r);
    assert.equal(rep.message, 'Would convert 2 sidecar files to rkyv');
    assert.equal(rep.dryRun, true);
    assert.deepEqual(readdirSync(root).sort(), ['A.jpg', 'A.json', 'B.jpg', 'B.json']);
    removeTree(root);
  });
});

describe('cli cleanup and restore', () => {
  it('the guard refuses to remove too many sidecars (exit 2, nothing moved); --max-fraction / --force allow it', async () => {
    const root = orphanTree(3, 3);
    const refused = await runCli(['cleanup', '--input', root]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /^image-sidecar: error \[GUARD\]: refusing to remove 3 of 6 sidecars/);
    assert.equal(refused.stdout, '');
    assert.equal(readdirSync(join(root, 'p')).length, 9);
    // The dry run shows exactly the orphans that trip the guard, says it would refuse, exits 1.
    const tripped = await runCli(['cleanup', root, '--dry-run']);
    assert.equal(tripped.code, 1, tripped.stderr);
    const plan = parseJson<Record<string, any>>(tripped);
    assert.equal(plan.message, 'Would remove 3 orphaned sidecar files');
    assert.deepEqual(plan.actions.map((a: { rel: string }) => a.rel).sort(), ['p/gone_0.json', 'p/gone_1.json', 'p/gone_2.json']);
    assert.match(plan.guard, /^refusing to remove 3 of 6 sidecars/);
    assert.match(tripped.stderr, /the guard would refuse this cleanup: refusing to remove 3 of 6 sidecars/);
    assert.equal(readdirSync(join(root, 'p')).length, 9);
    const dry = await runCli(['cleanup', root, '--dry-run', '--max-fraction', '0.6']);
    assert.equal(dry.code, 0);
    assert.equal(parseJson<Record<string, any>>(dry).actions.length, 3);
    const ok = await runCli(['cleanup', root, '--max-fraction', '0.5']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(parseJson(ok).message, 'Removed 3 orphaned sidecar files');
    assert.match(ok.stderr, /undo with: image-sidecar restore/);
    assert.deepEqual(readdirSync(join(root, 'p')).filter((n) => n.startsWith('gone_')), []);
    removeTree(root);

    const forced = orphanTree(2, 1);
    const f = await runCli(['cleanup', forced, '--force', '--delete']);
    assert.equal(f.code, 0, f.stderr);
    const rep = parseJson<Record<string, any>>(f);
    assert.equal(rep.mode, 'delete');
    assert.equal(rep.removed, 2);
    assert.equal(existsSync(join(forced, '.image-sidecar-quarantine')), false, '--delete does not quarantine');
    assert.deepEqual(readdirSync(join(forced, 'p')).sort(), ['IMG_0.jpg', 'IMG_0.json']);
    removeTree(forced);
  });

  it('restore puts quarantined sidecars back byte for byte; a second restore finds nothing (exit 2)', async () => {
    const root = orphanTree(1, 9);
    const orphan = join(root, 'p/gone_0.json');
    const bytes = readFileSync(orphan);
    const c = await runCli(['cleanup', root]);
    assert.equal(c.code, 0, c.stderr);
    const q = parseJson<Record<string, any>>(c).quarantine as string;
    assert.equal(existsSync(orphan), false);
    const dry = await runCli(['restore', root, '--from', q, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(parseJson(dry).message, 'Would restore 1 sidecar files');
    assert.equal(existsSync(orphan), false);
    const r = await runCli(['restore', '--input', root]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(parseJson<Record<string, any>>(r).restored, 1);
    assert.deepEqual(readFileSync(orphan), bytes);
    const again = await runCli(['restore', root]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /\[NOT_FOUND\]/);
    removeTree(root);
  });

  it('an incomplete scan declares no orphan: exit 2 INCOMPLETE_SCAN, even with --force', async () => {
    const root = orphanTree(1, 9);
    writeFileSync(Buffer.concat([Buffer.from(root + '/p/x'), Buffer.from([0xfe]), Buffer.from('.json')]), '{}');
    const r = await runCli(['cleanup', root, '--force']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /\[INCOMPLETE_SCAN\]/);
    assert.equal(existsSync(join(root, 'p/gone_0.json')), true);
    removeTree(root);
  });

  it('on a terminal: "Would remove N orphaned sidecar files" and the list', { skip: !hasScript() && 'util-linux script not available' }, async () => {
    const root = orphanTree(1, 9);
    const r = await runCliTty(['cleanup', root, '--dry-run'], { env: { NO_COLOR: '1' } });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Would remove 1 orphaned sidecar files\n/);
    assert.match(r.stdout, /Would remove:\n {2}p\/gone_0\.json\n/);
    assert.doesNotMatch(r.stdout, /Removed \d/);
    removeTree(root);
  });
});

describe('cli cleanup: orphans left in place', () => {
  it('exits 1 (findings) when an orphan could not be moved, even with -q (regression: it exited 0)', async (t) => {
    const spec: Record<string, unknown> = {};
    for (let i = 0; i < 20; i++) {
      spec[`IMG_${i}.jpg`] = FAKE_JPEG;
      spec[`IMG_${i}.json`] = { json: sidecarData(`IMG_${i}.jpg`) };
    }
    spec['gone_1.json'] = { json: sidecarData('gone_1.jpg') };
    spec['gone_2.json'] = { json: sidecarData('gone_2.jpg') };
    const root = makeTree(spec as Parameters<typeof makeTree>[0]);
    // An immutable file cannot be moved, even by root (ext4's chattr +i).
    const stuck = join(root, 'gone_1.json');
    const { spawnSync } = await import('node:child_process');
    if (spawnSync('chattr', ['+i', stuck]).status !== 0) {
      removeTree(root);
      t.skip('chattr +i is not available here');
      return;
    }
    try {
      const r = await runCli(['cleanup', root, '--force', '-q']);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(existsSync(stuck), true);
      assert.equal(existsSync(join(root, 'gone_2.json')), false, 'the other orphan was quarantined');
    } finally {
      spawnSync('chattr', ['-i', stuck]);
      removeTree(root);
    }
  });
});
