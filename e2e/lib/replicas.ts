import { startDaemon, type TestDaemonProcess } from "./daemon.js";
import { startServer, type TestServerProcess } from "./server.js";
import { until } from "./wait.js";

export interface TwoReplicas {
  a: TestServerProcess;
  b: TestServerProcess;
  daemon: TestDaemonProcess;
  /** An admin API key of org `acme`, which owns the daemon's host. */
  key: string;
  hostId: string;
  /** Stops the daemon, then B, then A (B runs on A's database, which A's dispose drops); twice is harmless. */
  dispose(): Promise<void>;
}

/**
 * Two real `fluid-server` replicas ("a", "b") on one PostgreSQL database and a real daemon whose
 * `--server` list is `servers` (addresses of either), resolved once it has registered somewhere.
 */
export async function startTwoReplicas(
  servers: (a: TestServerProcess, b: TestServerProcess) => string[],
): Promise<TwoReplicas> {
  const started: { dispose(): Promise<void> }[] = [];
  const disposeAll = async () => {
    for (const process of started.reverse()) await process.dispose();
  };
  try {
    const a = await startServer({ replicaId: "a" });
    started.push(a);
    const b = await startServer({ replicaId: "b", databaseUrl: a.databaseUrl });
    started.push(b);
    const { key } = await a.bootstrap("acme");
    const token = await a.call("POST", "/v1/orgs/acme/hosts/tokens", { key, body: { name: "e2e-host" } });
    const hostId = token.body.id as string;
    const daemon = await startDaemon({
      extraArgs: ["--server", servers(a, b).join(","), "--insecure", "--token", token.body.token],
    });
    started.push(daemon);
    await until(async () => (await a.call("GET", `/v1/orgs/acme/hosts/${hostId}`, { key })).body.status === "ONLINE");
    return { a, b, daemon, key, hostId, dispose: disposeAll };
  } catch (err) {
    await disposeAll();
    throw err;
  }
}
