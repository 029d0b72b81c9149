import { describe, expect, it } from "vitest";
import { countLines, cycles, directServerCalls, edgesWithin, sizeChecked, sizeReport } from "./structure.ts";

const graph = (edges: Record<string, string[]>) => new Map(Object.entries(edges));

describe("cycles", () => {
  it("finds no cycle in a tree or a diamond", () => {
    expect(cycles(graph({ a: ["b", "c"], b: ["d"], c: ["d"], d: [] }))).toEqual([]);
  });

  it("finds a two-node cycle and a longer one, largest first, ignoring the nodes outside them", () => {
    const g = graph({ auth: ["orgs"], orgs: ["auth", "lib"], x: ["y"], y: ["z"], z: ["x", "lib"], lib: [] });
    expect(cycles(g)).toEqual([
      ["x", "y", "z"],
      ["auth", "orgs"],
    ]);
  });

  it("treats a self-import as no folder cycle", () => {
    expect(cycles(graph({ a: ["a"] }))).toEqual([]);
  });

  it("handles a chain too deep for recursion", () => {
    const edges: Record<string, string[]> = {};
    for (let i = 0; i < 20_000; i++) edges[`n${i}`] = [`n${i + 1}`];
    edges.n20000 = ["n0"];
    expect(cycles(graph(edges))[0]).toHaveLength(20_001);
  });
});

describe("edgesWithin", () => {
  it("lists only the edges between members of the component", () => {
    const g = graph({ auth: ["orgs", "lib"], orgs: ["auth"], lib: [] });
    expect(edgesWithin(g, ["auth", "orgs"])).toEqual([
      ["auth", "orgs"],
      ["orgs", "auth"],
    ]);
  });
});

describe("sizeReport", () => {
  it("names the files over the limit and the largest five", () => {
    const files = [100, 401, 400, 50, 900, 10, 300].map((lines, i) => ({ path: `f${i}.ts`, lines }));
    const report = sizeReport(files, 400);
    expect(report.over.map((f) => f.path)).toEqual(["f4.ts", "f1.ts"]);
    expect(report.largest.map((f) => f.lines)).toEqual([900, 401, 400, 300, 100]);
  });
});

describe("sizeChecked", () => {
  const tables = ["/policy/rules.ts"];

  it("checks production TypeScript sources", () => {
    expect(sizeChecked("packages/daemon/src/network/manager.ts", tables)).toBe(true);
    expect(sizeChecked("packages/web/src/App.tsx", tables)).toBe(true);
  });

  it("exempts tests, test fixtures, declarations, generated code, data tables and non-TypeScript files", () => {
    for (const path of [
      "packages/daemon/src/network/manager.test.ts",
      "packages/web/src/App.test.tsx",
      "packages/daemon/src/policy/policy-cases.fixtures.ts",
      "packages/daemon/src/env.d.ts",
      "packages/proto/src/gen/host.ts",
      "packages/daemon/src/policy/rules.ts",
      "packages/daemon/src/guest/init.sh",
    ])
      expect(sizeChecked(path, tables), path).toBe(false);
  });

  it("matches a data table by a whole path suffix only", () => {
    expect(sizeChecked("packages/daemon/src/policy/other-rules.ts", tables)).toBe(true);
  });
});

describe("countLines", () => {
  it("counts a last line with or without its newline once", () => {
    expect(countLines("")).toBe(0);
    expect(countLines("a\nb\n")).toBe(2);
    expect(countLines("a\nb")).toBe(2);
  });
});

describe("directServerCalls", () => {
  const command = "packages/cli/src/commands/sandboxes.ts";

  it("allows a command that calls the API layer and imports only types from the SDK", () => {
    const source = [
      'import type { Sandbox } from "@fluid/sdk";',
      'import { type ChangeRequest, type ChangeRequestSummary } from "@fluid/sdk";',
      'import { getSandbox } from "../api/sandboxes.js";',
      "const sandbox: Sandbox = await getSandbox(conn, id);",
    ].join("\n");
    expect(directServerCalls(command, source)).toEqual([]);
  });

  it("flags a value import from the SDK, naming what was imported and where", () => {
    const source = 'import type { Command } from "commander";\nimport { type Sandbox, unwrap } from "@fluid/sdk";\n';
    expect(directServerCalls(command, source)).toEqual([`${command}:2 imports unwrap from @fluid/sdk`]);
  });

  it("flags a value import from an SDK subpath, naming the subpath", () => {
    expect(directServerCalls(command, 'import { openTerminal } from "@fluid/sdk/terminal";')).toEqual([
      `${command}:1 imports openTerminal from @fluid/sdk/terminal`,
    ]);
  });

  it("flags a namespace or default import of the SDK", () => {
    expect(directServerCalls(command, 'import * as sdk from "@fluid/sdk";')).toEqual([
      `${command}:1 imports @fluid/sdk as a whole`,
    ]);
  });

  it("flags a call on the client and a bare fetch, even with the client passed in", () => {
    const source = [
      'const page = await conn.client.GET("/v1/orgs/{slug}/sandboxes", {});',
      "await client",
      '  .DELETE("/v1/orgs/{slug}/sandboxes/{id}", path);',
      "const response = await fetch(url);",
    ].join("\n");
    expect(directServerCalls("packages/cli/src/mcp/files.ts", source)).toEqual([
      "packages/cli/src/mcp/files.ts:1 calls GET on a client",
      "packages/cli/src/mcp/files.ts:3 calls DELETE on a client",
      "packages/cli/src/mcp/files.ts:4 calls fetch",
    ]);
  });

  it("does not mistake a method that merely ends in fetch for a call to fetch", () => {
    expect(directServerCalls(command, "await prefetch(x);\nawait cache.fetch(key);")).toEqual([]);
  });

  it("leaves the API layer, the agent's model calls, other packages and tests alone", () => {
    const source = 'import { unwrap } from "@fluid/sdk";\nawait conn.client.GET("/v1/orgs");\nawait fetch(url);';
    expect(directServerCalls("packages/cli/src/api/sandboxes.ts", source)).toEqual([]);
    expect(directServerCalls("packages/cli/src/agent/llm.ts", source)).toEqual([]);
    expect(directServerCalls("packages/web/src/commands/x.ts", source)).toEqual([]);
    expect(directServerCalls("packages/cli/src/commands/sandboxes.test.ts", source)).toEqual([]);
  });
});
