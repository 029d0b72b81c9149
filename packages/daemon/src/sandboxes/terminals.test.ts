import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AgentRequests } from "../agent/exec-stream.js";
import { TERMINAL_PORTS } from "../vm/qemu.js";
import { type TerminalEndReason, Terminals } from "./terminals.js";

interface Exec {
  pid: number;
  arg: string[];
  env: string[];
}

/** A guest agent that records guest-exec calls; a pid counts as exited once listed in `exited`. */
class FakeAgent implements AgentRequests {
  execs: Exec[] = [];
  exited = new Set<number>();
  private next = 100;
  /** Commands other than the shell (stty, kill) exit at once. */
  async request<T>(command: string, args: Record<string, unknown> = {}): Promise<T> {
    if (command === "guest-exec") {
      const pid = this.next++;
      const arg = args.arg as string[];
      this.execs.push({ pid, arg, env: args.env as string[] });
      if (arg[3] !== "fluid-terminal") this.exited.add(pid);
      if (arg[0] === "kill") for (const target of arg.slice(3)) this.exited.add(Math.abs(Number(target)));
      return { pid } as T;
    }
    if (command === "guest-exec-status") return { exited: this.exited.has(args.pid as number) } as T;
    throw new Error(`unexpected ${command}`);
  }
  envOf(exec: Exec | undefined): Record<string, string> {
    return Object.fromEntries((exec?.env ?? []).map((entry) => entry.split(/=(.*)/s).slice(0, 2)));
  }
}

describe("Terminals", () => {
  let dir: string;
  let servers: Server[];
  /** What QEMU's side of each console port received, and its connections. */
  let received: Map<number, Buffer>;
  let guests: Map<number, Socket>;
  let agent: FakeAgent;
  let terminals: Terminals;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "fluid-terminals-"));
    received = new Map();
    guests = new Map();
    servers = await Promise.all(
      Array.from({ length: TERMINAL_PORTS }, (_, i) => i + 1).map(
        (index) =>
          new Promise<Server>((resolve) => {
            const server = createServer((socket) => {
              guests.set(index, socket);
              socket.on("data", (data: Buffer) =>
                received.set(index, Buffer.concat([received.get(index) ?? Buffer.alloc(0), data])),
              );
            });
            server.listen(join(dir, `term${index}.sock`), () => resolve(server));
          }),
      ),
    );
    agent = new FakeAgent();
    terminals = new Terminals({
      agent: async (id) => {
        if (id !== "sbx") throw Object.assign(new Error("not running"), { code: "invalid_state" });
        return agent;
      },
      socketPath: async (_id, index) => join(dir, `term${index}.sock`),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 10))),
    });
  });

  afterEach(async () => {
    await terminals.closeAll();
    for (const server of servers) server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const sink = () => {
    const out: Buffer[] = [];
    const ends: TerminalEndReason[] = [];
    return { out, ends, sink: { output: (d: Buffer) => out.push(d), closed: (r: TerminalEndReason) => ends.push(r) } };
  };

  it("starts the login shell on the first free console, its size and tty passed as environment only", async () => {
    await terminals.start({ sandboxId: "sbx", terminalId: "t1", cols: 120, rows: 40 }, sink().sink);
    const shell = agent.execs[0];
    expect(shell?.arg.slice(0, 2)).toEqual(["sh", "-c"]);
    expect(shell?.arg.join(" ")).not.toContain("120");
    expect(agent.envOf(shell)).toMatchObject({ FLUID_TTY: "/dev/hvc1", FLUID_COLS: "120", FLUID_ROWS: "40" });
    await vi.waitFor(() => expect(guests.has(1)).toBe(true));
  });

  it("relays bytes both ways between the caller and the console's socket", async () => {
    const { out, sink: s } = sink();
    await terminals.start({ sandboxId: "sbx", terminalId: "t1", cols: 80, rows: 24 }, s);
    await terminals.input("sbx", "t1", Buffer.from("echo hi\r"));
    await vi.waitFor(() => expect(received.get(1)?.toString()).toBe("echo hi\r"));
    guests.get(1)?.write("hi\r\n");
    await vi.waitFor(() => expect(Buffer.concat(out).toString()).toBe("hi\r\n"));
  });

  it("refuses a fifth terminal in one sandbox with no_capacity, and a bad size with invalid_request", async () => {
    for (let i = 1; i <= TERMINAL_PORTS; i++) {
      await terminals.start({ sandboxId: "sbx", terminalId: `t${i}`, cols: 80, rows: 24 }, sink().sink);
    }
    await expect(
      terminals.start({ sandboxId: "sbx", terminalId: "t5", cols: 80, rows: 24 }, sink().sink),
    ).rejects.toMatchObject({ code: "no_capacity" });
    await expect(
      terminals.start({ sandboxId: "sbx", terminalId: "t6", cols: 0, rows: 24 }, sink().sink),
    ).rejects.toMatchObject({ code: "invalid_request" });
    expect(new Set(agent.execs.map((e) => agent.envOf(e).FLUID_TTY)).size).toBe(TERMINAL_PORTS);
  });

  it("resizes with stty on the terminal's tty, values through the environment", async () => {
    await terminals.start({ sandboxId: "sbx", terminalId: "t1", cols: 80, rows: 24 }, sink().sink);
    await terminals.resize("sbx", "t1", 132, 50);
    const stty = agent.execs[1];
    expect(stty?.arg[2]).toBe('/fluid/busybox stty -F "$FLUID_TTY" rows "$FLUID_ROWS" cols "$FLUID_COLS"');
    expect(agent.envOf(stty)).toMatchObject({ FLUID_TTY: "/dev/hvc1", FLUID_COLS: "132", FLUID_ROWS: "50" });
    await expect(terminals.resize("sbx", "t1", 1001, 50)).rejects.toMatchObject({ code: "invalid_request" });
  });

  it("close hangs up the session's process group and frees the port for the next terminal", async () => {
    await terminals.start({ sandboxId: "sbx", terminalId: "t1", cols: 80, rows: 24 }, sink().sink);
    const shellPid = agent.execs[0]?.pid ?? 0;
    await terminals.close("sbx", "t1");
    expect(agent.execs[1]?.arg).toEqual(["kill", "-HUP", "--", `-${shellPid}`, `${shellPid}`]);
    expect(terminals.count("sbx")).toBe(0);
    await terminals.start({ sandboxId: "sbx", terminalId: "t2", cols: 80, rows: 24 }, sink().sink);
    expect(agent.envOf(agent.execs.at(-1)).FLUID_TTY).toBe("/dev/hvc1");
  });

  it("reports the end once the shell exits, and the terminal is gone", async () => {
    const { ends, sink: s } = sink();
    await terminals.start({ sandboxId: "sbx", terminalId: "t1", cols: 80, rows: 24 }, s);
    agent.exited.add(agent.execs[0]?.pid ?? 0);
    await vi.waitFor(() => expect(ends).toEqual(["exited"]));
    await expect(terminals.input("sbx", "t1", Buffer.from("x"))).rejects.toMatchObject({ code: "not_found" });
  });

  it("a terminal of another sandbox is not found", async () => {
    await terminals.start({ sandboxId: "sbx", terminalId: "t1", cols: 80, rows: 24 }, sink().sink);
    await expect(terminals.input("other", "t1", Buffer.from("x"))).rejects.toMatchObject({ code: "not_found" });
  });
});
