import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { GuestAgent } from "./client.js";

/**
 * A stand-in for qemu-ga speaking the same wire protocol (one JSON request per line, replies in
 * order, 0xFF before a guest-sync-delimited reply), to test the client's framing and sequencing.
 */
class FakeAgent {
  server: Server;
  requests: Array<{ execute: string; arguments?: Record<string, any> }> = [];
  files = new Map<string, Buffer>();
  handles = new Map<number, { path: string; data: Buffer[]; offset: number }>();
  execs = new Map<number, { polls: number; out: string; code: number; signal?: number }>();
  staleBeforeSync = true;
  pidCounter = 100;
  /** Until start() is called the agent has not opened its port: QEMU holds what the host sends. */
  held: Array<() => void> | undefined;

  constructor(path: string) {
    this.server = createServer((socket) => this.serve(socket));
    this.server.listen(path);
  }

  startLate() {
    this.held = [];
  }

  /** Reads what was held, in order and a chunk at a time, as qemu-ga does once it opens the port. */
  start() {
    const next = this.held?.shift();
    if (!next) {
      this.held = undefined;
      return;
    }
    next();
    setTimeout(() => this.start(), 20);
  }

  private serve(socket: Socket) {
    let buffer = "";
    socket.on("data", (chunk: Buffer) => {
      if (this.held) this.held.push(() => read(chunk));
      else read(chunk);
    });
    const read = (chunk: Buffer) => {
      buffer += chunk.toString("latin1").replaceAll("\xff", "");
      let newline = buffer.indexOf("\n");
      while (newline !== -1) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        this.handle(socket, JSON.parse(line));
        newline = buffer.indexOf("\n");
      }
    };
  }

  private handle(socket: Socket, request: { execute: string; arguments?: Record<string, any> }) {
    this.requests.push(request);
    const reply = (value: unknown) => socket.write(`${JSON.stringify({ return: value })}\n`);
    const args = request.arguments ?? {};
    switch (request.execute) {
      case "guest-sync-delimited":
        if (this.staleBeforeSync) socket.write(`${JSON.stringify({ return: 12345 })}\n`);
        socket.write(Buffer.concat([Buffer.from([0xff]), Buffer.from(`${JSON.stringify({ return: args.id })}\n`)]));
        return;
      case "guest-exec": {
        const pid = ++this.pidCounter;
        const command = String(args.arg.at(-1));
        if (args.arg[0] === "kill") {
          const target = this.execs.get(-Number(args.arg.at(-1)));
          if (target) target.signal = 9;
          return reply({ pid });
        }
        this.execs.set(pid, {
          polls: command.includes("sleep") ? 1_000_000 : 2,
          out: `out:${command}`,
          code: command === "false" ? 1 : 0,
        });
        return reply({ pid });
      }
      case "guest-exec-status": {
        const exec = this.execs.get(args.pid);
        if (!exec)
          return socket.write(`${JSON.stringify({ error: { class: "GenericError", desc: "no such pid" } })}\n`);
        if (exec.signal) return reply({ exited: true, signal: exec.signal });
        if (--exec.polls > 0) return reply({ exited: false });
        return reply({ exited: true, exitcode: exec.code, "out-data": Buffer.from(exec.out).toString("base64") });
      }
      case "guest-file-open": {
        const handle = this.handles.size + 1;
        this.handles.set(handle, { path: args.path, data: [], offset: 0 });
        if (args.mode === "r" && !this.files.has(args.path)) {
          return socket.write(`${JSON.stringify({ error: { class: "GenericError", desc: "No such file" } })}\n`);
        }
        return reply(handle);
      }
      case "guest-file-read": {
        const h = this.handles.get(args.handle)!;
        const file = this.files.get(h.path) ?? Buffer.alloc(0);
        const chunk = file.subarray(h.offset, h.offset + args.count);
        h.offset += chunk.length;
        return reply({ count: chunk.length, "buf-b64": chunk.toString("base64"), eof: h.offset >= file.length });
      }
      case "guest-file-write": {
        const h = this.handles.get(args.handle)!;
        h.data.push(Buffer.from(args["buf-b64"], "base64"));
        return reply({ count: 0, eof: false });
      }
      case "guest-file-flush":
        return reply({});
      case "guest-file-close": {
        const h = this.handles.get(args.handle)!;
        if (h.data.length > 0) this.files.set(h.path, Buffer.concat(h.data));
        return reply({});
      }
      default:
        return reply({});
    }
  }

  close() {
    return new Promise((resolve) => this.server.close(resolve));
  }
}

describe("GuestAgent", () => {
  let dir: string;
  let fake: FakeAgent;
  let agent: GuestAgent | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "fluid-qga-"));
    fake = new FakeAgent(join(dir, "agent.sock"));
  });

  afterEach(async () => {
    agent?.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("syncs past stale replies before the 0xFF delimiter", async () => {
    agent = await GuestAgent.connect(join(dir, "agent.sock"), 5_000);
    await agent.ping();
    expect(fake.requests.map((r) => r.execute)).toEqual(["guest-sync-delimited", "guest-ping"]);
  });

  it("an agent that starts late answers every sync sent meanwhile; only the last ends the sync", async () => {
    fake.startLate();
    vi.useFakeTimers({ toFake: ["setTimeout"] });
    const connecting = GuestAgent.connect(join(dir, "agent.sock"), 60_000);
    const heldWrites = (count: number) => vi.waitUntil(() => (fake.held?.length ?? 0) >= count, { interval: 1 });
    await heldWrites(1);
    // The client sends a new sync every 10 s while nothing answers.
    for (const count of [2, 3]) {
      await vi.advanceTimersByTimeAsync(10_000);
      await heldWrites(count);
    }
    vi.useRealTimers();
    fake.start();
    agent = await connecting;
    expect(await agent.request("guest-info")).toEqual({});
    expect(fake.requests.map((r) => r.execute)).toEqual([
      "guest-sync-delimited",
      "guest-sync-delimited",
      "guest-sync-delimited",
      "guest-info",
    ]);
  });

  it("runs a command in its own session via busybox setsid and returns its output and exit code", async () => {
    agent = await GuestAgent.connect(join(dir, "agent.sock"), 5_000);
    const result = await agent.exec({ command: "false", timeoutMs: 5_000, maxOutputBytes: 1024, env: { FOO: "bar" } });
    expect(result.exitCode).toBe(1);
    expect(result.stdout.toString()).toBe("out:false");
    const exec = fake.requests.find((r) => r.execute === "guest-exec");
    expect(exec?.arguments?.arg).toEqual(["setsid", "/bin/sh", "-c", "false"]);
    expect(exec?.arguments?.env).toContain("FOO=bar");
  });

  it("caps output and flags the truncation", async () => {
    agent = await GuestAgent.connect(join(dir, "agent.sock"), 5_000);
    const result = await agent.exec({ command: "echo a-long-line", timeoutMs: 5_000, maxOutputBytes: 4 });
    expect(result.stdout.toString()).toBe("out:");
    expect(result.stdoutTruncated).toBe(true);
  });

  it("kills the whole process group at the timeout and reports timed_out", async () => {
    agent = await GuestAgent.connect(join(dir, "agent.sock"), 5_000);
    const result = await agent.exec({ command: "sleep 100", timeoutMs: 100, maxOutputBytes: 1024 });
    expect(result.timedOut).toBe(true);
    expect(result.exitCode).toBe(137);
    const kill = fake.requests.find((r) => r.execute === "guest-exec" && r.arguments?.arg[0] === "kill");
    expect(kill?.arguments?.arg).toEqual(["kill", "-KILL", "--", `-${fake.pidCounter - 1}`]);
  });

  it("round-trips binary files through guest-file-*", async () => {
    agent = await GuestAgent.connect(join(dir, "agent.sock"), 5_000);
    const data = Buffer.from([0, 255, 1, 254, 10, 13, 0]);
    await agent.writeFile("/tmp/bin", data);
    const read = await agent.readFile("/tmp/bin", 1024);
    expect(read.data.equals(data)).toBe(true);
    expect(read.truncated).toBe(false);
  });

  it("reports guest errors with their class", async () => {
    agent = await GuestAgent.connect(join(dir, "agent.sock"), 5_000);
    await expect(agent.readFile("/nope", 10)).rejects.toThrow(/GenericError: No such file/);
  });

  it("fails the connect when nothing answers in time", async () => {
    const silent = createServer((socket) => socket.resume());
    const path = join(dir, "silent.sock");
    await new Promise<void>((resolve) => silent.listen(path, resolve));
    await expect(GuestAgent.connect(path, 300)).rejects.toThrow(/did not answer/);
    await new Promise((resolve) => silent.close(resolve));
  });
});
