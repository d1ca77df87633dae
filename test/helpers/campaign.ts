/**
 * The size of the suite's randomised and repeated campaigns. `npm test` runs them short, so that a
 * fresh clone's suite stays within its time on two cores: fewer generated inputs or seeds, and some
 * repetitions of a case (another engine, command, save form or shard count) taken in turn or left
 * to the full run. `npm run test:long` runs every such file again whole with the full sizes
 * (test/long/full-campaigns.test.ts sets SIDECAR_TESTS_FULL=1), so CI runs every case and input.
 * (RELIABILITY_LONG is another thing: the reliability report's own long mode, beyond both.)
 */
export const FULL_CAMPAIGNS = process.env.SIDECAR_TESTS_FULL === '1';

/** `short` in `npm test`, `full` in the long campaigns. */
export function campaign(short: number, full: number): number {
  return FULL_CAMPAIGNS ? full : short;
}

/** Every choice in the full campaigns; in `npm test` one, the i-th in turn, so successive steps still take each. */
export function inTurn<T>(choices: readonly T[], i: number): readonly T[] {
  return FULL_CAMPAIGNS ? choices : [choices[i % choices.length]];
}
