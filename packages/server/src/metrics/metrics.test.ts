import {
  type Caller,
  databaseKinds,
  prometheusSample,
  startTestServer,
  TestDaemon,
  type TestServer,
} from "@fluid/testkit";
import { afterEach, describe, expect, it } from "vitest";

const TOKEN = "metrics-token-for-tests-0123";

const until = async (check: () => Promise<boolean>, timeoutMs = 5_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe.each(databaseKinds)("/metrics on the control plane (%s)", (kind) => {
  let t: TestServer;
  const daemons: TestDaemon[] = [];

  afterEach(async () => {
    for (const d of daemons.splice(0)) d.abort();
    await t.close();
  });

  const scrape = async (headers: Record<string, string> = {}) => {
    const response = await fetch(`${t.restUrl}/metrics`, { headers });
    return { status: response.status, type: response.headers.get("content-type"), text: await response.text() };
  };

  it("without a token serves loopback clients only, and its series follow real requests", async () => {
    t = await startTestServer(kind);
    const owner: Caller = await t.user("owner@example.com");
    await t.org(owner, "acme");
    const token = await t.hostToken(owner, "acme");
    const daemon = await TestDaemon.connect(t.grpcUrl, { token: token.token });
    daemons.push(daemon);

    const created = await t.call("POST", "/v1/orgs/acme/sandboxes", { as: owner, body: { source_vm: "debian-12" } });
    expect(created.status).toBe(201);
    const id: string = created.body.id;
    const ran = await t.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, { as: owner, body: { command: "true" } });
    expect(ran.status).toBe(200);
    expect((await t.call("GET", "/no/such/route")).status).toBe(404);

    const first = await scrape();
    expect(first.status).toBe(200);
    expect(first.type).toMatch(/^text\/plain/);
    const m = first.text;
    const created2xx = { method: "POST", route: "/v1/orgs/:slug/sandboxes", status_class: "2xx" };
    expect(prometheusSample(m, "fluid_http_request_duration_seconds_count", created2xx)).toBe(1);
    expect(
      prometheusSample(m, "fluid_http_request_duration_seconds_count", { route: "unmatched", status_class: "4xx" }),
    ).toBe(1);
    // Route templates only: neither the sandbox id nor the org slug becomes a label value.
    expect(m).not.toContain(id);
    expect(m).not.toContain("acme");
    expect(prometheusSample(m, "fluid_host_streams")).toBe(1);
    expect(prometheusSample(m, "fluid_host_commands_in_flight")).toBe(0);
    expect(
      prometheusSample(m, "fluid_host_command_duration_seconds_count", { kind: "createSandbox", outcome: "ok" }),
    ).toBe(1);
    expect(
      prometheusSample(m, "fluid_host_command_duration_seconds_count", { kind: "runCommand", outcome: "ok" }),
    ).toBe(1);
    expect(prometheusSample(m, "fluid_sandbox_create_duration_seconds_count", { outcome: "ok" })).toBe(1);
    expect(prometheusSample(m, "fluid_sandbox_exec_duration_seconds_count", { outcome: "ok" })).toBe(1);
    expect(prometheusSample(m, "fluid_sandboxes", { state: "RUNNING" })).toBe(1);
    expect(prometheusSample(m, "fluid_sandboxes", { state: "CREATING" })).toBe(0);
    expect(prometheusSample(m, "fluid_host_cpus", { host_id: token.id })).toBe(4);
    expect(prometheusSample(m, "fluid_host_memory_bytes", { host_id: token.id })).toBe(8192 * 2 ** 20);
    expect(prometheusSample(m, "fluid_host_online", { host_id: token.id })).toBe(1);
    expect(prometheusSample(m, "process_cpu_user_seconds_total")).toBeGreaterThan(0);

    // A command the host holds is in flight until the stream drops, then ends as stream_closed.
    daemon.handlers.runCommand = () => "hold";
    const held = t.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, { as: owner, body: { command: "sleep 1" } });
    await until(async () => prometheusSample((await scrape()).text, "fluid_host_commands_in_flight") === 1);
    daemon.abort();
    expect((await held).status).toBeGreaterThanOrEqual(500);
    await until(async () => prometheusSample((await scrape()).text, "fluid_host_streams") === 0);
    const after = (await scrape()).text;
    expect(prometheusSample(after, "fluid_host_commands_in_flight")).toBe(0);
    expect(
      prometheusSample(after, "fluid_host_command_duration_seconds_count", {
        kind: "runCommand",
        outcome: "stream_closed",
      }),
    ).toBe(1);
    expect(prometheusSample(after, "fluid_sandbox_exec_duration_seconds_count", { outcome: "error" })).toBe(1);
    expect(prometheusSample(after, "fluid_http_request_duration_seconds_count", { route: "/metrics" })).toBeGreaterThan(
      0,
    );

    const remote = await t.server.app.inject({ method: "GET", url: "/metrics", remoteAddress: "203.0.113.7" });
    expect(remote.statusCode).toBe(403);
    expect(JSON.parse(remote.body).error.code).toBe("forbidden");
  });

  it("with a token answers only a request bearing it, from any address", async () => {
    t = await startTestServer(kind, { metricsToken: TOKEN });
    const none = await scrape();
    expect(none.status).toBe(401);
    expect(JSON.parse(none.text).error.code).toBe("unauthenticated");
    expect((await scrape({ authorization: "Bearer wrong-token-wrong-token" })).status).toBe(403);
    const ok = await scrape({ authorization: `Bearer ${TOKEN}` });
    expect(ok.status).toBe(200);
    expect(prometheusSample(ok.text, "fluid_host_streams")).toBe(0);
    const remote = await t.server.app.inject({
      method: "GET",
      url: "/metrics",
      remoteAddress: "203.0.113.7",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(remote.statusCode).toBe(200);
    expect(remote.body).toContain("fluid_http_request_duration_seconds_bucket");
  });
});
