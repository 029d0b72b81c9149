import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SandboxDiff } from "@fluid/sdk";
import { startTestServer, TestDaemon, type TestServer, testDiff } from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runFluid } from "../testing.js";
import { renderDiff } from "./sandbox-diff.js";

const diff: SandboxDiff = {
  hash: "b".repeat(64),
  summary: { total: 3, added: 1, changed: 1, removed: 1, by_kind: { file: 2, package: 1 } },
  changes: [
    {
      kind: "file",
      action: "changed",
      path: "/etc/issue",
      mode: "0644",
      size: 40,
      from: { size: 27 },
      diff: "@@ -1,1 +1,2 @@\n Debian\n+Managed\n",
    },
    { kind: "file", action: "removed", path: "/etc/motd", type: "file" },
    { kind: "package", action: "added", name: "nginx", version: "1.22.1-9", arch: "amd64" },
  ],
};

describe("renderDiff", () => {
  it("shows the summary, one line per change with what changed, and text diffs under their file", () => {
    expect(renderDiff(diff, false)).toBe(
      [
        "3 changes: 1 added, 1 changed, 1 removed (file 2, package 1)",
        `hash ${"b".repeat(64)}`,
        "",
        "~ file    /etc/issue  size 27 → 40",
        "    @@ -1,1 +1,2 @@",
        "     Debian",
        "    +Managed",
        "- file    /etc/motd",
        "+ package nginx  version 1.22.1-9, arch amd64",
        "",
      ].join("\n"),
    );
  });

  it("colours additions green, removals red and hunk headers cyan only when asked to", () => {
    const coloured = renderDiff(diff, true);
    expect(coloured).toContain("\x1b[32m+Managed\x1b[0m");
    expect(coloured).toContain("\x1b[31m- file    /etc/motd\x1b[0m");
    expect(coloured).toContain("\x1b[36m@@ -1,1 +1,2 @@\x1b[0m");
    expect(renderDiff(diff, false)).not.toContain("\x1b[");
  });
});

describe("fluid sandbox diff", () => {
  let t: TestServer;
  let daemon: TestDaemon;
  let key: string;
  let dir: string;

  const fluid = (args: string[]) =>
    runFluid(args, { env: { FLUID_CONFIG: join(dir, "config.json"), FLUID_SERVER: t.restUrl, FLUID_API_KEY: key } });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-cli-diff-"));
    t = await startTestServer("pglite");
    const owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
    key = (await t.apiKey(owner, "acme", "admin")).key;
    daemon = await TestDaemon.connect(t.grpcUrl, { token: (await t.hostToken(owner, "acme")).token, keepAlive: true });
    await t.call("POST", "/v1/orgs/acme/sandboxes", { as: { key }, body: { source_vm: "tiny", name: "web" } });
  });

  afterAll(async () => {
    daemon.abort();
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("prints the diff of a sandbox named by its name, uncoloured when stdout is not a terminal", async () => {
    const result = await fluid(["sandbox", "diff", "web"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(renderDiff(testDiff(), false));
  });

  it("prints the API's {hash, summary, changes} with --json and passes --noise through", async () => {
    const result = await fluid(["--json", "sandbox", "diff", "web", "--noise", '{"disable":["logs"]}']);
    expect(JSON.parse(result.stdout)).toEqual(testDiff());
    const sent = daemon.commands("diffSandbox").at(-1);
    expect(sent?.payload.case === "diffSandbox" && sent.payload.value.noiseOverrideJson).toBe('{"disable":["logs"]}');
  });

  it("refuses --noise that is not JSON without asking the server", async () => {
    const before = daemon.commands("diffSandbox").length;
    const result = await fluid(["sandbox", "diff", "web", "--noise", "{nope"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--noise must be JSON");
    expect(daemon.commands("diffSandbox")).toHaveLength(before);
  });
});
