import { userNetwork } from "../network/qemu-args.js";
import { HOST_KEY_TYPES } from "./host-keys.js";
import type { NetAttachment } from "./ports.js";

const hostnamePattern = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/;
const ipPattern = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const macPattern = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** A guest hostname from a sandbox name: DNS-label characters only. */
export function hostnameFor(name: string): string {
  const cleaned = name
    .replace(/[^A-Za-z0-9-]/g, "-")
    .replace(/^-+/, "")
    .slice(0, 63);
  return hostnamePattern.test(cleaned) ? cleaned : "sandbox";
}

function checkedIp(value: string | undefined): string {
  if (!value || !ipPattern.test(value)) throw new Error(`invalid IPv4 address ${String(value)}`);
  return value;
}

/** Kernel parameters the guest's /fluid/boot applies (see docs/guest-images.md). */
export function identityParams(hostname: string, net: NetAttachment): string[] {
  const params = [`fluid.hostname=${hostname}`];
  if (net.ip && net.gateway)
    params.push(`fluid.net=${checkedIp(net.ip)}/${net.prefix ?? 24},${checkedIp(net.gateway)}`);
  else params.push("fluid.net=dhcp");
  if (net.mode === "user") params.push(`fluid.dns=${userNetwork.dns}`);
  // On a bridge, names resolve through fluid's egress resolver on the gateway (network/resolver.ts).
  else if (net.gateway) params.push(`fluid.dns=${checkedIp(net.gateway)}`);
  return params;
}

/** The files that carry a clone's identity, written through the guest agent (no process needed). */
export function identityFiles(hostname: string, machineId: string): Array<{ path: string; data: Buffer }> {
  if (!hostnamePattern.test(hostname)) throw new Error(`invalid hostname ${hostname}`);
  if (!/^[0-9a-f]{32}$/.test(machineId)) throw new Error("machine id must be 32 lowercase hex digits");
  return [
    { path: "/proc/sys/kernel/hostname", data: Buffer.from(hostname) },
    { path: "/etc/hostname", data: Buffer.from(`${hostname}\n`) },
    { path: "/etc/machine-id", data: Buffer.from(`${machineId}\n`) },
  ];
}

/**
 * Guest commands that move a restored clone onto its own MAC and address (bridged sandboxes) and
 * put its fresh SSH host keys in force (images with sshd); empty when nothing needs a process. Every value
 * is validated before it is placed in the script, so nothing can inject shell into the guest either.
 */
export function reidentifyCommands(net: NetAttachment, options: { sshd: boolean }): string {
  const lines: string[] = [];
  if (net.mode === "bridge") {
    if (!macPattern.test(net.mac)) throw new Error(`invalid MAC ${net.mac}`);
    const ip = checkedIp(net.ip);
    const gateway = checkedIp(net.gateway);
    const prefix = Number(net.prefix ?? 24);
    if (!Number.isInteger(prefix) || prefix < 8 || prefix > 30) throw new Error(`invalid prefix ${prefix}`);
    lines.push(
      "ip link set eth0 down",
      `ip link set eth0 address ${net.mac}`,
      "ip addr flush dev eth0",
      `ip addr add ${ip}/${prefix} dev eth0`,
      "ip link set eth0 up",
      `ip route replace default via ${gateway}`,
    );
  }
  if (options.sshd) {
    // The new keys are already written (see host-keys.ts); keys of any other type are the parent's.
    const kept = HOST_KEY_TYPES.map((type) => `! -name 'ssh_host_${type}_key*'`).join(" ");
    lines.push(
      "chmod 600 /etc/ssh/ssh_host_*_key",
      `find /etc/ssh -maxdepth 1 -name 'ssh_host_*' ${kept} -delete`,
      'if [ -f /run/sshd.pid ]; then kill "$(cat /run/sshd.pid)" || true; fi',
    );
  }
  return lines.length > 0 ? ["set -e", ...lines].join("\n") : "";
}
