import type { Kysely } from "kysely";
import type { DB, SourceCommand } from "../db/schema.js";
import type { OrgScope } from "../orgs/access.js";
import type { HostHandle, HostRouter } from "../replicas/hosts.js";
import { HostCommandError, StreamClosedError } from "../stream/errors.js";

/** Hosts a listing or preparation is tried on before the caller hears of a host-level failure. */
const MAX_ATTEMPTS = 3;

/** The host itself failed (its stream closed mid-call, or it reaches no source hosts), not the command. */
export function hostLevelFailure(err: unknown): boolean {
  return err instanceof StreamClosedError || (err instanceof HostCommandError && err.hostCode === "host_unavailable");
}

/**
 * The sandbox hosts to try for a call, in order. A command on a prepared VM has one: the host that
 * prepared it (the VM accepts certificates from that host's CA only). Anything else may go to any
 * connected host: the least busy first (host id breaks ties, so the choice is stable), and up to
 * MAX_ATTEMPTS of them when a host fails as a host (see hostLevelFailure).
 */
export async function hostsFor(
  deps: { db: Kysely<DB>; hosts: HostRouter },
  scope: OrgScope,
  sourceHostId: string,
  call: { kind: SourceCommand["kind"]; vm: string },
): Promise<{ hosts: HostHandle[]; missing: string; code?: "invalid_state" }> {
  const connected = await deps.hosts.inOrg(scope.orgId);
  const preparation =
    call.kind === "list"
      ? undefined
      : await deps.db
          .selectFrom("source_vm_preparations")
          .select("host_id")
          .where("source_host_id", "=", sourceHostId)
          .where("vm", "=", call.vm)
          .where("org_id", "=", scope.orgId)
          .executeTakeFirst();
  const preparer = preparation && connected.find((h) => h.hostId === preparation.host_id);
  if (preparer) return { hosts: [preparer], missing: "" };
  if (call.kind === "apply" && !preparation) {
    return { hosts: [], missing: `${call.vm} is not prepared; prepare it with apply first`, code: "invalid_state" };
  }
  if (preparation && (call.kind === "run" || call.kind === "read_file" || call.kind === "apply")) {
    return {
      hosts: [],
      missing:
        `the sandbox host that prepared ${call.vm} (${preparation.host_id}) is not connected, and the VM ` +
        "trusts only its SSH CA; reconnect that host or prepare the VM again through another",
    };
  }
  const byLoad = [...connected].sort((a, b) => a.pendingCount - b.pendingCount);
  return {
    hosts: byLoad.slice(0, MAX_ATTEMPTS),
    missing: "no sandbox host of this organization is connected; source VMs are reached through one",
  };
}
