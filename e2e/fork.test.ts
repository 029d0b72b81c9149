import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startDaemon, type TestDaemonProcess } from "./lib/daemon.js";
import { buildImage } from "./lib/global-setup.js";
import { startServer, type TestServerProcess } from "./lib/server.js";
import { until } from "./lib/wait.js";

const isRoot = process.getuid?.() === 0;

/** What makes a clone a machine of its own, read inside the guest. */
const IDENTITY = [
  "hostname",
  "cat /etc/machine-id",
  "cat /sys/class/net/eth0/address",
  "ip -4 -o addr show dev eth0 | awk '{print $4}'",
  "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub | awk '{print $2}'",
].join("; ");

/**
 * Fork on real VMs: one debian-12 sandbox (it has sshd, so host keys count), forked ×3 through the
 * REST API from a memory snapshot taken on the fly, on a bridge so each fork has its own MAC and IP.
 */
describe.skipIf(!isRoot)("fork ×3 of a running debian-12 sandbox (needs root for the bridge)", () => {
  let server: TestServerProcess;
  let daemon: TestDaemonProcess;
  let key: string;

  const run = async (id: string, command: string) => {
    const res = await server.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, {
      key,
      body: { command, timeout_seconds: 120 },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body as { stdout: string; stderr: string; exit_code: number };
  };

  beforeAll(async () => {
    buildImage("debian-12", inject("imageDir"));
    server = await startServer();
    ({ key } = await server.bootstrap("acme"));
    const token = await server.call("POST", "/v1/orgs/acme/hosts/tokens", { key, body: { name: "fork-host" } });
    daemon = await startDaemon({
      network: "bridge",
      bridge: "fle2efork0",
      subnet: "10.93.95.0/24",
      extraArgs: ["--server", server.grpc, "--insecure", "--token", token.body.token],
    });
    await until(
      async () => (await server.call("GET", "/v1/orgs/acme/hosts", { key })).body.hosts?.[0]?.status === "ONLINE",
      30_000,
    );
  }, 900_000);

  afterAll(async () => {
    await daemon?.dispose();
    await server?.dispose();
  });

  it("gives three RUNNING forks distinct identities and independent disks", async () => {
    const created = await server.call("POST", "/v1/orgs/acme/sandboxes", {
      key,
      body: { source_vm: "debian-12", name: "origin", memory_mb: 512, ttl_seconds: 3600 },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const parent = created.body;
    await run(parent.id, "echo parent > /root/who; sync");

    const started = Date.now();
    const forked = await server.call("POST", `/v1/orgs/acme/sandboxes/${parent.id}/fork`, { key, body: { count: 3 } });
    const forkMs = Date.now() - started;
    expect(forked.status, JSON.stringify(forked.body)).toBe(201);
    const forks = forked.body.sandboxes as Array<{ id: string; name: string; ip_address: string; mac_address: string }>;
    expect(forks).toHaveLength(3);
    const snapshots = (await server.call("GET", `/v1/orgs/acme/sandboxes/${parent.id}/snapshots`, { key })).body;
    expect(snapshots.snapshots).toMatchObject([{ has_memory: true }]);
    for (const fork of forks) {
      expect(fork).toMatchObject({ state: "RUNNING", host_id: parent.host_id, forked_from: parent.id });
    }
    console.log(`fork ×3 of a running debian-12 (memory snapshot taken on the fly): ${forkMs} ms`);

    const identities = [];
    for (const sandbox of [parent, ...forks]) {
      const [hostname, machineId, mac, cidr, hostKey] = (await run(sandbox.id, IDENTITY)).stdout.trim().split("\n");
      identities.push({ hostname, machineId, mac, ip: cidr?.split("/")[0], hostKey });
      expect(hostname).toBe(sandbox.name);
      expect(mac).toBe(sandbox.mac_address);
      expect(cidr?.split("/")[0]).toBe(sandbox.ip_address);
      expect(hostKey).toMatch(/^SHA256:/);
    }
    for (const field of ["hostname", "machineId", "mac", "ip", "hostKey"] as const) {
      expect(new Set(identities.map((identity) => identity[field])).size, field).toBe(4);
    }

    const [first, second] = forks;
    if (!first || !second) throw new Error("expected forks");
    expect((await run(first.id, "cat /root/who")).stdout).toBe("parent\n");
    await run(first.id, "echo first > /root/only-in-first; sync");
    for (const other of [second, parent]) {
      const probe = await run(other.id, "test -e /root/only-in-first && echo present || echo absent");
      expect(probe.stdout, other.name).toBe("absent\n");
    }
  }, 900_000);
});
