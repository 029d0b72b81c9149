import { createConnection, type Socket } from "node:net";
import { createInterface } from "node:readline";

export class QmpError extends Error {
  readonly errorClass: string;
  constructor(errorClass: string, description: string) {
    super(`QMP ${errorClass}: ${description}`);
    this.name = "QmpError";
    this.errorClass = errorClass;
  }
}

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/**
 * A QEMU Machine Protocol client over the VM's unix socket: one JSON object per line, replies
 * matched by id, asynchronous events delivered to listeners.
 */
export class QmpClient {
  private readonly socket: Socket;
  private readonly pending = new Map<string, Pending>();
  private readonly listeners = new Set<(event: QmpEvent) => void>();
  private counter = 0;
  private closedError: Error | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
  }

  static async connect(path: string, timeoutMs = 5_000): Promise<QmpClient> {
    const socket = createConnection(path);
    const client = new QmpClient(socket);
    const lines = createInterface({ input: socket });
    // QEMU closes the socket on `quit`; without these handlers the reset would crash the process.
    socket.on("error", (err) => client.fail(err));
    lines.on("error", (err) => client.fail(err));
    socket.on("close", () => client.fail(new Error("QMP connection closed")));
    const greeted = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no QMP greeting on ${path} within ${timeoutMs} ms`)), timeoutMs);
      lines.on("line", (line) => {
        let message: Record<string, unknown>;
        try {
          message = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return;
        }
        if ("QMP" in message) {
          clearTimeout(timer);
          resolve();
        } else {
          client.onMessage(message);
        }
      });
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    await greeted;
    await client.execute("qmp_capabilities");
    return client;
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = `fluid-${++this.counter}`;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`);
    });
  }

  onEvent(listener: (event: QmpEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.socket.destroy();
  }

  private onMessage(message: Record<string, unknown>): void {
    if (typeof message.event === "string") {
      for (const listener of this.listeners) listener(message as unknown as QmpEvent);
      return;
    }
    const id = typeof message.id === "string" ? message.id : undefined;
    const waiter = id ? this.pending.get(id) : undefined;
    if (!waiter || !id) return;
    this.pending.delete(id);
    const error = message.error as { class?: string; desc?: string } | undefined;
    if (error) waiter.reject(new QmpError(error.class ?? "GenericError", error.desc ?? "unknown error"));
    else waiter.resolve(message.return);
  }

  private fail(error: Error): void {
    if (this.closedError) return;
    this.closedError = error;
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }
}
