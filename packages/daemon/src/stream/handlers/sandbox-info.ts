import type { SandboxRow } from "../../state/schema.js";

/** How a new sandbox is described to the control plane (SandboxCreated and each forked clone). */
export function sandboxInfo(row: SandboxRow) {
  return {
    sandboxId: row.id,
    name: row.name,
    state: row.state,
    ipAddress: row.ip ?? "",
    macAddress: row.mac ?? "",
    bridge: row.tap ? "fluid0" : "",
    pid: row.pid ?? 0,
  };
}
