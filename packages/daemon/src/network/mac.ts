import { createHash, randomBytes } from "node:crypto";

/**
 * QEMU's own prefix. 0x52 has the locally-administered bit set and the multicast bit clear, so these
 * addresses never clash with real hardware.
 */
const PREFIX = "52:54:00";

function fromBytes(bytes: Uint8Array): string {
  return [PREFIX, ...Array.from(bytes.subarray(0, 3), (byte) => byte.toString(16).padStart(2, "0"))].join(":");
}

/**
 * The low 24 bits of the address. Inside one subnet of /8 or smaller these are unique, and an IP
 * that is released and handed out again keeps its MAC, so neighbours' ARP caches never go stale.
 */
export function macFromIp(ip: number): string {
  return fromBytes(Uint8Array.of((ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255));
}

export function randomMac(): string {
  return fromBytes(randomBytes(3));
}

/** A stable MAC for a sandbox without a lease (user-mode networking, where each VM has its own LAN). */
export function macFromSandboxId(sandboxId: string): string {
  return fromBytes(createHash("sha256").update(sandboxId).digest());
}

/** Guards strings that end up inside nft rules and QEMU option lists. */
export function assertMac(mac: string): void {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) throw new Error(`invalid MAC address: ${JSON.stringify(mac)}`);
}
