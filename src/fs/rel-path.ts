/** Relative POSIX paths as manifests and quarantine folders record them. */
import { join } from 'node:path';

/** Is `rel` a plain relative POSIX path (no '..', '.', empty or absolute parts)? */
export function isSafeRel(rel: string): boolean {
  if (typeof rel !== 'string' || rel === '' || rel.startsWith('/') || rel.includes('\0') || rel.includes('\\')) return false;
  for (const part of rel.split('/')) if (part === '' || part === '.' || part === '..') return false;
  return true;
}

/** `base` + POSIX `rel`, for the platform. */
export function relJoin(base: string, rel: string): string {
  return join(base, ...rel.split('/'));
}
