import type { RunningServer } from "../server.js";
import { startReaper } from "./reaper.js";

/** Runs one reaper pass over a running server's state, as its interval would, then stops the reaper. */
export async function reapOnce(server: RunningServer): Promise<void> {
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
