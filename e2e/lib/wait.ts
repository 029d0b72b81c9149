/** Polls `check` every `everyMs` until it holds; fails once `timeoutMs` has passed. */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs = 30_000, everyMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
