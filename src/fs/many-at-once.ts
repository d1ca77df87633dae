/**
 * Many file-system calls at once, for a file server where each is a round trip: libuv runs 4 at a
 * time by default (UV_THREADPOOL_SIZE), and a few more in flight keep them busy.
 */
const IN_FLIGHT = 64;

/**
 * `call` on each of `inputs`, up to IN_FLIGHT at once; `answer` is given each result, or `failed`
 * where the call threw (a path fs refuses). Resolves when every answer is in; never rejects.
 */
export function manyAtOnce<T>(inputs: readonly string[], call: (input: string, done: (r: T) => void) => void, failed: T, answer: (input: string, r: T) => void): Promise<void> {
  if (inputs.length === 0) return Promise.resolve();
  return new Promise((resolve) => {
    let next = 0;
    let left = inputs.length;
    const issue = (): void => {
      const input = inputs[next++];
      const done = (r: T): void => {
        answer(input, r);
        if (next < inputs.length) issue();
        if (--left === 0) resolve();
      };
      try {
        call(input, done);
      } catch {
        queueMicrotask(() => done(failed));
      }
    };
    for (let i = 0; i < IN_FLIGHT && next < inputs.length; i++) issue();
  });
}
