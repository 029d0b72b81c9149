import { type AgentSettings, isServerUrl } from "../config/settings.js";
import { CliError } from "../output.js";
import type { ChatClientOptions } from "./llm.js";

export const DEFAULT_BASE_URL = "https://openrouter.ai/api/v1";

/**
 * The model provider to talk to: flags first, then FLUID_AGENT_* variables, then the `agent` object
 * in the saved config. The key falls back to OPENAI_API_KEY last, after the saved one, because that
 * variable is often set for other tools and another provider.
 */
export function resolveAgentConfig(
  flags: { baseUrl?: string | undefined; model?: string | undefined },
  env: NodeJS.ProcessEnv,
  saved: AgentSettings | undefined,
): Required<Pick<ChatClientOptions, "baseUrl" | "model" | "apiKey">> {
  const baseUrl = flags.baseUrl ?? env.FLUID_AGENT_BASE_URL ?? saved?.baseUrl ?? DEFAULT_BASE_URL;
  const model = flags.model ?? env.FLUID_AGENT_MODEL ?? saved?.model;
  const apiKey = env.FLUID_AGENT_API_KEY ?? saved?.apiKey ?? env.OPENAI_API_KEY;
  if (!isServerUrl(baseUrl)) {
    throw new CliError(`the model provider's base URL must be an http(s) URL, got "${baseUrl}"`);
  }
  if (!model) {
    throw new CliError("no model chosen: pass --model or set FLUID_AGENT_MODEL (e.g. anthropic/claude-sonnet-4.5)", {
      code: "agent_not_configured",
    });
  }
  if (!apiKey) {
    throw new CliError(`no API key for the model provider at ${baseUrl}: set FLUID_AGENT_API_KEY (or OPENAI_API_KEY)`, {
      code: "agent_not_configured",
    });
  }
  return { baseUrl, model, apiKey };
}
