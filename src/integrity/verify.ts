import { resolve } from 'node:path';
import { errors, type UnreadablePath } from '../errors.js';
import { compareUtf8, CANON_VERSION, treeDigest, type KeyedHex } from '../formats/digest.js';
import { readManifest } from './manifest.js';
import { listTree, type HashOptions, type ListOptions } from './tree-hash.js';

export interface VerifyResult {
  /** True when nothing is missing, changed or extra. */
  ok: boolean;
  /** In the manifest, gone from the tree (sorted by UTF-8 bytes). */
  missing: string[];
  /** In both, with another digest. */
  changed: string[];
  /** In the tree, not in the manifest. */
  extra: string[];
  /** Manifest entries checked (each one is equal, changed or missing). */
  checked: number;
  /** canonical: sidecars that cannot be decoded (their images' data is unknown); only when there are any. */
  undecodable?: string[];
  /** Paths that could not be read, the first named (hash's rule); their entries are not called missing. Only when there are any. */
  unreadable?: UnreadablePath[];
  unreadable_count?: number;
}

/**
 * Compare the tree under `root` with a manifest written by hashTree. The mode (bytes or
 * canonical, all files or sidecars) comes from the manifest when it records it (JSON object
 * form) and from `opts` otherwise (JSONL form); a contradiction between the two is a usage error.
 */
export async function verifyTree(root: string, manifestPath: string, opts: HashOptions & Pick<ListOptions, 'perImageSidecars'> = {}): Promise<VerifyResult> {
  const manifestAbs = resolve(manifestPath);
  const manifest = await readManifest(manifestAbs);
  let canonical = opts.canonical === true;
  let allFiles = opts.allFiles === true;
  if (manifest.version !== undefined) {
    const fromManifest = manifest.version === CANON_VERSION;
    if (opts.canonical !== undefined && opts.canonical !== fromManifest) {
      throw errors.usage(`the manifest is a ${manifest.version} manifest; ${opts.canonical ? 'drop' : 'add'} the canonical option`);
    }
    canonical = fromManifest;
  }
  if (manifest.allFiles !== undefined) {
    if (opts.allFiles !== undefined && opts.allFiles !== manifest.allFiles) {
      throw errors.usage(`the manifest was written ${manifest.allFiles ? 'with' : 'without'} the all-files option`);
    }
    allFiles = manifest.allFiles;
  }
  // A manifest whose own entries do not give its root digest was edited or damaged: trust nothing in it.
  // Entries read in order (as written) were digested as they came; others are sorted first.
  if (manifest.rootDigest !== undefined) {
    const own = manifest.entriesDigest ?? treeDigest([...manifest.files].map(([key, hex]): KeyedHex => ({ key, hex })).sort((a, b) => compareUtf8(a.key, b.key)));
    if (own !== manifest.rootDigest) throw errors.corrupt('root_digest does not match the digests listed in the manifest', manifestAbs);
  }

  const listing = await listTree(root, { ...opts, canonical, allFiles, manifest: undefined, exclude: [manifestAbs], unknownKeys: true });
  // A key whose digest could not be taken (a file or folder not read; canonical: an image whose
  // sidecar was not read or decoded) is neither gone nor changed: it is listed as not read instead.
  const unknown = listing.unknownKeys ?? new Set<string>();
  const isUnknown = (key: string): boolean => {
    if (unknown.has(key)) return true;
    for (let i = key.lastIndexOf('/'); i > 0; i = key.lastIndexOf('/', i - 1)) if (unknown.has(key.slice(0, i))) return true;
    return false;
  };
  const missing: string[] = [];
  const changed: string[] = [];
  const extra: string[] = [];
  const seen = new Set<string>();
  for (const e of listing.entries) {
    const want = manifest.files.get(e.key);
    if (want === undefined) extra.push(e.key);
    else {
      seen.add(e.key);
      if (want !== e.hex && !isUnknown(e.key)) changed.push(e.key);
    }
  }
  for (const key of manifest.files.keys()) if (!seen.has(key) && !isUnknown(key)) missing.push(key);
  missing.sort(compareUtf8);
  // `changed` and `extra` follow the listing, which is already in UTF-8 byte order.
  const r: VerifyResult = { ok: missing.length + changed.length + extra.length === 0, missing, changed, extra, checked: manifest.files.size };
  if (listing.undecodable.length > 0) Object.assign(r, { ok: false, undecodable: listing.undecodable });
  if (listing.unreadableCount > 0) Object.assign(r, { ok: false, unreadable: listing.unreadable, unreadable_count: listing.unreadableCount });
  return r;
}
