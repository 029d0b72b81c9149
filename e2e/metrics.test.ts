import { prometheusSample } from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, type TestDaemonProcess } from "./lib/daemon.js";
import { freePort } from "./lib/processes.js";
import { startServer, type TestServerProcess } from "./lib/server.js";
import { until } from "./lib/wait.js";

const TOKEN = "e2e-metrics-token-0123456789";

describe("/metrics of a real fluid-server and fluid-daemon follow a real sandbox", () => {
  let server: TestServerProcess;
  let daemon: TestDaemonProcess;
  let key: string;
  let hostId: string;
  let daemonMetrics: string;

  const scrapeServer = async () => (await fetch(`${server.url}/metrics`)).text();
  const scrapeDaemon = async (token = TOKEN) =>
    fetch(daemonMetrics, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  beforeAll(async () => {
    server = await startServer();
    ({ key } = await server.bootstrap("acme"));
    const token = await server.call("POST", "/v1/orgs/acme/hosts/tokens", { key, body: { name: "metrics-host" } });
    hostId = token.body.id;
    const port = await freePort();
    daemonMetrics = `http://127.0.0.1:${port}/metrics`;
    daemon = await startDaemon({
      extraArgs: [
        ...["--server", server.grpc, "--insecure", "--token", token.body.token],
        ...["--metrics-listen", `127.0.0.1:${port}`, "--metrics-token", TOKEN],
      ],
    });
    await until(
      async () => (await server.call("GET", `/v1/orgs/acme/hosts/${hostId}`, { key })).body.status === "ONLINE",
    );
  });

  afterAll(async () => {
    await daemon?.dispose();
    await server?.dispose();
  });

  it("create, exec and destroy move the series on both sides", async () => {
    expect((await scrapeDaemon("")).status).toBe(401);
    const before = await (await scrapeDaemon()).text();
    expect(prometheusSample(before, "fluid_daemon_stream_connected")).toBe(1);
    expect(prometheusSample(before, "fluid_daemon_sandboxes", { state: "RUNNING" })).toBe(0);
    expect(prometheusSample(before, "fluid_daemon_memory_committed_bytes")).toBe(0);

    const created = await server.call("POST", "/v1/orgs/acme/sandboxes", {
      key,
      body: { source_vm: "tiny", memory_mb: 256, ttl_seconds: 600 },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const run = await server.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, { key, body: { command: "echo hi" } });
    expect(run.body.stdout).toBe("hi\n");

    const during = await (await scrapeDaemon()).text();
    expect(prometheusSample(during, "fluid_daemon_sandboxes", { state: "RUNNING" })).toBe(1);
    expect(prometheusSample(during, "fluid_daemon_memory_committed_bytes")).toBe(256 * 2 ** 20);
    expect(prometheusSample(during, "fluid_daemon_boot_to_agent_seconds_count", { from: "cold" })).toBe(1);
    expect(prometheusSample(during, "fluid_daemon_boot_to_agent_seconds_sum", { from: "cold" })).toBeGreaterThan(0);
    expect(prometheusSample(during, "fluid_daemon_exec_duration_seconds_count", { outcome: "ok" })).toBe(1);
    expect(prometheusSample(during, "fluid_daemon_commands_total", { kind: "createSandbox", outcome: "ok" })).toBe(1);
    expect(prometheusSample(during, "fluid_daemon_commands_total", { kind: "runCommand", outcome: "ok" })).toBe(1);
    expect(during).not.toContain(id);

    const fromServer = await scrapeServer();
    expect(prometheusSample(fromServer, "fluid_host_streams")).toBe(1);
    expect(prometheusSample(fromServer, "fluid_sandbox_create_duration_seconds_count", { outcome: "ok" })).toBe(1);
    expect(prometheusSample(fromServer, "fluid_sandbox_exec_duration_seconds_count", { outcome: "ok" })).toBe(1);
    expect(prometheusSample(fromServer, "fluid_host_memory_bytes", { host_id: hostId })).toBeGreaterThan(0);
    expect(
      prometheusSample(fromServer, "fluid_http_request_duration_seconds_count", {
        method: "POST",
        route: "/v1/orgs/:slug/sandboxes/:id/run",
        status_class: "2xx",
      }),
    ).toBe(1);
    expect(fromServer).not.toContain(id);

    expect((await server.call("DELETE", `/v1/orgs/acme/sandboxes/${id}`, { key })).status).toBe(200);
    const after = await (await scrapeDaemon()).text();
    expect(prometheusSample(after, "fluid_daemon_sandboxes", { state: "RUNNING" })).toBe(0);
    expect(prometheusSample(after, "fluid_daemon_memory_committed_bytes")).toBe(0);
    expect(prometheusSample(after, "fluid_daemon_commands_total", { kind: "destroySandbox", outcome: "ok" })).toBe(1);
  });
});
