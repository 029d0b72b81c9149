import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, type TestDaemonProcess } from "./lib/daemon.js";
import { type OutsideNetwork, startOutsideNetwork } from "./lib/outside-network.js";
import { startServer, type TestServerProcess } from "./lib/server.js";

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

const isRoot = process.getuid?.() === 0;

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

/**
 * On bridge networking the entry already has its own lease and TAP; the claim renames the TAP to
 * the new sandbox id and applies egress then. "Outside" is a namespace behind a veth, as in egress.test.ts.
 */
describe.skipIf(!isRoot)("warm pool on the daemon's bridge (needs root)", () => {
  const suffix = randomBytes(3).toString("hex");
  const outside = `flpoolo-${suffix}`;
  const hostVeth = `flpoolv${suffix}`;
  let outsideNetwork: OutsideNetwork | undefined;
  let daemon: TestDaemonProcess;

  beforeAll(async () => {
    outsideNetwork = startOutsideNetwork({
      namespace: outside,
      veth: hostVeth,
      hostAddress: "10.94.78.1/24",
      addresses: ["10.94.78.2/24"],
      listener:
        "require('net').createServer((s) => s.end('pong ' + s.remoteAddress + '\\n')).listen(8088, '10.94.78.2')",
    });
    daemon = await startDaemon({
      network: "bridge",
      bridge: `flpoolb${suffix}`,
      subnet: "10.93.78.0/24",
      extraArgs: ["--warm-pool", "tiny=1:1x256"],
    });
    await untilPoolFull(daemon);
  });

  afterAll(async () => {
    await daemon?.dispose();
    outsideNetwork?.close();
  });

  it("a claimed entry keeps its address under the new id and gets the egress asked for", async () => {
    const warm = await timedCreate(daemon, { name: "bridged-warm", allow_egress: true });
    expect(await poolReady(daemon)).toBe(0);
    expect(warm.sandbox.ip_address).toMatch(/^10\.93\.78\./);
    const inGuest = await daemon.api.run(warm.sandbox.id, "ip -4 -o addr show eth0");
    expect(inGuest.body.stdout).toContain(`${warm.sandbox.ip_address}/24`);
    const probe = await daemon.api.run(warm.sandbox.id, "timeout 5 nc 10.94.78.2 8088 </dev/null; echo exit=$?", {
      timeout_seconds: 20,
    });
    expect(probe.body.stdout).toContain("pong 10.94.78.1");
    console.log(`bridged warm create ${warm.ms.toFixed(0)} ms`);
  });
});

describe("warm pool behind the control plane (real gRPC stream)", () => {
  let server: TestServerProcess;
  let daemon: TestDaemonProcess;
  let key: string;
  let hostId: string;
  const host = async () => (await server.call("GET", `/v1/orgs/acme/hosts/${hostId}`, { key })).body;

  beforeAll(async () => {
    server = await startServer();
    ({ key } = await server.bootstrap("acme"));
    const token = await server.call("POST", "/v1/orgs/acme/hosts/tokens", { key, body: { name: "pool-host" } });
    hostId = token.body.id;
    daemon = await startDaemon({
      extraArgs: ["--server", server.grpc, "--insecure", "--token", token.body.token, "--warm-pool", "tiny=1:1x256"],
    });
    await untilPoolFull(daemon);
  });

  afterAll(async () => {
    await daemon?.dispose();
    await server?.dispose();
  });

  it("the host reports the pool's memory as used, and no pool entry as a sandbox", async () => {
    const deadline = Date.now() + 60_000;
    let reported = await host();
    while (!(reported.status === "ONLINE" && reported.available_memory_mb <= reported.total_memory_mb - 256)) {
      if (Date.now() > deadline) throw new Error(`host never reported the pool's memory: ${JSON.stringify(reported)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
      reported = await host();
    }
    expect((await server.call("GET", "/v1/orgs/acme/sandboxes", { key })).body.sandboxes).toEqual([]);
  });

  it("a create through the REST API takes the entry and is an ordinary RUNNING sandbox with its name as hostname", async () => {
    const created = await server.call("POST", "/v1/orgs/acme/sandboxes", {
      key,
      body: { source_vm: "tiny", memory_mb: 256, ttl_seconds: 600 },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ state: "RUNNING", host_id: hostId });
    expect(await poolReady(daemon)).toBe(0);
    const run = await server.call("POST", `/v1/orgs/acme/sandboxes/${created.body.id}/run`, {
      key,
      body: { command: "hostname", timeout_seconds: 30 },
    });
    expect(run.body.stdout.trim()).toBe(created.body.name);
    const local = await daemon.api.call("GET", `/v1/sandboxes/${created.body.id}`);
    expect(Date.parse(local.body.expires_at)).toBeGreaterThan(Date.now() + 500_000);
  });
});
