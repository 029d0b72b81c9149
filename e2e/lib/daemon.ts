import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import { repoRoot } from "./global-setup.js";
import { type Started, startUntilReady } from "./processes.js";

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  raw: Buffer;
}

/** A client for the daemon's local API on its unix socket. */
export function localClient(socketPath: string) {
  const call = <T = any>(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<ApiResponse<T>> =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
      const req = request(
        {
          socketPath,
          method,
          path,
          headers: payload ? { "content-type": contentType, "content-length": payload.length } : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            const raw = Buffer.concat(chunks);
            let parsed: unknown = raw;
            if ((res.headers["content-type"] ?? "").includes("json")) parsed = JSON.parse(raw.toString() || "null");
            resolve({ status: res.statusCode ?? 0, body: parsed as T, raw });
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  return {
    call,
    create: (body: Record<string, unknown>) =>
      call("POST", "/v1/sandboxes", { image: "tiny", memory_mb: 256, ...body }),
    run: (id: string, command: string, extra: Record<string, unknown> = {}) =>
      call("POST", `/v1/sandboxes/${id}/run`, { command, ...extra }),
  };
}

export type LocalClient = ReturnType<typeof localClient>;

export interface DaemonOptions {
  network?: "user" | "bridge";
  bridge?: string;
  subnet?: string;
  stateDir?: string;
  extraArgs?: string[];
}

export interface TestDaemonProcess {
  stateDir: string;
  socket: string;
  api: LocalClient;
  process: Started;
  /** Restarts on the same state directory (after a stop or crash). */
  restart(): Promise<void>;
  /** Destroys every sandbox, stops the daemon and removes its state. */
  dispose(): Promise<void>;
}

/** Safety net after a failed test: kills (by pid, verified against its pidfile path) any VM this state dir still owns. */
export async function killLeftoverVms(stateDir: string): Promise<void> {
  const sandboxes = join(stateDir, "sandboxes");
  for (const entry of await readdir(sandboxes).catch(() => [] as string[])) {
    const pidfile = join(sandboxes, entry, "qemu.pid");
    const pid = Number((await readFile(pidfile, "utf8").catch(() => "")).trim());
    if (!pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmdline.split("\0").includes(pidfile)) process.kill(pid, "SIGKILL");
  }
}

export async function startDaemon(options: DaemonOptions = {}): Promise<TestDaemonProcess> {
  const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), "fluid-e2e-daemon-")));
  const socket = join(stateDir, "daemon.sock");
  const argv = [
    process.execPath,
    join(repoRoot, "packages/daemon/bin/fluid-daemon.js"),
    "run",
    "--state-dir",
    stateDir,
    "--image-dir",
    inject("imageDir"),
    "--accel",
    "auto",
    "--network",
    options.network ?? "user",
    ...(options.bridge ? ["--bridge", options.bridge, "--cleanup-network"] : []),
    ...(options.subnet ? ["--subnet", options.subnet] : []),
    ...(options.extraArgs ?? []),
  ];
  const daemon: TestDaemonProcess = {
    stateDir,
    socket,
    api: localClient(socket),
    process: await startUntilReady(argv),
    async restart() {
      daemon.process = await startUntilReady(argv);
    },
    async dispose() {
      if (existsSync(socket) && daemon.process.child.exitCode === null) {
        const list = await daemon.api.call("GET", "/v1/sandboxes");
        for (const sandbox of list.body?.sandboxes ?? [])
          await daemon.api.call("DELETE", `/v1/sandboxes/${sandbox.id}`);
      }
      await daemon.process.stop();
      await killLeftoverVms(stateDir);
      await rm(stateDir, { recursive: true, force: true });
    },
  };
  return daemon;
}
