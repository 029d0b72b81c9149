import { createServer } from "node:net";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectClient, type McpFixture, startMcp, textOf } from "../../test/mcp-fixture.js";
import { type Connection, clientFor } from "../connection.js";
import { createMcpServer, lazyConnection } from "./server.js";

type Hints = [readOnly: boolean, destructive: boolean, idempotent: boolean, openWorld: boolean];

/** Every tool: its annotations, and its required and optional parameters (the original's names). */
const expected: Record<string, { hints: Hints; required: string[]; optional: string[] }> = {
  list_sandboxes: { hints: [true, false, true, false], required: [], optional: [] },
  create_sandbox: {
    hints: [false, false, false, false],
    required: ["source_vm"],
    optional: ["cpu", "memory_mb", "live", "source_host"],
  },
  destroy_sandbox: { hints: [false, true, true, false], required: ["sandbox_id"], optional: [] },
  run_command: {
    hints: [false, true, false, true],
    required: ["sandbox_id", "command"],
    optional: ["timeout_seconds"],
  },
  start_sandbox: { hints: [false, false, true, false], required: ["sandbox_id"], optional: [] },
  stop_sandbox: { hints: [false, true, true, false], required: ["sandbox_id"], optional: [] },
  get_sandbox: { hints: [true, false, true, false], required: ["sandbox_id"], optional: [] },
  list_vms: { hints: [true, false, true, true], required: [], optional: ["source_host"] },
  create_snapshot: { hints: [false, false, false, false], required: ["sandbox_id"], optional: ["name"] },
  fork_sandbox: {
    hints: [false, false, false, false],
    required: ["sandbox_id"],
    optional: ["count", "snapshot_id", "names", "network"],
  },
  start_process: { hints: [false, true, false, false], required: ["sandbox_id", "command"], optional: ["name"] },
  read_process_log: {
    hints: [true, false, true, false],
    required: ["sandbox_id", "process_id"],
    optional: ["offset", "stderr_offset"],
  },
  create_playbook: {
    hints: [false, false, false, false],
    required: ["name"],
    optional: ["hosts", "become", "description"],
  },
  add_playbook_task: {
    hints: [false, false, false, false],
    required: ["playbook_id", "name", "module"],
    optional: ["params", "changed_when"],
  },
  edit_file: {
    hints: [false, true, false, false],
    required: ["sandbox_id", "path", "new_str"],
    optional: ["old_str", "replace_all"],
  },
  read_file: { hints: [true, false, true, false], required: ["sandbox_id", "path"], optional: [] },
  list_playbooks: { hints: [true, false, true, false], required: [], optional: [] },
  get_playbook: { hints: [true, false, true, false], required: ["playbook_id"], optional: [] },
  run_source_command: {
    hints: [true, false, false, true],
    required: ["source_vm", "command"],
    optional: ["timeout_seconds", "source_host"],
  },
  read_source_file: { hints: [true, false, true, true], required: ["source_vm", "path"], optional: ["source_host"] },
  extend_sandbox: { hints: [false, false, false, false], required: ["sandbox_id", "ttl_seconds"], optional: [] },
  write_file: { hints: [false, true, true, false], required: ["sandbox_id", "path", "content"], optional: ["mode"] },
  list_files: { hints: [true, false, true, false], required: ["sandbox_id", "path"], optional: [] },
  diff_sandbox: { hints: [true, false, true, false], required: ["sandbox_id"], optional: ["noise"] },
  create_change_request: {
    hints: [false, false, false, false],
    required: ["sandbox_id", "title"],
    optional: ["description", "playbook_id"],
  },
  get_change_request: { hints: [true, false, true, false], required: ["change_request_id"], optional: [] },
  verify_change_request: { hints: [false, false, false, false], required: ["change_request_id"], optional: [] },
  source_list_dir: { hints: [true, false, true, true], required: ["source_vm", "path"], optional: ["source_host"] },
  source_stat: { hints: [true, false, true, true], required: ["source_vm", "path"], optional: ["source_host"] },
  source_unit_status: { hints: [true, false, true, true], required: ["source_vm", "unit"], optional: ["source_host"] },
  source_journal: {
    hints: [true, false, true, true],
    required: ["source_vm"],
    optional: ["unit", "lines", "since", "priority", "source_host"],
  },
  source_packages: { hints: [true, false, true, true], required: ["source_vm"], optional: ["name", "source_host"] },
  source_processes: { hints: [true, false, true, true], required: ["source_vm"], optional: ["source_host"] },
  source_listening_sockets: { hints: [true, false, true, true], required: ["source_vm"], optional: ["source_host"] },
};

describe("the fluid MCP server", () => {
  let f: McpFixture;

  beforeAll(async () => {
    f = await startMcp();
  });
  afterAll(() => f.close());

  it("introduces itself as fluid", () => {
    expect(f.client.getServerVersion()).toEqual({ name: "fluid", version: "0.1.0" });
    expect(f.client.getInstructions()).toMatch(/sandboxes/);
  });

  it("lists the original 17 tools plus extend_sandbox, write_file, list_files, diff_sandbox, fork_sandbox, background processes, change requests and typed source inspection", async () => {
    const { tools } = await f.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(Object.keys(expected).sort());
  });

  it("declares every tool's parameters, output schema and all four annotations", async () => {
    const { tools } = await f.client.listTools();
    for (const tool of tools) {
      const want = expected[tool.name]!;
      const [readOnlyHint, destructiveHint, idempotentHint, openWorldHint] = want.hints;
      expect(tool.annotations, tool.name).toEqual({
        title: tool.title,
        readOnlyHint,
        destructiveHint,
        idempotentHint,
        openWorldHint,
      });
      expect(tool.title, tool.name).toBeTruthy();
      expect(tool.description?.length, tool.name).toBeGreaterThan(30);
      expect(tool.inputSchema.type).toBe("object");
      expect(Object.keys(tool.inputSchema.properties ?? {}).sort(), tool.name).toEqual(
        [...want.required, ...want.optional].sort(),
      );
      expect([...(tool.inputSchema.required ?? [])].sort(), tool.name).toEqual([...want.required].sort());
      expect(tool.inputSchema.additionalProperties, tool.name).toBe(false);
      expect(tool.outputSchema?.type, tool.name).toBe("object");
      expect(Object.keys(tool.outputSchema?.properties ?? {}).length, tool.name).toBeGreaterThan(0);
    }
  });

  it("describes result shapes the original's agents rely on", async () => {
    const { tools } = await f.client.listTools();
    const output = (name: string) => tools.find((t) => t.name === name)?.outputSchema;
    expect(output("create_sandbox")?.required).toEqual(
      expect.arrayContaining(["sandbox_id", "name", "state", "ip", "expires_at"]),
    );
    expect(output("run_command")?.required).toEqual(
      expect.arrayContaining(["sandbox_id", "exit_code", "stdout", "stderr"]),
    );
    expect(output("read_file")?.required).toEqual(expect.arrayContaining(["sandbox_id", "path", "content"]));
    expect(output("list_vms")?.required).toEqual(["vms", "count", "total", "unreachable"]);
    const createSandbox = tools.find((t) => t.name === "create_sandbox");
    expect(createSandbox?.description).toMatch(/With `source_host`, `source_vm` names a production VM/);
  });
});

describe("connection problems become tool errors", () => {
  const clients: Client[] = [];
  afterAll(async () => {
    for (const client of clients) await client.close();
  });
  const clientWith = async (api: () => Promise<Connection>) => {
    const client = await connectClient(createMcpServer({ api }));
    clients.push(client);
    return client;
  };

  it("when there is no login", async () => {
    const client = await clientWith(async () => {
      throw new Error("not logged in: run `fluid login --server URL --api-key fl_…`");
    });
    const result = await client.callTool({ name: "list_sandboxes", arguments: {} });
    expect(result.isError).toBe(true);
    expect(textOf(result as never)).toBe("not logged in: run `fluid login --server URL --api-key fl_…`");
  });

  it("when the server cannot be reached", async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const baseUrl = `http://127.0.0.1:${port}`;
    const client = await clientWith(async () => ({ client: clientFor(baseUrl, "fl_x"), server: baseUrl, org: "acme" }));
    const result = await client.callTool({ name: "get_sandbox", arguments: { sandbox_id: crypto.randomUUID() } });
    expect(result.isError).toBe(true);
    expect(textOf(result as never)).toBe(`cannot reach the fluid server at ${baseUrl} (ECONNREFUSED)`);
  });

  it("when the API key is refused", async () => {
    const f = await startMcp();
    try {
      const bad = clientFor(f.t.restUrl, "fl_not_a_real_key");
      const client = await clientWith(async () => ({ client: bad, server: f.t.restUrl, org: "acme" }));
      const result = await client.callTool({ name: "list_sandboxes", arguments: {} });
      expect(result.isError).toBe(true);
      expect(textOf(result as never)).toMatch(/^fluid API error unauthenticated \(HTTP 401\): /);
    } finally {
      await f.close();
    }
  });
});

describe("lazyConnection", () => {
  it("connects once and keeps the connection", async () => {
    let calls = 0;
    const connection = { org: "acme" } as Connection;
    const api = lazyConnection(async () => {
      calls += 1;
      return connection;
    });
    expect(await api()).toBe(connection);
    expect(await api()).toBe(connection);
    expect(calls).toBe(1);
  });

  it("does not keep a failure, so a fixed login works without a restart", async () => {
    let fail = true;
    const api = lazyConnection(async () => {
      if (fail) throw new Error("server down");
      return { org: "acme" } as Connection;
    });
    await expect(api()).rejects.toThrow("server down");
    fail = false;
    await expect(api()).resolves.toMatchObject({ org: "acme" });
  });
});
