import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { killLeftoverVms, type LocalClient, localClient } from "../../e2e/lib/daemon.ts";
import { startServer, type TestServerProcess } from "../../e2e/lib/server.ts";
import { ImageStore } from "../../packages/daemon/src/images/store.ts";
import { run, runChecked } from "../../packages/daemon/src/system/run.ts";
import { startBenchDaemon } from "./daemon.ts";
import { median, time } from "./stats.ts";

/** Benchmarks must not leave VMs behind even when a measurement fails. */
export async function destroyAll(api: LocalClient): Promise<void> {
  const list = await api.call("GET", "/v1/sandboxes").catch(() => undefined);
  for (const sandbox of list?.body?.sandboxes ?? []) await api.call("DELETE", `/v1/sandboxes/${sandbox.id}`);
}

/** A running sandbox behind a real fluid-server and a daemon (user networking) on this machine. */
export interface SandboxThroughServer {
  server: TestServerProcess;
  key: string;
  id: string;
}

/** Starts a server, a daemon and one sandbox of `imageName`, runs `work`, then removes them all. */
export async function withSandboxThroughServer<T>(
  imageDir: string,
  imageName: string,
  work: (target: SandboxThroughServer) => Promise<T>,
): Promise<T> {
  const server = await startServer();
  const stateDir = await mkdtemp(join(tmpdir(), "fluid-bench-stream-"));
  let daemon: Awaited<ReturnType<typeof startBenchDaemon>> | undefined;
  try {
    const { key } = await server.bootstrap("bench");
    const token = await server.call("POST", "/v1/orgs/bench/hosts/tokens", { key, body: { name: "bench" } });
    daemon = await startBenchDaemon(stateDir, imageDir, [
      "--network",
      "user",
      "--server",
      server.grpc,
      "--insecure",
      "--token",
      token.body.token,
    ]);
    for (let i = 0; i < 100; i++) {
      const hosts = await server.call("GET", "/v1/orgs/bench/hosts", { key });
      if (hosts.body.hosts?.[0]?.status === "ONLINE") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const created = await server.call("POST", "/v1/orgs/bench/sandboxes", {
      key,
      body: { source_vm: imageName, memory_mb: 256 },
    });
    if (created.status !== 201) throw new Error(JSON.stringify(created.body));
    return await work({ server, key, id: created.body.id as string });
  } finally {
    await destroyAll(localClient(join(stateDir, "daemon.sock")));
    await daemon?.stop();
    await killLeftoverVms(stateDir);
    await server.dispose();
    await rm(stateDir, { recursive: true, force: true });
  }
}

/** REST `run` of `true` through a real fluid-server and the host stream to a daemon-managed VM. */
export function execThroughServerMs(imageDir: string, imageName: string, samples: number): Promise<number[]> {
  return withSandboxThroughServer(imageDir, imageName, async ({ server, key, id }) => {
    const runTrue = () => server.call("POST", `/v1/orgs/bench/sandboxes/${id}/run`, { key, body: { command: "true" } });
    for (let i = 0; i < 5; i++) await runTrue();
    const measured: number[] = [];
    for (let i = 0; i < samples; i++) measured.push(await time(runTrue));
    return measured;
  });
}

/**
 * The original system ran every command as a fresh `ssh` to the sandbox: median of `samples` such
 * runs of `true`. Needs the debian-12 image (sshd) and root (bridge networking); undefined otherwise.
 */
export async function freshSshMs(imageDir: string, samples: number): Promise<number | undefined> {
  const store = new ImageStore(imageDir);
  if (!(await store.names()).includes("debian-12") || process.getuid?.() !== 0) {
    console.log("(ssh comparison skipped: needs root and the debian-12 image: fluid-daemon image build debian-12)");
    return undefined;
  }
  const stateDir = await mkdtemp(join(tmpdir(), "fluid-bench-ssh-"));
  const daemon = await startBenchDaemon(stateDir, imageDir, [
    "--network",
    "bridge",
    "--bridge",
    "flbench0",
    "--subnet",
    "10.95.0.0/24",
    "--cleanup-network",
  ]);
  const api = localClient(join(stateDir, "daemon.sock"));
  try {
    const created = await api.create({ image: "debian-12", memory_mb: 512 });
    if (created.status !== 201) throw new Error(JSON.stringify(created.body));
    const { id, ip_address: ip } = created.body as { id: string; ip_address: string };
    const keyFile = join(stateDir, "bench_key");
    await runChecked(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", keyFile]);
    await api.run(id, "mkdir -p /root/.ssh && chmod 700 /root/.ssh");
    await api.call(
      "PUT",
      `/v1/sandboxes/${id}/files?path=/root/.ssh/authorized_keys`,
      await readFile(`${keyFile}.pub`),
      "application/octet-stream",
    );
    await api.run(id, "chmod 600 /root/.ssh/authorized_keys");
    const ssh = [
      "ssh",
      "-i",
      keyFile,
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "BatchMode=yes",
      "-o",
      "LogLevel=ERROR",
      `root@${ip}`,
      "true",
    ];
    for (let i = 0; i < 60; i++) {
      if ((await run(ssh, { timeoutMs: 20_000 })).code === 0) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const measured: number[] = [];
    for (let i = 0; i < samples; i++) measured.push(await time(() => runChecked(ssh, { timeoutMs: 30_000 })));
    return median(measured);
  } finally {
    await destroyAll(api);
    await daemon.stop();
    await killLeftoverVms(stateDir);
    await rm(stateDir, { recursive: true, force: true });
  }
}
