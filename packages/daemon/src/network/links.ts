import { type NetnsOption, runNet, runNetChecked } from "./netns.js";

/** The parts of `ip -j -d link show` output that fluid looks at. */
export interface Link {
  name: string;
  /** `bridge`, `tun`, `veth`, …; undefined for devices without linkinfo (loopback). */
  kind?: string;
  /** The bridge this device is a port of. */
  master?: string;
  /** Administratively up (the UP flag), regardless of carrier. */
  up: boolean;
  mac?: string;
}

interface RawLink {
  ifname?: unknown;
  flags?: unknown;
  master?: unknown;
  address?: unknown;
  linkinfo?: { info_kind?: unknown };
}

export function parseLinks(json: string): Link[] {
  const raw: unknown = JSON.parse(json);
  if (!Array.isArray(raw)) throw new Error("ip -j link show: expected a JSON array");
  return raw.map((entry: RawLink) => {
    if (typeof entry.ifname !== "string") throw new Error("ip -j link show: entry without ifname");
    const link: Link = {
      name: entry.ifname,
      up: Array.isArray(entry.flags) && entry.flags.includes("UP"),
    };
    if (typeof entry.linkinfo?.info_kind === "string") link.kind = entry.linkinfo.info_kind;
    if (typeof entry.master === "string") link.master = entry.master;
    if (typeof entry.address === "string") link.mac = entry.address;
    return link;
  });
}

export async function listLinks(opts: NetnsOption = {}): Promise<Link[]> {
  const { stdout } = await runNetChecked(["ip", "-j", "-d", "link", "show"], opts);
  return parseLinks(stdout);
}

/** The device, or undefined when it does not exist. */
export async function findLink(name: string, opts: NetnsOption = {}): Promise<Link | undefined> {
  const result = await runNet(["ip", "-j", "-d", "link", "show", "dev", name], opts);
  if (result.code !== 0) {
    if (/does not exist/.test(result.stderr)) return undefined;
    throw new Error(`ip link show ${name} failed: ${result.stderr.trim() || `exit ${result.code}`}`);
  }
  return parseLinks(result.stdout)[0];
}

/** Deletes a device; returns false when it was already gone. */
export async function deleteLink(name: string, opts: NetnsOption = {}): Promise<boolean> {
  const result = await runNet(["ip", "link", "del", "dev", name], opts);
  if (result.code === 0) return true;
  if (/Cannot find device/.test(result.stderr)) return false;
  throw new Error(`ip link del ${name} failed: ${result.stderr.trim() || `exit ${result.code}`}`);
}

/** Network device names the kernel accepts and that are safe to embed in nft and QEMU option strings. */
export function assertIfname(name: string): void {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) throw new Error(`invalid network device name: ${JSON.stringify(name)}`);
}
