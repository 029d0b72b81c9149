import { Sandbox } from "e2b";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type ConnectedHost, startConnectedHost } from "./lib/connected-host.js";
import { buildImage } from "./lib/global-setup.js";
import { until } from "./lib/wait.js";

/** README's E2B contract names two templates; tiny is covered by e2b-compat.test.ts, this is the other. */
describe("the official e2b SDK against a real server, daemon and debian-12 VM", () => {
  let host: ConnectedHost;

  beforeAll(async () => {
    buildImage("debian-12", inject("imageDir"));
    host = await startConnectedHost();
  }, 900_000);

  afterAll(async () => {
    await host?.dispose();
  });

  it("creates a debian-12 sandbox from its template, runs a command and reads back a written file", async () => {
    const { key, server } = host;
    const opts = { apiKey: key, apiUrl: `${server.url}/e2b`, sandboxUrl: `${server.url}/e2b/envd` };
    const sandbox = await Sandbox.create("debian-12", { ...opts, timeoutMs: 600_000, requestTimeoutMs: 600_000 });
    try {
      const listed = await Sandbox.list(opts).nextItems();
      expect(listed.find((s) => s.sandboxId === sandbox.sandboxId)?.templateId).toBe("debian-12");
      const release = await sandbox.commands.run("cat /etc/debian_version");
      expect(release.stdout).toMatch(/^12\.\d+\n$/);
      await sandbox.files.write("/root/from-e2b.txt", "written through e2b\n");
      expect(await sandbox.files.read("/root/from-e2b.txt")).toBe("written through e2b\n");
      // debian-12 runs systemd, which starts a getty on the guest's first console: terminals must not meet it.
      let text = "";
      const decoder = new TextDecoder();
      const pty = await sandbox.pty.create({
        cols: 90,
        rows: 20,
        onData: (data) => {
          text += decoder.decode(data, { stream: true });
        },
        timeoutMs: 0,
      });
      await sandbox.pty.sendInput(pty.pid, new TextEncoder().encode('echo "S:$(stty size):$(tty)"\r'));
      await until(async () => /S:20 90:\/dev\/hvc[1-4]/.test(text), 120_000, 200);
      expect(await sandbox.pty.kill(pty.pid)).toBe(true);
    } finally {
      await sandbox.kill();
    }
  }, 900_000);
});
