import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { processLog, startProcess } from "../api/sandbox-processes.js";
import { SandboxId } from "./sandboxes.js";
import { defineTool, type ToolContext } from "./tool.js";

const Process = z.object({
  process_id: z.string(),
  name: z.string(),
  command: z.string(),
  state: z.string(),
  exit_code: z.number().int().nullable(),
});

const ProcessId = z.uuid({ message: "must be a process id (a UUID, as returned by start_process)" });

function processOf(p: { id: string; name: string; command: string; state: string; exit_code: number | null }) {
  return { process_id: p.id, name: p.name, command: p.command, state: p.state, exit_code: p.exit_code };
}

/** Background processes: start one, read its output later (from an offset). */
export function registerProcessTools(server: McpServer, ctx: ToolContext): void {
  defineTool(server, "start_process", {
    title: "Start a background process",
    description:
      "Start a shell command in a running sandbox in the background (a server, a long build). It runs on after " +
      "this call returns; read its output with read_process_log.",
    input: z.strictObject({
      sandbox_id: SandboxId,
      command: z.string().min(1).describe("the command line, run by /bin/sh -c"),
      name: z.string().max(63).optional().describe("a name to recognise it by"),
    }),
    output: Process,
    hints: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    async run({ sandbox_id, command, name }) {
      const started = await startProcess(await ctx.api(), sandbox_id, {
        command,
        ...(name === undefined ? {} : { name }),
      });
      return { data: processOf(started) };
    },
  });

  defineTool(server, "read_process_log", {
    title: "Read a background process's output",
    description:
      "Read a background process's stdout and stderr from byte offsets (at most 64 KiB each per call), with its " +
      "state and exit code. Call again with next_offset and next_stderr_offset for more.",
    input: z.strictObject({
      sandbox_id: SandboxId,
      process_id: ProcessId,
      offset: z.number().int().min(0).optional().describe("stdout byte offset (default 0)"),
      stderr_offset: z.number().int().min(0).optional().describe("stderr byte offset (default 0)"),
    }),
    output: Process.extend({
      stdout: z.string(),
      stderr: z.string(),
      next_offset: z.number().int(),
      next_stderr_offset: z.number().int(),
    }),
    hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async run({ sandbox_id, process_id, offset, stderr_offset }) {
      const log = await processLog(await ctx.api(), sandbox_id, process_id, {
        offset: offset ?? 0,
        stderr: stderr_offset ?? 0,
      });
      return {
        data: {
          ...processOf(log.process),
          stdout: Buffer.from(log.stdout, "base64").toString("utf8"),
          stderr: Buffer.from(log.stderr, "base64").toString("utf8"),
          next_offset: log.next_offset,
          next_stderr_offset: log.next_stderr_offset,
        },
      };
    },
  });
}
