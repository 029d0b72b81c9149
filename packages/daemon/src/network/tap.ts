import { assertIfname, deleteLink, findLink, type Link, listLinks } from "./links.js";
import { isTapName } from "./names.js";
import { type NetnsOption, runNetChecked } from "./netns.js";

export interface TapOptions extends NetnsOption {
  /** The port's "isolated" flag (see setPortIsolated); default true. */
  isolated?: boolean;
}

/**
 * Creates a TAP device as a port of the bridge and brings it up. If a later step fails, the TAP is
 * deleted again, so a failed call leaves nothing behind.
 */
export async function createTap(name: string, bridge: string, opts: TapOptions = {}): Promise<void> {
  assertIfname(name);
  assertIfname(bridge);
  await runNetChecked(["ip", "tuntap", "add", "dev", name, "mode", "tap"], opts);
  try {
    await plugIntoBridge(name, bridge, opts);
  } catch (error) {
    await deleteLink(name, opts).catch(() => undefined);
    throw error;
  }
}

/**
 * createTap(), or, when the TAP already exists (a VM that outlived a daemon restart is using it),
 * adopts it: it stays in place and is only put back on the bridge, isolated as asked, and up.
 */
export async function ensureTap(name: string, bridge: string, opts: TapOptions = {}): Promise<{ created: boolean }> {
  const existing = await findLink(name, opts);
  if (!existing) {
    await createTap(name, bridge, opts);
    return { created: true };
  }
  if (existing.master !== bridge || !existing.up) await plugIntoBridge(name, bridge, opts);
  else await setPortIsolated(name, opts.isolated ?? true, opts);
  return { created: false };
}

/** Idempotent; returns false when the TAP was already gone. */
export async function deleteTap(name: string, opts: NetnsOption = {}): Promise<boolean> {
  assertIfname(name);
  return deleteLink(name, opts);
}

/**
 * Renames a TAP, also one a running VM holds open (QEMU keeps its file descriptor). Linux renames
 * only a link that is down, so it is down for a moment; it keeps its bridge.
 */
export async function renameTap(from: string, to: string, opts: NetnsOption = {}): Promise<void> {
  assertIfname(from);
  assertIfname(to);
  await runNetChecked(["ip", "link", "set", "dev", from, "down"], opts);
  await runNetChecked(["ip", "link", "set", "dev", from, "name", to], opts);
  await runNetChecked(["ip", "link", "set", "dev", to, "up"], opts);
}

/**
 * Sets the bridge port's "isolated" flag: isolated ports exchange no frames with each other, only
 * with ports that are not isolated (the bridge device itself, which is the sandboxes' gateway). The
 * kernel enforces it whatever the firewall says, so sandboxes stay apart even while fluid's nft
 * tables are replaced or gone. A TAP must be a bridge port for this.
 */
export async function setPortIsolated(name: string, isolated: boolean, opts: NetnsOption = {}): Promise<void> {
  assertIfname(name);
  await runNetChecked(portIsolationArgs(name, isolated), opts);
}

export function portIsolationArgs(name: string, isolated: boolean): string[] {
  return ["ip", "link", "set", "dev", name, "type", "bridge_slave", "isolated", isolated ? "on" : "off"];
}

/** Devices carrying a fluid TAP name (see names.ts), whatever bridge they are on, if any. */
export async function listTaps(opts: NetnsOption = {}): Promise<Link[]> {
  return (await listLinks(opts)).filter((link) => isTapName(link.name));
}

/** Isolation is set before the port comes up, so it never passes a frame unisolated. */
async function plugIntoBridge(name: string, bridge: string, opts: TapOptions): Promise<void> {
  await runNetChecked(["ip", "link", "set", "dev", name, "master", bridge], opts);
  await setPortIsolated(name, opts.isolated ?? true, opts);
  await runNetChecked(["ip", "link", "set", "dev", name, "up"], opts);
}
