import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, type TestDaemonProcess } from "./lib/daemon.js";
import { type OutsideNetwork, startOutsideNetwork } from "./lib/outside-network.js";

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "pipe", "pipe"] }).toString();
const isRoot = process.getuid?.() === 0;

/**
 * Sandboxes get no route beyond their own network by default. "Outside" is a network namespace
 * this test creates, reached from the host through a veth pair, with a TCP listener in it.
 */
describe.skipIf(!isRoot)("sandbox egress on the daemon's bridge (needs root for bridges and namespaces)", () => {
  const suffix = randomBytes(3).toString("hex");
  const outside = `fle2eo-${suffix}`;
  const hostVeth = `fle2ev${suffix}`;
  const bridge = `fle2eb${suffix}`;
  let outsideNetwork: OutsideNetwork | undefined;
  let daemon: TestDaemonProcess;
  let sandbox: string;

  beforeAll(async () => {
    outsideNetwork = startOutsideNetwork({
      namespace: outside,
      veth: hostVeth,
      hostAddress: "10.94.77.1/24",
      addresses: ["10.94.77.2/24"],
      listener:
        "require('net').createServer((s) => s.end('pong ' + s.remoteAddress + '\\n')).listen(8088, '10.94.77.2')",
    });
    daemon = await startDaemon({ network: "bridge", bridge, subnet: "10.93.77.0/24" });
    const created = await daemon.api.create({ name: "isolated" });
    expect(created.status).toBe(201);
    sandbox = created.body.id;
  });

  afterAll(async () => {
    await daemon?.dispose();
    outsideNetwork?.close();
  });

  const probe = async () =>
    (await daemon.api.run(sandbox, "timeout 5 nc 10.94.77.2 8088 </dev/null; echo exit=$?", { timeout_seconds: 20 }))
      .body.stdout as string;

  it("cannot reach outside its network by default", async () => {
    expect(await probe()).not.toContain("pong");
  });

  it("can when egress is enabled for it (masqueraded behind the host), and not after it is disabled", async () => {
    await daemon.api.call("POST", `/v1/sandboxes/${sandbox}/egress`, { allowed: true });
    expect(await probe()).toContain("pong 10.94.77.1");
    await daemon.api.call("POST", `/v1/sandboxes/${sandbox}/egress`, { allowed: false });
    expect(await probe()).not.toContain("pong");
  });

  it("destroying the sandbox removes its TAP", async () => {
    const before = ip("-br", "link")
      .split("\n")
      .filter((line) => line.startsWith("fl-")).length;
    await daemon.api.call("DELETE", `/v1/sandboxes/${sandbox}`);
    const after = ip("-br", "link")
      .split("\n")
      .filter((line) => line.startsWith("fl-")).length;
    expect(after).toBe(before - 1);
  });
});
