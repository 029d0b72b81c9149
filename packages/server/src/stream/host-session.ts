import { create } from "@bufbuild/protobuf";
import {
  type CommandOutput,
  type ControlMessage,
  ControlMessageSchema,
  type HostMessage,
  type TerminalClosed,
  type TerminalOutput,
} from "@fluid/proto";
import { AppError } from "../http/errors.js";
import { newId } from "../lib/ids.js";
import type { Logger } from "../log/logger.js";
import type { CommandObserver, CommandOutcome } from "../metrics/metrics.js";
import { CommandTimeoutError, HostCommandError, StreamClosedError } from "./errors.js";

/** A command the control plane can send (everything but the registration ack). */
export type Command = Exclude<ControlMessage["payload"], { case: "registrationAck" | undefined }>;

interface Pending {
  command: string;
  resolve(reply: HostMessage): void;
  reject(err: Error): void;
  ended(outcome: CommandOutcome): void;
  timer: NodeJS.Timeout | undefined;
  timeoutMs: number;
  onProgress: (() => void) | undefined;
  onOutput: ((output: CommandOutput) => void) | undefined;
}

export const MAX_PENDING_PER_HOST = 1024;

/** Who hears an open terminal's output and end (sent by the host unsolicited, by terminal id). */
export interface TerminalWatcher {
  output(data: Uint8Array): void;
  /** reason is the host's ("exited", "closed", "sandbox_stopped") or why the stream ended. */
  closed(reason: string): void;
}

/**
 * One live stream to one host. Sends go through a single queue that the stream's response
 * generator drains, so writes never interleave; every command has a request_id, a deadline, and
 * exactly one outcome (reply, ErrorReport, timeout, or the stream closing).
 */
export class HostSession {
  readonly connectionId = newId();
  readonly connectedAt = new Date();
  readonly hostId: string;
  readonly orgId: string;
  private readonly log: Logger;
  private readonly queue: ControlMessage[] = [];
  private readonly pending = new Map<string, Pending>();
  private readonly terminals = new Map<string, TerminalWatcher>();
  private wake: (() => void) | undefined;
  private closedWith: StreamClosedError | undefined;
  private livenessTimer: NodeJS.Timeout | undefined;
  private readonly livenessMs: number;
  private readonly observe: CommandObserver | undefined;
  private work: Promise<void> = Promise.resolve();

  constructor(init: { hostId: string; orgId: string; log: Logger; livenessMs: number; observe?: CommandObserver }) {
    this.hostId = init.hostId;
    this.observe = init.observe;
    this.orgId = init.orgId;
    this.log = init.log;
    this.livenessMs = init.livenessMs;
    this.touch();
  }

  get closed(): StreamClosedError | undefined {
    return this.closedWith;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Any message from the host proves it alive; silence for the liveness window closes the stream. */
  touch(): void {
    if (this.closedWith) return;
    clearTimeout(this.livenessTimer);
    this.livenessTimer = setTimeout(() => this.close(new StreamClosedError("heartbeat_timeout")), this.livenessMs);
    this.livenessTimer.unref();
  }

  /**
   * Sends a command and resolves with the host's reply, or rejects with why there is none.
   * `onProgress` hears of each progress report that restarted the deadline; `onOutput` of each
   * piece of a streamed command's output, in the order the host sent them.
   */
  request(
    command: Command,
    timeoutMs: number,
    onProgress?: () => void,
    onOutput?: (output: CommandOutput) => void,
  ): Promise<HostMessage> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (this.pending.size >= MAX_PENDING_PER_HOST) {
      return Promise.reject(new AppError("host_unavailable", "host has too many commands in flight; retry shortly"));
    }
    const requestId = newId();
    return new Promise<HostMessage>((resolve, reject) => {
      const ended = this.observe?.(command.case) ?? (() => undefined);
      const waiter: Pending = {
        command: command.case,
        resolve,
        reject,
        ended,
        timer: undefined,
        timeoutMs,
        onProgress,
        onOutput,
      };
      this.pending.set(requestId, waiter);
      this.arm(requestId, waiter);
      this.push(create(ControlMessageSchema, { requestId, payload: command }));
    });
  }

  /**
   * The host reported progress on a command: its deadline starts again, so a long pull that keeps
   * moving is not failed for taking longer than one deadline, while a stalled one still is.
   */
  progressed(requestId: string): void {
    const waiter = this.pending.get(requestId);
    if (!waiter) return;
    this.arm(requestId, waiter);
    waiter.onProgress?.();
  }

  /** A piece of a streamed command's output: not a reply, and output does not move the deadline. */
  output(requestId: string, output: CommandOutput): void {
    this.pending.get(requestId)?.onOutput?.(output);
  }

  /** Routes an open terminal's output and end to `watcher` until it ends or is unwatched. */
  watchTerminal(terminalId: string, watcher: TerminalWatcher): void {
    if (this.closedWith) watcher.closed(this.closedWith.reason);
    else this.terminals.set(terminalId, watcher);
  }

  unwatchTerminal(terminalId: string): void {
    this.terminals.delete(terminalId);
  }

  terminalOutput(output: TerminalOutput): void {
    this.terminals.get(output.terminalId)?.output(output.data);
  }

  terminalClosed(closed: TerminalClosed): void {
    const watcher = this.terminals.get(closed.terminalId);
    this.terminals.delete(closed.terminalId);
    watcher?.closed(closed.reason);
  }

  private arm(requestId: string, waiter: Pending): void {
    clearTimeout(waiter.timer);
    waiter.timer = setTimeout(() => {
      if (!this.pending.delete(requestId)) return;
      waiter.ended("timeout");
      waiter.reject(new CommandTimeoutError(waiter.command, waiter.timeoutMs));
    }, waiter.timeoutMs);
    waiter.timer.unref();
  }

  /** Sends without expecting a reply (used for the registration ack). */
  push(message: ControlMessage): void {
    if (this.closedWith) return;
    this.queue.push(message);
    this.wake?.();
  }

  /** Routes a reply to its waiter. Late or unknown replies (after a timeout) are dropped and logged. */
  deliver(message: HostMessage): boolean {
    const waiter = message.requestId ? this.pending.get(message.requestId) : undefined;
    if (!waiter) {
      this.log.debug(
        { hostId: this.hostId, requestId: message.requestId, kind: message.payload.case },
        "reply with no waiter",
      );
      return false;
    }
    this.pending.delete(message.requestId);
    clearTimeout(waiter.timer);
    waiter.ended(message.payload.case === "errorReport" ? "host_error" : "ok");
    if (message.payload.case === "errorReport") {
      const report = message.payload.value;
      waiter.reject(new HostCommandError(report.code || "host_error", report.error || "host reported an error"));
    } else {
      waiter.resolve(message);
    }
    return true;
  }

  /** Runs DB work for this host in arrival order without blocking reads of replies. */
  enqueueWork(job: () => Promise<void>): void {
    this.work = this.work
      .then(job)
      .catch((err: unknown) => this.log.error({ err, hostId: this.hostId }, "host event handling failed"));
  }

  async drainWork(): Promise<void> {
    await this.work;
  }

  /** Ends the stream: every in-flight command fails now, with the reason, instead of at its deadline. */
  close(reason: StreamClosedError): void {
    if (this.closedWith) return;
    this.closedWith = reason;
    clearTimeout(this.livenessTimer);
    for (const [id, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      waiter.ended("stream_closed");
      waiter.reject(reason);
      this.pending.delete(id);
    }
    for (const [id, watcher] of this.terminals) {
      this.terminals.delete(id);
      watcher.closed(reason.reason);
    }
    this.wake?.();
  }

  /** The outgoing half of the stream: yields queued messages until the session closes. */
  async *outbox(): AsyncGenerator<ControlMessage> {
    for (;;) {
      const next = this.queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.closedWith) {
        if (this.closedWith.reason === "host_disconnected") return;
        throw this.closedWith.toConnectError();
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }
}
