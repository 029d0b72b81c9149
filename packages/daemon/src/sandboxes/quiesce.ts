import type { GuestAgent } from "../agent/client.js";
import { SandboxError } from "../errors.js";

export type QuiesceAgent = Pick<GuestAgent, "freezeFilesystems" | "thawFilesystems" | "execArgv">;

export interface QuiesceOptions {
  /** The guest is thawed after this long even if the job is still running (the job then fails). */
  maxFrozenMs: number;
  onWarning?: (message: string, err?: unknown) => void;
}

const reason = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Runs `job` (a disk snapshot, or a review reading the disk) while everything the guest wrote is on its disk. Data written through
 * the agent or by guest programs sits in the guest's page cache, invisible to the host, until the
 * guest flushes it; a snapshot taken before that keeps empty files with zero modes. The agent
 * freezes the filesystems (which flushes them and holds new writes); where it cannot freeze, a
 * guest `sync` flushes them instead, and where neither works the snapshot is refused rather than
 * taken inconsistent. A frozen guest blocks every writer, so it is thawed after the job however it
 * ends, and at `maxFrozenMs` at the latest: a job still running then fails, because the guest has
 * written again during it.
 */
export async function withQuiescedGuest<T>(
  agent: QuiesceAgent,
  job: () => Promise<T>,
  options: QuiesceOptions,
): Promise<T> {
  try {
    await agent.freezeFilesystems();
  } catch (freezeErr) {
    // A freeze that failed half way leaves the filesystems it did freeze frozen until thawed.
    await agent.thawFilesystems().catch(() => undefined);
    await syncInstead(agent, freezeErr);
    options.onWarning?.("guest filesystems could not be frozen; synced them instead", freezeErr);
    return job();
  }
  let thawed: Promise<unknown> | undefined;
  const thaw = () => {
    thawed ??= agent.thawFilesystems().catch((err: unknown) => options.onWarning?.("thawing the guest failed", err));
    return thawed;
  };
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    void thaw();
  }, options.maxFrozenMs);
  try {
    const result = await job();
    if (expired) {
      throw new SandboxError(
        "host_error",
        `the snapshot took longer than ${options.maxFrozenMs} ms with the guest frozen; the guest was thawed and the snapshot discarded`,
      );
    }
    return result;
  } finally {
    clearTimeout(timer);
    await thaw();
  }
}

async function syncInstead(agent: QuiesceAgent, freezeErr: unknown): Promise<void> {
  let syncProblem: string;
  try {
    const result = await agent.execArgv(["sync"], { timeoutMs: 60_000, maxOutputBytes: 4096 });
    if (result.exitCode === 0) return;
    syncProblem = result.timedOut ? "timed out" : `exit ${result.exitCode}: ${result.stderr.toString("utf8").trim()}`;
  } catch (err) {
    syncProblem = reason(err);
  }
  throw new SandboxError(
    "invalid_state",
    `cannot take a consistent disk snapshot: the guest agent could neither freeze the guest's filesystems (${reason(freezeErr)}) nor sync them (${syncProblem})`,
  );
}
