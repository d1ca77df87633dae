import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSidecarDetailed } from '../src/ops/read.js';
import { TEMP_MARK, LOCK_SUFFIX } from '../src/fs/temp-files.js';

const WORKER = fileURLToPath(new URL('./helpers/save-worker.js', import.meta.url));
const PROCESSES = 4;
const SAVES_EACH = 50;

function runWorker(imagePath: string, worker: number, format: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [WORKER, imagePath, String(worker), String(SAVES_EACH), format], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

for (const format of ['bin', 'json']) {
  test(`${PROCESSES} processes × ${SAVES_EACH} saves into one ${format} sidecar lose nothing`, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isc-concurrent-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const image = path.join(dir, '20250920_143022.jpg');
    fs.writeFileSync(image, 'jpeg');

    const runs = await Promise.all(Array.from({ length: PROCESSES }, (_, i) => runWorker(image, i, format)));
    for (const [i, r] of runs.entries()) {
      assert.equal(r.code, 0, `worker ${i} failed: ${r.err}`);
      assert.deepEqual(JSON.parse(r.out), { worker: i, saved: SAVES_EACH });
    }

    const result = await readSidecarDetailed(image);
    assert.equal(result.path, path.join(dir, `20250920_143022.${format}`));
    assert.equal(result.format, format);
    assert.deepEqual(result.findings, []);
    const { data } = result;
    const expected: string[] = [];
    for (let i = 0; i < PROCESSES; i++) for (let k = 0; k < SAVES_EACH; k++) expected.push(`op_p${i}_${k}`);
    const ops = Object.keys(data).filter((k) => k !== 'sidecar_info');
    assert.equal(ops.length, PROCESSES * SAVES_EACH);
    assert.deepEqual([...ops].sort(), [...expected].sort());
    for (const op of expected) {
      const [, i, k] = /^op_p(\d+)_(\d+)$/.exec(op)!.map(Number);
      assert.deepEqual(data[op], { worker: i, k, values: [k / 3, 1e-7 * i, 0.22490839660167694] }, op);
    }
    // each process's own operations were appended in its own order
    for (let i = 0; i < PROCESSES; i++) {
      const mine = ops.filter((o) => o.startsWith(`op_p${i}_`));
      assert.deepEqual(mine, Array.from({ length: SAVES_EACH }, (_, k) => `op_p${i}_${k}`));
    }
    const info = data.sidecar_info as Record<string, unknown>;
    assert.ok(expected.includes(info.last_operation as string));
    assert.match(info.operation_type as string, /^op_p\d+_0$/);
    // nothing of ours left behind
    assert.deepEqual(
      fs.readdirSync(dir).filter((n) => n.includes(TEMP_MARK) || n.endsWith(LOCK_SUFFIX)),
      [],
    );
    assert.deepEqual(fs.readdirSync(dir).sort(), [`20250920_143022.${format}`, '20250920_143022.jpg'].sort());
  });
}
