/**
 * Splits a byte stream into lines ('\n', an optional '\r' before it is dropped) without copying
 * chunks more than once: a line that lies inside one chunk is a view of it, a line spread over
 * several chunks is concatenated once when its end arrives. Lines longer than `maxLineBytes`
 * are discarded (their length is reported instead) so a runaway client cannot exhaust memory.
 */

export type LineEvent = { line: Buffer } | { overlong: number };

const NL = 0x0a;
const CR = 0x0d;

export class LineSplitter {
  private parts: Buffer[] = [];
  private partBytes = 0;
  /** Bytes of the current line dropped so far because it is too long, or -1. */
  private dropping = -1;

  constructor(private readonly maxLineBytes: number) {}

  /** Feed one chunk; `emit` is called for each complete line in order. */
  push(chunk: Buffer, emit: (e: LineEvent) => void): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NL, start);
      if (nl === -1) break;
      this.finish(chunk.subarray(start, nl), emit);
      start = nl + 1;
    }
    if (start < chunk.length) this.keep(chunk.subarray(start));
  }

  /** End of input: a last line without '\n' still counts. */
  end(emit: (e: LineEvent) => void): void {
    if (this.partBytes > 0 || this.dropping >= 0) this.finish(Buffer.alloc(0), emit);
  }

  private keep(piece: Buffer): void {
    if (this.dropping >= 0) {
      this.dropping += piece.length;
      return;
    }
    if (this.partBytes + piece.length > this.maxLineBytes) {
      this.dropping = this.partBytes + piece.length;
      this.parts = [];
      this.partBytes = 0;
      return;
    }
    this.parts.push(piece);
    this.partBytes += piece.length;
  }

  private finish(last: Buffer, emit: (e: LineEvent) => void): void {
    if (this.dropping >= 0) {
      const total = this.dropping + last.length;
      this.dropping = -1;
      emit({ overlong: total });
      return;
    }
    let line: Buffer;
    if (this.parts.length === 0) line = last;
    else {
      this.parts.push(last);
      line = Buffer.concat(this.parts, this.partBytes + last.length);
      this.parts = [];
      this.partBytes = 0;
    }
    if (line.length > this.maxLineBytes) {
      emit({ overlong: line.length });
      return;
    }
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    emit({ line });
  }
}
