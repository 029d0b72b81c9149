import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, type TestDaemonProcess } from "./lib/daemon.js";

const isRoot = process.getuid?.() === 0;

interface Sandbox {
  id: string;
  ip_address: string;
}

/**
 * Sandbox-to-sandbox isolation on one bridge, on real VMs: two tiny sandboxes booted once, and two
 * forks of the first made with a shared network, all on a bridge and subnet of this file's own.
 */
describe.skipIf(!isRoot)("sandboxes on one bridge are isolated from each other (needs root for the bridge)", () => {
  const bridge = `fle2ei${randomBytes(3).toString("hex")}`;
  let daemon: TestDaemonProcess;
  let a: Sandbox;
  let b: Sandbox;
  let forks: Sandbox[];

  beforeAll(async () => {
    daemon = await startDaemon({ network: "bridge", bridge, subnet: "10.93.79.0/24" });
    const [first, second] = await Promise.all([
      daemon.api.create({ name: "iso-a" }),
      daemon.api.create({ name: "iso-b" }),
    ]);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(second.status, JSON.stringify(second.body)).toBe(201);
    a = first.body;
    b = second.body;
    const snapshot = await daemon.api.call("POST", `/v1/sandboxes/${a.id}/snapshots`, {
      name: "lab",
      include_memory: true,
    });
    expect(snapshot.status, JSON.stringify(snapshot.body)).toBe(201);
    const forked = await daemon.api.call("POST", `/v1/snapshots/${snapshot.body.id}/fork`, {
      count: 2,
      network: "shared",
    });
    expect(forked.status, JSON.stringify(forked.body)).toBe(201);
    forks = forked.body.sandboxes;
  }, 600_000);

  afterAll(async () => {
    await daemon?.dispose();
  });

  /** Whether one ICMP echo from the sandbox to the address is answered within 2 s. */
  const pings = async (from: Sandbox, to: string) => {
    const res = await daemon.api.run(from.id, `ping -c1 -W2 ${to} >/dev/null 2>&1; echo exit=$?`, {
      timeout_seconds: 30,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return (res.body.stdout as string).trim() === "exit=0";
  };

  it("two sandboxes on one bridge cannot reach each other", async () => {
    expect(await pings(a, b.ip_address)).toBe(false);
    expect(await pings(b, a.ip_address)).toBe(false);
  });

  /**
   * A TCP connection from the host to a port nothing in the guest listens on: "refused" means the
   * SYN crossed the bridge and the guest's RST came back, "timeout" that something dropped them.
   */
  const fromHost = (ip: string) =>
    new Promise<string>((resolve) => {
      const socket = connect({ host: ip, port: 9 });
      socket.setTimeout(5_000, () => {
        socket.destroy();
        resolve("timeout");
      });
      socket.on("connect", () => {
        socket.destroy();
        resolve("connected");
      });
      socket.on("error", (error: NodeJS.ErrnoException) =>
        resolve(error.code === "ECONNREFUSED" ? "refused" : `error ${error.code}`),
      );
    });

  it("the host side of the bridge still reaches each sandbox", async () => {
    expect(await fromHost(a.ip_address)).toBe("refused");
    expect(await fromHost(b.ip_address)).toBe("refused");
  });

  it("two forks made with network shared reach each other, and an isolated sandbox reaches neither", async () => {
    const [one, two] = forks as [Sandbox, Sandbox];
    expect(await pings(one, two.ip_address)).toBe(true);
    expect(await pings(two, one.ip_address)).toBe(true);
    expect(await pings(b, one.ip_address)).toBe(false);
    expect(await pings(one, b.ip_address)).toBe(false);
  });
});
