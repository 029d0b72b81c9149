import { connect as connectUnix, type Socket } from "node:net";
import { terminalLimits } from "@fluid/proto";
import { BASE_ENV } from "../agent/client.js";
import type { AgentRequests } from "../agent/exec-stream.js";
import { SandboxError } from "../errors.js";
import { TERMINAL_PORTS } from "../vm/qemu.js";

/** What terminals need of a sandbox: a running sandbox's guest agent and its console sockets. */
export interface TerminalHost {
  /** The guest agent of a running sandbox (throws when the sandbox is not running). */
  agent(sandboxId: string): Promise<AgentRequests>;
  /** The unix socket of the sandbox's terminal console port `index` (1..TERMINAL_PORTS). */
  socketPath(sandboxId: string, index: number): Promise<string>;
  connect?: (path: string) => Socket;
  sleep?: (ms: number) => Promise<void>;
}

export type TerminalEndReason = "exited" | "closed" | "sandbox_stopped";

/** Where an open terminal's output and end go (the host stream, as unsolicited messages). */
export interface TerminalSink {
  output(data: Buffer): void;
  closed(reason: TerminalEndReason): void;
}

interface Open {
  sandboxId: string;
  index: number;
  socket: Socket;
  pid: number;
  sink: TerminalSink;
  ended: boolean;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** How often an open terminal's shell is checked for having exited. */
const EXIT_POLL_MS = 500;
/** A hung-up shell that has not gone after this long is killed. */
const HANGUP_GRACE_MS = 3_000;

/**
 * Opens the console as the controlling terminal of a new session, sets its size, and runs the
 * login shell on it. Arguments come through the environment, never spliced into the script; exec
 * keeps one pid from here to the shell, so the agent reports when the shell exits.
 */
const SESSION_SCRIPT = [
  'exec /fluid/busybox setsid -c /fluid/busybox sh -c \'/fluid/busybox stty rows "$FLUID_ROWS" cols "$FLUID_COLS"',
  "unset FLUID_ROWS FLUID_COLS FLUID_TTY",
  "cd",
  "[ -x /bin/bash ] && exec /bin/bash -l",
  'exec /bin/sh -l\' <"$FLUID_TTY" >"$FLUID_TTY" 2>&1',
].join("; ");

function checkSize(cols: number, rows: number): void {
  const ok = (n: number) => Number.isInteger(n) && n >= terminalLimits.minSize && n <= terminalLimits.maxSize;
  if (!ok(cols) || !ok(rows)) {
    throw new SandboxError(
      "invalid_request",
      `cols and rows must be integers from ${terminalLimits.minSize} to ${terminalLimits.maxSize}`,
    );
  }
}

const tty = (index: number) => `/dev/hvc${index}`;

/**
 * PTY sessions in running sandboxes, one per console port: the daemon relays bytes between the
 * port's socket and the control plane, and drives the session through the guest agent.
 */
export class Terminals {
  private readonly open = new Map<string, Open>();
  private readonly host: TerminalHost;

  constructor(host: TerminalHost) {
    this.host = host;
  }

  private sleep(ms: number): Promise<void> {
    return this.host.sleep ? this.host.sleep(ms) : new Promise((resolve) => setTimeout(resolve, ms));
  }

  async start(
    input: { sandboxId: string; terminalId: string; cols: number; rows: number },
    sink: TerminalSink,
  ): Promise<void> {
    if (!ID.test(input.terminalId)) throw new SandboxError("invalid_request", "terminal id must match [A-Za-z0-9_-]");
    if (this.open.has(input.terminalId)) throw new SandboxError("invalid_state", "terminal id already open");
    checkSize(input.cols, input.rows);
    const agent = await this.host.agent(input.sandboxId);
    const used = new Set([...this.open.values()].filter((t) => t.sandboxId === input.sandboxId).map((t) => t.index));
    const index = Array.from({ length: TERMINAL_PORTS }, (_, i) => i + 1).find((i) => !used.has(i));
    if (index === undefined) {
      throw new SandboxError("no_capacity", `a sandbox has at most ${TERMINAL_PORTS} terminals open`);
    }
    const path = await this.host.socketPath(input.sandboxId, index);
    const entry: Open = { sandboxId: input.sandboxId, index, socket: undefined as never, pid: 0, sink, ended: false };
    // Claimed before anything is awaited, so two opens at once never take the same port.
    this.open.set(input.terminalId, entry);
    try {
      entry.socket = await this.connect(path);
      entry.socket.on("data", (data: Buffer) => {
        if (!entry.ended) sink.output(data);
      });
      entry.socket.on("close", () => this.end(input.terminalId, "sandbox_stopped"));
      const { pid } = await agent.request<{ pid: number }>("guest-exec", {
        path: "/fluid/busybox",
        arg: ["sh", "-c", SESSION_SCRIPT, "fluid-terminal"],
        env: [
          ...BASE_ENV,
          "TERM=xterm-256color",
          `FLUID_TTY=${tty(index)}`,
          `FLUID_COLS=${input.cols}`,
          `FLUID_ROWS=${input.rows}`,
        ],
      });
      entry.pid = pid;
    } catch (err) {
      this.open.delete(input.terminalId);
      entry.ended = true;
      entry.socket?.destroy();
      throw err;
    }
    void this.watch(input.terminalId, entry, agent);
  }

  /** Writes keystrokes. Synchronous up to the socket write, so inputs keep the order they came in. */
  async input(sandboxId: string, terminalId: string, data: Buffer): Promise<void> {
    if (data.length > terminalLimits.maxInputBytes) {
      throw new SandboxError("invalid_request", `input is larger than ${terminalLimits.maxInputBytes} bytes`);
    }
    this.get(sandboxId, terminalId).socket.write(data);
  }

  /** Sets the size; the kernel sends SIGWINCH to the terminal's foreground process group itself. */
  async resize(sandboxId: string, terminalId: string, cols: number, rows: number): Promise<void> {
    checkSize(cols, rows);
    const entry = this.get(sandboxId, terminalId);
    const agent = await this.host.agent(sandboxId);
    await this.runToEnd(
      agent,
      [
        "sh",
        "-c",
        '/fluid/busybox stty -F "$FLUID_TTY" rows "$FLUID_ROWS" cols "$FLUID_COLS"',
        "fluid-terminal-resize",
      ],
      [`FLUID_TTY=${tty(entry.index)}`, `FLUID_COLS=${cols}`, `FLUID_ROWS=${rows}`],
    );
  }

  /** Hangs up the session (killing it if it lingers) and frees the port. */
  async close(sandboxId: string, terminalId: string): Promise<void> {
    const entry = this.get(sandboxId, terminalId);
    entry.ended = true;
    this.open.delete(terminalId);
    try {
      const agent = await this.host.agent(sandboxId);
      await this.signal(agent, entry.pid, "HUP");
      const deadline = Date.now() + HANGUP_GRACE_MS;
      while (!(await this.exited(agent, entry.pid))) {
        if (Date.now() > deadline) {
          await this.signal(agent, entry.pid, "KILL");
          break;
        }
        await this.sleep(100);
      }
    } finally {
      entry.socket.destroy();
    }
  }

  /** The terminals open in a sandbox (for tests and the capacity check). */
  count(sandboxId: string): number {
    return [...this.open.values()].filter((t) => t.sandboxId === sandboxId).length;
  }

  /** Ends every terminal (the stream they report to is gone); their shells are hung up. */
  async closeAll(): Promise<void> {
    const all = [...this.open.entries()];
    await Promise.all(all.map(([id, t]) => this.close(t.sandboxId, id).catch(() => undefined)));
  }

  private get(sandboxId: string, terminalId: string): Open {
    const entry = this.open.get(terminalId);
    if (!entry || entry.sandboxId !== sandboxId)
      throw new SandboxError("not_found", `terminal ${terminalId} not found`);
    return entry;
  }

  private connect(path: string): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = this.host.connect ? this.host.connect(path) : connectUnix(path);
      socket.once("connect", () => {
        socket.off("error", reject);
        socket.on("error", () => socket.destroy());
        resolve(socket);
      });
      socket.once("error", reject);
    });
  }

  /** Reports the end once the shell has exited, after a moment for its last output to arrive. */
  private async watch(terminalId: string, entry: Open, agent: AgentRequests): Promise<void> {
    while (!entry.ended) {
      await this.sleep(EXIT_POLL_MS);
      if (entry.ended) return;
      let exited: boolean;
      try {
        exited = await this.exited(agent, entry.pid);
      } catch {
        exited = true;
      }
      if (exited) {
        await this.sleep(100);
        this.end(terminalId, "exited");
      }
    }
  }

  private end(terminalId: string, reason: TerminalEndReason): void {
    const entry = this.open.get(terminalId);
    if (!entry || entry.ended) return;
    entry.ended = true;
    this.open.delete(terminalId);
    entry.socket.destroy();
    entry.sink.closed(reason);
  }

  private async exited(agent: AgentRequests, pid: number): Promise<boolean> {
    return (await agent.request<{ exited: boolean }>("guest-exec-status", { pid })).exited;
  }

  private async signal(agent: AgentRequests, pid: number, signal: "HUP" | "KILL"): Promise<void> {
    await this.runToEnd(agent, ["kill", `-${signal}`, "--", `-${pid}`, `${pid}`], []);
  }

  private async runToEnd(agent: AgentRequests, arg: string[], env: string[]): Promise<void> {
    const { pid } = await agent.request<{ pid: number }>("guest-exec", {
      path: "/fluid/busybox",
      arg,
      env: [...BASE_ENV, ...env],
    });
    for (let i = 0; i < 200 && !(await this.exited(agent, pid)); i++) await this.sleep(20);
  }
}
