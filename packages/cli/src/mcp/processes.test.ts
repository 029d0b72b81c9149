import { defaultHandlers } from "@fluid/testkit";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type McpFixture, startMcp } from "../../test/mcp-fixture.js";

describe("background process tools against a real control plane and a protocol-level host", () => {
  let f: McpFixture;

  beforeAll(async () => {
    f = await startMcp({ createTimeoutMs: 2_000 });
  });
  afterAll(() => f.close());
  beforeEach(() => {
    f.daemon.handlers = { ...defaultHandlers };
  });

  it("start_process starts the command on the sandbox's host and returns the process's id and state", async () => {
    const id = await f.sandbox();
    const result = await f.call("start_process", { sandbox_id: id, command: "sleep 1", name: "nap" });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ state: "running", exit_code: null });
    const sent = f.daemon.commands("startProcess").at(-1);
    expect(sent?.payload.case === "startProcess" && sent.payload.value).toMatchObject({
      sandboxId: id,
      processId: result.structuredContent.process_id,
      command: "sleep 1",
      name: "nap",
    });
  });

  it("read_process_log returns the output as text from the offsets given, and where to read next", async () => {
    const id = await f.sandbox();
    const processId = "5f0c0a52-56f5-4c4e-9d43-7d4e3f0c2a11";
    const result = await f.call("read_process_log", { sandbox_id: id, process_id: processId, offset: 5 });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ stdout: "1\n", stderr: "" });
    const sent = f.daemon.commands("readProcessLog").at(-1);
    expect(sent?.payload.case === "readProcessLog" && sent.payload.value.stdoutOffset).toBe(5n);
  });
});
