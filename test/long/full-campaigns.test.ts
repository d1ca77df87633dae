/**
 * The randomised and repeated campaigns at their full sizes (test/helpers/campaign.ts): every test
 * file that sizes a campaign with it (directly, or through the index parity helper's
 * PARITY_COMMANDS) runs whole again here, as `npm test` runs it, with SIDECAR_TESTS_FULL=1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TESTS = fileURLToPath(new URL('../', import.meta.url));
const ENV_HOOK = fileURLToPath(new URL('../helpers/test-env.js', import.meta.url));

/** The compiled test files whose campaigns `npm test` shortens. */
function campaignFiles(): string[] {
  const sized = (text: string) => text.includes("from './helpers/campaign.js'") || /import\s*\{[^}]*\bPARITY_COMMANDS\b[^}]*\}\s*from '\.\/helpers\/index-parity\.js'/.test(text);
  return readdirSync(TESTS)
    .filter((n) => n.endsWith('.test.js') && sized(readFileSync(join(TESTS, n), 'utf8')))
    .sort();
}

const files = campaignFiles();

/** This process's environment with the full sizes, and without the runner's mark of a test file's process (NODE_TEST_CONTEXT: a `node --test` under it runs no file, exit 0). */
function fullCampaignEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, SIDECAR_TESTS_FULL: '1' };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

test('the full campaigns are found (the files npm test runs short)', () => {
  for (const name of ['accel-certify.test.js', 'engine-parity.test.js', 'index-parity-group-shapes.test.js']) assert.ok(files.includes(name), `${name} in ${files.join(', ')}`);
  // A helper that sized campaigns for its callers would shorten files this discovery does not see:
  // index-parity.js is the one (its PARITY_COMMANDS, looked for above).
  const helpers = join(TESTS, 'helpers');
  const sizing = readdirSync(helpers).filter((n) => n.endsWith('.js') && n !== 'campaign.js' && readFileSync(join(helpers, n), 'utf8').includes("from './campaign.js'"));
  assert.deepEqual(sizing, ['index-parity.js']);
});

for (const name of files) {
  test(`${name}: full campaigns`, { timeout: 1_800_000 }, async (t) => {
    const child = spawn(process.execPath, ['--import', ENV_HOOK, '--test', '--test-timeout=1200000', '--test-reporter=tap', join(TESTS, name)], {
      env: fullCampaignEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      signal: t.signal, // a timed-out test stops its run
    });
    child.on('error', () => undefined); // (the abort's error: the test's own timeout says it)
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, `${name} with full campaigns failed:\n${out.slice(-6000)}`);
    assert.match(out, /^# fail 0$/m, `${name}: its report`);
    assert.doesNotMatch(out, /^# pass 0$/m, `${name}: tests ran`);
  });
}
