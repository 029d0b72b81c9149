import { assertIfname } from "./links.js";
import { assertMac } from "./mac.js";

// microvm has no PCI bus, hence virtio-net-device (virtio-mmio) rather than virtio-net-pci.

/** A NIC on the sandbox's TAP; fluid created the TAP, so QEMU must not run ifup/ifdown scripts. */
export function tapNetdevArgs(tap: string, mac: string): string[] {
  assertIfname(tap);
  return ["-netdev", `tap,id=net0,ifname=${tap},script=no,downscript=no`, ...nicArgs(mac)];
}

/**
 * A NIC on QEMU's user-mode (slirp) network. Slirp has no egress filter: the only control is
 * `restrict=on`, which cuts the guest off from the host and everything beyond it.
 */
export function userNetdevArgs(mac: string, egress: boolean): string[] {
  return ["-netdev", egress ? "user,id=net0" : "user,id=net0,restrict=on", ...nicArgs(mac)];
}

function nicArgs(mac: string): string[] {
  assertMac(mac);
  return ["-device", `virtio-net-device,netdev=net0,mac=${mac}`];
}
