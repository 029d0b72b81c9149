/**
 * The dashboard's side of the terminal WebSocket (`GET /v1/orgs/{slug}/sandboxes/{id}/terminal`):
 * binary frames carry terminal bytes both ways, text frames carry JSON control messages.
 */

export interface TerminalSize {
  cols: number;
  rows: number;
}

/** Why a terminal stopped; `refused` and `lost` are told apart by whether the socket ever opened. */
export type TerminalEnd =
  | { kind: "exited" }
  | { kind: "error"; code: string; message: string }
  | { kind: "refused" }
  | { kind: "lost" }
  | { kind: "closed" };

/** What the module needs of a WebSocket, so tests can hand it a fake. */
export interface SocketLike {
  binaryType: BinaryType;
  readonly readyState: number;
  send(data: string | Uint8Array<ArrayBuffer>): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
}

export interface TerminalHandlers {
  open(): void;
  output(data: Uint8Array): void;
  /** Called once, whatever ended the terminal. */
  end(end: TerminalEnd): void;
}

export interface TerminalConnection {
  /** Keystrokes as xterm reports them (a string of UTF-8 text). */
  write(text: string): void;
  /** Raw bytes (xterm's onBinary: mouse reports in legacy encodings, one char per byte). */
  writeBinary(latin1: string): void;
  resize(size: TerminalSize): void;
  /** The person closed it: the server hangs the shell up. */
  close(): void;
}

const OPEN = 1;
const encoder = new TextEncoder();

/** Same origin as the page, `wss:` when the page came over HTTPS. */
export function terminalUrl(
  location: Pick<Location, "protocol" | "host">,
  org: string,
  sandboxId: string,
  size: TerminalSize,
): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = new URLSearchParams({ cols: String(size.cols), rows: String(size.rows) });
  const path = `/v1/orgs/${encodeURIComponent(org)}/sandboxes/${encodeURIComponent(sandboxId)}/terminal`;
  return `${scheme}//${location.host}${path}?${query}`;
}

/**
 * Opens the socket and relays. The starting size goes in the URL, so the shell never runs at a
 * size the page does not show; later sizes are sent only when they change.
 */
export function connectTerminal(
  url: string,
  size: TerminalSize,
  handlers: TerminalHandlers,
  makeSocket: (url: string) => SocketLike = (u) => new WebSocket(u),
): TerminalConnection {
  const socket = makeSocket(url);
  socket.binaryType = "arraybuffer";
  let opened = false;
  let ended = false;
  let told: TerminalEnd | undefined;
  let current = size;

  const finish = (end: TerminalEnd) => {
    if (ended) return;
    ended = true;
    handlers.end(end);
  };
  const send = (data: string | Uint8Array<ArrayBuffer>) => {
    if (!ended && socket.readyState === OPEN) socket.send(data);
  };

  socket.onopen = () => {
    opened = true;
    handlers.open();
  };
  socket.onmessage = (event) => {
    if (event.data instanceof ArrayBuffer) {
      handlers.output(new Uint8Array(event.data));
      return;
    }
    const control = parseControl(String(event.data));
    if (control) told = control;
  };
  // Browsers hide why an upgrade was refused (the HTTP error reply): only that it never opened.
  socket.onclose = () => finish(told ?? (opened ? { kind: "lost" } : { kind: "refused" }));

  return {
    write: (text) => send(encoder.encode(text)),
    writeBinary: (latin1) => send(Uint8Array.from(latin1, (c) => c.charCodeAt(0) & 0xff)),
    resize: (next) => {
      if (next.cols === current.cols && next.rows === current.rows) return;
      current = next;
      send(JSON.stringify({ type: "resize", cols: next.cols, rows: next.rows }));
    },
    close: () => {
      finish({ kind: "closed" });
      socket.close(1000, "closed by the user");
    },
  };
}

function parseControl(text: string): TerminalEnd | undefined {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof message !== "object" || message === null) return undefined;
  const { type, code, message: detail } = message as Record<string, unknown>;
  if (type === "exit") return { kind: "exited" };
  if (type === "error") return { kind: "error", code: String(code ?? "internal"), message: String(detail ?? "") };
  return undefined;
}

/** The sentence the page shows when a terminal ends. */
export function endMessage(end: TerminalEnd): string {
  switch (end.kind) {
    case "exited":
      return "The shell exited.";
    case "error":
      return `The terminal failed (${end.code}): ${end.message}`;
    case "refused":
      return (
        "The server refused the terminal: the sandbox may no longer be running, you may not be allowed to " +
        "run commands in it, or it already has 4 terminals open."
      );
    case "lost":
      return "The connection to the terminal was lost.";
    case "closed":
      return "Terminal closed.";
  }
}
