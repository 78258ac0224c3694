/** Waiting in tests: a pause, and polling until a condition holds (with a timeout that names what was awaited). */

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every `pollMs` until it holds; throws after `timeoutMs`, naming `what`. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000, pollMs = 5): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(pollMs);
  }
}

/** Polls `get` until `ok` accepts its value, and returns that value; throws after `timeoutMs`, naming `what`. */
export async function waitFor<T>(get: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 5000): Promise<T> {
  let value!: T;
  await until(async () => ok((value = await get())), what, timeoutMs, 10);
  return value;
}
