import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { parseServerList, StreamClient, type StreamClientOptions } from "@fluid/daemon/testing-api";
import { createLogger } from "@fluid/server/testing-api";
import { afterEach, describe, expect, it } from "vitest";
import { databaseKinds, openTestDatabase } from "./db.js";
import { startTestServer, type TestServer } from "./harness.js";

/**
 * The sandbox side of the real daemon's stream client, faked: this test is about which control plane
 * it reaches, not about VMs. `reported` is what the next ResourceReport lists.
 */
function fakeHost() {
  const host = {
    reported: [] as Array<{ sandboxId: string; state: "RUNNING"; ip: string; pid: number }>,
    destroyed: [] as Array<{ id: string; reason: string }>,
  };
  const manager = {
    terminals: { closeAll: async () => undefined },
    committedMemoryMb: async () => 0,
    liveCount: async () => host.reported.length,
    statuses: async () => host.reported,
    destroy: async (id: string, reason: string) => {
      host.destroyed.push({ id, reason });
      host.reported = host.reported.filter((s) => s.sandboxId !== id);
    },
  };
  // The client only calls the methods above on the manager for what this test sends it.
  const fakes = {
    manager: manager as unknown as StreamClientOptions["manager"],
    images: {
      names: async () => ["tiny"],
      resolve: async () => {
        throw new Error("no images on this fake host");
      },
    },
  };
  return { host, fakes };
}

/** A listener that accepts connections and never answers: a replica hung or behind a black hole. */
async function silentListener() {
  const sockets: Socket[] = [];
  const server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    address: `127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const grpcAddress = (server: TestServer) => server.grpcUrl.replace("http://", "");

describe.each(databaseKinds)("daemon failover between two control planes on one %s database", (kind) => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it("registers with the first live address, and with the other within the backoff bound once that one closes", async () => {
    const database = await openTestDatabase(kind);
    cleanup.push(() => database.close());
    const a = await startTestServer(kind, { sharedDatabase: database });
    const b = await startTestServer(kind, { sharedDatabase: database });
    let aClosed = false;
    cleanup.push(() => b.close());
    cleanup.push(async () => {
      if (!aClosed) await a.close();
    });
    const hung = await silentListener();
    cleanup.push(() => hung.close());
    const stateDir = await mkdtemp(join(tmpdir(), "fluid-failover-"));
    cleanup.push(() => rm(stateDir, { recursive: true, force: true }));

    const owner = await a.fastUser("owner");
    await a.org({ cookie: owner.cookie }, "acme");
    const token = await a.hostToken({ cookie: owner.cookie }, "acme");
    const { host, fakes } = fakeHost();
    // What the daemon logs of each attempt, in order: "registered A", "ended A DeadlineExceeded", …
    const attempts: string[] = [];
    const streamEnds: number[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        const line = JSON.parse(chunk.toString());
        if (line.msg === "registered with the control plane") attempts.push(`registered ${line.server}`);
        if (line.msg === "control-plane stream ended") {
          attempts.push(`ended ${line.server}${line.code ? ` ${line.code}` : ""}`);
          streamEnds.push(Date.now());
        }
        done();
      },
    });
    const connectTimeoutMs = 1_500;
    const client = new StreamClient({
      servers: parseServerList(`${hung.address},${grpcAddress(a)},${grpcAddress(b)}`),
      token: token.token,
      insecure: true,
      stateDir,
      log: createLogger({ level: "info" }, sink),
      connectTimeoutMs,
      ...fakes,
    });
    const started = Date.now();
    const first = client.connected();
    const running = client.run();
    cleanup.push(async () => {
      client.stop();
      await running;
    });

    // The hung replica costs one connect timeout, no more: one attempt, then straight to the next address.
    await first;
    expect(attempts).toEqual([`ended ${hung.address} DeadlineExceeded`, `registered ${grpcAddress(a)}`]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(connectTimeoutMs);
    expect(Date.now() - started).toBeLessThan(connectTimeoutMs + 5_000);
    expect(client.hostId).toBe(token.id);
    expect(a.server.ctx.hosts.local.isConnected(token.id)).toBe(true);
    expect(b.server.ctx.hosts.local.isConnected(token.id)).toBe(false);

    // While disconnected the host keeps a sandbox the control plane never knew; the new owner reconciles it away.
    host.reported = [{ sandboxId: "0190aaaa-0000-7000-8000-000000000001", state: "RUNNING", ip: "10.0.0.9", pid: 1 }];
    const second = client.connected();
    attempts.length = 0;
    streamEnds.length = 0;
    aClosed = true;
    await a.close();
    await second;
    // After a stable stream is lost the daemon waits at most the first backoff step (1 s), then tries B first.
    const [lost] = streamEnds;
    expect(lost).toBeDefined();
    expect(Date.now() - (lost ?? 0)).toBeLessThan(1_000 + connectTimeoutMs);
    expect(b.server.ctx.hosts.local.isConnected(token.id)).toBe(true);
    expect(attempts).toEqual([`ended ${grpcAddress(a)} Unavailable`, `registered ${grpcAddress(b)}`]);
    await expect
      .poll(() => host.destroyed, { timeout: 5_000 })
      .toEqual([{ id: "0190aaaa-0000-7000-8000-000000000001", reason: "reconciled" }]);
  });
});
