import { describe, expect, it } from "vitest";
import type { ListeningSocket } from "../agent/proc-net.js";
import { diffListening, socketName } from "./listening.js";
import { NoisePolicy, noiseRules } from "./noise.js";

const socket = (protocol: ListeningSocket["protocol"], address: string, port: number, process?: string) => ({
  protocol,
  address,
  port,
  inode: port,
  ...(process ? { process } : {}),
});

describe("port names", () => {
  it("names a port by protocol alone when it listens on every address", () => {
    expect(socketName(socket("tcp", "0.0.0.0", 22))).toBe("tcp/22");
    expect(socketName(socket("tcp6", "::", 22))).toBe("tcp6/22");
    expect(socketName(socket("tcp", "127.0.0.1", 8080))).toBe("tcp/127.0.0.1:8080");
    expect(socketName(socket("tcp6", "::1", 5432))).toBe("tcp6/[::1]:5432");
  });
});

describe("diff of two sets of listening sockets", () => {
  const noise = new NoisePolicy(noiseRules({ replace: [] }));

  it("reports opened and closed ports with their process", () => {
    const baseline = [socket("tcp", "0.0.0.0", 22, "sshd"), socket("udp", "0.0.0.0", 68, "udhcpc")];
    const current = [socket("tcp", "0.0.0.0", 22, "sshd"), socket("tcp", "127.0.0.1", 8080, "nginx")];
    expect(diffListening(baseline, current, noise)).toEqual([
      {
        kind: "port",
        action: "added",
        name: "tcp/127.0.0.1:8080",
        protocol: "tcp",
        address: "127.0.0.1",
        port: 8080,
        process: "nginx",
      },
      {
        kind: "port",
        action: "removed",
        name: "udp/68",
        protocol: "udp",
        address: "0.0.0.0",
        port: 68,
        process: "udhcpc",
      },
    ]);
  });

  it("reports a port taken over by another process, but not one whose process became unknown", () => {
    const baseline = [socket("tcp", "0.0.0.0", 80, "apache2"), socket("tcp", "0.0.0.0", 22, "sshd")];
    const current = [socket("tcp", "0.0.0.0", 80, "nginx"), socket("tcp", "0.0.0.0", 22)];
    expect(diffListening(baseline, current, noise)).toEqual([
      {
        kind: "port",
        action: "changed",
        name: "tcp/80",
        protocol: "tcp",
        address: "0.0.0.0",
        port: 80,
        process: "nginx",
        from: { process: "apache2" },
      },
    ]);
  });

  it("counts the sockets of forked workers on one address as one port", () => {
    const current = [socket("tcp", "0.0.0.0", 80, "nginx"), socket("tcp", "0.0.0.0", 80, "nginx")];
    expect(diffListening([], current, noise).map((c) => c.name)).toEqual(["tcp/80"]);
  });

  it("leaves out ports a noise rule ignores", () => {
    const policy = new NoisePolicy(
      noiseRules({ replace: [{ id: "dev-server", kind: "port", match: "tcp*/3000", effect: "ignore", reason: "" }] }),
    );
    const current = [socket("tcp", "0.0.0.0", 3000), socket("tcp6", "::", 3000), socket("tcp", "0.0.0.0", 80)];
    expect(diffListening([], current, policy).map((c) => c.name)).toEqual(["tcp/80"]);
  });
});
