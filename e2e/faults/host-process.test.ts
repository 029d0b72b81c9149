import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, type TestDaemonProcess } from "../lib/daemon.js";
import { startServer, type TestServerProcess } from "../lib/server.js";
import { until } from "../lib/wait.js";
import { inventory, removeBridge } from "./host-inventory.js";
import { report, timeUntil } from "./measure.js";

const isRoot = process.getuid?.() === 0;
const ENDED = new Set(["ERROR", "DESTROYED"]);

/**
 * Processes dying on the sandbox host, on a bridge so every sandbox has a TAP and an IP lease to
 * leak: the daemon killed while it creates a sandbox, and a sandbox's QEMU killed under it.
 */
describe.skipIf(!isRoot)("faults of the host's processes (needs root for the bridge)", () => {
  const bridge = `flflt${randomBytes(3).toString("hex")}`;
  let server: TestServerProcess;
  let daemon: TestDaemonProcess;
  let key: string;
  let hostId: string;
  const sandboxRow = async (id: string) => {
    const { state, end_reason, error } = (await server.call("GET", `/v1/orgs/hostfault/sandboxes/${id}`, { key }))
      .body as { state: string; end_reason: string | null; error: string | null };
    return { state, end_reason, error };
  };
  const hostStatus = async () =>
    (await server.call("GET", `/v1/orgs/hostfault/hosts/${hostId}`, { key })).body.status as string;

  beforeAll(async () => {
    server = await startServer();
    ({ key } = await server.bootstrap("hostfault"));
    const token = await server.call("POST", "/v1/orgs/hostfault/hosts/tokens", { key, body: { name: "h" } });
    hostId = token.body.id;
    daemon = await startDaemon({
      network: "bridge",
      bridge,
      subnet: "10.93.81.0/24",
      extraArgs: ["--server", server.grpc, "--insecure", "--token", token.body.token],
    });
    await until(async () => (await hostStatus()) === "ONLINE");
  });

  afterAll(async () => {
    await daemon?.dispose();
    await server?.dispose();
    removeBridge(bridge);
  });

  it("daemon kill -9 mid-create: after the restart no VM, overlay, TAP, lease or live row remains; the sandbox ends", async () => {
    const created = await server.call("POST", "/v1/orgs/hostfault/sandboxes?wait=false", {
      key,
      body: { source_vm: "tiny", memory_mb: 256 },
    });
    expect(created.status).toBeLessThan(300);
    const id = created.body.id as string;
    // Killed once QEMU is launched (its pidfile exists) but before the guest answered: the worst moment.
    await until(() => existsSync(join(daemon.stateDir, "sandboxes", id, "qemu.pid")), 60_000, 20);
    const during = await inventory(daemon.stateDir, bridge);
    const stateWhenKilled = (await sandboxRow(id)).state;
    await daemon.process.crash();
    const killedAt = performance.now();
    const endedAfterKillMs = await timeUntil(async () => ENDED.has((await sandboxRow(id)).state), 60_000);
    const restartAt = performance.now();
    await daemon.restart();
    const daemonPid = daemon.process.child.pid;
    await until(async () => (await hostStatus()) === "ONLINE");
    const restartToOnlineMs = Math.round(performance.now() - restartAt);
    const killToCleanMs = Math.round(performance.now() - killedAt);
    const after = await inventory(daemon.stateDir, bridge, daemonPid);
    const row = await sandboxRow(id);
    report("daemon kill -9 mid-create", {
      stateWhenKilled,
      during: { vms: during.vms.length, taps: during.taps.length, leases: during.leases.length },
      after,
      serverRow: row,
      endedAfterKillMs,
      restartToOnlineMs,
      killToCleanMs,
    });
    expect(stateWhenKilled).toBe("CREATING");
    expect(during.vms.length).toBe(1);
    expect(after).toEqual({ vms: [], zombies: [], dirs: [], taps: [], leases: [], unended: [] });
    expect(row.state).toBe("ERROR");
    expect(row.end_reason).toBe("create_failed");
    expect(row.error).toBeTruthy();

    const again = await server.call("POST", "/v1/orgs/hostfault/sandboxes", {
      key,
      body: { source_vm: "tiny", memory_mb: 256 },
    });
    expect(again.body.state).toBe("RUNNING");
    await server.call("DELETE", `/v1/orgs/hostfault/sandboxes/${again.body.id}`, { key });
  });

  it("QEMU kill -9: the sandbox ends ERROR/crashed, its TAP, lease and process are freed, no zombie", async () => {
    const created = await server.call("POST", "/v1/orgs/hostfault/sandboxes", {
      key,
      body: { source_vm: "tiny", memory_mb: 256 },
    });
    expect(created.body.state).toBe("RUNNING");
    const id = created.body.id as string;
    const pid = Number((await readFile(join(daemon.stateDir, "sandboxes", id, "qemu.pid"), "utf8")).trim());
    const before = await inventory(daemon.stateDir, bridge);
    process.kill(pid, "SIGKILL");
    const killedAt = performance.now();
    const erroredMs = await timeUntil(async () => (await sandboxRow(id)).state === "ERROR", 60_000);
    const freedMs = await timeUntil(async () => {
      const now = await inventory(daemon.stateDir, bridge, daemon.process.child.pid);
      return Object.values(now).every((left) => left.length === 0);
    }, 60_000).catch(() => undefined);
    const after = await inventory(daemon.stateDir, bridge, daemon.process.child.pid);
    const row = await sandboxRow(id);
    report("QEMU crash", {
      before: { vms: before.vms.length, taps: before.taps.length, leases: before.leases.length },
      after,
      serverRow: row,
      erroredMs,
      freedAfterKillMs: freedMs === undefined ? undefined : Math.round(performance.now() - killedAt),
    });
    expect(before.vms).toContain(pid);
    expect(before.taps.length).toBe(1);
    expect(row).toMatchObject({ state: "ERROR", end_reason: "crashed" });
    expect(after).toEqual({ vms: [], zombies: [], dirs: [], taps: [], leases: [], unended: [] });
  });
});
