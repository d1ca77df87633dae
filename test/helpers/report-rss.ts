// Preloaded with --import by the memory tests: the peak resident set of the whole process (every
// worker thread included) goes to stderr when it exits.
import { writeSync } from 'node:fs';

process.on('exit', () => {
  writeSync(2, `\nISC_MAX_RSS_KB=${process.resourceUsage().maxRSS}\n`);
});
