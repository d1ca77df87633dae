/**
 * Many file-system calls at once, for a file server where each is a round trip: libuv's pool runs
 * them (4 threads by default, the CLI's 16: tuning.ts CLI_THREAD_POOL_SIZE), and a few more in
 * flight keep its threads busy.
 */
const IN_FLIGHT = 64;

/**
 * `call` on each of `inputs`, up to `most` (IN_FLIGHT) at once; `answer` (which must not throw) is given
 * each result once, or `failed` where the call threw (a path fs refuses). Resolves when every answer is in, or once `signal` has
 * fired and the calls in flight are back (no new one is made: a Ctrl-C is not kept waiting on
 * thousands of round trips); never rejects.
 */
export function manyAtOnce<T>(inputs: readonly string[], call: (input: string, done: (r: T) => void) => void, failed: T, answer: (input: string, r: T) => void, signal?: { readonly aborted: boolean }, most = IN_FLIGHT): Promise<void> {
  if (inputs.length === 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    let next = 0;
    let inFlight = 0;
    const issue = (): void => {
      const input = inputs[next++];
      inFlight++;
      let answered = false;
      const done = (r: T): void => {
        if (answered) return; // (a call that answered, then threw)
        answered = true;
        inFlight--;
        answer(input, r);
        if (next < inputs.length && signal?.aborted !== true) issue();
        else if (inFlight === 0) resolve();
      };
      try {
        call(input, done);
      } catch {
        queueMicrotask(() => done(failed));
      }
    };
    for (let i = 0; i < most && next < inputs.length; i++) issue();
  });
}
