/**
 * A reader that closes the pipe early (`image-sidecar export lib -o - | head`): the output was not
 * delivered whole, so the run must not report success. It exited 0 (the EPIPE handler exited with
 * the exit code of a command that had not finished: 0). Now it ends at once with exit 2 (fatal:
 * our codes are 0 / 1 / 2; a C tool would die of SIGPIPE, 141 in the shell) and one line on
 * stderr, no stack trace — whatever --exit-zero says. Run through a real shell pipeline into
 * `head`, with output well beyond a pipe's buffer so the write after `head` exits must fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI_PATH, runCli } from './helpers/cli.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir, type TreeNode } from './helpers/tree.js';

const EPIPE_LINE = /^image-sidecar: error \[IO\]: stdout was closed before the output was complete \(EPIPE: the reader went away\)$/m;

/** `node cli.js ARGS | head -c 64` in sh: the CLI's exit status, its stderr, and what head read. */
function pipedIntoHead(dir: string, args: readonly string[]): { status: number; stderr: string; headBytes: number } {
  const status = path.join(dir, 'status');
  const stderr = path.join(dir, 'stderr');
  const script = '{ "$NODE" "$CLI" "$@" 2>"$ERR"; echo $? >"$STATUS"; } | head -c 64 | wc -c';
  const r = spawnSync('sh', ['-c', script, 'sh', ...args], {
    encoding: 'utf8',
    env: { ...process.env, NODE: process.execPath, CLI: CLI_PATH, ERR: stderr, STATUS: status, IMAGE_SIDECAR_DEBUG: undefined },
    timeout: 60_000,
  });
  assert.equal(r.status, 0, `the pipeline ran: ${r.stderr}`);
  return { status: Number(fs.readFileSync(status, 'utf8').trim()), stderr: fs.readFileSync(stderr, 'utf8'), headBytes: Number(r.stdout.trim()) };
}

test('a pipe closed early by its reader (| head) ends the run with exit 2 and one line, never 0', { skip: process.platform === 'win32' ? 'sh and head' : false }, async (t) => {
  const dir = testDir(t);
  // ~3 MB of export, ~130 KB of CSV and ~360 KB of validate results: far more than a pipe's 64 KiB buffer.
  const spec: Record<string, TreeNode> = {};
  for (let i = 0; i < 1800; i++) {
    spec[`lib/d${i % 12}/IMG_${i}.jpg`] = FAKE_JPEG;
    spec[`lib/d${i % 12}/IMG_${i}.json`] = { json: sidecarData(`IMG_${i}.jpg`, 1, 64) };
  }
  spec['lib/d0/bad.jpg'] = FAKE_JPEG;
  spec['lib/d0/bad.json'] = '{ not json'; // a finding: validate and export exit 1 when they finish
  const lib = path.join(makeTree(spec, dir), 'lib');

  const runs: { args: string[]; whole: number }[] = [
    { args: ['export', lib, '-o', '-', '-q'], whole: 1 }, // the corrupt file is left out: a finding
    { args: ['export', '--input', lib, '--output', '-', '--format', 'csv', '-q'], whole: 1 },
    { args: ['--exit-zero', 'export', lib, '-o', '-', '--format', 'jsonl', '-q'], whole: 0 },
    { args: ['validate', lib, '--json', '-q'], whole: 1 },
    { args: ['--exit-zero', 'validate', lib, '--json', '-q'], whole: 0 },
  ];
  for (const { args, whole } of runs) {
    // Read to the end, the same command exits as it always did (the control).
    const full = await runCli(args);
    assert.equal(full.code, whole, `${args.join(' ')} read whole: ${full.stderr}`);
    assert.ok(full.stdout.length > 100 * 1024, `${args.join(' ')}: ${full.stdout.length} bytes, more than a pipe holds`);
    // Cut short by the reader: not a success, not a finding.
    const cut = pipedIntoHead(dir, args);
    assert.equal(cut.headBytes, 64, 'head read its bytes');
    assert.equal(cut.status, 2, `${args.join(' ')} | head: exit ${cut.status}, stderr ${cut.stderr}`);
    assert.match(cut.stderr, EPIPE_LINE, args.join(' '));
    assert.doesNotMatch(cut.stderr, /^\s+at /m, 'no stack trace');
    assert.doesNotMatch(cut.stderr, /Exported \d+/, 'no success message');
    t.diagnostic(`${args.join(' ')}: whole ${full.code}, cut short ${cut.status}`);
  }
});

test('report to a pipe whose reader is gone: exit 2 and the EPIPE line (it wrote the page unchecked and exited 0, the page lost)', { skip: process.platform === 'win32' ? 'sh' : false }, (t) => {
  const dir = testDir(t);
  const lib = path.join(makeTree({ 'lib/IMG_1.jpg': FAKE_JPEG, 'lib/IMG_1.json': { json: sidecarData('IMG_1.jpg', 1, 8) } }, dir), 'lib');
  const status = path.join(dir, 'status');
  const stderr = path.join(dir, 'stderr');
  // The reader (`true`) has exited before the CLI starts: its first write meets a closed pipe.
  const script = '{ sleep 0.3; "$NODE" "$CLI" report "$LIB" -q 2>"$ERR"; echo $? >"$STATUS"; } | true';
  for (const control of [false, true]) {
    const r = spawnSync('sh', ['-c', control ? script.replace(' | true', ' | cat >/dev/null') : script], {
      encoding: 'utf8',
      env: { ...process.env, NODE: process.execPath, CLI: CLI_PATH, LIB: lib, ERR: stderr, STATUS: status, IMAGE_SIDECAR_DEBUG: undefined },
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const code = Number(fs.readFileSync(status, 'utf8').trim());
    if (control) assert.equal(code, 0, 'read whole: clean');
    else {
      assert.equal(code, 2, fs.readFileSync(stderr, 'utf8'));
      assert.match(fs.readFileSync(stderr, 'utf8'), EPIPE_LINE);
    }
  }
});
