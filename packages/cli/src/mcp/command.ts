import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { Command } from "commander";
import { connect } from "../connection.js";
import { createMcpServer, lazyConnection } from "./server.js";

/**
 * `fluid mcp`: the tools for a coding agent, over stdio. Stdout carries the protocol, so anything
 * meant for a person goes to stderr.
 */
export function registerMcpCommand(program: Command): void {
  program
    .command("mcp")
    .description("serve fluid's tools to a coding agent over MCP (stdio)")
    .action(async (_options: unknown, command: Command) => {
      const flags = command.optsWithGlobals<{ server?: string; apiKey?: string; org?: string }>();
      const api = lazyConnection(() => connect({ server: flags.server, apiKey: flags.apiKey, org: flags.org }));
      // Checked once at start so a wrong login shows up in the MCP client's server log right away;
      // the tools report it too, and retry.
      api().then(
        (connection) => process.stderr.write(`fluid mcp: serving org ${connection.org} on ${connection.server}\n`),
        (err: unknown) => process.stderr.write(`fluid mcp: ${err instanceof Error ? err.message : String(err)}\n`),
      );
      // Serves until stdin ends; the process then exits once the calls in flight have answered.
      await createMcpServer({ api }).connect(new StdioServerTransport());
    });
}
