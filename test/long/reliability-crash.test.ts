/**
 * Crash safety (CI subset of `npm run test:reliability`): convert json→bin→json→rkyv and loops of
 * saveSidecar in a child process, SIGKILLed at random moments — at least 50 kills — with every
 * image's data checked after each kill and leftovers cleaned by the next run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reliabilityConfig } from '../reliability/config.js';
import { runCrashCampaign } from '../reliability/crash.js';
import { describeRow } from '../reliability/tally.js';

const cfg = reliabilityConfig();

test(`crash campaign: ${cfg.kills} SIGKILLs during convert and save loops lose nothing`, { timeout: cfg.long ? 3_600_000 : 120_000 }, async () => {
  const row = await runCrashCampaign({ kills: cfg.kills, images: cfg.crashImages, seed: cfg.seed });
  assert.ok(row.count >= cfg.kills, describeRow(row));
  assert.equal(row.recordsLost, 0, describeRow(row));
  assert.equal(row.bytesLost, 0, describeRow(row));
  assert.deepEqual(row.failures, [], describeRow(row));
});

// Encryption: convert --encrypt, rekey (A → B → A) and convert --decrypt killed at random moments.
const cryptoKills = cfg.long ? cfg.kills : 30;
test(`crash campaign (encryption): ${cryptoKills} SIGKILLs during encrypt, rekey, decrypt and saves lose nothing and leak no plaintext temp file`, { timeout: cfg.long ? 3_600_000 : 180_000 }, async () => {
  const row = await runCrashCampaign({ kills: cryptoKills, images: cfg.crashImages, seed: cfg.seed + 1, crypto: true });
  assert.ok(row.count >= cryptoKills, describeRow(row));
  assert.equal(row.recordsLost, 0, describeRow(row));
  assert.equal(row.bytesLost, 0, describeRow(row));
  assert.deepEqual(row.failures, [], describeRow(row));
});

test('harness self-check: in-place, non-atomic saves (the earlier tool) are caught as torn files and lost data', { timeout: 120_000 }, async () => {
  const row = await runCrashCampaign({ kills: 12, images: 4, seed: cfg.seed, kinds: ['save'], unsafeSaves: true, stopOnLoss: true });
  assert.ok(row.count >= 1, describeRow(row));
  assert.ok(row.recordsLost > 0 && row.bytesLost > 0, `the harness counted no loss from torn writes:\n${describeRow(row)}`);
  assert.ok(row.failures.some((f) => /cannot be read: CORRUPT|does not decode/.test(f)), describeRow(row));
});
