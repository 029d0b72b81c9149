import { createRequire } from "node:module";
import type { Command } from "commander";
import { readSettings, settingsPath } from "../config/settings.js";
import { connect } from "../connection.js";
import { createMcpServer, lazyConnection } from "../mcp/server.js";
import { CliError } from "../output.js";
import { resolveAgentConfig } from "./config.js";
import { chatClient } from "./llm.js";
import { Agent } from "./loop.js";
import { connectInMemory, Toolbox } from "./tools.js";
import { runApp } from "./ui/app.js";

const { version } = createRequire(import.meta.url)("../../package.json") as { version: string };

interface AgentFlags {
  server?: string;
  apiKey?: string;
  org?: string;
  baseUrl?: string;
  model?: string;
  readOnly?: boolean;
}

/**
 * `fluid agent`: a model working in the terminal with the person, through the same tools `fluid mcp`
 * serves (the MCP server runs in this process and the agent is its client).
 */
export function registerAgentCommand(program: Command): void {
  program
    .command("agent")
    .description("an AI agent in your terminal, working in fluid sandboxes with the same tools as `fluid mcp`")
    .option("--base-url <url>", "OpenAI-compatible API (or FLUID_AGENT_BASE_URL; default https://openrouter.ai/api/v1)")
    .option("--model <name>", "the model to use (or FLUID_AGENT_MODEL), e.g. anthropic/claude-sonnet-4.5")
    .option("--read-only", "start in read-only mode: only tools that change nothing (Shift+Tab switches)")
    .addHelpText(
      "after",
      `
The provider's API key comes from FLUID_AGENT_API_KEY, else the config's agent.apiKey, else
OPENAI_API_KEY. The config file (${settingsPath()}) may hold defaults for all three:
  "agent": { "baseUrl": "…", "model": "…", "apiKey": "…" }

Commands that reach the network (curl, ssh, URLs, …) are run only after you allow them. On leaving,
the agent offers to destroy the sandboxes it created in this session.`,
    )
    .action(async (_options: unknown, command: Command) => {
      const flags = command.optsWithGlobals<AgentFlags>();
      const saved = await readSettings(settingsPath());
      const config = resolveAgentConfig(flags, process.env, saved?.agent);
      if (!process.stdin.isTTY || !process.stdout.isTTY) {
        throw new CliError("fluid agent needs an interactive terminal", { code: "not_a_terminal" });
      }
      const api = lazyConnection(() => connect({ server: flags.server, apiKey: flags.apiKey, org: flags.org }));
      // A wrong login stops here, before the UI takes over the terminal.
      await api();
      const server = createMcpServer({ api, agentId: "fluid-agent" });
      const client = await connectInMemory(server, "fluid-agent", version);
      try {
        const agent = new Agent(chatClient(config), await Toolbox.load(client), flags.readOnly ? "read-only" : "edit");
        await runApp({ agent, model: config.model });
      } finally {
        await client.close();
        await server.close();
      }
    });
}
