import { describe, expect, it } from "vitest";
import { connectTerminal, endMessage, type SocketLike, type TerminalEnd, terminalUrl } from "./terminal-socket";

/** Records what the module sends; the test plays the server by calling the handlers. */
class FakeSocket implements SocketLike {
  binaryType: BinaryType = "blob";
  readyState = 0;
  sent: (string | Uint8Array)[] = [];
  closedWith: [number | undefined, string | undefined] | undefined;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;

  send(data: string | Uint8Array<ArrayBuffer>): void {
    this.sent.push(data);
  }
  close(code?: number, reason?: string): void {
    this.closedWith = [code, reason];
    this.readyState = 3;
  }
  serverOpens() {
    this.readyState = 1;
    this.onopen?.(new Event("open"));
  }
  serverSends(data: string | ArrayBuffer) {
    this.onmessage?.(new MessageEvent("message", { data }));
  }
  serverCloses() {
    this.readyState = 3;
    this.onclose?.(new CloseEvent("close"));
  }
}

function setup() {
  const socket = new FakeSocket();
  const seen = { urls: [] as string[], opened: 0, output: [] as string[], ends: [] as TerminalEnd[] };
  const connection = connectTerminal(
    "ws://example.test/t",
    { cols: 80, rows: 24 },
    {
      open: () => seen.opened++,
      output: (data) => seen.output.push(new TextDecoder().decode(data)),
      end: (end) => seen.ends.push(end),
    },
    (url) => {
      seen.urls.push(url);
      return socket;
    },
  );
  return { socket, seen, connection };
}

describe("terminalUrl", () => {
  it("uses the page's origin, wss: under https:, with the size in the query", () => {
    const url = terminalUrl({ protocol: "https:", host: "fluid.example:8443" }, "acme", "abc-1", {
      cols: 120,
      rows: 40,
    });
    expect(url).toBe("wss://fluid.example:8443/v1/orgs/acme/sandboxes/abc-1/terminal?cols=120&rows=40");
    expect(terminalUrl({ protocol: "http:", host: "127.0.0.1:8080" }, "a", "b", { cols: 80, rows: 24 })).toMatch(
      /^ws:\/\/127\.0\.0\.1:8080\//,
    );
  });
});

describe("connectTerminal", () => {
  it("asks for binary frames as ArrayBuffers and writes them out as terminal bytes", () => {
    const { socket, seen } = setup();
    expect(socket.binaryType).toBe("arraybuffer");
    socket.serverOpens();
    socket.serverSends(new TextEncoder().encode("$ héllo").buffer as ArrayBuffer);
    expect(seen.opened).toBe(1);
    expect(seen.output).toEqual(["$ héllo"]);
  });

  it("sends keystrokes as UTF-8 binary frames and onBinary input byte for byte", () => {
    const { socket, connection } = setup();
    socket.serverOpens();
    connection.write("é\r");
    connection.writeBinary("\x1b[M\xff");
    expect(socket.sent).toEqual([new Uint8Array([0xc3, 0xa9, 0x0d]), new Uint8Array([0x1b, 0x5b, 0x4d, 0xff])]);
  });

  it("sends a resize control frame only when the size changes", () => {
    const { socket, connection } = setup();
    socket.serverOpens();
    connection.resize({ cols: 80, rows: 24 });
    connection.resize({ cols: 100, rows: 30 });
    connection.resize({ cols: 100, rows: 30 });
    expect(socket.sent).toEqual([JSON.stringify({ type: "resize", cols: 100, rows: 30 })]);
  });

  it("sends nothing before the socket is open", () => {
    const { socket, connection } = setup();
    connection.write("ls\r");
    expect(socket.sent).toEqual([]);
  });

  it("reports the shell's exit once, from the server's exit message", () => {
    const { socket, seen } = setup();
    socket.serverOpens();
    socket.serverSends(JSON.stringify({ type: "exit" }));
    socket.serverCloses();
    expect(seen.ends).toEqual([{ kind: "exited" }]);
  });

  it("reports the server's error code and message", () => {
    const { socket, seen } = setup();
    socket.serverOpens();
    socket.serverSends(
      JSON.stringify({ type: "error", code: "host_unavailable", message: "the terminal ended: lost" }),
    );
    socket.serverCloses();
    expect(seen.ends).toEqual([{ kind: "error", code: "host_unavailable", message: "the terminal ended: lost" }]);
  });

  it("tells a refused upgrade (never opened) from a connection lost after opening", () => {
    const refused = setup();
    refused.socket.serverCloses();
    expect(refused.seen.ends).toEqual([{ kind: "refused" }]);
    const lost = setup();
    lost.socket.serverOpens();
    lost.socket.serverCloses();
    expect(lost.seen.ends).toEqual([{ kind: "lost" }]);
  });

  it("closing ends the terminal once and closes the socket normally", () => {
    const { socket, seen, connection } = setup();
    socket.serverOpens();
    connection.close();
    socket.serverCloses();
    expect(socket.closedWith).toEqual([1000, "closed by the user"]);
    expect(seen.ends).toEqual([{ kind: "closed" }]);
  });
});

describe("endMessage", () => {
  it("says what happened, including the server's error code", () => {
    expect(endMessage({ kind: "exited" })).toBe("The shell exited.");
    expect(endMessage({ kind: "error", code: "invalid_request", message: "bad" })).toBe(
      "The terminal failed (invalid_request): bad",
    );
    expect(endMessage({ kind: "refused" })).toMatch(/refused.*no longer be running.*4 terminals/);
  });
});
