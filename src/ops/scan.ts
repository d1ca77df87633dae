/** The scan as commands run it: with the incremental index as its cache when `opts.index` asks for one. */
import { openScanCache } from '../incremental/scan-cache.js';
import { ScanSession, type ScanOptions } from '../scan/session.js';

/** Start a scan of `root`. Iterate the result for records; read `.summary` afterwards. */
export function scan(root: string, opts: ScanOptions = {}): ScanSession {
  return new ScanSession(root, opts, openScanCache);
}
