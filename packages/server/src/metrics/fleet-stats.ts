import type { Kysely } from "kysely";
import type { DB } from "../db/schema.js";

export interface HostResources {
  id: string;
  online: boolean;
  totalCpus: number;
  availableCpus: number;
  totalMemoryMb: number;
  availableMemoryMb: number;
  sandboxes: number;
}

export interface Fleet {
  sandboxes: Record<string, number>;
  hosts: HostResources[];
}

/**
 * Sandbox counts and host resources for the metrics, read with two cheap queries and kept for a
 * few seconds so frequent scrapes (or several replicas' scrapers) do not load the database.
 */
export class FleetStats {
  private cached: { at: number; fleet: Promise<Fleet | undefined> } | undefined;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly ttlMs = 5_000,
  ) {}

  /** The fleet as of at most `ttlMs` ago; undefined while the database cannot be read (those series are left out). */
  read(): Promise<Fleet | undefined> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at >= this.ttlMs) {
      this.cached = { at: now, fleet: this.query().catch(() => undefined) };
    }
    return this.cached.fleet;
  }

  private async query(): Promise<Fleet> {
    const [states, hosts] = await Promise.all([
      this.db
        .selectFrom("sandboxes")
        .select(["state", (eb) => eb.fn.countAll<string>().as("count")])
        .where("ended_at", "is", null)
        .groupBy("state")
        .execute(),
      this.db
        .selectFrom("hosts")
        .select([
          "id",
          "status",
          "total_cpus",
          "available_cpus",
          "total_memory_mb",
          "available_memory_mb",
          "active_sandboxes",
        ])
        .execute(),
    ]);
    return {
      sandboxes: Object.fromEntries(states.map((row) => [row.state, Number(row.count)])),
      hosts: hosts.map((h) => ({
        id: h.id,
        online: h.status === "ONLINE",
        totalCpus: h.total_cpus,
        availableCpus: h.available_cpus,
        totalMemoryMb: h.total_memory_mb,
        availableMemoryMb: h.available_memory_mb,
        sandboxes: h.active_sandboxes,
      })),
    };
  }
}
