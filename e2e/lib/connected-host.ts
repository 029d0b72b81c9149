import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDaemon, type TestDaemonProcess } from "./daemon.js";
import { repoRoot } from "./global-setup.js";
import { startServer, type TestServerProcess } from "./server.js";
import { until } from "./wait.js";

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** When the first stdout bytes came (0 if none), and when the CLI exited (epoch ms). */
  firstAt: number;
  endAt: number;
}

export interface ConnectedHost {
  server: TestServerProcess;
  daemon: TestDaemonProcess;
  /** An admin API key of org `acme`, which owns the daemon's host. */
  key: string;
  /** Runs the built `fluid` CLI against the server as that key, to its end. */
  cli(...args: string[]): Promise<CliRun>;
  /** Stops the daemon (destroying its sandboxes), then the server, and removes the CLI's home. */
  dispose(): Promise<void>;
}

/** A real `fluid-server` with a real daemon registered to it (org `acme`), ONLINE before this resolves. */
export async function startConnectedHost(): Promise<ConnectedHost> {
  const home = await mkdtemp(join(tmpdir(), "fluid-e2e-cli-"));
  const server = await startServer();
  const { key } = await server.bootstrap("acme");
  const token = await server.call("POST", "/v1/orgs/acme/hosts/tokens", { key, body: { name: "e2e-host" } });
  const daemon = await startDaemon({ extraArgs: ["--server", server.grpc, "--insecure", "--token", token.body.token] });
  await until(
    async () => (await server.call("GET", "/v1/orgs/acme/hosts", { key })).body.hosts?.[0]?.status === "ONLINE",
  );
  const cli = (...args: string[]) =>
    new Promise<CliRun>((resolve, reject) => {
      const child = spawn(process.execPath, [join(repoRoot, "packages/cli/bin/fluid.js"), ...args], {
        env: {
          PATH: process.env.PATH ?? "",
          HOME: home,
          FLUID_CONFIG: join(home, "config.json"),
          FLUID_SERVER: server.url,
          FLUID_API_KEY: key,
        },
      });
      let stdout = "";
      let stderr = "";
      let firstAt = 0;
      child.stdout.on("data", (chunk: Buffer) => {
        firstAt ||= Date.now();
        stdout += chunk.toString();
      });
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stdout, stderr, firstAt, endAt: Date.now() }));
    });
  return {
    server,
    daemon,
    key,
    cli,
    async dispose() {
      await daemon.dispose();
      await server.dispose();
      await rm(home, { recursive: true, force: true });
    },
  };
}
