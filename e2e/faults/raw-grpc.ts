import http2 from "node:http2";
import { connect } from "node:net";

const CONNECT_PATH = "/fluid.v1.HostService/Connect";

export interface RawAnswer {
  /** grpc-status from the trailers (or trailers-only headers); undefined when the connection died first. */
  status: number | undefined;
  message: string;
  /** The connection or stream error, when there was no gRPC status. */
  error: string | undefined;
  ms: number;
}

/** A gRPC message as it goes on the wire: flag byte, big-endian length, then the bytes. */
export function envelope(bytes: Buffer, declaredLength = bytes.length): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([head, bytes]);
}

/**
 * Opens HostService/Connect with a hand-built HTTP/2 request and writes `body` as the request stream,
 * bypassing any protobuf or gRPC library, and reports what the server answered.
 */
export function rawConnect(address: string, token: string, body: Buffer, timeoutMs = 20_000): Promise<RawAnswer> {
  const start = performance.now();
  return new Promise((resolve) => {
    const session = http2.connect(`http://${address}`);
    let status: number | undefined;
    let message = "";
    let done = false;
    const finish = (error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      session.destroy();
      resolve({ status, message, error, ms: Math.round(performance.now() - start) });
    };
    const timer = setTimeout(() => finish("no answer in time"), timeoutMs);
    session.on("error", (err) => finish(err.message));
    const stream = session.request({
      ":method": "POST",
      ":path": CONNECT_PATH,
      "content-type": "application/grpc+proto",
      te: "trailers",
      authorization: `Bearer ${token}`,
    });
    const read = (headers: http2.IncomingHttpHeaders) => {
      if (headers["grpc-status"] !== undefined) {
        status = Number(headers["grpc-status"]);
        message = decodeURIComponent(String(headers["grpc-message"] ?? ""));
        finish();
      }
    };
    stream.on("response", read);
    stream.on("trailers", read);
    stream.on("data", () => undefined);
    stream.on("error", (err) => finish(err.message));
    stream.on("close", () => finish(status === undefined ? "stream closed without a status" : undefined));
    stream.write(body);
  });
}

/** Sends the HTTP/2 client preface and then bytes that are no valid frame; resolves when the server hangs up. */
export function junkFrames(address: string, timeoutMs = 20_000): Promise<{ closedMs: number | undefined }> {
  const [host, port] = [
    address.slice(0, address.lastIndexOf(":")),
    Number(address.slice(address.lastIndexOf(":") + 1)),
  ];
  const start = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host, port }, () => {
      const junk = Buffer.alloc(64, 0xff);
      socket.write(Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), junk]));
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ closedMs: undefined });
    }, timeoutMs);
    socket.on("data", () => undefined);
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ closedMs: Math.round(performance.now() - start) });
    });
  });
}
