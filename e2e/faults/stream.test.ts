import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, type TestDaemonProcess } from "../lib/daemon.js";
import { startServer, type TestServerProcess } from "../lib/server.js";
import { until } from "../lib/wait.js";
import { report, timed, timeUntil } from "./measure.js";
import { envelope, junkFrames, rawConnect } from "./raw-grpc.js";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.js";

/** gRPC status codes the server may answer a bad message with. */
const REJECTED = new Set([3 /* INVALID_ARGUMENT */, 8 /* RESOURCE_EXHAUSTED */, 13 /* INTERNAL */]);

/**
 * Faults on the host stream, sharing one server, one daemon (reaching the server through a TCP proxy
 * the test can cut) and one running sandbox: a cut stream, junk on the wire, a revoked host token.
 */
describe("faults on the host stream", () => {
  let server: TestServerProcess;
  let proxy: TcpProxy;
  let daemon: TestDaemonProcess;
  let key: string;
  let hostId: string;
  let sandbox: string;
  const exec = (command: string) =>
    server.call("POST", `/v1/orgs/streamfault/sandboxes/${sandbox}/run`, { key, body: { command } });
  const hostStatus = async () =>
    (await server.call("GET", `/v1/orgs/streamfault/hosts/${hostId}`, { key })).body.status as string;

  beforeAll(async () => {
    server = await startServer();
    ({ key } = await server.bootstrap("streamfault"));
    const token = await server.call("POST", "/v1/orgs/streamfault/hosts/tokens", { key, body: { name: "h" } });
    hostId = token.body.id;
    proxy = await startTcpProxy(server.grpc);
    daemon = await startDaemon({ extraArgs: ["--server", proxy.address, "--insecure", "--token", token.body.token] });
    await until(async () => (await hostStatus()) === "ONLINE");
    const created = await server.call("POST", "/v1/orgs/streamfault/sandboxes", {
      key,
      body: { source_vm: "tiny", memory_mb: 256 },
    });
    expect(created.status).toBe(201);
    sandbox = created.body.id;
  });

  afterAll(async () => {
    await daemon?.dispose();
    await proxy?.close();
    await server?.dispose();
  });

  it("a cut stream fails the command in flight fast; the daemon reconnects and the sandbox still runs and answers", async () => {
    const inFlight = timed(() => exec("sleep 60; echo never"));
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const cutAt = performance.now();
    const cut = proxy.sever();
    const failed = await inFlight;
    const failedAfterCutMs = Math.round(performance.now() - cutAt);
    const reconnectMs = await timeUntil(async () => (await exec("echo back")).body.stdout === "back\n", 90_000, 250);
    const state = (await server.call("GET", `/v1/orgs/streamfault/sandboxes/${sandbox}`, { key })).body.state;
    report("stream cut by a proxy", {
      connectionsCut: cut,
      inFlight: { status: failed.value.status, code: failed.value.body?.error?.code, failedAfterCutMs },
      reconnectAndExecMs: reconnectMs,
      sandboxState: state,
    });
    expect(cut).toBeGreaterThan(0);
    expect(failed.value.status).toBe(503);
    expect(failed.value.body.error.code).toBe("host_unavailable");
    expect(failedAfterCutMs).toBeLessThan(5_000);
    expect(state).toBe("RUNNING");
  });

  it("junk frames, an oversized message and invalid protobuf are refused; REST and the real host keep working", async () => {
    const junkToken = await server.call("POST", "/v1/orgs/streamfault/hosts/tokens", { key, body: { name: "junk" } });
    const secret = junkToken.body.token as string;
    const invalidProtobuf = await rawConnect(server.grpc, secret, envelope(Buffer.from([0x0f, 0x01, 0x02])));
    // Only the 5-byte header travels: the declared length alone must be refused, not buffered.
    const oversized = await rawConnect(server.grpc, secret, envelope(Buffer.alloc(0), 64 * 1024 * 1024));
    const junk = await junkFrames(server.grpc);
    const health = await server.call("GET", "/v1/health");
    const status = await hostStatus();
    const run = await exec("echo still");
    report("malformed and oversized protobuf", {
      invalidProtobuf,
      oversized,
      junkFramesClosedMs: junk.closedMs,
      health: health.status,
      realHost: status,
      execAfter: run.body.stdout,
    });
    for (const answer of [invalidProtobuf, oversized]) {
      expect(answer.status === undefined ? answer.error : REJECTED.has(answer.status)).toBe(true);
      expect(answer.ms).toBeLessThan(5_000);
    }
    expect(junk.closedMs).toBeLessThan(5_000);
    expect(health.status).toBe(200);
    expect(status).toBe("ONLINE");
    expect(run.body.stdout).toBe("still\n");
  });

  it("a revoked or unknown token: the stream closes, registration is refused with a clear error, the daemon backs off", async () => {
    const revokedAt = Date.now();
    const marker = daemon.process.output().length;
    const revoked = await server.call("DELETE", `/v1/orgs/streamfault/hosts/tokens/${hostId}`, { key });
    expect(revoked.status).toBeLessThan(300);
    const offlineMs = await timeUntil(async () => (await hostStatus()) === "OFFLINE", 30_000);
    const windowMs = 30_000;
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const lines = daemon.process
      .output()
      .slice(marker)
      .split("\n")
      .filter((line) => line.includes("control-plane stream ended"));
    const refusals = lines.filter((line) => line.includes("revoked"));
    // A token the server never issued (or one rotated away) meets the same refusal, before any message is read.
    const unknown = await rawConnect(server.grpc, "fl_ht_0000000000000000000000000000", envelope(Buffer.alloc(0)));
    report("stale host token", {
      offlineMs,
      attemptsIn30s: lines.length,
      refusalMessage: refusals[0] ? JSON.parse(refusals[0]).message : undefined,
      unknownToken: unknown,
      sinceRevocationMs: Date.now() - revokedAt,
    });
    expect(refusals.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThanOrEqual(8);
    expect(unknown).toMatchObject({
      status: 16 /* UNAUTHENTICATED */,
      message: "host token is invalid, expired or revoked",
    });
    expect(daemon.process.child.exitCode).toBeNull();
  });
});
