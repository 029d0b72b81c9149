import { errorStatus, isErrorCode } from "@fluid/proto";
import WebSocket from "ws";
import { FluidError, fluidError } from "./errors.js";

export interface OpenTerminalRequest {
  /** The server's base URL (http or https), as given to createClient. */
  baseUrl: string;
  /** An API key; or `cookie` for a browser-style session. */
  apiKey?: string;
  cookie?: string;
  /** The org's slug and the sandbox's id. */
  org: string;
  sandbox: string;
  cols?: number;
  rows?: number;
}

/** An open terminal: a login shell in the sandbox with the terminal as its controlling tty. */
export interface Terminal {
  /** Sends keystrokes (bytes, or text as UTF-8). */
  write(data: Uint8Array | string): void;
  /** Sets the terminal's size; the shell's foreground program gets SIGWINCH. */
  resize(cols: number, rows: number): void;
  /** Calls `listener` with every piece of output, in order; returns a function that stops it. */
  onData(listener: (data: Uint8Array) => void): () => void;
  /** Hangs the session up. */
  close(): void;
  /**
   * Resolves when the terminal ends: the shell exited, or the client closed it. Rejects with a
   * FluidError when the server ended it with an error (the sandbox stopped, its host went away).
   */
  exited: Promise<void>;
}

/**
 * Opens a terminal over the server's WebSocket endpoint. A refusal (authentication, permission,
 * a sandbox not running, `no_capacity`) rejects with the same FluidError subclass as REST calls.
 */
export function openTerminal(request: OpenTerminalRequest): Promise<Terminal> {
  const url = new URL(
    `/v1/orgs/${encodeURIComponent(request.org)}/sandboxes/${encodeURIComponent(request.sandbox)}/terminal`,
    request.baseUrl.replace(/^http/, "ws"),
  );
  url.searchParams.set("cols", String(request.cols ?? 80));
  url.searchParams.set("rows", String(request.rows ?? 24));
  const headers: Record<string, string> = {};
  if (request.apiKey) headers.authorization = `Bearer ${request.apiKey}`;
  if (request.cookie) headers.cookie = request.cookie;
  const socket = new WebSocket(url, { headers });
  const listeners = new Set<(data: Uint8Array) => void>();
  /** Output that came before anyone listened is kept for the first listener (a shell's first prompt). */
  const early: Uint8Array[] = [];
  let failure: FluidError | undefined;
  const exited = new Promise<void>((resolve, reject) => {
    socket.on("close", () => (failure ? reject(failure) : resolve()));
  });
  // A caller that never awaits `exited` must not see an unhandled rejection.
  exited.catch(() => undefined);
  socket.on("message", (data: Buffer, isBinary: boolean) => {
    if (isBinary) {
      if (listeners.size === 0) early.push(data);
      for (const listener of listeners) listener(data);
      return;
    }
    const message = parse(data.toString("utf8"));
    if (message?.type === "error") {
      const code = isErrorCode(message.code) ? message.code : "internal";
      failure = fluidError(errorStatus[code] ?? 500, code, message.message ?? "terminal failed");
    }
  });
  const terminal: Terminal = {
    write: (data) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(typeof data === "string" ? Buffer.from(data) : data);
    },
    resize: (cols, rows) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "resize", cols, rows }));
    },
    onData: (listener) => {
      listeners.add(listener);
      for (const data of early.splice(0)) listener(data);
      return () => listeners.delete(listener);
    },
    close: () => socket.close(1000),
    exited,
  };
  return new Promise((resolve, reject) => {
    socket.once("open", () => resolve(terminal));
    socket.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on("end", () => {
        const error = (parse(body) as { error?: { code?: string; message?: string } } | undefined)?.error;
        const code = isErrorCode(error?.code) ? error.code : "internal";
        reject(fluidError(res.statusCode ?? 500, code, error?.message ?? `upgrade refused (${res.statusCode})`));
      });
    });
    socket.once("error", (err) => reject(err instanceof FluidError ? err : new Error(`terminal: ${err.message}`)));
  });
}

function parse(text: string): { type?: string; code?: string; message?: string } | undefined {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
