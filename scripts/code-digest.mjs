#!/usr/bin/env node
// After a build: write each compiled tree's code-digest manifest (src/incremental/key.ts
// digestManifest: the index's code digest, with the size and mtime of every file it covers), so a
// run stats those files instead of reading and hashing them. A file changed afterwards (another
// size or mtime) makes the run compute the digest again.
// Usage: node scripts/code-digest.mjs dist/incremental dist-test/src/incremental
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

for (const dir of process.argv.slice(2)) {
  const key = await import(pathToFileURL(resolve(dir, 'key.js')).href);
  writeFileSync(join(dir, 'code-digest.json'), `${JSON.stringify(key.digestManifest())}\n`);
}
