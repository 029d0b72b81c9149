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
  if (net.mode === "user") params.push("fluid.net=dhcp");
  else params.push(`fluid.net=${checkedIp(net.ip)}/${net.prefix ?? 24},${checkedIp(net.gateway)}`);
  return params;
}

/**
 * A guest-side script that gives a restored clone its own identity: hostname, machine id, MAC and
 * address, a reseeded RNG and (when sshd exists) fresh host keys. Every value is validated before
 * it is placed in the script, so nothing from a request can inject shell into the guest either.
 */
export function reidentifyScript(hostname: string, net: NetAttachment): string {
  if (!hostnamePattern.test(hostname)) throw new Error(`invalid hostname ${hostname}`);
  if (!macPattern.test(net.mac)) throw new Error(`invalid MAC ${net.mac}`);
  const lines = [
    "set -e",
    `hostname ${hostname}`,
    `echo ${hostname} > /etc/hostname`,
    "rm -f /etc/machine-id && cat /proc/sys/kernel/random/uuid | tr -d - > /etc/machine-id",
    "head -c 512 /dev/urandom > /dev/null",
  ];
  if (net.mode === "bridge") {
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
  lines.push(
    'if [ -x /usr/sbin/sshd ]; then rm -f /etc/ssh/ssh_host_*; ssh-keygen -A >/dev/null 2>&1; if [ -f /run/sshd.pid ]; then kill "$(cat /run/sshd.pid)" || true; fi; fi',
  );
  return lines.join("\n");
}
