import type { Kysely } from "kysely";
import { purgeStaleRateLimits } from "../auth/rate-limit.js";
import { purgeExpiredSessions } from "../auth/sessions.js";
import type { DB } from "../db/schema.js";
import { markSilentHostsOffline } from "../hosts/host-store.js";
import type { Logger } from "../log/logger.js";
import { accrueUsage } from "../quotas/usage.js";
import type { SandboxService } from "../sandboxes/service.js";

const HOUSEKEEPING_EVERY_MS = 60 * 60_000;

export interface Reaper {
  /** One pass, for tests and for the loop. */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The control plane's enforcement loop: lease expiry, hosts that went silent (their replica may have
 * died), sandboxes on hosts lost for good, booking running time (usage), and hourly pruning of
 * sessions and rate-limit windows.
 */
export function startReaper(deps: {
  db: Kysely<DB>;
  log: Logger;
  sandboxes: SandboxService;
  intervalMs: number;
  livenessMs: number;
}): Reaper {
  const { db, log, sandboxes } = deps;
  let lastHousekeeping = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const tick = async () => {
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
  };

  const loop = () => {
    if (stopped) return;
    running = tick()
      .catch((err: unknown) => log.error({ err }, "reaper pass failed"))
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
