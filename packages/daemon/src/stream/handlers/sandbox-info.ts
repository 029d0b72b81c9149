import { DEFAULT_BRIDGE } from "../../network/bridge.js";
import type { NetAttachment } from "../../sandboxes/ports.js";
import type { SandboxRow } from "../../state/schema.js";

/** The bridge a sandbox's TAP is on; attachments recorded before the name was kept were on the default. */
function bridgeOf(row: SandboxRow): string {
  if (!row.tap) return "";
  const net = JSON.parse(row.network ?? "null") as NetAttachment | null;
  return net?.bridge ?? DEFAULT_BRIDGE;
}

/** How a new sandbox is described to the control plane (SandboxCreated and each forked clone). */
export function sandboxInfo(row: SandboxRow) {
  return {
    sandboxId: row.id,
    name: row.name,
    state: row.state,
    ipAddress: row.ip ?? "",
    macAddress: row.mac ?? "",
    bridge: bridgeOf(row),
    pid: row.pid ?? 0,
  };
}
