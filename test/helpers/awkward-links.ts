/** Links of every kind, for the link resolutions' parity tests (test/resolve-link.test.ts, test/link-entry.test.ts). */
import { execFileSync } from 'node:child_process';
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAKE_JPEG, tempDir } from './tree.js';

/**
 * A library `lib` beside a folder `outside`, with links of every kind in `lib/links` (`dir`):
 * relative, absolute, through a folder link, chains, loops, 40 hops and one more, broken, to a
 * folder, a FIFO, a file used as a folder, trailing slashes. `links`: their names; `top`: the
 * folder holding `lib` and `outside`.
 */
export function awkwardLinks(): { dir: string; links: string[]; top: string } {
  const top = realpathSync(tempDir('isc-resolve-'));
  const root = join(top, 'lib');
  const outside = join(top, 'outside');
  for (const d of ['lib/a/deep/er', 'lib/b', 'lib/links', 'outside/x']) mkdirSync(join(top, d), { recursive: true });
  writeFileSync(join(root, 'a/IMG.jpg'), FAKE_JPEG);
  writeFileSync(join(root, 'a/deep/er/IMG.jpg'), FAKE_JPEG);
  writeFileSync(join(outside, 'x/far.jpg'), FAKE_JPEG);
  symlinkSync('a', join(root, 'alias')); // a directory link in the path
  symlinkSync('../lib/a/deep', join(outside, 'backdoor'));
  execFileSync('mkfifo', [join(root, 'b/fifo.jpg')]);
  const L = join(root, 'links');
  const spec: Record<string, string> = {
    'rel.jpg': '../a/IMG.jpg',
    'abs.jpg': join(root, 'a/IMG.jpg'),
    'dotted.jpg': './../a/./deep/../IMG.jpg',
    'slashes.jpg': '..//a///IMG.jpg',
    'through-alias.jpg': '../alias/IMG.jpg',
    // `..` after a directory link goes up from the link's target (physical), as realpath does.
    'alias-dotdot.jpg': '../alias/deep/../IMG.jpg',
    'alias-up.jpg': '../alias/../a/IMG.jpg',
    'chain.jpg': 'rel.jpg',
    'chain2.jpg': 'chain.jpg',
    'outside.jpg': join(outside, 'x/far.jpg'),
    'back-in.jpg': join(outside, 'backdoor/er/IMG.jpg'),
    'up-to-root.jpg': '../../../../../../../../../../..' + join(root, 'a/IMG.jpg'),
    'dangling.jpg': 'nowhere.jpg',
    'dangling-dir.jpg': '../nowhere/IMG.jpg',
    'to-dir.jpg': '../a',
    'to-fifo.jpg': '../b/fifo.jpg',
    'file-as-dir.jpg': '../a/IMG.jpg/x',
    'file-dotdot.jpg': '../a/IMG.jpg/..',
    // `.` after a file's name: the kernel says ENOTDIR (the fast path skipped the `.`).
    'file-dot.jpg': '../a/IMG.jpg/.',
    'trailing-slash.jpg': '../a/IMG.jpg/',
    'dir-trailing.jpg': '../a/',
    'loop1.jpg': 'loop2.jpg',
    'loop2.jpg': 'loop1.jpg',
    'self.jpg': 'self.jpg',
    'root.jpg': '/',
  };
  for (const [name, target] of Object.entries(spec)) symlinkSync(target, join(L, name));
  // A chain of 41 links: one more than realpath follows.
  for (let i = 0; i < 41; i++) symlinkSync(i === 40 ? '../a/IMG.jpg' : `long${i + 1}.jpg`, join(L, `long${i}.jpg`));
  for (let i = 0; i < 39; i++) symlinkSync(i === 38 ? '../a/IMG.jpg' : `ok${i + 1}.jpg`, join(L, `ok${i}.jpg`));
  return { dir: L, links: [...Object.keys(spec), 'long0.jpg', 'ok0.jpg'], top };
}
