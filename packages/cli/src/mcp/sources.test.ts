import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type McpFixture, startMcp, textOf } from "../../test/mcp-fixture.js";

describe("source-VM tools answer honestly until source VMs can be inspected", () => {
  let f: McpFixture;

  beforeAll(async () => {
    f = await startMcp();
  });
  afterAll(() => f.close());

  const calls = [
    ["list_vms", {}],
    ["run_source_command", { source_vm: "web-1", command: "uptime" }],
    ["read_source_file", { source_vm: "web-1", path: "/etc/hostname" }],
  ] as const;

  it("say that no source hosts are configured when the org has none", async () => {
    for (const [name, args] of calls) {
      const result = await f.call(name, args);
      expect(result.isError).toBe(true);
      expect(result.structuredContent).toBeUndefined();
      expect(textOf(result)).toBe("no source hosts configured for this org");
    }
  });

  it("say that inspection is not available yet once a source host exists", async () => {
    const registered = await f.t.call("POST", "/v1/orgs/acme/source-hosts", {
      as: f.owner,
      body: { type: "libvirt", name: "prod", hostname: "10.1.2.3" },
    });
    expect(registered.status).toBe(201);
    for (const [name, args] of calls) {
      const result = await f.call(name, args);
      expect(result.isError).toBe(true);
      expect(textOf(result)).toBe("source VM inspection is not available on this server yet");
    }
  });

  it("still validate their arguments", async () => {
    const result = await f.call("read_source_file", { source_vm: "web-1", path: "relative" });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/must be an absolute path/);
  });
});
