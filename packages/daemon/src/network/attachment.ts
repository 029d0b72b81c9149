import type { EgressRule } from "./egress.js";
import type { Lease } from "./leases.js";
import { macFromSandboxId } from "./mac.js";
import { tapName } from "./names.js";
import { tapNetdevArgs, userNetdevArgs, userNetwork } from "./qemu-args.js";

/** What the VM layer needs to start a sandbox's NIC (and what it stores to relaunch it identically). */
export interface Attachment {
  mode: "bridge" | "user";
  mac: string;
  /** Bridge mode: the bridge its TAP is a port of. */
  bridge?: string;
  tap?: string;
  ip?: string;
  gateway?: string;
  prefix?: number;
  /** Sandboxes of one peer group may reach each other on the bridge; all others are isolated. */
  peerGroup?: string;
  qemuArgs: string[];
}

/** The attachment of a sandbox with a lease (bridge mode) or without one (user mode). */
export function describeAttachment(
  sandboxId: string,
  entry: { egress: EgressRule | undefined; lease?: Lease; mac?: string; peerGroup?: string | undefined },
  network: { gateway: string; prefix: number; bridge: string },
): Attachment {
  if (!entry.lease) {
    const mac = entry.mac ?? macFromSandboxId(sandboxId);
    return {
      mode: "user",
      mac,
      ip: userNetwork.ip,
      gateway: userNetwork.gateway,
      prefix: userNetwork.prefix,
      qemuArgs: userNetdevArgs(mac, entry.egress !== undefined),
    };
  }
  const tap = tapName(sandboxId);
  const { ip, mac } = entry.lease;
  return {
    mode: "bridge",
    mac,
    bridge: network.bridge,
    tap,
    ip,
    gateway: network.gateway,
    prefix: network.prefix,
    ...(entry.peerGroup !== undefined ? { peerGroup: entry.peerGroup } : {}),
    qemuArgs: tapNetdevArgs(tap, mac),
  };
}
