import { createRequire } from "node:module";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Connection } from "../connection.js";
import { registerChangeRequestTools } from "./changes.js";
import { registerDiffTools } from "./diff.js";
import { registerFileTools } from "./files.js";
import { registerForkTool } from "./fork.js";
import { registerPlaybookTools } from "./playbooks.js";
import { registerProcessTools } from "./processes.js";
import { registerSandboxTools } from "./sandboxes.js";
import { registerSourceInspectionTools } from "./source-inspect.js";
import { registerSourceTools } from "./sources.js";
import type { ToolContext } from "./tool.js";

const { version } = createRequire(import.meta.url)("../../package.json") as { version: string };

export interface McpServerOptions {
  /** The API connection; called on every tool call, so it should cache (see `lazyConnection`). */
  api(): Promise<Connection>;
  pollIntervalMs?: number;
  createTimeoutMs?: number;
  verifyTimeoutMs?: number;
  /** Recorded on the sandboxes the tools create, so the audit trail tells `fluid mcp` and `fluid agent` apart. */
  agentId?: string;
}

/** The `fluid` MCP server: sandbox, file, playbook, change-request and source-VM tools over the REST API. */
export function createMcpServer(options: McpServerOptions): McpServer {
  const server = new McpServer(
    { name: "fluid", version },
    {
      instructions:
        "fluid gives you disposable microVM sandboxes to try changes in before they reach real machines. " +
        "Create a sandbox, run commands and edit files in it, then turn what changed into a change request " +
        "(its playbook verified on a fresh clone) for a person to review and approve, and destroy the sandbox.",
    },
  );
  const ctx: ToolContext = {
    api: options.api,
    pollIntervalMs: options.pollIntervalMs ?? 1000,
    // The server itself gives a host 10 minutes to create a sandbox.
    createTimeoutMs: options.createTimeoutMs ?? 11 * 60_000,
    // A verification boots a clone and runs the playbook twice; the server bounds each run itself.
    verifyTimeoutMs: options.verifyTimeoutMs ?? 30 * 60_000,
    agentId: options.agentId ?? "fluid-mcp",
  };
  registerSandboxTools(server, ctx);
  registerForkTool(server, ctx);
  registerProcessTools(server, ctx);
  registerFileTools(server, ctx);
  registerDiffTools(server, ctx);
  registerChangeRequestTools(server, ctx);
  registerPlaybookTools(server, ctx);
  registerSourceTools(server, ctx);
  registerSourceInspectionTools(server, ctx);
  return server;
}

/**
 * Resolves the connection on first use and keeps it. A failure (not logged in, server down) is not
 * kept: the agent sees it as a tool error and the next call tries again, so fixing the login or
 * starting the server does not need an MCP restart.
 */
export function lazyConnection(connect: () => Promise<Connection>): () => Promise<Connection> {
  let pending: Promise<Connection> | undefined;
  return () => {
    pending ??= connect().catch((err: unknown) => {
      pending = undefined;
      throw err;
    });
    return pending;
  };
}
