import type Database from "better-sqlite3";
import type { Lease, LeaseStore } from "../network/leases.js";

/** IP leases in the daemon's SQLite state; synchronous, so two allocations can never interleave. */
export function sqliteLeaseStore(sqlite: Database.Database): LeaseStore {
  const all = sqlite.prepare<[], { sandbox_id: string; ip: string; mac: string }>(
    "SELECT sandbox_id, ip, mac FROM ip_leases",
  );
  const insert = sqlite.prepare("INSERT INTO ip_leases (sandbox_id, ip, mac) VALUES (?, ?, ?)");
  const remove = sqlite.prepare("DELETE FROM ip_leases WHERE sandbox_id = ?");
  return {
    all: (): Lease[] => all.all().map((row) => ({ sandboxId: row.sandbox_id, ip: row.ip, mac: row.mac })),
    insert: (lease) => {
      insert.run(lease.sandboxId, lease.ip, lease.mac);
    },
    remove: (sandboxId) => {
      remove.run(sandboxId);
    },
  };
}
