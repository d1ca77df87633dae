/**
 * The one bounded line reader: text split into lines as a stream, in memory bounded by the longest
 * line a caller accepts — whatever the input holds (a 700 MB line without a newline ends a
 * `readline` loop in V8's string-length RangeError).
 *
 *   - lines end at LF; a CR before the LF is dropped (CRLF files), a CR anywhere else is text;
 *   - the last line may lack its LF;
 *   - a line of at most `maxLineBytes` bytes (UTF-8, its end not counted) comes as `text`;
 *   - a longer one comes as `tooLong`, with its length, its byte offset and the first `headBytes`
 *     of it: it is counted through, never held (so a caller can report it and go on, skip it, or
 *     read it later by position in pieces — shard/format.ts does for big export items).
 *
 * Bytes are split before they are decoded (LF never occurs inside a UTF-8 sequence); each line is
 * decoded on its own (invalid UTF-8 becomes U+FFFD, as `readline` over a stream decoded it), or
 * handed out as bytes (`ByteLineSplitter`: the server decodes strictly and refuses bad UTF-8).
 * Used by validate-json's path list, the shard outputs `merge` reads, integrity manifests and the
 * stdio server's requests.
 */
import type { FileHandle } from 'node:fs/promises';

export interface LineReaderOptions {
  /** Longest line handed out as text, in bytes (its LF or CRLF not counted). */
  maxLineBytes: number;
  /** How much of a too-long line is kept for the caller's message or parsing (default 256 bytes). */
  headBytes?: number;
  /**
   * false: the caller never reuses a chunk it pushed (a stream's chunks), so the pieces of a line
   * spread over several chunks are kept as views, not copied. Default true.
   */
  copyChunks?: boolean;
}

export interface TextLine {
  tooLong: false;
  /** 1-based, every line counted (empty ones too). */
  lineNo: number;
  /** Byte offset of the line's first byte in the input. */
  offset: number;
  /** Bytes of the line without its end. */
  bytes: number;
  text: string;
}

export interface LongLine {
  tooLong: true;
  lineNo: number;
  offset: number;
  bytes: number;
  /** The first `headBytes` of the line, decoded (a sequence cut at the end shows as U+FFFD). */
  head: string;
}

export type Line = TextLine | LongLine;

export interface ByteLine {
  tooLong: false;
  lineNo: number;
  offset: number;
  bytes: number;
  /** The line's bytes: a view of the chunk when the line lies in one, valid until the next push. */
  data: Buffer;
}

export type RawLine = ByteLine | LongLine;

const LF = 0x0a;
const CR = 0x0d;
const DEFAULT_HEAD_BYTES = 256;

/**
 * The splitter itself, synchronous: feed chunks, take the lines they complete. A chunk may be
 * reused by the caller after `push` returns (unless `copyChunks: false`): every byte kept across
 * calls is copied. Lines as text (`LineSplitter`) or as bytes (`ByteLineSplitter`).
 */
class Splitter {
  private readonly max: number;
  private readonly headMax: number;
  private readonly copyChunks: boolean;
  private lineNo = 0;
  /** Input offset of the next chunk's first byte. */
  private pos = 0;
  private lineStart = 0;
  /** Bytes of the current line seen so far (all of them, also when not kept). */
  private seen = 0;
  /** The current line's bytes kept from earlier chunks (at most max + 1: room for a CR). */
  private kept: Buffer[] = [];
  private keptBytes = 0;
  /** Set once the current line is certainly too long: only its head is kept. */
  private head: Buffer | null = null;
  private lastByte = -1;

  constructor(
    opts: LineReaderOptions,
    private readonly asText: boolean,
  ) {
    if (!(opts.maxLineBytes >= 0)) throw new RangeError('maxLineBytes must be a number >= 0');
    this.max = opts.maxLineBytes;
    this.headMax = opts.headBytes ?? DEFAULT_HEAD_BYTES;
    this.copyChunks = opts.copyChunks ?? true;
  }

  /** The lines `chunk` completes (in order). */
  push(chunk: Uint8Array | string): (Line | RawLine)[] {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const out: (Line | RawLine)[] = [];
    let i = 0;
    while (i < buf.length) {
      const nl = buf.indexOf(LF, i);
      if (nl < 0) {
        this.take(buf, i, buf.length, true);
        break;
      }
      out.push(this.finish(buf, i, nl));
      i = nl + 1;
      this.lineStart = this.pos + i;
    }
    this.pos += buf.length;
    return out;
  }

  /** The last line, when the input did not end with LF. */
  end(): Line | RawLine | null {
    if (this.seen === 0) return null;
    return this.finish(Buffer.alloc(0), 0, 0);
  }

  /** Add buf[from, to) to the current line; `copy`: the bytes outlive this call. */
  private take(buf: Buffer, from: number, to: number, copy: boolean): void {
    const n = to - from;
    if (n === 0) return;
    this.seen += n;
    this.lastByte = buf[to - 1];
    if (this.head !== null) {
      // Counted through; only the head is filled up.
      if (this.head.length < this.headMax) this.head = Buffer.concat([this.head, buf.subarray(from, Math.min(to, from + this.headMax - this.head.length))]);
      return;
    }
    if (this.keptBytes + n <= this.max + 1) {
      if (copy) {
        this.kept.push(this.copyChunks ? Buffer.from(buf.subarray(from, to)) : buf.subarray(from, to));
        this.keptBytes += n;
      }
      return;
    }
    // Over the limit even if it ends in CR: keep the head, drop the rest.
    this.head = headOf([...this.kept, buf.subarray(from, to)], this.headMax);
    this.kept = [];
    this.keptBytes = 0;
  }

  /** The current line ends at buf[to] (LF) or at the end of the input. */
  private finish(buf: Buffer, from: number, to: number): Line | RawLine {
    const withinChunk = this.seen === 0; // the whole line is buf[from, to)
    this.take(buf, from, to, false);
    this.lineNo++;
    const bytes = this.seen - (this.seen > 0 && this.lastByte === CR ? 1 : 0);
    const offset = this.lineStart;
    let line: Line | RawLine;
    if (this.head === null && bytes <= this.max) {
      if (this.asText) {
        const text = withinChunk ? buf.toString('utf8', from, from + bytes) : this.keptBytesOf(buf, from, to).toString('utf8', 0, bytes);
        line = { tooLong: false, lineNo: this.lineNo, offset, bytes, text };
      } else {
        const data = withinChunk ? buf.subarray(from, from + bytes) : this.keptBytesOf(buf, from, to).subarray(0, bytes);
        line = { tooLong: false, lineNo: this.lineNo, offset, bytes, data };
      }
    } else {
      const head = this.head ?? headOf([...this.kept, buf.subarray(from, to)], this.headMax);
      line = { tooLong: true, lineNo: this.lineNo, offset, bytes, head: head.toString('utf8') };
    }
    this.seen = 0;
    this.kept = [];
    this.keptBytes = 0;
    this.head = null;
    this.lastByte = -1;
    return line;
  }

  private keptBytesOf(buf: Buffer, from: number, to: number): Buffer {
    return this.kept.length === 0 ? buf.subarray(from, to) : Buffer.concat([...this.kept, buf.subarray(from, to)]);
  }
}

/** A copy of the first `max` bytes of these pieces (never of more). */
function headOf(parts: readonly Buffer[], max: number): Buffer {
  const out: Buffer[] = [];
  let n = 0;
  for (const p of parts) {
    if (n >= max) break;
    const piece = p.subarray(0, max - n);
    out.push(piece);
    n += piece.length;
  }
  return Buffer.concat(out, n);
}

/** Lines as text (UTF-8, U+FFFD for bad sequences). */
export class LineSplitter {
  private readonly s: Splitter;
  constructor(opts: LineReaderOptions) {
    this.s = new Splitter(opts, true);
  }
  /** The lines `chunk` completes (in order). */
  push(chunk: Uint8Array | string): Line[] {
    return this.s.push(chunk) as Line[];
  }
  /** The last line, when the input did not end with LF. */
  end(): Line | null {
    return this.s.end() as Line | null;
  }
}

/** Lines as bytes, for a caller that decodes them itself. */
export class ByteLineSplitter {
  private readonly s: Splitter;
  constructor(opts: LineReaderOptions) {
    this.s = new Splitter(opts, false);
  }
  /** The lines `chunk` completes (in order); a line's `data` is valid until the next push. */
  push(chunk: Uint8Array | string): RawLine[] {
    return this.s.push(chunk) as RawLine[];
  }
  /** The last line, when the input did not end with LF. */
  end(): RawLine | null {
    return this.s.end() as RawLine | null;
  }
}

/** Lines of an input, a batch per chunk (one await per chunk, not per line: 10^7-line manifests). */
export async function* lineBatches(source: AsyncIterable<Uint8Array | string>, opts: LineReaderOptions): AsyncGenerator<Line[]> {
  const splitter = new LineSplitter(opts);
  for await (const chunk of source) {
    const lines = splitter.push(chunk);
    if (lines.length > 0) yield lines;
  }
  const last = splitter.end();
  if (last) yield [last];
}

/** Lines of an input, one at a time. */
export async function* readLines(source: AsyncIterable<Uint8Array | string>, opts: LineReaderOptions): AsyncGenerator<Line> {
  for await (const batch of lineBatches(source, opts)) yield* batch;
}

const FILE_CHUNK = 64 * 1024;

/**
 * An open file's bytes from its current position, in chunks of one reused buffer (each chunk is
 * valid until the next is asked for: the splitter copies what it keeps). The caller closes `fh`.
 */
export async function* fileChunks(fh: FileHandle, chunkBytes = FILE_CHUNK): AsyncGenerator<Buffer> {
  const buf = Buffer.allocUnsafe(chunkBytes);
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, null);
    if (bytesRead === 0) return;
    yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
  }
}

/** 1 MiB as a person reads it in a message ("1 MiB", "256 KiB", "100 bytes"). */
export function describeBytes(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1 << 10 && n % (1 << 10) === 0) return `${n / (1 << 10)} KiB`;
  return `${n} bytes`;
}
