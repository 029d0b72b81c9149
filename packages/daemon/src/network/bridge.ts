import { parseIpv4 } from "./ipv4.js";
import { assertIfname, deleteLink, findLink } from "./links.js";
import { macFromIp } from "./mac.js";
import { type NetnsOption, runNet, runNetChecked } from "./netns.js";

export const DEFAULT_BRIDGE = "fluid0";

export interface BridgeConfig extends NetnsOption {
  name: string;
  /** The bridge's own address, which is the sandboxes' gateway. */
  gateway: string;
  prefix: number;
}

/**
 * Makes sure the bridge exists, carries the gateway address and is up. Safe to call on every daemon
 * start: an existing bridge (with running sandboxes on it) is kept, only its MAC, address and state
 * are asserted again. Returns whether it was created by this call, so a failed start can undo
 * exactly what it did.
 */
export async function ensureBridge(config: BridgeConfig): Promise<{ created: boolean }> {
  assertIfname(config.name);
  const existing = await findLink(config.name, config);
  let created = false;
  if (existing && existing.kind !== "bridge") {
    throw new Error(`${config.name} exists but is a ${existing.kind ?? "plain"} device, not a bridge`);
  }
  if (!existing) {
    const add = await runNet(["ip", "link", "add", "name", config.name, "type", "bridge"], config);
    // "File exists" means another process created it between the lookup and now, which is fine.
    if (add.code !== 0 && !/File exists/.test(add.stderr)) {
      throw new Error(`creating bridge ${config.name} failed: ${add.stderr.trim() || `exit ${add.code}`}`);
    }
    created = add.code === 0;
  }
  try {
    // Left alone, a bridge takes the lowest MAC among its ports, so it changes whenever a TAP comes
    // or goes, and guests that cached the gateway's old MAC lose it until their ARP entry expires.
    const mac = macFromIp(parseIpv4(config.gateway));
    await runNetChecked(["ip", "link", "set", "dev", config.name, "address", mac], config);
    // `replace` rather than `add`: re-adding an address the bridge already has is an error.
    await runNetChecked(["ip", "addr", "replace", `${config.gateway}/${config.prefix}`, "dev", config.name], config);
    await runNetChecked(["ip", "link", "set", "dev", config.name, "up"], config);
  } catch (error) {
    if (created) await deleteLink(config.name, config).catch(() => undefined);
    throw error;
  }
  return { created };
}

/** Idempotent. The kernel detaches (but does not delete) any ports still on the bridge. */
export async function removeBridge(name: string, opts: NetnsOption = {}): Promise<void> {
  assertIfname(name);
  await deleteLink(name, opts);
}
