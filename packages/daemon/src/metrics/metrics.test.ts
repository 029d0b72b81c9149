import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { listenForMetrics, refusal } from "./listener.js";
import { DaemonMetrics } from "./metrics.js";

const TOKEN = "daemon-metrics-token-0123";

function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

describe("the daemon's metrics", () => {
  const closers: Array<() => void> = [];
  afterEach(() => {
    for (const close of closers.splice(0)) close();
  });

  const serve = async (metrics: DaemonMetrics, token?: string) => {
    const server = await listenForMetrics(metrics.registry, { host: "127.0.0.1", port: 0 }, token);
    closers.push(() => server.close());
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return async (path = "/metrics", headers: Record<string, string> = {}) => {
      const response = await fetch(`${url}${path}`, { headers });
      return { status: response.status, text: await response.text(), type: response.headers.get("content-type") };
    };
  };

  it("exports sandbox states, host usage, stream state, boots, execs and commands as they happen", async () => {
    let connected = false;
    let running = 0;
    const metrics = new DaemonMetrics({
      sandboxStates: async () => ({ RUNNING: running, STOPPED: 1 }),
      usage: async () => ({
        cpus: 8,
        allocatableMemoryMb: 4096,
        committedMemoryMb: 512 * running,
        totalDiskMb: 1000,
        availableDiskMb: 400,
      }),
      streamConnected: () => connected,
    });
    const scrape = await serve(metrics);

    const before = await scrape();
    expect(before.status).toBe(200);
    expect(before.type).toMatch(/^text\/plain/);
    expect(sample(before.text, "fluid_daemon_sandboxes", { state: "RUNNING" })).toBe(0);
    expect(sample(before.text, "fluid_daemon_stream_connected")).toBe(0);
    expect(sample(before.text, "fluid_daemon_cpus")).toBe(8);
    expect(sample(before.text, "fluid_daemon_disk_available_bytes")).toBe(400 * 2 ** 20);

    running = 2;
    connected = true;
    metrics.booted(1.5, "cold");
    metrics.booted(0.3, "resume");
    metrics.executed(0.02, "ok");
    metrics.executed(4, "error");
    metrics.commandHandled("createSandbox", "ok");
    metrics.commandHandled("createSandbox", "ok");
    metrics.commandHandled("runCommand", "error");
    const after = (await scrape()).text;
    expect(sample(after, "fluid_daemon_sandboxes", { state: "RUNNING" })).toBe(2);
    expect(sample(after, "fluid_daemon_sandboxes", { state: "STOPPED" })).toBe(1);
    expect(sample(after, "fluid_daemon_memory_committed_bytes")).toBe(1024 * 2 ** 20);
    expect(sample(after, "fluid_daemon_memory_allocatable_bytes")).toBe(4096 * 2 ** 20);
    expect(sample(after, "fluid_daemon_stream_connected")).toBe(1);
    expect(sample(after, "fluid_daemon_boot_to_agent_seconds_count", { from: "cold" })).toBe(1);
    expect(sample(after, "fluid_daemon_boot_to_agent_seconds_bucket", { from: "cold", le: "2" })).toBe(1);
    expect(sample(after, "fluid_daemon_boot_to_agent_seconds_bucket", { from: "cold", le: "1" })).toBe(0);
    expect(sample(after, "fluid_daemon_exec_duration_seconds_count", { outcome: "error" })).toBe(1);
    expect(sample(after, "fluid_daemon_commands_total", { kind: "createSandbox", outcome: "ok" })).toBe(2);
    expect(sample(after, "fluid_daemon_commands_total", { kind: "runCommand", outcome: "error" })).toBe(1);
    expect(sample(after, "process_resident_memory_bytes")).toBeGreaterThan(0);

    connected = false;
    expect(sample((await scrape()).text, "fluid_daemon_stream_connected")).toBe(0);
    const other = await scrape("/other");
    expect(other.status).toBe(404);
    expect(JSON.parse(other.text).error.code).toBe("not_found");
  });

  it("with a token answers only a request bearing it", async () => {
    const metrics = new DaemonMetrics({
      sandboxStates: async () => ({}),
      usage: async () => ({
        cpus: 1,
        allocatableMemoryMb: 1,
        committedMemoryMb: 0,
        totalDiskMb: 1,
        availableDiskMb: 1,
      }),
    });
    const scrape = await serve(metrics, TOKEN);
    const none = await scrape();
    expect(none.status).toBe(401);
    expect(JSON.parse(none.text).error.code).toBe("unauthenticated");
    expect((await scrape("/metrics", { authorization: "Bearer not-the-right-token" })).status).toBe(403);
    const ok = await scrape("/metrics", { authorization: `Bearer ${TOKEN}` });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain("fluid_daemon_commands_total");
    // Standalone (no stream): the series is left out rather than reported as disconnected.
    expect(sample(ok.text, "fluid_daemon_stream_connected")).toBeUndefined();
  });

  it("without a token refuses every client but loopback; with one, any client bearing it", () => {
    for (const address of ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"]) {
      expect(refusal(undefined, undefined, address)).toBeUndefined();
    }
    for (const address of ["10.0.0.5", "::ffff:192.0.2.1", "fe80::1", "", undefined]) {
      expect(refusal(undefined, undefined, address)?.[0]).toBe(403);
    }
    expect(refusal(TOKEN, `Bearer ${TOKEN}`, "203.0.113.9")).toBeUndefined();
    expect(refusal(TOKEN, undefined, "127.0.0.1")?.[0]).toBe(401);
  });
});
