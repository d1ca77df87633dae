/** Watching the strings a piece of code makes: streaming writers and readers never hold a whole file as one. */

/** The longest string turned into bytes, or bytes into a string (and JSON.parse's longest input), while `fn` runs. */
export async function longestString(fn: () => Promise<unknown>): Promise<number> {
  let longest = 0;
  const see = (s: unknown) => {
    if (typeof s === 'string' && s.length > longest) longest = s.length;
  };
  const from = Buffer.from;
  const write = Buffer.prototype.write;
  const toString = Buffer.prototype.toString;
  const byteLength = Buffer.byteLength;
  const parse = JSON.parse;
  Buffer.from = function (this: unknown, ...a: unknown[]) {
    see(a[0]);
    return (from as (...x: unknown[]) => Buffer).apply(this, a);
  } as typeof Buffer.from;
  Buffer.prototype.write = function (this: Buffer, ...a: unknown[]) {
    see(a[0]);
    return (write as (...x: unknown[]) => number).apply(this, a);
  } as typeof write;
  Buffer.prototype.toString = function (this: Buffer, ...a: unknown[]) {
    const s = (toString as (...x: unknown[]) => string).apply(this, a);
    see(s);
    return s;
  } as typeof toString;
  Buffer.byteLength = function (...a: unknown[]) {
    see(a[0]);
    return (byteLength as (...x: unknown[]) => number)(...a);
  } as typeof Buffer.byteLength;
  JSON.parse = function (...a: unknown[]) {
    see(a[0]);
    return (parse as (...x: unknown[]) => unknown)(...a);
  } as typeof JSON.parse;
  try {
    await fn();
  } finally {
    Buffer.from = from;
    Buffer.prototype.write = write;
    Buffer.prototype.toString = toString;
    Buffer.byteLength = byteLength;
    JSON.parse = parse;
  }
  return longest;
}
