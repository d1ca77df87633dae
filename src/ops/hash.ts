/**
 * `hash` and `verify` as library calls: integrity/tree-hash.ts and verify.ts, given the read's own
 * rule for which sidecar each image of a record reads (the floor below cannot reach ops/read.ts).
 */
import { hashTree as hashTreeWith, type HashOptions, type TreeHash } from '../integrity/tree-hash.js';
import { verifyTree as verifyTreeWith, type VerifyResult } from '../integrity/verify.js';
import type { ScanImage, ScanRecord, ScanSidecar } from '../scan/records.js';
import type { Options } from '../types.js';
import { imagesWithOwnSidecars, readsPerImage } from './common.js';

/**
 * The sidecar each image of a record reads, exactly as its `read` takes it (a digest vouches for what
 * a read gives): for a group of several images (RAW+JPEG: each its own file, the shared file the one
 * it records, or one recording none of them as a read takes it; an image whose read finds none of its
 * own is not digested), and where `readsPerImage` says a symlinked image may read another file; null
 * for every other record, and for one whose folder changed under the command (the record's own view
 * then stands, as for export).
 */
export function perImageSidecarsFor(opts: Options): (rec: ScanRecord) => Promise<{ image: ScanImage; sidecar: ScanSidecar }[] | null> {
  return async (rec) => {
    if (rec.images.length < 2 && !readsPerImage(rec)) return null;
    const r = await imagesWithOwnSidecars(rec, opts, true);
    return r === null ? null : r.entries.filter((e): e is { image: ScanImage; sidecar: ScanSidecar } => e.image !== undefined);
  };
}

/** Hash a tree (integrity/tree-hash.ts), each image by the sidecar its read takes. */
export function hashTree(root: string, opts: HashOptions = {}): Promise<TreeHash> {
  return hashTreeWith(root, { perImageSidecars: perImageSidecarsFor(opts), ...opts });
}

/** Compare a tree with a manifest (integrity/verify.ts), each image by the sidecar its read takes. */
export function verifyTree(root: string, manifestPath: string, opts: HashOptions = {}): Promise<VerifyResult> {
  return verifyTreeWith(root, manifestPath, { perImageSidecars: perImageSidecarsFor(opts), ...opts });
}
