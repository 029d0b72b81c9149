import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { CallToolResult, ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import type { z } from "zod";
import { FluidError } from "../api/errors.js";
import type { Connection } from "../connection.js";

export type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** What every tool module gets: the API connection (resolved on first use) and timing knobs tests shorten. */
export interface ToolContext {
  api(): Promise<Connection>;
  /** How often create_sandbox polls a CREATING sandbox. */
  pollIntervalMs: number;
  /** How long create_sandbox waits for RUNNING before handing the agent the sandbox id to check later. */
  createTimeoutMs: number;
  /** How long verify_change_request waits for a verification before handing the agent the id to check later. */
  verifyTimeoutMs: number;
  /** Recorded on every sandbox create_sandbox makes, so the audit trail shows which agent made it. */
  agentId: string;
}

/** A failure the agent should read and act on; it becomes an `isError` result, never a protocol error. */
export class ToolFailure extends Error {
  override name = "ToolFailure";
}

/** A successful call: the structured result (checked against the output schema) and its text rendering. */
export interface Reply<T> {
  data: T;
  /** Defaults to the structured result as JSON, which is what MCP suggests for clients without structured support. */
  text?: string;
}

/** All four hints on every tool: clients decide what to confirm with the user from them. */
export interface Hints {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

export interface ToolSpec<I extends z.ZodObject, O extends z.ZodObject> {
  title: string;
  description: string;
  input: I;
  output: O;
  hints: Hints;
  run(args: z.output<I>, extra: Extra): Promise<Reply<z.output<O>>>;
}

export function defineTool<I extends z.ZodObject, O extends z.ZodObject>(
  server: McpServer,
  name: string,
  spec: ToolSpec<I, O>,
): void {
  server.registerTool<z.ZodObject, z.ZodObject>(
    name,
    {
      title: spec.title,
      description: spec.description,
      inputSchema: spec.input,
      outputSchema: spec.output,
      annotations: { title: spec.title, ...spec.hints },
    },
    // The SDK has parsed the arguments with spec.input before calling, so they are z.output<I>.
    async (args: unknown, extra: Extra): Promise<CallToolResult> => {
      try {
        const reply = await spec.run(args as z.output<I>, extra);
        return {
          structuredContent: reply.data,
          content: [{ type: "text", text: reply.text ?? JSON.stringify(reply.data, null, 2) }],
        };
      } catch (err) {
        return failure(err);
      }
    },
  );
}

/**
 * Backend failures become tool results the agent can read. A thrown error would reach the client as a
 * generic JSON-RPC failure without the server's code, and agents handle those poorly.
 */
function failure(err: unknown): CallToolResult {
  return { isError: true, content: [{ type: "text", text: describe(err) }] };
}

function describe(err: unknown): string {
  if (err instanceof FluidError) return `fluid API error ${err.code} (HTTP ${err.status}): ${err.message}`;
  if (err instanceof ToolFailure) return err.message;
  return err instanceof Error ? err.message : String(err);
}

/** Progress notifications for the call, sent only when the client asked for them with a progressToken. */
export function progressOf(extra: Extra): (progress: number, message: string) => Promise<void> {
  const progressToken = extra._meta?.progressToken;
  if (progressToken === undefined) return async () => undefined;
  return (progress, message) =>
    extra.sendNotification({ method: "notifications/progress", params: { progressToken, progress, message } });
}
