import { type Caller, databaseKinds, startTestServer, TestDaemon, type TestServer } from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** The scripted host runs one process: pid 42, `sleep 1`, under this fluid process id. */
const PROCESS_ID = "5f0c0a52-56f5-4c4e-9d43-7d4e3f0c2a11";

describe.each(databaseKinds)("envd's process service over fluid background processes (%s)", (kind) => {
  let t: TestServer;
  let owner: Caller;
  let daemon: TestDaemon;
  let key: string;
  let otherKey: string;
  let id: string;

  beforeAll(async () => {
    t = await startTestServer(kind);
    owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
    await t.org(owner, "other");
    key = (await t.apiKey(owner, "acme")).key;
    otherKey = (await t.apiKey(owner, "other")).key;
    const token = await t.hostToken(owner, "acme");
    daemon = await TestDaemon.connect(t.grpcUrl, { token: token.token });
    id = await newSandbox();
  });

  afterAll(async () => {
    daemon.abort();
    await t.close();
  });

  const newSandbox = async (): Promise<string> =>
    (await t.call("POST", "/v1/orgs/acme/sandboxes", { as: owner, body: { source_vm: "debian-12" } })).body.id;

  const rpc = (method: string, body: unknown, token = key, sandboxId = id) =>
    t.call("POST", `/e2b/envd/process.Process/${method}`, {
      headers: { "x-access-token": token, "e2b-sandbox-id": sandboxId },
      body,
    });

  /** The commands of a kind the scripted host receives from here on (the server is shared by the tests). */
  const watch = (kind: Parameters<TestDaemon["commands"]>[0]) => {
    const before = daemon.commands(kind).length;
    return () => daemon.commands(kind).slice(before);
  };

  it("answers a method named like an Object.prototype member as not supported", async () => {
    for (const method of ["constructor", "toString", "__proto__"]) {
      const res = await t.call("POST", `/e2b/envd/filesystem.Filesystem/${method}`, {
        headers: { "x-access-token": key, "e2b-sandbox-id": id },
        body: {},
      });
      expect([method, res.body.code]).toEqual([method, "unimplemented"]);
    }
  });

  it("lists a process fluid started itself as a shell running its command, by guest pid", async () => {
    const res = await rpc("List", {});
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      processes: [{ config: { cmd: "/bin/sh", args: ["-c", "sleep 1"], envs: {} }, pid: 42 }],
    });
  });

  it("writes SendInput's stdin to the process the pid names", async () => {
    const sentSince = watch("processInput");
    const res = await rpc("SendInput", {
      process: { pid: 42 },
      input: { stdin: Buffer.from("hi\n").toString("base64") },
    });
    expect(res.status).toBe(200);
    const sent = sentSince()[0];
    expect(sent?.payload.case === "processInput" && sent.payload.value).toMatchObject({
      sandboxId: id,
      processId: PROCESS_ID,
      data: new TextEncoder().encode("hi\n"),
      closeStdin: false,
    });
  });

  it("refuses input to a command E2B started without stdin, which reads /dev/null", async () => {
    const sentSince = watch("processInput");
    const own = await newSandbox();
    const db = t.server.ctx.db;
    const sandbox = await db.selectFrom("sandboxes").select("org_id").where("id", "=", own).executeTakeFirstOrThrow();
    await db
      .insertInto("e2b_processes")
      .values({
        org_id: sandbox.org_id,
        sandbox_id: own,
        process_id: PROCESS_ID,
        pid: 42,
        config: JSON.stringify({ cmd: "/bin/bash", args: ["-l", "-c", "sleep 1"], envs: {} }),
        tag: null,
        stdin: false,
      })
      .execute();
    const res = await rpc("SendInput", { process: { pid: 42 }, input: { stdin: "aGkK" } }, key, own);
    expect([res.status, res.body.code]).toEqual([400, "failed_precondition"]);
    expect(res.body.message).toMatch(/started without stdin/);
    expect(sentSince()).toEqual([]);
    const listed = await rpc("List", {}, key, own);
    expect(listed.body.processes[0].config.cmd).toBe("/bin/bash");
  });

  it("closes stdin on CloseStdin and audits sandbox.process_stdin_closed", async () => {
    const sentSince = watch("processInput");
    expect((await rpc("CloseStdin", { process: { pid: 42 } })).status).toBe(200);
    const sent = sentSince()[0];
    expect(sent?.payload.case === "processInput" && sent.payload.value.closeStdin).toBe(true);
    const audit = await t.call("GET", "/v1/orgs/acme/audit", { as: owner, query: { target_id: id, limit: "50" } });
    const actions = (audit.body.events as Array<{ action: string }>).map((event) => event.action);
    expect(actions).toContain("sandbox.process_stdin_closed");
  });

  it("sends SendSignal's SIGKILL to the process group by name", async () => {
    const sentSince = watch("signalProcess");
    expect((await rpc("SendSignal", { process: { pid: 42 }, signal: "SIGNAL_SIGKILL" })).status).toBe(200);
    const sent = sentSince()[0];
    expect(sent?.payload.case === "signalProcess" && sent.payload.value).toMatchObject({
      processId: PROCESS_ID,
      signal: "KILL",
    });
  });

  it("answers not_found for a pid no process has, which the SDK's kill reads as false", async () => {
    const sentSince = watch("signalProcess");
    const res = await rpc("SendSignal", { process: { pid: 43 }, signal: "SIGNAL_SIGKILL" });
    expect([res.status, res.body.code]).toEqual([404, "not_found"]);
    expect(sentSince()).toEqual([]);
  });

  it("finds no process in a sandbox of another org", async () => {
    const sentSince = watch("processInput");
    const res = await rpc("SendInput", { process: { pid: 42 }, input: { stdin: "aGkK" } }, otherKey);
    expect([res.status, res.body.code]).toEqual([404, "not_found"]);
    expect(sentSince()).toEqual([]);
  });

  it("refuses a signal envd does not define", async () => {
    const res = await rpc("SendSignal", { process: { pid: 42 }, signal: "SIGNAL_SIGHUP" });
    expect([res.status, res.body.code]).toEqual([400, "invalid_argument"]);
  });
});
