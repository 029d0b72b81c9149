import { z } from "zod";
import { CliError } from "../output.js";

/** One call the model asks for; `arguments` is JSON text the model wrote, so it may be malformed. */
export interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface AssistantMessage {
  role: "assistant";
  content: string | null;
  tool_calls?: ToolCall[];
}

export type ChatMessage =
  | { role: "system"; content: string }
  | { role: "user"; content: string }
  | AssistantMessage
  | { role: "tool"; tool_call_id: string; content: string };

export interface ToolDefinition {
  type: "function";
  function: { name: string; description: string; parameters: Record<string, unknown> };
}

/** A chat completions endpoint: the conversation and the tools in, the model's next message out. */
export interface ChatClient {
  complete(messages: ChatMessage[], tools: ToolDefinition[], signal?: AbortSignal): Promise<AssistantMessage>;
}

export interface ChatClientOptions {
  /** Up to and including the API version, e.g. https://openrouter.ai/api/v1. */
  baseUrl: string;
  model: string;
  apiKey: string;
  timeoutMs?: number;
}

/** Slow models take a while to write a long answer, but a provider that hangs should not hang the session. */
export const LLM_TIMEOUT_MS = 2 * 60_000;

const Completion = z.object({
  choices: z
    .array(
      z.object({
        message: z.object({
          content: z.string().nullish(),
          tool_calls: z
            .array(
              z.object({
                id: z.string(),
                function: z.object({ name: z.string(), arguments: z.string().nullish() }),
              }),
            )
            .nullish(),
        }),
      }),
    )
    .min(1),
});

/** An OpenAI-compatible chat completions client (OpenRouter, OpenAI, vLLM, Ollama, …), without streaming. */
export function chatClient(options: ChatClientOptions): ChatClient {
  const url = `${options.baseUrl.replace(/\/+$/, "")}/chat/completions`;
  const timeoutMs = options.timeoutMs ?? LLM_TIMEOUT_MS;
  return {
    async complete(messages, tools, signal) {
      const body = {
        model: options.model,
        messages,
        // Several providers reject an empty tool list instead of treating it as none.
        ...(tools.length > 0 ? { tools, tool_choice: "auto" } : {}),
      };
      const timeout = AbortSignal.timeout(timeoutMs);
      let response: Response;
      let text: string;
      try {
        response = await fetch(url, {
          method: "POST",
          headers: { authorization: `Bearer ${options.apiKey}`, "content-type": "application/json" },
          body: JSON.stringify(body),
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
        text = await response.text();
      } catch (err) {
        if (signal?.aborted) throw err;
        if (timeout.aborted) {
          throw new CliError(`no answer from the model provider within ${Math.round(timeoutMs / 1000)} s`, {
            code: "llm_timeout",
          });
        }
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        throw new CliError(
          `cannot reach the model provider at ${url} (${cause?.code ?? cause?.message ?? (err as Error).message})`,
          { code: "llm_unreachable" },
        );
      }
      const json = parseJson(text);
      if (!response.ok) {
        throw new CliError(`model provider error (HTTP ${response.status}): ${providerMessage(json, text)}`, {
          code: "llm_error",
        });
      }
      const parsed = Completion.safeParse(json);
      if (!parsed.success) {
        // OpenRouter reports some upstream failures as 200 with an error body.
        const message = hasError(json) ? providerMessage(json, text) : `unexpected response: ${text.slice(0, 300)}`;
        throw new CliError(`model provider error: ${message}`, { code: "llm_error" });
      }
      const message = parsed.data.choices[0]!.message;
      const calls = (message.tool_calls ?? []).map(
        (call): ToolCall => ({
          id: call.id,
          type: "function",
          function: { name: call.function.name, arguments: call.function.arguments ?? "" },
        }),
      );
      return {
        role: "assistant",
        content: message.content ?? null,
        ...(calls.length > 0 ? { tool_calls: calls } : {}),
      };
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function hasError(json: unknown): json is { error: unknown } {
  return typeof json === "object" && json !== null && "error" in json;
}

/** The provider's own words: `{"error":{"message":…}}` (OpenAI, OpenRouter) or `{"error":"…"}`, else the body. */
function providerMessage(json: unknown, text: string): string {
  if (hasError(json)) {
    const { error } = json;
    if (typeof error === "string") return error;
    if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") {
      return error.message;
    }
  }
  return text.trim().slice(0, 300) || "no details given";
}
