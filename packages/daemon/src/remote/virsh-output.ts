/**
 * Parsers for the `virsh` output fluid reads (run with LC_ALL=C, so the labels are English). Each
 * one is strict about the shape it needs and ignores headers and separator lines.
 */

/** `virsh list --all --name`: one domain name per line. */
export function parseNameList(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
}

export interface DomInfo {
  state: string;
  vcpus: number | undefined;
  maxMemoryMb: number | undefined;
  persistent: boolean | undefined;
}

const memoryUnits: Record<string, number> = { KiB: 1 / 1024, MiB: 1, GiB: 1024, TiB: 1024 * 1024 };

/** `virsh dominfo <vm>`: "Key:   value" lines. */
export function parseDomInfo(text: string): DomInfo {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^([A-Za-z][A-Za-z ()]*?):\s*(.*)$/.exec(line.trim());
    if (match?.[1]) fields.set(match[1], (match[2] ?? "").trim());
  }
  const state = fields.get("State");
  if (!state) throw new Error("virsh dominfo printed no State");
  const cpus = Number(fields.get("CPU(s)"));
  const memory = /^(\d+)\s*(KiB|MiB|GiB|TiB)$/.exec(fields.get("Max memory") ?? "");
  const persistent = fields.get("Persistent");
  return {
    state,
    vcpus: Number.isInteger(cpus) && cpus > 0 ? cpus : undefined,
    maxMemoryMb: memory ? Math.round(Number(memory[1]) * (memoryUnits[memory[2] ?? ""] ?? 0)) : undefined,
    persistent: persistent === "yes" ? true : persistent === "no" ? false : undefined,
  };
}

export interface InterfaceAddress {
  interface: string;
  mac: string;
  family: "ipv4" | "ipv6";
  address: string;
  prefix: number;
}

/**
 * `virsh domifaddr <vm> --source …`: "Name  MAC  Protocol  Address/prefix" rows; a row whose name
 * and MAC are "-" is a further address of the interface above it.
 */
export function parseDomIfAddr(text: string): InterfaceAddress[] {
  const addresses: InterfaceAddress[] = [];
  let current: { name: string; mac: string } | undefined;
  for (const line of text.split("\n")) {
    const match = /^\s*(\S+)\s+(\S+)\s+(ipv4|ipv6)\s+(\S+)\/(\d+)\s*$/.exec(line);
    if (!match) continue;
    const [, name = "", mac = "", family, address = "", prefix] = match;
    if (name !== "-") current = { name, mac };
    if (!current) continue;
    addresses.push({
      interface: current.name,
      mac: current.mac,
      family: family as "ipv4" | "ipv6",
      address,
      prefix: Number(prefix),
    });
  }
  return addresses;
}

/** IPv4 addresses a guest can be reached on: not loopback, not link-local. */
export function reachableIpv4(addresses: readonly InterfaceAddress[]): string[] {
  return addresses
    .filter(
      (entry) => entry.family === "ipv4" && !entry.address.startsWith("127.") && !entry.address.startsWith("169.254."),
    )
    .map((entry) => entry.address);
}

export interface BlockDevice {
  /** file, block, network, volume, dir. */
  type: string;
  /** disk, cdrom, floppy, lun. */
  device: string;
  /** The guest-side name (vda, sda, hdc). */
  target: string;
  /** The host path, or undefined for an empty drive ("-"). */
  source: string | undefined;
}

/**
 * `virsh domblklist <vm> --details`: "Type Device Target Source" rows. The source is the rest of
 * the line, so paths with spaces survive.
 */
export function parseDomBlkList(text: string): BlockDevice[] {
  const devices: BlockDevice[] = [];
  for (const line of text.split("\n")) {
    const match = /^\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S.*?)\s*$/.exec(line);
    if (!match) continue;
    const [, type = "", device = "", target = "", source = ""] = match;
    if (type === "Type" && device === "Device" && target === "Target") continue;
    if (/^-+$/.test(type)) continue;
    devices.push({ type, device, target, source: source === "-" ? undefined : source });
  }
  return devices;
}

/** `virsh domiflist <vm>`: "Interface Type Source Model MAC" rows; returns the MAC addresses. */
export function parseDomIfList(text: string): string[] {
  const macs: string[] = [];
  for (const line of text.split("\n")) {
    const mac = /\s([0-9a-f]{2}(?::[0-9a-f]{2}){5})\s*$/i.exec(line)?.[1];
    if (mac) macs.push(mac.toLowerCase());
  }
  return macs;
}

/** Same devices, same order, same sources: the disk chain the VM runs on is what it was. */
export function sameBlockDevices(a: readonly BlockDevice[], b: readonly BlockDevice[]): boolean {
  return (
    a.length === b.length &&
    a.every((device, i) => {
      const other = b[i];
      return (
        other !== undefined &&
        device.type === other.type &&
        device.device === other.device &&
        device.target === other.target &&
        device.source === other.source
      );
    })
  );
}

export function describeBlockDevices(devices: readonly BlockDevice[]): string {
  return devices.map((device) => `${device.target}=${device.source ?? "-"}`).join(", ") || "(none)";
}
