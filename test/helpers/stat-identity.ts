/**
 * The identity fs.statSync gives a path (following links), a folder or a file: what tests hold the
 * fast stat paths (fs/identity.ts IdentityScratch, BatchStats) equal to.
 */
import { statSync } from 'node:fs';
import { identityOf, type FileIdentity } from '../../src/fs/identity.js';

/** stat (following links) of anything there, a folder or a file; null when nothing can be seen. */
export function statIdentityAny(path: string): FileIdentity | null {
  try {
    const st = statSync(path, { bigint: true, throwIfNoEntry: false });
    return st ? identityOf(st) : null;
  } catch {
    return null;
  }
}
