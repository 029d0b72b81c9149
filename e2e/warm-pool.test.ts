import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, type TestDaemonProcess } from "./lib/daemon.js";

/** True while the process runs (a zombie left for its parent to reap does not count). */
function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] !== "Z";
  } catch {
    return false;
  }
}

const POOL_SHAPE = { image: "tiny", vcpus: 1, memory_mb: 256 };

/** Hostname, machine id and guest clock (epoch seconds) of a running sandbox. */
async function identity(daemon: TestDaemonProcess, id: string) {
  const res = await daemon.api.run(id, "hostname; cat /etc/machine-id; date +%s");
  expect(res.body.exit_code).toBe(0);
  const [hostname, machineId, clock] = res.body.stdout.trim().split("\n");
  return { hostname, machineId, clock: Number(clock) };
}

async function poolReady(daemon: TestDaemonProcess): Promise<number> {
  const res = await daemon.api.call("GET", "/v1/warm-pool");
  return res.body.pools.find((pool: { image: string }) => pool.image === "tiny")?.ready ?? 0;
}

async function untilPoolFull(daemon: TestDaemonProcess, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await poolReady(daemon)) < 1) {
    if (Date.now() > deadline) throw new Error("the warm pool did not fill in time");
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function timedCreate(daemon: TestDaemonProcess, body: Record<string, unknown>) {
  const started = performance.now();
  const res = await daemon.api.call("POST", "/v1/sandboxes", { ...POOL_SHAPE, ...body });
  const ms = performance.now() - started;
  expect(res.status).toBe(201);
  return { sandbox: res.body, ms };
}

describe("warm pool: a daemon with --warm-pool tiny=1 (real QEMU, TCG)", () => {
  let daemon: TestDaemonProcess;

  beforeAll(async () => {
    daemon = await startDaemon({ extraArgs: ["--warm-pool", "tiny=1:1x256"] });
    await untilPoolFull(daemon);
  });

  afterAll(async () => {
    await daemon?.dispose();
  });

  it("a matching create takes the entry: RUNNING, exec-ready, with its own hostname, machine id and clock; a cold create is the comparison", async () => {
    const warm = await timedCreate(daemon, { name: "warm-one" });
    expect(warm.sandbox).toMatchObject({ state: "RUNNING", image: "tiny", memory_mb: 256, name: "warm-one" });
    expect(running(warm.sandbox.pid)).toBe(true);
    const warmIdentity = await identity(daemon, warm.sandbox.id);
    expect(warmIdentity.hostname).toBe("warm-one");
    expect(Math.abs(warmIdentity.clock - Date.now() / 1000)).toBeLessThan(10);

    // Same image and shape; egress on user-mode networking is fixed at launch, so this one boots cold.
    const cold = await timedCreate(daemon, { name: "cold-one", allow_egress: true });
    expect(cold.sandbox.state).toBe("RUNNING");
    const coldIdentity = await identity(daemon, cold.sandbox.id);

    await untilPoolFull(daemon);
    const second = await timedCreate(daemon, { name: "warm-two" });
    const secondIdentity = await identity(daemon, second.sandbox.id);
    expect(secondIdentity.hostname).toBe("warm-two");

    const machineIds = [warmIdentity, coldIdentity, secondIdentity].map((each) => each.machineId);
    expect(machineIds.every((machineId) => /^[0-9a-f]{32}$/.test(machineId ?? ""))).toBe(true);
    expect(new Set(machineIds).size).toBe(3);

    const listed = await daemon.api.call("GET", "/v1/sandboxes");
    expect(listed.body.sandboxes.map((s: { name: string }) => s.name).sort()).toEqual([
      "cold-one",
      "warm-one",
      "warm-two",
    ]);
    console.log(
      `warm create ${warm.ms.toFixed(0)} ms and ${second.ms.toFixed(0)} ms, cold create ${cold.ms.toFixed(0)} ms: ` +
        `ratio ${(warm.ms / cold.ms).toFixed(3)}`,
    );
  });

  it("a create in another shape boots cold and leaves the pool alone", async () => {
    await untilPoolFull(daemon);
    const other = await timedCreate(daemon, { name: "other-shape", memory_mb: 320 });
    expect(other.sandbox).toMatchObject({ state: "RUNNING", memory_mb: 320 });
    expect(await poolReady(daemon)).toBe(1);
  });

  it("a claimed sandbox is an ordinary one: destroy removes its VM", async () => {
    const listed = await daemon.api.call("GET", "/v1/sandboxes");
    const warm = listed.body.sandboxes.find((s: { name: string }) => s.name === "warm-one");
    const destroyed = await daemon.api.call("DELETE", `/v1/sandboxes/${warm.id}`);
    expect(destroyed.body.state).toBe("DESTROYED");
    expect(running(warm.pid)).toBe(false);
  });
});
