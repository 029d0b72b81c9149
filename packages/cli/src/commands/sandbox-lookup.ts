import { listSnapshots } from "../api/sandbox-snapshots.js";
import { listSandboxes } from "../api/sandboxes.js";
import type { Connection } from "../connection.js";
import { CliError } from "../output.js";
import { isUuid } from "./shared.js";

/** How commands describe a <sandbox> argument. */
export const SANDBOX_ARG = "sandbox id, or the name of a live sandbox";

/** A sandbox id as given, or the id of the one live sandbox with that name. */
export async function sandboxId(conn: Connection, ref: string): Promise<string> {
  if (isUuid(ref)) return ref;
  const matches = (await listSandboxes(conn, false)).filter((s) => s.name === ref);
  const [only, ...others] = matches;
  if (!only) {
    throw new CliError(`no live sandbox is named "${ref}" (see fluid sandbox ls)`, {
      code: "not_found",
    });
  }
  if (others.length > 0) throw new CliError(`several sandboxes are named "${ref}"; give an id (see fluid sandbox ls)`);
  return only.id;
}

export async function snapshotIdFor(conn: Connection, sandbox: string, ref: string): Promise<string> {
  if (isUuid(ref)) return ref;
  const { snapshots } = await listSnapshots(conn, sandbox);
  const matches = snapshots.filter((s) => s.name === ref);
  const [only, ...others] = matches;
  if (!only) {
    throw new CliError(`this sandbox has no snapshot named "${ref}" (see fluid sandbox snapshots)`, {
      code: "not_found",
    });
  }
  if (others.length > 0) throw new CliError(`several snapshots are named "${ref}"; give an id`);
  return only.id;
}
