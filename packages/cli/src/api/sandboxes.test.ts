import { NotFoundError } from "@fluid/sdk";
import { describe, expect, it } from "vitest";
import { fakeServer } from "./fake-server.fixtures.js";
import {
  commandLog,
  createSandbox,
  destroySandbox,
  extendSandbox,
  forkSandbox,
  listSandboxes,
  runCommand,
  sandboxDiff,
  setEgress,
  stopSandbox,
} from "./sandboxes.js";

const SANDBOX = "7f3c1e8a-0000-4000-8000-000000000001";

describe("sandbox calls", () => {
  it("creates without waiting for the boot, in the connection's org", async () => {
    const { conn, calls } = fakeServer(() => ({ body: { id: SANDBOX, state: "CREATING" } }));
    const created = await createSandbox(conn, { source_vm: "tiny", vcpus: 1 });
    expect(created).toMatchObject({ id: SANDBOX, state: "CREATING" });
    expect(calls).toEqual([
      {
        method: "POST",
        path: "/v1/orgs/acme/sandboxes",
        query: { wait: "false" },
        body: { source_vm: "tiny", vcpus: 1 },
      },
    ]);
  });

  it("sends stop, extend and egress with their bodies, and destroy as DELETE", async () => {
    const { conn, calls } = fakeServer(() => ({ body: { id: SANDBOX } }));
    await stopSandbox(conn, SANDBOX, true);
    await extendSandbox(conn, SANDBOX, 3600);
    await setEgress(conn, SANDBOX, { allow_all: false, allow: ["example.com"] });
    await destroySandbox(conn, SANDBOX);
    expect(calls.map((c) => [c.method, c.path, c.body])).toEqual([
      ["POST", `/v1/orgs/acme/sandboxes/${SANDBOX}/stop`, { force: true }],
      ["POST", `/v1/orgs/acme/sandboxes/${SANDBOX}/extend`, { ttl_seconds: 3600 }],
      ["PUT", `/v1/orgs/acme/sandboxes/${SANDBOX}/egress`, { allow_all: false, allow: ["example.com"] }],
      ["DELETE", `/v1/orgs/acme/sandboxes/${SANDBOX}`, undefined],
    ]);
  });

  it("reads every page of the sandbox list and of the command log", async () => {
    const { conn, calls } = fakeServer((request) => {
      const offset = Number(request.query.offset);
      const next = offset === 0 ? 200 : null;
      return request.path.endsWith("/commands")
        ? { body: { commands: [{ id: `c${offset}` }], next_offset: next } }
        : { body: { sandboxes: [{ id: `s${offset}` }], next_offset: next } };
    });
    expect((await listSandboxes(conn, true)).map((s) => s.id)).toEqual(["s0", "s200"]);
    expect((await commandLog(conn, SANDBOX)).map((c) => c.id)).toEqual(["c0", "c200"]);
    expect(calls[0]?.query).toEqual({ limit: "200", offset: "0", include_ended: "true" });
    expect(calls[1]?.query).toMatchObject({ offset: "200" });
    expect(calls[3]?.path).toBe(`/v1/orgs/acme/sandboxes/${SANDBOX}/commands`);
  });

  it("passes a noise override to the diff only when one is given", async () => {
    const { conn, calls } = fakeServer(() => ({ body: { changes: [] } }));
    await sandboxDiff(conn, SANDBOX, undefined);
    await sandboxDiff(conn, SANDBOX, '{"disable":["logs"]}');
    expect(calls.map((c) => c.query)).toEqual([{}, { noise: '{"disable":["logs"]}' }]);
  });

  it("runs a buffered command and forks with the given body", async () => {
    const { conn, calls } = fakeServer(() => ({ body: { status: "completed", sandboxes: [] } }));
    await runCommand(conn, SANDBOX, { command: "uname -a", timeout_seconds: 5 });
    await forkSandbox(conn, SANDBOX, { count: 2, network: "shared" });
    expect(calls.map((c) => [c.path, c.body])).toEqual([
      [`/v1/orgs/acme/sandboxes/${SANDBOX}/run`, { command: "uname -a", timeout_seconds: 5 }],
      [`/v1/orgs/acme/sandboxes/${SANDBOX}/fork`, { count: 2, network: "shared" }],
    ]);
  });

  it("turns the server's error into the SDK's typed error", async () => {
    const { conn } = fakeServer(() => ({
      status: 404,
      body: { error: { code: "not_found", message: "no such sandbox" } },
    }));
    await expect(destroySandbox(conn, SANDBOX)).rejects.toThrow(NotFoundError);
  });
});
