import { defaultHandlers } from "@fluid/testkit";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type McpFixture, startMcp, textOf } from "../../test/mcp-fixture.js";

describe("fork_sandbox against a real control plane and a protocol-level host", () => {
  let f: McpFixture;

  beforeAll(async () => {
    f = await startMcp({ createTimeoutMs: 2_000 });
  });
  afterAll(() => f.close());
  beforeEach(() => {
    f.daemon.handlers = { ...defaultHandlers };
  });

  it("forks a sandbox count times and returns each fork's id, name, state and IP", async () => {
    const id = await f.sandbox();
    const result = await f.call("fork_sandbox", { sandbox_id: id, count: 2 });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent.count).toBe(2);
    const forks = result.structuredContent.sandboxes;
    expect(forks).toHaveLength(2);
    for (const fork of forks) {
      expect(fork).toMatchObject({ state: "RUNNING", ip: expect.stringMatching(/^10\.0\.0\./) });
      expect(fork.sandbox_id).not.toBe(id);
    }
    expect(JSON.parse(textOf(result))).toEqual(result.structuredContent);
    const sent = f.daemon.commands("forkSandbox").at(-1);
    expect(sent?.payload.case === "forkSandbox" && sent.payload.value.parentSandboxId).toBe(id);
  });

  it("passes network: shared through to the host as a shared network", async () => {
    const id = await f.sandbox();
    const result = await f.call("fork_sandbox", { sandbox_id: id, count: 2, network: "shared" });
    expect(result.isError).toBeFalsy();
    const sent = f.daemon.commands("forkSandbox").at(-1);
    expect(sent?.payload.case === "forkSandbox" && sent.payload.value.sharedNetwork).toBe(true);
  });

  it("takes the count from the names when only names are given", async () => {
    const id = await f.sandbox();
    const result = await f.call("fork_sandbox", { sandbox_id: id, names: ["try-nginx-a", "try-nginx-b"] });
    expect(result.structuredContent.sandboxes.map((s: { name: string }) => s.name)).toEqual([
      "try-nginx-a",
      "try-nginx-b",
    ]);
  });

  it("reports the server's refusal as a tool error the agent can read", async () => {
    const id = await f.sandbox();
    const mismatch = await f.call("fork_sandbox", { sandbox_id: id, count: 3, names: ["only-one"] });
    expect(mismatch.isError).toBe(true);
    expect(textOf(mismatch)).toMatch(/invalid_request.*names/);
    const tooMany = await f.call("fork_sandbox", { sandbox_id: id, count: 17 });
    expect(tooMany.isError).toBe(true);
  });
});
