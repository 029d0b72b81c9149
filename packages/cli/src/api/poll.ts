import { setTimeout as sleep } from "node:timers/promises";

export interface PollOptions<T> {
  intervalMs: number;
  /** Stops waiting once this many ms have passed and returns the last value read. */
  timeoutMs?: number;
  /** Aborts the sleep between reads; the pending read, if any, finishes first. */
  signal?: AbortSignal;
  /** Called after every read with the value and the ms waited so far. */
  onPoll?: (value: T, elapsedMs: number) => void | Promise<void>;
}

/**
 * Re-reads a resource the server is still working on (a booting sandbox, a verifying change request)
 * while `pending` holds: the work takes minutes, longer than one HTTP request should stay open.
 * The one wait loop behind the CLI commands and the MCP tools (and so the agent).
 */
export async function pollWhile<T>(
  first: T,
  pending: (value: T) => boolean,
  read: () => Promise<T>,
  options: PollOptions<T>,
): Promise<T> {
  const started = Date.now();
  let current = first;
  while (pending(current)) {
    if (options.timeoutMs !== undefined && Date.now() - started >= options.timeoutMs) break;
    await sleep(options.intervalMs, undefined, { signal: options.signal });
    current = await read();
    await options.onPoll?.(current, Date.now() - started);
  }
  return current;
}
