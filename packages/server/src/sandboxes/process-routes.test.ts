import { type Caller, databaseKinds, startTestServer, TestDaemon, type TestServer } from "@fluid/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

describe.each(databaseKinds)("background processes over the host stream (%s)", (kind) => {
  let t: TestServer;
  let owner: Caller;
  let daemon: TestDaemon;
  let id: string;

  beforeEach(async () => {
    t = await startTestServer(kind);
    owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
    const token = await t.hostToken(owner, "acme");
    daemon = await TestDaemon.connect(t.grpcUrl, { token: token.token });
    const created = await t.call("POST", "/v1/orgs/acme/sandboxes", { as: owner, body: { source_vm: "debian-12" } });
    id = created.body.id;
  });

  afterEach(async () => {
    daemon.abort();
    await t.close();
  });

  const actions = async () => {
    const res = await t.call("GET", "/v1/orgs/acme/audit", { as: owner, query: { target_id: id, limit: "50" } });
    return res.body.events as Array<{ action: string; details: Record<string, unknown> }>;
  };

  it("starts a process with an id of the control plane's, answers 201 and audits sandbox.process_started", async () => {
    const res = await t.call("POST", `/v1/orgs/acme/sandboxes/${id}/processes`, {
      as: owner,
      body: { command: "sleep 1", name: "nap", env: { A: "1" } },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ pid: 42, state: "running", exit_code: null });
    const sent = daemon.commands("startProcess")[0];
    expect(sent?.payload.case === "startProcess" && sent.payload.value).toMatchObject({
      sandboxId: id,
      processId: res.body.id,
      name: "nap",
      command: "sleep 1",
      env: { A: "1" },
    });
    const started = (await actions()).find((event) => event.action === "sandbox.process_started");
    expect(started?.details).toMatchObject({ process_id: res.body.id, command: "sleep 1", env_names: ["A"] });
  });

  it("sends a signal by name to the host and audits sandbox.process_signalled", async () => {
    const pid = "5f0c0a52-56f5-4c4e-9d43-7d4e3f0c2a11";
    const res = await t.call("POST", `/v1/orgs/acme/sandboxes/${id}/processes/${pid}/signal`, {
      as: owner,
      body: { signal: "KILL" },
    });
    expect(res.status).toBe(200);
    const sent = daemon.commands("signalProcess")[0];
    expect(sent?.payload.case === "signalProcess" && sent.payload.value.signal).toBe("KILL");
    const signalled = (await actions()).find((event) => event.action === "sandbox.process_signalled");
    expect(signalled?.details).toEqual({ process_id: pid, signal: "KILL" });
  });

  it("refuses a signal that is not one of the allowed names before the host sees it", async () => {
    const pid = "5f0c0a52-56f5-4c4e-9d43-7d4e3f0c2a11";
    const res = await t.call("POST", `/v1/orgs/acme/sandboxes/${id}/processes/${pid}/signal`, {
      as: owner,
      body: { signal: "SEGV" },
    });
    expect(res.status).toBe(400);
    expect(daemon.commands("signalProcess")).toHaveLength(0);
  });

  it("reads a log from the offsets given, as base64 with the offsets the next read starts at", async () => {
    const pid = "5f0c0a52-56f5-4c4e-9d43-7d4e3f0c2a11";
    const res = await t.call("GET", `/v1/orgs/acme/sandboxes/${id}/processes/${pid}/logs`, {
      as: owner,
      query: { offset: "4", stderr_offset: "2" },
    });
    expect(res.status).toBe(200);
    const sent = daemon.commands("readProcessLog")[0];
    expect(sent?.payload.case === "readProcessLog" && sent.payload.value).toMatchObject({
      stdoutOffset: 4n,
      stderrOffset: 2n,
    });
    expect(Buffer.from(res.body.stdout, "base64").toString()).toBe("1\n");
  });

  it("follows a log as NDJSON from the offset given until the process exits, reading on from each next offset", async () => {
    const pid = "5f0c0a52-56f5-4c4e-9d43-7d4e3f0c2a11";
    const process = { sandboxId: id, processId: pid, command: "count", pid: 42, startedAtUnixMs: 1n };
    const reads = [
      { state: "running", out: "1\n", next: 6n },
      { state: "running", out: "2\n", next: 8n },
      { state: "exited", out: "", next: 8n },
    ];
    daemon.handlers.readProcessLog = () => {
      const read = reads.shift() ?? { state: "exited", out: "", next: 8n };
      return {
        case: "processLog" as const,
        value: {
          process: { ...process, state: read.state, exitCode: read.state === "exited" ? 3 : 0 },
          stdout: new TextEncoder().encode(read.out),
          stdoutOffset: read.next,
        },
      };
    };
    const res = await t.call<string>("GET", `/v1/orgs/acme/sandboxes/${id}/processes/${pid}/logs`, {
      as: owner,
      query: { offset: "4", follow: "true" },
    });
    expect(res.headers["content-type"]).toBe("application/x-ndjson");
    const events = res.body
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(events.map((event) => event.type)).toEqual(["output", "output", "exit"]);
    expect(events.slice(0, 2).map((event) => Buffer.from(event.data, "base64").toString())).toEqual(["1\n", "2\n"]);
    expect(events[2].process).toMatchObject({ state: "exited", exit_code: 3 });
    const offsets = daemon
      .commands("readProcessLog")
      .map((m) => (m.payload.case === "readProcessLog" ? m.payload.value.stdoutOffset : -1n));
    expect(offsets).toEqual([4n, 6n, 8n]);
  });
});
