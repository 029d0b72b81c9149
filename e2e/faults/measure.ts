/** One fault's measured outcome, printed so a run's figures can be copied into docs/reliability.md. */
export function report(fault: string, figures: Record<string, unknown>): void {
  console.log(`[fault] ${fault}: ${JSON.stringify(figures)}`);
}

/** Milliseconds `work` took, with its result. */
export async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await work();
  return { ms: Math.round(performance.now() - start), value };
}

/** Polls until `check` holds and returns how long that took; fails after `timeoutMs`. */
export async function timeUntil(check: () => Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<number> {
  const start = performance.now();
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return Math.round(performance.now() - start);
}
