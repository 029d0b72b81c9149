import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openTerminal, type Terminal } from "@fluid/sdk/terminal";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConnectedHost, startConnectedHost } from "./lib/connected-host.js";
import { repoRoot } from "./lib/global-setup.js";
import { until } from "./lib/wait.js";

/** Everything a terminal printed, as text, and a way to wait for a pattern in what comes next. */
function transcript(terminal: Terminal) {
  let text = "";
  terminal.onData((data) => {
    text += Buffer.from(data).toString("utf8");
  });
  return {
    get text() {
      return text;
    },
    /** Waits (TCG guests are slow) until the output since `from` matches. */
    async waitFor(pattern: RegExp, from = 0, timeoutMs = 60_000): Promise<RegExpMatchArray> {
      let match: RegExpMatchArray | null = null;
      await until(
        async () => {
          match = text.slice(from).match(pattern);
          return match !== null;
        },
        timeoutMs,
        100,
      );
      return match as unknown as RegExpMatchArray;
    },
  };
}

describe("terminals against a real server, daemon and tiny VM", () => {
  let host: ConnectedHost;
  let id: string;
  let home: string;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), "fluid-e2e-shell-"));
    host = await startConnectedHost();
    const created = await host.server.call("POST", "/v1/orgs/acme/sandboxes", {
      key: host.key,
      body: { source_vm: "tiny", memory_mb: 256, ttl_seconds: 900 },
    });
    expect(created.status).toBe(201);
    id = created.body.id;
  });

  afterAll(async () => {
    if (id)
      await host?.server.call("DELETE", `/v1/orgs/acme/sandboxes/${id}`, { key: host.key }).catch(() => undefined);
    await host?.dispose();
    if (home) await rm(home, { recursive: true, force: true });
  });

  const open = (cols: number, rows: number) =>
    openTerminal({ baseUrl: host.server.url, apiKey: host.key, org: "acme", sandbox: id, cols, rows });

  it("stty size sees the size the terminal was opened with, and the size after a resize", async () => {
    const terminal = await open(100, 30);
    const out = transcript(terminal);
    try {
      terminal.write('echo "S:$(stty size)"\r');
      await out.waitFor(/S:30 100/);
      const mark = out.text.length;
      terminal.resize(132, 50);
      terminal.write('echo "S:$(stty size)"\r');
      await out.waitFor(/S:50 132/, mark);
    } finally {
      terminal.close();
    }
    await terminal.exited;
  });

  it("Ctrl-C interrupts a foreground sleep and the shell goes on", async () => {
    const terminal = await open(80, 24);
    const out = transcript(terminal);
    try {
      terminal.write("sleep 100\r");
      await out.waitFor(/sleep 100/);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const started = Date.now();
      terminal.write("\x03");
      terminal.write("echo done-$((20+22))\r");
      await out.waitFor(/done-42/);
      expect(Date.now() - started).toBeLessThan(60_000);
    } finally {
      terminal.close();
    }
  });

  it("ends with `exit`: the socket says so and the terminal's port is free again", async () => {
    const terminal = await open(80, 24);
    terminal.write("exit\r");
    await terminal.exited;
    // Four at once would need every port: a leaked one makes the fourth fail with no_capacity.
    const four = await Promise.all([open(80, 24), open(80, 24), open(80, 24), open(80, 24)]);
    await expect(open(80, 24)).rejects.toMatchObject({ code: "no_capacity" });
    for (const t of four) t.close();
    await Promise.all(four.map((t) => t.exited));
  });

  it("`fluid sandbox shell` with piped input runs it in the sandbox and exits 0 at its end", async () => {
    const child = spawn(process.execPath, [join(repoRoot, "packages/cli/bin/fluid.js"), "sandbox", "shell", id], {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: home,
        FLUID_CONFIG: join(home, "config.json"),
        FLUID_SERVER: host.server.url,
        FLUID_API_KEY: host.key,
      },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdin.end("echo piped-$((6*7))\n");
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toMatch(/piped-42/);
  });

  it("every terminal opened is in the sandbox's audit trail", async () => {
    const audit = await host.server.call("GET", `/v1/orgs/acme/audit?target_id=${id}&limit=100`, { key: host.key });
    const opened = (audit.body.events as Array<{ action: string; details: Record<string, unknown> }>).filter(
      (event) => event.action === "sandbox.terminal_opened",
    );
    expect(opened.length).toBeGreaterThanOrEqual(7);
    expect(opened.find((event) => event.details.cols === 100)?.details).toMatchObject({ rows: 30 });
  });
});
