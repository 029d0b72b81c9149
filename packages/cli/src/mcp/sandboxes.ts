import type { Sandbox } from "@fluid/sdk";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { pollWhile } from "../api/poll.js";
import { takeSnapshot } from "../api/sandbox-snapshots.js";
import {
  createSandbox,
  destroySandbox,
  extendSandbox,
  firstSandboxes,
  getSandbox,
  runCommand,
  startSandbox,
  stopSandbox,
} from "../api/sandboxes.js";
import { namedSourceHost } from "../api/source-hosts.js";
import { describeProgress } from "../sandbox-progress.js";
import { boundOutput, MAX_TEXT_BYTES } from "./bounded.js";
import { type RunOutcome, runReportingOutput } from "./exec-progress.js";
import { defineTool, type Extra, progressOf, type ToolContext, ToolFailure } from "./tool.js";

export const SandboxId = z.uuid({ message: "must be a sandbox id (a UUID, as returned by create_sandbox)" });

const State = z.enum(["CREATING", "RUNNING", "STOPPED", "DESTROYED", "ERROR"]);

export const SandboxDetail = z.object({
  sandbox_id: z.string(),
  name: z.string(),
  state: State,
  source_vm: z.string(),
  ip: z.string().nullable(),
  vcpus: z.number().int(),
  memory_mb: z.number().int(),
  agent_id: z.string().nullable(),
  created_at: z.string(),
  expires_at: z.string().describe("when the lease ends and the sandbox is destroyed; extend_sandbox moves it"),
  ended_at: z.string().nullable(),
  end_reason: z.string().nullable(),
  error: z.string().nullable(),
});

export function detail(s: Sandbox): z.output<typeof SandboxDetail> {
  return {
    sandbox_id: s.id,
    name: s.name,
    state: s.state,
    source_vm: s.source_vm,
    ip: s.ip_address,
    vcpus: s.vcpus,
    memory_mb: s.memory_mb,
    agent_id: s.agent_id,
    created_at: s.created_at,
    expires_at: s.expires_at,
    ended_at: s.ended_at,
    end_reason: s.end_reason,
    error: s.error,
  };
}

export function registerSandboxTools(server: McpServer, ctx: ToolContext): void {
  defineTool(server, "list_sandboxes", {
    title: "List sandboxes",
    description: "List the organization's live sandboxes (newest first, up to 200) with their state and IP address.",
    input: z.strictObject({}),
    output: z.object({
      sandboxes: z.array(
        z.object({
          id: z.string(),
          name: z.string(),
          state: State,
          source_vm: z.string(),
          ip: z.string().nullable(),
          created_at: z.string(),
          expires_at: z.string(),
        }),
      ),
      count: z.number().int(),
      has_more: z.boolean().describe("more sandboxes exist than are listed"),
    }),
    hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async run() {
      const page = await firstSandboxes(await ctx.api());
      const sandboxes = page.sandboxes.map((s) => ({
        id: s.id,
        name: s.name,
        state: s.state,
        source_vm: s.source_vm,
        ip: s.ip_address,
        created_at: s.created_at,
        expires_at: s.expires_at,
      }));
      return { data: { sandboxes, count: sandboxes.length, has_more: page.has_more } };
    },
  });

  defineTool(server, "create_sandbox", {
    title: "Create a sandbox",
    description:
      "Create a sandbox: a disposable microVM booted from an image (copy-on-write), where commands and file " +
      "edits cannot touch production. Waits until it is RUNNING and reports progress meanwhile. The sandbox " +
      "is destroyed when its lease ends (see expires_at; extend_sandbox prolongs it). With `source_host`, " +
      "`source_vm` names a production VM (see list_vms) and the sandbox is a clone of its disk; `live` then " +
      "pulls a fresh copy instead of the cached one.",
    input: z.strictObject({
      source_vm: z.string().min(1).describe("the image to boot, e.g. debian-12 (what a host offers)"),
      cpu: z.number().int().positive().optional().describe("virtual CPUs (default chosen by the server)"),
      memory_mb: z.number().int().positive().optional().describe("memory in MiB (default chosen by the server)"),
      live: z.boolean().optional().describe("with source_host: clone the VM's disk as it is now, not the cached copy"),
      source_host: z
        .string()
        .min(1)
        .optional()
        .describe("clone source_vm from this source host (name or id, see list_vms) instead of booting an image"),
    }),
    output: z.object({
      sandbox_id: z.string(),
      name: z.string(),
      state: State,
      ip: z.string().nullable(),
      expires_at: z.string(),
      source_vm: z.string(),
      vcpus: z.number().int(),
      memory_mb: z.number().int(),
      source_captured_at: z
        .string()
        .nullable()
        .describe("for a clone: when the source VM's disk was captured (live: true re-pulls); null for an image"),
    }),
    hints: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async run(args, extra) {
      const api = await ctx.api();
      const source = args.source_host === undefined ? undefined : await namedSourceHost(api, args.source_host);
      const accepted = await createSandbox(api, {
        source_vm: args.source_vm,
        vcpus: args.cpu,
        memory_mb: args.memory_mb,
        agent_id: ctx.agentId,
        ...(source ? { source_host_id: source.id, ...(args.live ? { fresh: true } : {}) } : {}),
      });
      const sandbox = await untilSettled(ctx, accepted, extra);
      if (sandbox.state === "CREATING") {
        throw new ToolFailure(
          `sandbox ${sandbox.name} (${sandbox.id}) is still CREATING after ${Math.round(ctx.createTimeoutMs / 1000)} s; ` +
            "check it with get_sandbox or destroy it with destroy_sandbox",
        );
      }
      if (sandbox.state !== "RUNNING" && sandbox.state !== "STOPPED") {
        const reason = sandbox.error ?? sandbox.end_reason ?? "no reason given";
        throw new ToolFailure(`sandbox ${sandbox.name} (${sandbox.id}) failed to start (${sandbox.state}): ${reason}`);
      }
      return {
        data: {
          sandbox_id: sandbox.id,
          name: sandbox.name,
          state: sandbox.state,
          ip: sandbox.ip_address,
          expires_at: sandbox.expires_at,
          source_vm: sandbox.source_vm,
          vcpus: sandbox.vcpus,
          memory_mb: sandbox.memory_mb,
          source_captured_at: sandbox.source_captured_at,
        },
      };
    },
  });

  defineTool(server, "destroy_sandbox", {
    title: "Destroy a sandbox",
    description: "Destroy a sandbox and its disk. Destroying one that has already ended changes nothing.",
    input: z.strictObject({ sandbox_id: SandboxId }),
    output: z.object({ destroyed: z.boolean(), sandbox_id: z.string(), state: State }),
    hints: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    async run({ sandbox_id }) {
      const sandbox = await destroySandbox(await ctx.api(), sandbox_id);
      return { data: { destroyed: sandbox.ended_at !== null, sandbox_id: sandbox.id, state: sandbox.state } };
    },
  });

  defineTool(server, "run_command", {
    title: "Run a command in a sandbox",
    description:
      "Run a shell command (sh -c) as root in a RUNNING sandbox and return its exit code, stdout and stderr. " +
      `Each stream is cut to ${MAX_TEXT_BYTES / 1024} KiB (start and end kept, a marker says how much was cut). Network access ` +
      "outside the sandbox is blocked unless the sandbox allows egress. With a progress token, each piece of " +
      "output is also sent as a progress notification (`stdout: …`) while the command runs.",
    input: z.strictObject({
      sandbox_id: SandboxId,
      command: z.string().min(1).describe("the command line, run by sh -c"),
      timeout_seconds: z
        .number()
        .int()
        .min(0)
        .max(3600)
        .optional()
        .describe("kill the command after this long (0 or absent: the server's default, 300 s)"),
    }),
    output: z.object({
      sandbox_id: z.string(),
      exit_code: z.number().int().nullable(),
      stdout: z.string(),
      stderr: z.string(),
      timed_out: z.boolean(),
      duration_ms: z.number().int().nullable(),
      stdout_truncated: z.boolean(),
      stderr_truncated: z.boolean(),
    }),
    hints: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    async run({ sandbox_id, command, timeout_seconds }, extra) {
      const api = await ctx.api();
      // A caller that asked for progress hears the output as it is produced.
      const result: RunOutcome =
        extra._meta?.progressToken === undefined
          ? await runCommand(api, sandbox_id, { command, ...(timeout_seconds ? { timeout_seconds } : {}) })
          : await runReportingOutput(
              api,
              { sandboxId: sandbox_id, command, timeoutSeconds: timeout_seconds },
              progressOf(extra),
            );
      const stdout = boundOutput(result.stdout, "stdout", result.stdout_truncated);
      const stderr = boundOutput(result.stderr, "stderr", result.stderr_truncated);
      const timedOut = result.status === "timed_out";
      const data = {
        sandbox_id,
        exit_code: result.exit_code,
        stdout: stdout.text,
        stderr: stderr.text,
        timed_out: timedOut,
        duration_ms: result.duration_ms,
        stdout_truncated: stdout.truncated,
        stderr_truncated: stderr.truncated,
      };
      const head = timedOut
        ? `timed out after ${result.duration_ms ?? "?"} ms`
        : `exit code ${result.exit_code ?? "unknown"} in ${result.duration_ms ?? "?"} ms`;
      const sections = [head];
      if (stdout.text) sections.push(`stdout:\n${stdout.text}`);
      if (stderr.text) sections.push(`stderr:\n${stderr.text}`);
      return { data, text: sections.join("\n") };
    },
  });

  defineTool(server, "start_sandbox", {
    title: "Start a sandbox",
    description: "Boot a STOPPED sandbox again from its disk; returns its (possibly new) IP address.",
    input: z.strictObject({ sandbox_id: SandboxId }),
    output: z.object({ started: z.boolean(), sandbox_id: z.string(), state: State, ip: z.string().nullable() }),
    hints: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async run({ sandbox_id }) {
      const s = await startSandbox(await ctx.api(), sandbox_id);
      return { data: { started: s.state === "RUNNING", sandbox_id: s.id, state: s.state, ip: s.ip_address } };
    },
  });

  defineTool(server, "stop_sandbox", {
    title: "Stop a sandbox",
    description:
      "Shut a RUNNING sandbox down gracefully. Its disk is kept (start_sandbox boots it again); running " +
      "processes and memory are lost.",
    input: z.strictObject({ sandbox_id: SandboxId }),
    output: z.object({ stopped: z.boolean(), sandbox_id: z.string(), state: State }),
    hints: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    async run({ sandbox_id }) {
      const s = await stopSandbox(await ctx.api(), sandbox_id, false);
      return { data: { stopped: s.state === "STOPPED", sandbox_id: s.id, state: s.state } };
    },
  });

  defineTool(server, "get_sandbox", {
    title: "Get a sandbox",
    description: "One sandbox's state, IP address, resources and lease; ended sandboxes say why they ended.",
    input: z.strictObject({ sandbox_id: SandboxId }),
    output: SandboxDetail,
    hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async run({ sandbox_id }) {
      return {
        data: detail(await getSandbox(await ctx.api(), sandbox_id)),
      };
    },
  });

  defineTool(server, "create_snapshot", {
    title: "Snapshot a sandbox",
    description: "Save a sandbox's disk as a named snapshot (it can later be restored with the fluid CLI).",
    input: z.strictObject({
      sandbox_id: SandboxId,
      name: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "must be 1-63 letters, digits, dots, dashes or underscores")
        .optional()
        .describe("default snap-<unix time>"),
    }),
    output: z.object({
      snapshot_id: z.string(),
      sandbox_id: z.string(),
      name: z.string(),
      size_bytes: z.number().int(),
      created_at: z.string(),
    }),
    hints: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async run({ sandbox_id, name }) {
      const snap = await takeSnapshot(await ctx.api(), sandbox_id, {
        name: name ?? `snap-${Math.floor(Date.now() / 1000)}`,
        includeMemory: false,
      });
      return {
        data: {
          snapshot_id: snap.id,
          sandbox_id: snap.sandbox_id,
          name: snap.name,
          size_bytes: snap.size_bytes,
          created_at: snap.created_at,
        },
      };
    },
  });

  defineTool(server, "extend_sandbox", {
    title: "Extend a sandbox's lease",
    description: "Set the sandbox's lease to end ttl_seconds from now (it is destroyed when the lease ends).",
    input: z.strictObject({
      sandbox_id: SandboxId,
      ttl_seconds: z.number().int().min(60).describe("seconds from now until the lease ends (at least 60)"),
    }),
    output: z.object({ sandbox_id: z.string(), expires_at: z.string() }),
    hints: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async run({ sandbox_id, ttl_seconds }) {
      const s = await extendSandbox(await ctx.api(), sandbox_id, ttl_seconds);
      return { data: { sandbox_id: s.id, expires_at: s.expires_at } };
    },
  });
}

/**
 * Polls a sandbox created with `wait=false` until it leaves CREATING (or the wait runs out), telling
 * the client how it goes: booting a VM takes long enough that a silent call looks hung.
 */
async function untilSettled(ctx: ToolContext, accepted: Sandbox, extra: Extra): Promise<Sandbox> {
  const api = await ctx.api();
  const progress = progressOf(extra);
  let step = 1;
  await progress(step, `sandbox ${accepted.name} placed on a host; booting`);
  return pollWhile(
    accepted,
    (sandbox) => sandbox.state === "CREATING",
    () => getSandbox(api, accepted.id),
    {
      intervalMs: ctx.pollIntervalMs,
      timeoutMs: ctx.createTimeoutMs,
      signal: extra.signal,
      onPoll: async (sandbox, elapsedMs) => {
        step += 1;
        const elapsed = Math.round(elapsedMs / 1000);
        const detail = describeProgress(sandbox.progress);
        await progress(
          step,
          `sandbox ${sandbox.name} is ${sandbox.state}${detail ? `, ${detail}` : ""} (${elapsed} s)`,
        );
      },
    },
  );
}
