import { type Caller, startTestServer, TestDaemon, type TestServer } from "@fluid/testkit";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult, Progress } from "@modelcontextprotocol/sdk/types.js";
import { connectInMemory } from "../src/agent/tools.js";
import { type Connection, clientFor } from "../src/connection.js";
import { createMcpServer, type McpServerOptions } from "../src/mcp/server.js";

export interface McpFixture {
  t: TestServer;
  owner: Caller;
  key: string;
  daemon: TestDaemon;
  connection: Connection;
  client: Client;
  /** Calls a tool through the official MCP client; `onprogress` makes the client send a progressToken. */
  call(
    name: string,
    args?: Record<string, unknown>,
    onprogress?: (progress: Progress) => void,
  ): Promise<CallToolResult & { structuredContent?: any }>;
  /** A RUNNING sandbox created through the tool, returning its id. */
  sandbox(): Promise<string>;
  close(): Promise<void>;
}

/**
 * A real control plane on PGlite, a protocol-level host (TestDaemon) in its org, and the fluid MCP
 * server connected to the official MCP client in memory.
 */
export async function startMcp(options: Partial<McpServerOptions> = {}): Promise<McpFixture> {
  const t = await startTestServer("pglite", { deadlines: { createMs: 5_000, commandGraceMs: 1_000 } });
  const owner = await t.user("owner@example.com");
  await t.org(owner, "acme");
  const { key } = await t.apiKey(owner, "acme", "member");
  const daemon = await TestDaemon.connect(t.grpcUrl, {
    token: (await t.hostToken(owner, "acme")).token,
    keepAlive: true,
  });
  const connection: Connection = {
    client: clientFor(t.restUrl, key),
    server: t.restUrl,
    org: "acme",
  };
  const server = createMcpServer({ api: async () => connection, pollIntervalMs: 20, ...options });
  const client = await connectClient(server);
  const call: McpFixture["call"] = async (name, args = {}, onprogress) =>
    (await client.callTool({ name, arguments: args }, undefined, onprogress ? { onprogress } : {})) as CallToolResult;
  return {
    t,
    owner,
    key,
    daemon,
    connection,
    client,
    call,
    async sandbox() {
      const created = await call("create_sandbox", { source_vm: "debian-12" });
      if (created.isError) throw new Error(`create_sandbox failed: ${JSON.stringify(created.content)}`);
      return created.structuredContent.sandbox_id as string;
    },
    async close() {
      await client.close();
      await server.close();
      daemon.abort();
      await t.close();
    },
  };
}

/** The official MCP client, connected in memory to `server` (as `fluid agent` connects to its tools). */
export const connectClient = (server: McpServer): Promise<Client> => connectInMemory(server, "fluid-mcp-test", "0.0.0");

/** The text of a result's first content block. */
export function textOf(result: CallToolResult): string {
  const first = result.content[0];
  return first?.type === "text" ? first.text : "";
}
