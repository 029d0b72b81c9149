import type { ChangeRequest } from "@fluid/sdk";
import { defaultHandlers, diffWithPlaybook, generatedPlaybook, testDiff } from "@fluid/testkit";
import type { Progress } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type McpFixture, startMcp } from "../../test/mcp-fixture.js";
import { boundedView } from "./changes.js";

describe("change request tools against a real control plane and a protocol-level host", () => {
  let f: McpFixture;
  let sandboxId: string;

  beforeAll(async () => {
    f = await startMcp();
    sandboxId = await f.sandbox();
  });
  afterAll(() => f.close());
  beforeEach(() => {
    f.daemon.handlers = { ...defaultHandlers, diffSandbox: diffWithPlaybook };
  });

  const create = async (args: Record<string, unknown> = {}) => {
    const result = await f.call("create_change_request", { sandbox_id: sandboxId, title: "Serve on 8080", ...args });
    expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
    return result.structuredContent as ReturnType<typeof boundedView>;
  };

  it("offers no tool that approves or rejects: approving is for people", async () => {
    const { tools } = await f.client.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toEqual(
      expect.arrayContaining(["create_change_request", "get_change_request", "verify_change_request"]),
    );
    expect(names.filter((name) => /approve|reject/.test(name))).toEqual([]);
  });

  it("create makes a draft with the generated playbook; get returns the same request", async () => {
    const created = await create({ description: "open the port" });
    expect(created).toMatchObject({
      title: "Serve on 8080",
      state: "draft",
      source: "image debian-12",
      diff_hash: testDiff().hash,
      playbook_origin: "generated",
      diff_summary: testDiff().summary,
      changes: ["+ file /etc/app.conf"],
      playbook: generatedPlaybook,
      playbook_notes: ["/etc/shadow is redacted"],
      verification: null,
      approvals: [],
      truncated: false,
    });
    const got = await f.call("get_change_request", { change_request_id: created.change_request_id });
    expect(got.structuredContent).toEqual(created);
  });

  it("create uses a playbook the agent authored with create_playbook", async () => {
    const playbook = await f.call("create_playbook", { name: "serve-8080" });
    const created = await create({ playbook_id: playbook.structuredContent.id });
    expect(created.playbook_origin).toBe("authored");
    expect(created.playbook).toMatch(/^---\n- name: "serve-8080"\n/);
    const sent = f.daemon.commands("diffSandbox").at(-1);
    expect(sent?.payload.case === "diffSandbox" && sent.payload.value.withPlaybook).toBe(false);
  });

  it("create reports the server's refusal of a sandbox that does not exist", async () => {
    const result = await f.call("create_change_request", { sandbox_id: crypto.randomUUID(), title: "x" });
    expect(result.isError).toBe(true);
    expect(result.content).toMatchObject([{ type: "text", text: expect.stringMatching(/^fluid API error not_found/) }]);
  });

  it("verify sends progress notifications while the clone runs the playbook, then the outcome", async () => {
    const created = await create();
    f.daemon.handlers.runPlaybook = async (m) => {
      await new Promise((resolve) => setTimeout(resolve, 150));
      return defaultHandlers.runPlaybook!(m);
    };
    const updates: Progress[] = [];
    const result = await f.call("verify_change_request", { change_request_id: created.change_request_id }, (p) =>
      updates.push(p),
    );
    expect(result.structuredContent).toMatchObject({
      state: "verified",
      verification: { passed: true, second_run_changed: 0, equivalent: true, mismatches: [] },
    });
    expect(updates[0]?.message).toBe('verifying "Serve on 8080": booting a fresh clone');
    expect(updates.some((u) => /is verifying \(\d+ s\)/.test(u.message ?? ""))).toBe(true);
    expect(updates.at(-1)?.message).toMatch(/is verified \(\d+ s\)/);
    const steps = updates.map((u) => u.progress);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(new Set(steps).size).toBe(steps.length);
  });

  it("a failed verification is a result naming each mismatch, not a tool error", async () => {
    const created = await create();
    f.daemon.handlers.diffSandbox = (m) => {
      const cmd = m.payload.case === "diffSandbox" ? m.payload.value : undefined;
      if (cmd?.sandboxId === sandboxId) return diffWithPlaybook(m);
      const diff = { ...testDiff(), hash: "c".repeat(64), changes: [] };
      return { case: "sandboxDiff", value: { diffJson: Buffer.from(JSON.stringify(diff)), hash: diff.hash } };
    };
    const result = await f.call("verify_change_request", { change_request_id: created.change_request_id });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({
      state: "verification_failed",
      verification: {
        passed: false,
        equivalent: false,
        mismatches: ["file /etc/app.conf is in the sandbox but not in the clone"],
      },
    });
  });
});

describe("boundedView", () => {
  const request = (overrides: Partial<ChangeRequest>): ChangeRequest => ({
    id: "00000000-0000-4000-8000-000000000001",
    org_id: "00000000-0000-4000-8000-000000000002",
    sandbox_id: "00000000-0000-4000-8000-000000000003",
    source: { kind: "image", vm: "debian-12", source_host_id: null, captured_at: null },
    title: "t",
    description: "",
    author_id: "00000000-0000-4000-8000-000000000004",
    state: "draft",
    diff_hash: "a".repeat(64),
    playbook_hash: "b".repeat(64),
    playbook_origin: "generated",
    created_at: "2025-01-01T00:00:00.000Z",
    updated_at: "2025-01-01T00:00:00.000Z",
    playbook_updated_at: "2025-01-01T00:00:00.000Z",
    verification_started_at: null,
    diff: testDiff(),
    playbook: "---\n",
    playbook_notes: [],
    verification: null,
    approvals: [],
    applied_at: null,
    apply_result: null,
    ...overrides,
  });

  it("cuts a large playbook and a long change list, with notes saying where the rest is", () => {
    const changes = Array.from({ length: 2000 }, (_, i) => ({ kind: "file", action: "added", path: `/etc/f${i}` }));
    const view = boundedView(
      request({
        playbook: `---\n${"# x\n".repeat(20_000)}`,
        diff: { ...testDiff(), changes } as ChangeRequest["diff"],
      }),
    );
    expect(view.truncated).toBe(true);
    expect(Buffer.byteLength(view.playbook ?? "")).toBeLessThan(33 * 1024);
    expect(view.playbook).toMatch(
      /only the first \d+ of 80004 bytes are shown; fluid change playbook \S+ prints it whole/,
    );
    expect(view.changes.at(-1)).toMatch(/^\[… \d+ more changes; diff_sandbox shows them …\]$/);
    expect(Buffer.byteLength(view.changes.join("\n"))).toBeLessThan(17 * 1024);
  });

  it("keeps withheld contents null and a small request whole", () => {
    expect(boundedView(request({ diff: null, playbook: null }))).toMatchObject({
      diff_summary: null,
      changes: [],
      playbook: null,
      truncated: false,
    });
  });
});
