import { describe, expect, it } from "vitest";
import { hostnameFor, identityParams, reidentifyScript } from "./identity.js";
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

  it("passes a static address for bridged sandboxes and DHCP for user mode", () => {
    expect(identityParams("web", bridged)).toEqual(["fluid.hostname=web", "fluid.net=10.91.0.5/24,10.91.0.1"]);
    expect(identityParams("web", { mode: "user", mac: "52:54:00:00:00:01", qemuArgs: [] })).toEqual([
      "fluid.hostname=web",
      "fluid.net=dhcp",
    ]);
  });

  it("re-identifies a clone: new hostname, machine id, MAC, address and host keys", () => {
    const script = reidentifyScript("clone-2", bridged);
    expect(script).toContain("hostname clone-2");
    expect(script).toContain("/etc/machine-id");
    expect(script).toContain("ip link set eth0 address 52:54:00:0a:5b:05");
    expect(script).toContain("ip addr add 10.91.0.5/24 dev eth0");
    expect(script).toContain("ip route replace default via 10.91.0.1");
    expect(script).toContain("ssh-keygen -A");
  });

  it("refuses values that could inject shell into the guest", () => {
    expect(() => reidentifyScript("x; reboot", bridged)).toThrow(/hostname/);
    expect(() => reidentifyScript("ok", { ...bridged, ip: "10.0.0.1; reboot" })).toThrow(/IPv4/);
    expect(() => reidentifyScript("ok", { ...bridged, mac: "$(reboot)" })).toThrow(/MAC/);
  });
});
