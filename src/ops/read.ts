/**
 * Reading one image's sidecar. Unlike the earlier tool (which stopped at the first file that
 * existed, corrupt or not), a corrupt preferred file falls back to the next valid one, and a
 * sidecar that exists but cannot be read is an error — never a silent `{}`.
 */
import { errors, isSidecarError } from '../errors.js';
import { decodeSidecar, type DecodedSidecar } from '../formats/codec.js';
import type { JsonObject, Options, SidecarFormat } from '../types.js';
import { locateSidecar, type SidecarLocation } from '../discovery/locate.js';
import { DEFAULT_MAX_FILE_SIZE, readFileLimitedSync } from '../fs/read-file.js';

export interface ReadFinding {
  code: 'fallback' | 'ambiguous' | 'corrupt' | 'bom' | 'broken-symlink' | string;
  message: string;
  path: string;
}

export interface ReadResult {
  /** The effective sidecar's data; `{}` when there is none. */
  data: JsonObject;
  /** The effective sidecar file, or null when there is none. */
  path: string | null;
  format: SidecarFormat | null;
  /** Key id when the effective sidecar is encrypted. */
  encryptedKeyId?: string;
  findings: ReadFinding[];
  location: SidecarLocation;
}

/**
 * Read and decode one sidecar file, refusing files above the size limit before reading them.
 * Throws SidecarError: NOT_FOUND, TOO_LARGE, CORRUPT, TOO_DEEP, IO...
 */
export async function readSidecarFile(path: string, opts: Options = {}): Promise<DecodedSidecar> {
  const limit = opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
  // Sync read: for small files it is several times faster than fs.promises (one call, no thread hops).
  const bytes = readFileLimitedSync(path, limit);
  return decodeSidecar(bytes, { path, maxDepth: opts.maxDepth, maxFileSize: limit, keyring: opts.keyring });
}

function noteFinding(note: string, path: string): ReadFinding {
  return { code: /\bBOM\b|byte order mark/i.test(note) ? 'bom' : 'note', message: note, path };
}

export async function readSidecarDetailed(imagePath: string, opts: Options = {}): Promise<ReadResult> {
  const location = await locateSidecar(imagePath, { imageExtensions: opts.imageExtensions });
  const findings: ReadFinding[] = [];
  if (location.broken) {
    findings.push({
      code: 'broken-symlink',
      message: `the symlink chain of ${location.imagePath} ends at a missing file or loops: ${location.targetPath}`,
      path: location.imagePath,
    });
  }
  const { candidates } = location;
  if (location.ambiguous && candidates.length > 0) {
    const why =
      candidates.length > 1
        ? `several candidate sidecars; the first valid one in preference order is used: ${candidates.map((c) => c.path).join(', ')}`
        : `${candidates[0].path} is also claimed by ${location.siblings.join(', ')} (same stem); writes to it are refused`;
    findings.push({ code: 'ambiguous', message: why, path: candidates[0].path });
  }

  const corrupt: { path: string; error: unknown }[] = [];
  for (const c of candidates) {
    let decoded: DecodedSidecar;
    try {
      decoded = await readSidecarFile(c.path, opts);
    } catch (e) {
      // Only undecodable content falls back; limits and I/O errors are the caller's to see.
      if (!isSidecarError(e) || e.code !== 'CORRUPT') throw e;
      corrupt.push({ path: c.path, error: e });
      findings.push({ code: 'corrupt', message: e.message, path: c.path });
      continue;
    }
    for (const f of corrupt) {
      findings.push({
        code: 'fallback',
        message: `${f.path} is corrupt; read ${c.path} instead`,
        path: f.path,
      });
    }
    for (const note of decoded.notes) findings.push(noteFinding(note, c.path));
    const out: ReadResult = { data: decoded.data, path: c.path, format: decoded.format, findings, location };
    if (decoded.encryption) out.encryptedKeyId = decoded.encryption.keyId;
    return out;
  }

  if (corrupt.length === 1) throw corrupt[0].error;
  if (corrupt.length > 1) {
    const detail = `every candidate sidecar is corrupt: ${corrupt.map((f) => (f.error as Error).message).join('; ')}`;
    throw errors.corrupt(detail, undefined, corrupt[0].error);
  }
  return { data: {}, path: null, format: null, findings, location };
}

/** The image's sidecar data, or `{}` when it has none. Throws CORRUPT when sidecars exist but none decodes. */
export async function readSidecar(imagePath: string, opts: Options = {}): Promise<JsonObject> {
  return (await readSidecarDetailed(imagePath, opts)).data;
}
