import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

/** One request the agent sent, as the provider saw it. */
export interface LlmRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: any;
}

/** A canned reply: a status and a JSON body (200 when no status), one computed from the request, or no reply at all. */
export type Canned = { status?: number; body: unknown } | ((request: LlmRequest) => Canned) | "hang";

export interface ScriptedLlm {
  /** What the agent takes as its base URL (the `/v1` prefix is what real providers have). */
  baseUrl: string;
  requests: LlmRequest[];
  /** Replies to the next requests, in order. */
  push(...replies: Canned[]): void;
  /** The reply once the queue is empty; without one, an empty queue answers 500 so the test fails loudly. */
  otherwise: Canned | undefined;
  close(): Promise<void>;
}

/** A local OpenAI-compatible chat completions endpoint that answers from a queue and records every request. */
export async function startScriptedLlm(): Promise<ScriptedLlm> {
  const queue: Canned[] = [];
  const requests: LlmRequest[] = [];
  const llm: ScriptedLlm = {
    baseUrl: "",
    requests,
    push: (...replies) => queue.push(...replies),
    otherwise: undefined,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString();
      const request: LlmRequest = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: text ? JSON.parse(text) : undefined,
      };
      requests.push(request);
      let reply = queue.shift() ?? llm.otherwise;
      while (typeof reply === "function") reply = reply(request);
      if (reply === "hang") return;
      const { status, body } = reply ?? { status: 500, body: { error: { message: "the test queued no reply" } } };
      res.writeHead(status ?? 200, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  llm.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return llm;
}

let callCounter = 0;

/** A completion asking for tool calls; arguments given as a string are sent verbatim (to send broken JSON). */
export function toolCalls(...calls: Array<[name: string, args: Record<string, unknown> | string]>): Canned {
  return {
    body: {
      id: "chatcmpl-test",
      object: "chat.completion",
      choices: [
        {
          index: 0,
          finish_reason: "tool_calls",
          message: {
            role: "assistant",
            content: null,
            tool_calls: calls.map(([name, args]) => ({
              id: `call_${++callCounter}`,
              type: "function",
              function: { name, arguments: typeof args === "string" ? args : JSON.stringify(args) },
            })),
          },
        },
      ],
    },
  };
}

/** A completion with a final answer. */
export function answer(text: string): Canned {
  return {
    body: {
      id: "chatcmpl-test",
      object: "chat.completion",
      choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content: text } }],
    },
  };
}

/** The tool messages at the end of a request's conversation, by tool call id. */
export function toolResults(request: LlmRequest | undefined): Array<{ tool_call_id: string; content: string }> {
  const messages: Array<{ role: string; tool_call_id: string; content: string }> = request?.body.messages ?? [];
  const lastAssistant = messages.findLastIndex((m) => m.role === "assistant");
  return messages.slice(lastAssistant + 1).filter((m) => m.role === "tool");
}
