import { startReaper } from "./reaper.js";

type ReaperDeps = Parameters<typeof startReaper>[0];

/** What reapOnce needs of a running server (named by shape: jobs/ must not import server.ts, which imports jobs/). */
interface ReapableServer {
  ctx: Pick<ReaperDeps, "db" | "log" | "sandboxes" | "changeRequests">;
  jobs: ReaperDeps["jobs"];
}

/** Runs one reaper pass over a running server's state, as its interval would, then stops the reaper. */
export async function reapOnce(server: ReapableServer): Promise<void> {
  const reaper = startReaper({
    db: server.ctx.db,
    log: server.ctx.log,
    sandboxes: server.ctx.sandboxes,
    changeRequests: server.ctx.changeRequests,
    jobs: server.jobs,
    intervalMs: 3_600_000,
    livenessMs: 60_000,
  });
  try {
    await reaper.tick();
  } finally {
    await reaper.stop();
  }
}
