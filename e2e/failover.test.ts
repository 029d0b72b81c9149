import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, type TestDaemonProcess } from "./lib/daemon.js";
import { startServer, type TestServerProcess } from "./lib/server.js";
import { until } from "./lib/wait.js";

/** The control-plane addresses the daemon's log says it registered with, oldest first. */
function registrations(daemon: TestDaemonProcess): string[] {
  return daemon.process
    .output()
    .split("\n")
    .filter((line) => line.startsWith("{") && line.includes('"registered with the control plane"'))
    .map((line) => JSON.parse(line).server as string);
}

describe.skipIf(!process.env.FLUID_TEST_DATABASE_URL)(
  "daemon failover between two real fluid-server processes on one PostgreSQL (needs FLUID_TEST_DATABASE_URL: two processes cannot share PGlite)",
  () => {
    const servers: TestServerProcess[] = [];
    let daemon: TestDaemonProcess;
    let key: string;
    let hostId: string;

    beforeAll(async () => {
      const first = await startServer();
      servers.push(first, await startServer({ databaseUrl: first.databaseUrl }));
      ({ key } = await first.bootstrap("acme"));
      const token = await first.call("POST", "/v1/orgs/acme/hosts/tokens", { key, body: { name: "e2e-host" } });
      hostId = token.body.id;
      daemon = await startDaemon({
        extraArgs: ["--server", servers.map((s) => s.grpc).join(","), "--insecure", "--token", token.body.token],
      });
      await until(() => registrations(daemon).length === 1);
    });

    afterAll(async () => {
      await daemon?.dispose();
      // The second server runs on the first one's database, which the first one's dispose drops.
      for (const server of [...servers].reverse()) await server.dispose();
    });

    it("kill -9 of the server the daemon is on: it registers with the other, where the sandbox still runs and answers exec", async () => {
      const on = servers.find((s) => s.grpc === registrations(daemon)[0]);
      const other = servers.find((s) => s !== on);
      if (!on || !other) throw new Error(`registered with an unknown address: ${registrations(daemon)}`);

      const created = await on.call("POST", "/v1/orgs/acme/sandboxes", {
        key,
        body: { source_vm: "tiny", memory_mb: 256, ttl_seconds: 900 },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ state: "RUNNING", host_id: hostId });
      const id = created.body.id as string;
      const before = await on.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, { key, body: { command: "echo one" } });
      expect(before.body).toMatchObject({ stdout: "one\n", exit_code: 0 });

      const killedAt = Date.now();
      await on.process.crash();
      await until(() => registrations(daemon).length === 2, 30_000, 100);
      const recoveredMs = Date.now() - killedAt;
      expect(registrations(daemon)).toEqual([on.grpc, other.grpc]);
      // Lost stream → at most the first backoff step (1 s) → the other address; generous for a loaded machine.
      expect(recoveredMs).toBeLessThan(10_000);
      console.info(`failover: the daemon registered with the surviving server ${recoveredMs} ms after kill -9`);

      await until(
        async () => (await other.call("GET", `/v1/orgs/acme/hosts/${hostId}`, { key })).body.status === "ONLINE",
      );
      expect((await other.call("GET", `/v1/orgs/acme/sandboxes/${id}`, { key })).body).toMatchObject({
        state: "RUNNING",
        host_id: hostId,
      });
      expect((await daemon.api.call("GET", `/v1/sandboxes/${id}`)).body.state).toBe("RUNNING");
      const after = await other.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, {
        key,
        body: { command: "echo still-here from $(hostname)" },
      });
      expect(after.status).toBe(200);
      expect(after.body).toMatchObject({ stdout: `still-here from ${created.body.name}\n`, exit_code: 0 });
    });
  },
);
