import { defaultHandlers } from "@fluid/testkit";
import type { Progress } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type McpFixture, startMcp, textOf } from "../../test/mcp-fixture.js";

describe("sandbox tools against a real control plane and a protocol-level host", () => {
  let f: McpFixture;

  beforeAll(async () => {
    f = await startMcp({ createTimeoutMs: 2_000 });
  });
  afterAll(() => f.close());
  beforeEach(() => {
    f.daemon.handlers = { ...defaultHandlers };
  });

  describe("create_sandbox", () => {
    it("creates a RUNNING sandbox and returns its id, name, state, IP and lease", async () => {
      const result = await f.call("create_sandbox", { source_vm: "debian-12", cpu: 2, memory_mb: 1024, live: true });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toMatchObject({
        state: "RUNNING",
        source_vm: "debian-12",
        vcpus: 2,
        memory_mb: 1024,
        ip: expect.stringMatching(/^10\.0\.0\./),
        name: expect.stringMatching(/^sbx-/),
      });
      expect(Date.parse(result.structuredContent.expires_at)).toBeGreaterThan(Date.now());
      expect(JSON.parse(textOf(result))).toEqual(result.structuredContent);
      const sent = f.daemon.commands("createSandbox").at(-1);
      expect(sent?.payload.case === "createSandbox" && sent.payload.value).toMatchObject({
        sandboxId: result.structuredContent.sandbox_id,
        vcpus: 2,
        memoryMb: 1024,
        agentId: "fluid-mcp",
      });
    });

    it("sends progress notifications while the host boots the sandbox", async () => {
      f.daemon.handlers.createSandbox = async (m) => {
        await new Promise((r) => setTimeout(r, 300));
        return defaultHandlers.createSandbox!(m);
      };
      const updates: Progress[] = [];
      const result = await f.call("create_sandbox", { source_vm: "debian-12" }, (p) => updates.push(p));
      expect(result.structuredContent.state).toBe("RUNNING");
      expect(updates.length).toBeGreaterThanOrEqual(3);
      expect(updates[0]?.message).toMatch(/placed on a host; booting/);
      expect(updates.some((u) => /is CREATING \(\d+ s\)/.test(u.message ?? ""))).toBe(true);
      expect(updates.at(-1)?.message).toMatch(/is RUNNING/);
      const steps = updates.map((u) => u.progress);
      expect(steps).toEqual([...steps].sort((a, b) => a - b));
      expect(new Set(steps).size).toBe(steps.length);
    });

    it("reports a host failure as a tool error with the host's reason", async () => {
      f.daemon.handlers.createSandbox = () => ({ error: "disk full on /var/lib/fluid", code: "no_capacity" });
      const result = await f.call("create_sandbox", { source_vm: "debian-12" });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/failed to start \(ERROR\): .*disk full on \/var\/lib\/fluid/);
    });

    it("gives up waiting after the timeout and names the sandbox to check later", async () => {
      f.daemon.handlers.createSandbox = () => "hold";
      const result = await f.call("create_sandbox", { source_vm: "debian-12" });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(
        /^sandbox sbx-\S+ \([0-9a-f-]{36}\) is still CREATING after 2 s; check it with get_sandbox/,
      );
    });

    it("passes the server's error code through when it refuses", async () => {
      const result = await f.call("create_sandbox", { source_vm: "no-such-image" });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(
        /^fluid API error no_capacity \(HTTP 503\): no connected host has the image or source VM "no-such-image"/,
      );
    });

    it("rejects bad and unknown arguments as tool errors", async () => {
      const wrongType = await f.call("create_sandbox", { source_vm: "debian-12", cpu: "two" });
      expect(wrongType.isError).toBe(true);
      expect(textOf(wrongType)).toMatch(/Input validation error.*cpu/s);
      const unknown = await f.call("create_sandbox", { source_vm: "debian-12", host: "h1" });
      expect(unknown.isError).toBe(true);
      expect(textOf(unknown)).toMatch(/Unrecognized key.*host/s);
      const missing = await f.call("create_sandbox", {});
      expect(missing.isError).toBe(true);
      expect(textOf(missing)).toMatch(/source_vm/);
    });
  });

  describe("list_sandboxes and get_sandbox", () => {
    it("lists live sandboxes and describes one", async () => {
      const id = await f.sandbox();
      const list = await f.call("list_sandboxes");
      expect(list.isError).toBeFalsy();
      expect(list.structuredContent.count).toBe(list.structuredContent.sandboxes.length);
      expect(list.structuredContent.has_more).toBe(false);
      expect(list.structuredContent.sandboxes).toContainEqual(
        expect.objectContaining({ id, state: "RUNNING", source_vm: "debian-12" }),
      );
      const one = await f.call("get_sandbox", { sandbox_id: id });
      expect(one.structuredContent).toMatchObject({
        sandbox_id: id,
        state: "RUNNING",
        agent_id: "fluid-mcp",
        vcpus: 1,
        ended_at: null,
        error: null,
      });
    });

    it("answers an unknown id with the server's not_found", async () => {
      const result = await f.call("get_sandbox", { sandbox_id: "00000000-0000-4000-8000-000000000000" });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toBe("fluid API error not_found (HTTP 404): sandbox not found");
    });

    it("rejects an id that is not a UUID before calling the server", async () => {
      const result = await f.call("get_sandbox", { sandbox_id: "sbx-1" });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/must be a sandbox id/);
    });
  });

  describe("run_command", () => {
    it("returns exit code, stdout and stderr, and a readable text", async () => {
      const id = await f.sandbox();
      f.daemon.handlers.runCommand = () => ({
        case: "commandResult",
        value: { stdout: "out\n", stderr: "warning\n", exitCode: 3, durationMs: 12n },
      });
      const result = await f.call("run_command", { sandbox_id: id, command: "make test", timeout_seconds: 30 });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toEqual({
        sandbox_id: id,
        exit_code: 3,
        stdout: "out\n",
        stderr: "warning\n",
        timed_out: false,
        duration_ms: 12,
        stdout_truncated: false,
        stderr_truncated: false,
      });
      expect(textOf(result)).toBe("exit code 3 in 12 ms\nstdout:\nout\n\nstderr:\nwarning\n");
      const sent = f.daemon.commands("runCommand").at(-1);
      expect(sent?.payload.case === "runCommand" && sent.payload.value).toMatchObject({
        command: "make test",
        timeoutSeconds: 30,
      });
    });

    it("sends the output as progress notifications when the caller asks for progress", async () => {
      const id = await f.sandbox();
      f.daemon.handlers.runCommand = () => ({
        case: "commandResult",
        value: { stdout: "built\n", stderr: "warned\n", exitCode: 0, durationMs: 5n },
      });
      const updates: Progress[] = [];
      const result = await f.call("run_command", { sandbox_id: id, command: "make" }, (p) => updates.push(p));
      expect(updates.map((u) => u.message)).toEqual(["stdout: built\n", "stderr: warned\n"]);
      expect(result.structuredContent).toMatchObject({ exit_code: 0, stdout: "built\n", stderr: "warned\n" });
      const sent = f.daemon.commands("runCommand").at(-1);
      expect(sent?.payload.case === "runCommand" && sent.payload.value.streamOutput).toBe(true);
    });

    it("uses the server's default timeout for 0 and reports a timeout", async () => {
      const id = await f.sandbox();
      f.daemon.handlers.runCommand = () => ({
        case: "commandResult",
        value: { stdout: "", stderr: "", exitCode: -1, durationMs: 300_000n, timedOut: true },
      });
      const result = await f.call("run_command", { sandbox_id: id, command: "sleep 999", timeout_seconds: 0 });
      expect(result.structuredContent).toMatchObject({ timed_out: true });
      expect(textOf(result)).toBe("timed out after 300000 ms");
      const sent = f.daemon.commands("runCommand").at(-1);
      expect(sent?.payload.case === "runCommand" && sent.payload.value.timeoutSeconds).toBe(300);
    });

    it("bounds large output with a marker saying how much was cut", async () => {
      const id = await f.sandbox();
      const big = `${"start\n"}${"x".repeat(200_000)}${"\nend\n"}`;
      f.daemon.handlers.runCommand = () => ({
        case: "commandResult",
        value: { stdout: big, stderr: "short", exitCode: 0, durationMs: 5n, stderrTruncated: true },
      });
      const result = await f.call("run_command", { sandbox_id: id, command: "cat big" });
      const { stdout, stderr, stdout_truncated, stderr_truncated } = result.structuredContent;
      expect(stdout_truncated).toBe(true);
      expect(Buffer.byteLength(stdout)).toBeLessThan(64 * 1024 + 400);
      expect(stdout.startsWith("start\n")).toBe(true);
      expect(stdout.endsWith("\nend\n")).toBe(true);
      expect(stdout).toContain(`[… ${big.length - 65_536} bytes of stdout cut here: ${big.length} bytes in all`);
      expect(stderr_truncated).toBe(true);
      expect(stderr).toMatch(/^short\n\[… the sandbox host stopped capturing stderr at its own limit/);
      expect(textOf(result)).toContain("bytes of stdout cut here");
    });

    it("reports a sandbox that cannot run commands as a tool error", async () => {
      const id = await f.sandbox();
      await f.call("stop_sandbox", { sandbox_id: id });
      const result = await f.call("run_command", { sandbox_id: id, command: "true" });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toBe(
        "fluid API error invalid_state (HTTP 409): cannot run a command in a sandbox that is STOPPED",
      );
    });
  });

  describe("lifecycle", () => {
    it("stops, starts, snapshots, extends and destroys", async () => {
      const id = await f.sandbox();
      const stopped = await f.call("stop_sandbox", { sandbox_id: id });
      expect(stopped.structuredContent).toEqual({ stopped: true, sandbox_id: id, state: "STOPPED" });
      const again = await f.call("stop_sandbox", { sandbox_id: id });
      expect(again.isError).toBe(true);
      expect(textOf(again)).toMatch(/invalid_state.*cannot stop a sandbox that is STOPPED/);

      const started = await f.call("start_sandbox", { sandbox_id: id });
      expect(started.structuredContent).toEqual({ started: true, sandbox_id: id, state: "RUNNING", ip: "10.0.0.99" });

      const snap = await f.call("create_snapshot", { sandbox_id: id });
      expect(snap.structuredContent).toMatchObject({
        sandbox_id: id,
        name: expect.stringMatching(/^snap-\d+$/),
        size_bytes: 1024,
      });
      const named = await f.call("create_snapshot", { sandbox_id: id, name: "before-upgrade" });
      expect(named.structuredContent.name).toBe("before-upgrade");
      const badName = await f.call("create_snapshot", { sandbox_id: id, name: "no spaces" });
      expect(badName.isError).toBe(true);

      const before = Date.now();
      const extended = await f.call("extend_sandbox", { sandbox_id: id, ttl_seconds: 7200 });
      expect(Date.parse(extended.structuredContent.expires_at)).toBeGreaterThanOrEqual(before + 7_199_000);
      const tooShort = await f.call("extend_sandbox", { sandbox_id: id, ttl_seconds: 5 });
      expect(tooShort.isError).toBe(true);
      expect(textOf(tooShort)).toMatch(/ttl_seconds/);

      const destroyed = await f.call("destroy_sandbox", { sandbox_id: id });
      expect(destroyed.structuredContent).toEqual({ destroyed: true, sandbox_id: id, state: "DESTROYED" });
      const destroys = f.daemon.commands("destroySandbox");
      expect(destroys.some((m) => m.payload.case === "destroySandbox" && m.payload.value.sandboxId === id)).toBe(true);
      const twice = await f.call("destroy_sandbox", { sandbox_id: id });
      expect(twice.structuredContent).toEqual({ destroyed: true, sandbox_id: id, state: "DESTROYED" });
      const list = await f.call("list_sandboxes");
      expect(list.structuredContent.sandboxes.map((s: { id: string }) => s.id)).not.toContain(id);
    });
  });
});
