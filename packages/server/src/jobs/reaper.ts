import type { Kysely } from "kysely";
import { purgeStaleRateLimits } from "../auth/rate-limit.js";
import { purgeExpiredSessions } from "../auth/sessions.js";
import type { DB } from "../db/schema.js";
import { markSilentHostsOffline } from "../hosts/host-store.js";
import type { Logger } from "../log/logger.js";
import { accrueUsage } from "../quotas/usage.js";
import type { SandboxService } from "../sandboxes/service.js";
import type { JobLocks } from "./singleton.js";

const HOUSEKEEPING_EVERY_MS = 60 * 60_000;

export interface Reaper {
  /** One pass, for tests and for the loop; false when another replica was running it. */
  tick(): Promise<boolean>;
  stop(): Promise<void>;
}

/**
 * The control plane's enforcement loop: lease expiry, hosts that went silent (their replica may have
 * died), sandboxes on hosts lost for good, booking running time (usage), change-request work a stopped
 * server left behind, and hourly pruning of sessions and rate-limit windows. Each pass runs on one
 * replica at a time (`jobs`).
 */
export function startReaper(deps: {
  db: Kysely<DB>;
  log: Logger;
  sandboxes: SandboxService;
  changeRequests: { failStale(): Promise<void> };
  jobs: JobLocks;
  intervalMs: number;
  livenessMs: number;
}): Reaper {
  const { db, log, sandboxes } = deps;
  let lastHousekeeping = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const pass = async () => {
    const reaped = await sandboxes.reapExpired();
    if (reaped > 0) log.info({ reaped }, "sandbox leases expired");
    const silent = await markSilentHostsOffline(db, deps.livenessMs);
    if (silent > 0) log.warn({ hosts: silent }, "hosts went silent; marked OFFLINE");
    const lost = await sandboxes.endOnLostHosts();
    if (lost > 0) log.warn({ sandboxes: lost }, "sandboxes ended because their host stayed offline");
    await accrueUsage(db);
    if (Date.now() - lastHousekeeping >= HOUSEKEEPING_EVERY_MS) {
      lastHousekeeping = Date.now();
      const sessions = await purgeExpiredSessions(db);
      await purgeStaleRateLimits(db, 24 * 3_600_000);
      if (sessions > 0) log.info({ sessions }, "expired sessions purged");
    }
    await deps.changeRequests.failStale();
  };
  const tick = () => deps.jobs.runExclusive("reaper", pass);

  const loop = () => {
    if (stopped) return;
    running = tick()
      .then(
        () => undefined,
        (err: unknown) => log.error({ err }, "reaper pass failed"),
      )
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, deps.intervalMs);
      });
  };
  timer = setTimeout(loop, deps.intervalMs);

  return {
    tick,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
