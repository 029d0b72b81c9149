import { defaultHandlers, testDiff } from "@fluid/testkit";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type McpFixture, startMcp, textOf } from "../../test/mcp-fixture.js";

describe("diff_sandbox against a real control plane and a protocol-level host", () => {
  let f: McpFixture;
  let id: string;

  beforeAll(async () => {
    f = await startMcp();
    id = await f.sandbox();
  });
  afterAll(() => f.close());
  beforeEach(() => {
    f.daemon.handlers = { ...defaultHandlers };
  });

  const answer = (changes: Array<Record<string, unknown>>) => {
    const diff = { ...testDiff(), changes, summary: { ...testDiff().summary, total: changes.length } };
    f.daemon.handlers.diffSandbox = () => ({
      case: "sandboxDiff",
      value: { diffJson: Buffer.from(JSON.stringify(diff)), hash: diff.hash },
    });
  };

  it("returns the sandbox's diff with its hash, and a readable rendering as text", async () => {
    const result = await f.call("diff_sandbox", { sandbox_id: id });
    expect(result.structuredContent).toEqual({ sandbox_id: id, ...testDiff(), truncated: false });
    expect(textOf(result)).toContain("+ file /etc/app.conf");
    expect(textOf(result)).toContain("    +listen 8080");
  });

  it("passes a noise override to the host", async () => {
    await f.call("diff_sandbox", { sandbox_id: id, noise: { disable: ["logs"] } });
    const sent = f.daemon.commands("diffSandbox").at(-1);
    expect(sent?.payload.case === "diffSandbox" && sent.payload.value.noiseOverrideJson).toBe('{"disable":["logs"]}');
  });

  it("reports a noise override the server refuses, and the host is never asked", async () => {
    const before = f.daemon.commands("diffSandbox").length;
    const result = await f.call("diff_sandbox", { sandbox_id: id, noise: { drop: ["logs"] } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/invalid_request .*noise/);
    expect(f.daemon.commands("diffSandbox")).toHaveLength(before);
  });

  it("diff-sandbox-bounded: a huge diff is cut to whole changes under the limit, each file diff capped", async () => {
    const big = `@@ -0,0 +1,1 @@\n+${"x".repeat(20_000)}\n`;
    answer(Array.from({ length: 200 }, (_, i) => ({ kind: "file", action: "added", path: `/etc/f${i}`, diff: big })));
    const result = await f.call("diff_sandbox", { sandbox_id: id });
    const data = result.structuredContent as { changes: Array<{ diff: string }>; truncated: boolean };
    expect(data.truncated).toBe(true);
    expect(data.changes.length).toBeGreaterThan(0);
    expect(data.changes.length).toBeLessThan(200);
    expect(Buffer.byteLength(JSON.stringify(data.changes))).toBeLessThanOrEqual(64 * 1024);
    expect(data.changes[0]?.diff).toMatch(/\[… only the first \d+ of 20018 bytes are shown/);
    expect(textOf(result)).toMatch(/more changes not shown; fluid sandbox diff --json has them all/);
  });
});
