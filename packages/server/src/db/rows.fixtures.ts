import type { Kysely } from "kysely";
import type { DB, NewSandbox } from "./schema.js";

/**
 * Inserts a sandbox row straight into the table (no host, no audit), for tests of what reads or accounts
 * sandboxes; a 1 vCPU, 512 MiB RUNNING sandbox unless `values` says otherwise. Returns its id.
 * The caller makes the id (lib/ids), so this file needs nothing outside db/.
 */
export async function insertSandboxRow(
  db: Kysely<DB>,
  values: Pick<NewSandbox, "id" | "org_id" | "host_id" | "created_by"> & Partial<NewSandbox>,
): Promise<string> {
  await db
    .insertInto("sandboxes")
    .values({
      name: `sbx-${values.id.slice(-8)}`,
      agent_id: null,
      source_vm: "debian-12",
      state: "RUNNING",
      vcpus: 1,
      memory_mb: 512,
      allow_egress: false,
      ip_address: null,
      mac_address: null,
      bridge: null,
      pid: null,
      error: null,
      expires_at: new Date(Date.now() + 3_600_000),
      ended_at: null,
      end_reason: null,
      ...values,
    })
    .execute();
  return values.id;
}
