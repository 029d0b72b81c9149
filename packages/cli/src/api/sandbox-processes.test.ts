import { describe, expect, it } from "vitest";
import { fakeServer } from "./fake-server.fixtures.js";
import { getProcess, listProcesses, processLog, signalProcess, startProcess, writeStdin } from "./sandbox-processes.js";

const SANDBOX = "7f3c1e8a-0000-4000-8000-000000000003";
const base = `/v1/orgs/acme/sandboxes/${SANDBOX}/processes`;

describe("background process calls", () => {
  it("starts, lists and reads one process", async () => {
    const { conn, calls } = fakeServer((request) =>
      request.path === base && request.method === "GET"
        ? { body: { processes: [{ id: "p1" }] } }
        : { body: { id: "p1", state: "running" } },
    );
    expect(await startProcess(conn, SANDBOX, { command: "sleep 60", name: "sleeper" })).toMatchObject({ id: "p1" });
    expect(await listProcesses(conn, SANDBOX)).toEqual([{ id: "p1" }]);
    expect(await getProcess(conn, SANDBOX, "p1")).toMatchObject({ state: "running" });
    expect(calls.map((c) => [c.method, c.path, c.body])).toEqual([
      ["POST", base, { command: "sleep 60", name: "sleeper" }],
      ["GET", base, undefined],
      ["GET", `${base}/p1`, undefined],
    ]);
  });

  it("reads the log from both offsets", async () => {
    const { conn, calls } = fakeServer(() => ({
      body: { stdout: "", stderr: "", next_offset: 12, next_stderr_offset: 3 },
    }));
    expect(await processLog(conn, SANDBOX, "p1", { offset: 10, stderr: 2 })).toMatchObject({ next_offset: 12 });
    expect(calls[0]).toMatchObject({ path: `${base}/p1/logs`, query: { offset: "10", stderr_offset: "2" } });
  });

  it("sends stdin as base64 and a signal by name", async () => {
    const { conn, calls } = fakeServer(() => ({ body: { ok: true } }));
    await writeStdin(conn, SANDBOX, "p1", Buffer.from("y\n"));
    await signalProcess(conn, SANDBOX, "p1", "TERM");
    expect(calls.map((c) => [c.path, c.body])).toEqual([
      [`${base}/p1/stdin`, { data_base64: "eQo=" }],
      [`${base}/p1/signal`, { signal: "TERM" }],
    ]);
  });
});
