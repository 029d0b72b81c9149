import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult, Progress } from "@modelcontextprotocol/sdk/types.js";
import { EGRESS_DENIED, egressQuestion } from "./egress.js";
import type { ToolDefinition } from "./llm.js";

/** Edit mode may change things (in sandboxes); read-only mode may only look. */
export type Mode = "edit" | "read-only";

/** Asks the person a yes/no question; the UI implements it, tests script it. */
export interface Approver {
  approve(question: string): Promise<boolean>;
}

/** What one tool call came to. */
export interface ToolOutcome {
  /** The tool message the model reads. */
  content: string;
  /** `refused`: read-only mode; `denied`: the person said no; `error`: the tool failed or the call was malformed. */
  status: "ok" | "error" | "refused" | "denied";
  structured?: Record<string, unknown>;
}

export interface ExecuteOptions {
  mode: Mode;
  approver: Approver;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

interface ToolInfo {
  definition: ToolDefinition;
  readOnly: boolean;
}

/**
 * run_command accepts up to an hour; the MCP client's default of a minute would abandon calls the
 * server is still working on.
 */
const CALL_TIMEOUT_MS = 61 * 60_000;

/** The official MCP client, connected in memory to `server`: the tools run in this process. */
export async function connectInMemory(server: McpServer, name: string, version: string): Promise<Client> {
  const client = new Client({ name, version });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  await client.connect(clientSide);
  return client;
}

/**
 * The MCP server's tools as the model sees them, and the one place tool calls run. Read-only mode
 * and egress approval are enforced here, not only by what is advertised, because a model can name a
 * tool it was never offered.
 */
export class Toolbox {
  private constructor(
    private readonly client: Client,
    private readonly tools: Map<string, ToolInfo>,
  ) {}

  static async load(client: Client): Promise<Toolbox> {
    const { tools } = await client.listTools();
    const infos = new Map<string, ToolInfo>();
    for (const tool of tools) {
      // `$schema` is noise to the model, and some providers reject schemas that carry it.
      const { $schema: _ignored, ...parameters } = tool.inputSchema;
      infos.set(tool.name, {
        definition: {
          type: "function",
          function: { name: tool.name, description: tool.description ?? tool.title ?? tool.name, parameters },
        },
        readOnly: tool.annotations?.readOnlyHint === true,
      });
    }
    return new Toolbox(client, infos);
  }

  /** The MCP server's own guidance, for the system prompt. */
  instructions(): string | undefined {
    return this.client.getInstructions();
  }

  /** The tools offered to the model in `mode`. */
  definitions(mode: Mode): ToolDefinition[] {
    return [...this.tools.values()].filter((t) => mode === "edit" || t.readOnly).map((t) => t.definition);
  }

  /** A call the model asked for, with its arguments as the JSON text it wrote. Never throws, unless aborted. */
  async execute(name: string, rawArguments: string, options: ExecuteOptions): Promise<ToolOutcome> {
    const args = parseArguments(rawArguments);
    if (typeof args === "string") {
      return { status: "error", content: `Error: the arguments for ${name} are not a valid JSON object (${args})` };
    }
    const tool = this.tools.get(name);
    if (!tool) {
      return { status: "error", content: `Error: there is no tool named "${name}"` };
    }
    if (options.mode === "read-only" && !tool.readOnly) {
      return {
        status: "refused",
        content: `refused: ${name} changes things and the agent is in read-only mode (Shift+Tab switches to edit mode)`,
      };
    }
    const question = egressQuestion(name, args);
    if (question !== undefined && !(await options.approver.approve(question))) {
      return { status: "denied", content: EGRESS_DENIED };
    }
    return this.call(name, args, options);
  }

  /** Calls a tool directly, for what the person asked for (cleanup, /sandboxes) rather than the model. */
  async call(
    name: string,
    args: Record<string, unknown>,
    options: { signal?: AbortSignal; onProgress?: (message: string) => void } = {},
  ): Promise<ToolOutcome> {
    const onProgress = options.onProgress;
    let result: CallToolResult;
    try {
      result = (await this.client.callTool({ name, arguments: args }, undefined, {
        timeout: CALL_TIMEOUT_MS,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(onProgress ? { onprogress: (p: Progress) => onProgress(p.message ?? `${p.progress}`) } : {}),
      })) as CallToolResult;
    } catch (err) {
      if (options.signal?.aborted) throw err;
      return { status: "error", content: `Error: ${err instanceof Error ? err.message : String(err)}` };
    }
    const text = result.content
      .filter((block) => block.type === "text")
      .map((block) => block.text)
      .join("\n");
    if (result.isError) return { status: "error", content: `Error: ${text}` };
    return {
      status: "ok",
      content: text,
      ...(result.structuredContent ? { structured: result.structuredContent } : {}),
    };
  }
}

/** The arguments object, or what is wrong with the text. An empty string is a call without arguments. */
function parseArguments(text: string): Record<string, unknown> | string {
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return `expected an object, got ${Array.isArray(value) ? "an array" : String(value === null ? "null" : typeof value)}`;
  }
  return value as Record<string, unknown>;
}
