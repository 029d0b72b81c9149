import { describe, expect, it } from "vitest";
import { hostnameFor, identityFiles, identityParams, reidentifyCommands } from "./identity.js";
import type { NetAttachment } from "./ports.js";

const bridged: NetAttachment = {
  mode: "bridge",
  ip: "10.91.0.5",
  gateway: "10.91.0.1",
  prefix: 24,
  mac: "52:54:00:0a:5b:05",
  tap: "fl-x",
  qemuArgs: [],
};

describe("guest identity", () => {
  it("turns any sandbox name into a valid hostname", () => {
    expect(hostnameFor("web_1.test")).toBe("web-1-test");
    expect(hostnameFor("---")).toBe("sandbox");
  });

  it("passes a static address (no DHCP client needed at boot), the egress resolver on a bridge and slirp's in user mode", () => {
    expect(identityParams("web", bridged)).toEqual([
      "fluid.hostname=web",
      "fluid.net=10.91.0.5/24,10.91.0.1",
      "fluid.dns=10.91.0.1",
    ]);
    expect(
      identityParams("web", {
        mode: "user",
        ip: "10.0.2.15",
        gateway: "10.0.2.2",
        prefix: 24,
        mac: "52:54:00:00:00:01",
        qemuArgs: [],
      }),
    ).toEqual(["fluid.hostname=web", "fluid.net=10.0.2.15/24,10.0.2.2", "fluid.dns=10.0.2.3"]);
    expect(identityParams("web", { mode: "user", mac: "52:54:00:00:00:01", qemuArgs: [] })).toContain("fluid.net=dhcp");
  });

  it("re-identifies a clone through files: hostname (live and on disk) and machine id", () => {
    const files = identityFiles("clone-2", "0123456789abcdef0123456789abcdef");
    expect(files.map((f) => [f.path, f.data.toString()])).toEqual([
      ["/proc/sys/kernel/hostname", "clone-2"],
      ["/etc/hostname", "clone-2\n"],
      ["/etc/machine-id", "0123456789abcdef0123456789abcdef\n"],
    ]);
  });

  it("moves a bridged clone to its own MAC and address, and renews SSH host keys when the image has sshd", () => {
    const script = reidentifyCommands(bridged, { sshd: true });
    expect(script).toContain("ip link set eth0 address 52:54:00:0a:5b:05");
    expect(script).toContain("ip addr add 10.91.0.5/24 dev eth0");
    expect(script).toContain("ip route replace default via 10.91.0.1");
    expect(script).toContain("chmod 600 /etc/ssh/ssh_host_*_key");
    expect(script).not.toContain("ssh-keygen");
    expect(reidentifyCommands({ mode: "user", mac: "52:54:00:00:00:01", qemuArgs: [] }, { sshd: false })).toBe("");
  });

  it("refuses values that could inject shell into the guest", () => {
    expect(() => identityFiles("x; reboot", "0123456789abcdef0123456789abcdef")).toThrow(/hostname/);
    expect(() => reidentifyCommands({ ...bridged, ip: "10.0.0.1; reboot" }, { sshd: false })).toThrow(/IPv4/);
    expect(() => reidentifyCommands({ ...bridged, mac: "$(reboot)" }, { sshd: false })).toThrow(/MAC/);
  });
});
