import { Sandbox } from "e2b";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConnectedHost, startConnectedHost } from "./lib/connected-host.js";
import { until } from "./lib/wait.js";

/** The official e2b SDK's `pty` against fluid terminals on a real server, daemon and tiny VM. */
describe("e2b pty against fluid terminals", () => {
  let host: ConnectedHost;
  let sandbox: Sandbox;

  beforeAll(async () => {
    host = await startConnectedHost();
    const { key, server } = host;
    const opts = { apiKey: key, apiUrl: `${server.url}/e2b`, sandboxUrl: `${server.url}/e2b/envd` };
    sandbox = await Sandbox.create("tiny", { ...opts, timeoutMs: 600_000, requestTimeoutMs: 300_000 });
  });

  afterAll(async () => {
    await sandbox?.kill().catch(() => undefined);
    await host?.dispose();
  });

  it("pty.create gets a shell whose stty size follows pty.resize; pty.kill ends it", async () => {
    let text = "";
    const decoder = new TextDecoder();
    const pty = await sandbox.pty.create({
      cols: 100,
      rows: 30,
      onData: (data) => {
        text += decoder.decode(data, { stream: true });
      },
      timeoutMs: 0,
    });
    const input = (line: string) => sandbox.pty.sendInput(pty.pid, new TextEncoder().encode(line));
    await input('echo "S:$(stty size)"\r');
    await until(async () => text.includes("S:30 100"), 60_000, 100);
    await sandbox.pty.resize(pty.pid, { cols: 132, rows: 50 });
    await input('echo "S:$(stty size)"\r');
    await until(async () => text.includes("S:50 132"), 60_000, 100);
    expect(await sandbox.pty.kill(pty.pid)).toBe(true);
    await expect(pty.wait()).resolves.toBeDefined();
  });
});
