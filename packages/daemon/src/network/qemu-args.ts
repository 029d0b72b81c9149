import { assertIfname } from "./links.js";
import { assertMac } from "./mac.js";

// microvm has no PCI bus, hence virtio-net-device (virtio-mmio) rather than virtio-net-pci.

/** A NIC on the sandbox's TAP; fluid created the TAP, so QEMU must not run ifup/ifdown scripts. */
export function tapNetdevArgs(tap: string, mac: string): string[] {
  assertIfname(tap);
  return ["-netdev", `tap,id=net0,ifname=${tap},script=no,downscript=no`, ...nicArgs(mac)];
}

/** Slirp's fixed addresses; the guest is configured statically so it needs no DHCP client at boot. */
export const userNetwork = { ip: "10.0.2.15", gateway: "10.0.2.2", prefix: 24, dns: "10.0.2.3" } as const;

/**
 * A NIC on QEMU's user-mode (slirp) network. Slirp has no egress filter: the only control is
 * `restrict=on`, which cuts the guest off from the host and everything beyond it.
 */
export function userNetdevArgs(mac: string, egress: boolean): string[] {
  const net = `net=10.0.2.0/24,host=${userNetwork.gateway},dns=${userNetwork.dns}`;
  return ["-netdev", egress ? `user,id=net0,${net}` : `user,id=net0,${net},restrict=on`, ...nicArgs(mac)];
}

function nicArgs(mac: string): string[] {
  assertMac(mac);
  return ["-device", `virtio-net-device,netdev=net0,mac=${mac}`];
}
