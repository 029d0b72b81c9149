import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, type TestDaemonProcess } from "./lib/daemon.js";
import { startServer, type TestServerProcess } from "./lib/server.js";
import { until } from "./lib/wait.js";

describe("control plane + daemon over the real gRPC stream, with real VMs", () => {
  let server: TestServerProcess;
  let daemon: TestDaemonProcess;
  let key: string;
  let hostId: string;

  beforeAll(async () => {
    server = await startServer();
    ({ key } = await server.bootstrap("acme"));
    const token = await server.call("POST", "/v1/orgs/acme/hosts/tokens", { key, body: { name: "e2e-host" } });
    hostId = token.body.id;
    daemon = await startDaemon({ extraArgs: ["--server", server.grpc, "--insecure", "--token", token.body.token] });
    await until(
      async () => (await server.call("GET", "/v1/orgs/acme/hosts", { key })).body.hosts?.[0]?.status === "ONLINE",
    );
  });

  afterAll(async () => {
    await daemon?.dispose();
    await server?.dispose();
  });

  it("the host registers with its real capacity and images", async () => {
    const host = (await server.call("GET", `/v1/orgs/acme/hosts/${hostId}`, { key })).body;
    expect(host).toMatchObject({ host_id: hostId, status: "ONLINE" });
    expect(host.base_images).toContain("tiny");
    expect(host.total_cpus).toBeGreaterThan(0);
    expect(host.available_memory_mb).toBeGreaterThan(256);
  });

  it("create → exec → destroy through the REST API", async () => {
    const created = await server.call("POST", "/v1/orgs/acme/sandboxes", {
      key,
      body: { source_vm: "tiny", memory_mb: 256, ttl_seconds: 600 },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ state: "RUNNING", host_id: hostId });
    expect(Date.parse(created.body.expires_at)).toBeGreaterThan(Date.now() + 500_000);
    const id = created.body.id as string;

    const local = await daemon.api.call("GET", `/v1/sandboxes/${id}`);
    expect(local.body.state).toBe("RUNNING");

    const run = await server.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, {
      key,
      body: { command: "echo hi from $(hostname); exit 4", timeout_seconds: 30 },
    });
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ stdout: `hi from ${created.body.name}\n`, exit_code: 4, status: "completed" });

    const history = await server.call("GET", `/v1/orgs/acme/sandboxes/${id}/commands`, { key });
    expect(history.body.commands).toHaveLength(1);

    const destroyed = await server.call("DELETE", `/v1/orgs/acme/sandboxes/${id}`, { key });
    expect(destroyed.body).toMatchObject({ state: "DESTROYED", end_reason: "user_request" });
    expect((await daemon.api.call("GET", `/v1/sandboxes/${id}`)).body.state).toBe("DESTROYED");
  });

  it("files and snapshot/restore through the REST API reach the real guest", async () => {
    const created = await server.call("POST", "/v1/orgs/acme/sandboxes", {
      key,
      body: { source_vm: "tiny", memory_mb: 256 },
    });
    const id = created.body.id as string;
    const script = Buffer.from("#!/bin/sh\necho from-file\n");
    const put = await server.call("PUT", `/v1/orgs/acme/sandboxes/${id}/files`, {
      key,
      body: { path: "/root/run.sh", content_base64: script.toString("base64"), mode: "0755" },
    });
    expect(put.body).toEqual({ path: "/root/run.sh", size: script.length });
    expect(
      (await server.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, { key, body: { command: "/root/run.sh" } })).body
        .stdout,
    ).toBe("from-file\n");
    const read = await server.call("GET", `/v1/orgs/acme/sandboxes/${id}/files?path=/root/run.sh`, { key });
    expect(Buffer.from(read.body.content_base64, "base64").equals(script)).toBe(true);
    const list = await server.call("GET", `/v1/orgs/acme/sandboxes/${id}/files/list?path=/root`, { key });
    expect(list.body.entries).toContainEqual(
      expect.objectContaining({ name: "run.sh", type: "file", size: script.length }),
    );

    // The semantic diff reads the running guest's disk (flushed first): a file written to /etc shows, with its text.
    const write = "echo 'listen 8080' > /etc/e2e-app.conf";
    await server.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, { key, body: { command: write } });
    const diff = await server.call("GET", `/v1/orgs/acme/sandboxes/${id}/diff`, { key });
    expect(diff.status).toBe(200);
    expect(diff.body.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(diff.body.changes).toContainEqual(
      expect.objectContaining({
        kind: "file",
        action: "added",
        path: "/etc/e2e-app.conf",
        diff: expect.stringContaining("+listen 8080"),
      }),
    );
    expect((await server.call("GET", `/v1/orgs/acme/sandboxes/${id}/diff`, { key })).body.hash).toBe(diff.body.hash);

    const snap = await server.call("POST", `/v1/orgs/acme/sandboxes/${id}/snapshot`, {
      key,
      body: { name: "before", include_memory: true },
    });
    expect(snap.status).toBe(201);
    await server.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, { key, body: { command: "rm /root/run.sh" } });
    const restored = await server.call("POST", `/v1/orgs/acme/sandboxes/${id}/restore`, {
      key,
      body: { snapshot_id: snap.body.id },
    });
    expect(restored.body.state).toBe("RUNNING");
    expect(
      (await server.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, { key, body: { command: "/root/run.sh" } })).body
        .stdout,
    ).toBe("from-file\n");
    await server.call("DELETE", `/v1/orgs/acme/sandboxes/${id}`, { key });
  });

  it("a daemon restart keeps its sandbox; the host reconnects and the server still reaches it", async () => {
    const created = await server.call("POST", "/v1/orgs/acme/sandboxes", {
      key,
      body: { source_vm: "tiny", memory_mb: 256 },
    });
    const id = created.body.id as string;
    await daemon.process.crash();
    await until(
      async () => (await server.call("GET", `/v1/orgs/acme/hosts/${hostId}`, { key })).body.status === "OFFLINE",
    );
    await daemon.restart();
    await until(
      async () => (await server.call("GET", `/v1/orgs/acme/hosts/${hostId}`, { key })).body.status === "ONLINE",
    );
    const run = await server.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, {
      key,
      body: { command: "echo still-here" },
    });
    expect(run.body.stdout).toBe("still-here\n");
    expect((await server.call("GET", `/v1/orgs/acme/sandboxes/${id}`, { key })).body.state).toBe("RUNNING");
  });
});
