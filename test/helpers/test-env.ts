/**
 * Preloaded into the test runner and every test file's process (package.json `test`:
 * `node --import`, which `node --test` passes on to the files' processes), so every process they
 * start inherits it: the suite starts Node (the CLI, workers' hosts, the Python client's CLI)
 * thousands of times, and a Node process reads and parses the whole bundle NODE_EXTRA_CA_CERTS
 * names as it starts — ~80 ms of CPU on the CI machine, against ~40 ms for Node's whole start
 * without it (`node -e 0`: 122 / 41 ms; cli-basics.test.js 8.7 / 5.5 s). Nothing under test makes
 * a TLS connection; the one test that may reach the npm registry (long/package-install.test.ts) is
 * given the bundle back (`withCaCerts`).
 *
 * It also starts the thread pool watch (src/fs/thread-pool-watch.ts) in every test process, as the
 * CLI and every scan do: a test's own awaited fs call whose pool wake-up glibc lost would otherwise
 * hang the suite (a test that hangs fails after `--test-timeout`, package.json).
 */
import { watchThreadPool } from '../../src/fs/thread-pool-watch.js';

const CA_VAR = 'NODE_EXTRA_CA_CERTS';
/** Where the runner's bundle is kept for `withCaCerts` (not an IMAGE_SIDECAR_ variable: no code under test reads it). */
const KEPT_VAR = 'SIDECAR_TESTS_KEPT_NODE_EXTRA_CA_CERTS';

if (process.env[CA_VAR] !== undefined) {
  process.env[KEPT_VAR] = process.env[CA_VAR];
  delete process.env[CA_VAR];
}

watchThreadPool();

/** `env` with the runner's NODE_EXTRA_CA_CERTS given back (for a child that may use the network: npm). */
export function withCaCerts(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const kept = process.env[KEPT_VAR];
  return kept === undefined ? env : { ...env, [CA_VAR]: kept };
}
