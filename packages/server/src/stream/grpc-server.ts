import { readFile } from "node:fs/promises";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { HostService } from "@fluid/proto";
import type { ServerConfig } from "../config/config.js";

/** Largest single message either side may send; a bigger frame is refused before it is decoded. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

const HALF_OPEN_GRACE_MS = 1_000;

export interface GrpcServer {
  address: AddressInfo;
  close(graceMs: number): Promise<void>;
}

/** Serves HostService as real gRPC over HTTP/2 on its own port (TLS unless explicitly insecure). */
export async function startGrpcServer(
  config: ServerConfig,
  impl: ServiceImpl<typeof HostService>,
): Promise<GrpcServer> {
  const handler = connectNodeAdapter({
    routes: (router) => router.service(HostService, impl),
    grpc: true,
    grpcWeb: false,
    connect: false,
    readMaxBytes: MAX_MESSAGE_BYTES,
    writeMaxBytes: MAX_MESSAGE_BYTES,
  });
  const server =
    config.grpc.insecure === true
      ? http2.createServer(handler)
      : http2.createSecureServer(
          { cert: await readFile(config.grpc.certFile), key: await readFile(config.grpc.keyFile), allowHTTP1: false },
          handler,
        );
  // Streams still open per connection (and whether the server has finished each), so shutdown can
  // drop connections whose RPCs are over instead of waiting for clients to hang up after GOAWAY.
  const sessions = new Map<http2.ServerHttp2Session, Map<http2.ServerHttp2Stream, boolean>>();
  const idle = (streams: Map<http2.ServerHttp2Stream, boolean>) => [...streams.values()].every((finished) => finished);
  server.on("session", (session) => {
    sessions.set(session, new Map());
    session.on("close", () => sessions.delete(session));
  });
  server.on("stream", (stream) => {
    const session = stream.session as http2.ServerHttp2Session | undefined;
    const streams = session && sessions.get(session);
    if (!session || !streams) return;
    streams.set(stream, false);
    // Once the status trailers are out the RPC is over; a client that never half-closes its side
    // must not hold the stream open, but give it a moment to read the trailers first.
    stream.on("finish", () => {
      streams.set(stream, true);
      setTimeout(() => {
        if (!stream.closed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
      }, HALF_OPEN_GRACE_MS).unref();
    });
    stream.on("close", () => {
      streams.delete(stream);
      if (session.closed && idle(streams)) session.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.grpcListen.port, config.grpcListen.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    address: server.address() as AddressInfo,
    close: async (graceMs: number) => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const [session, streams] of sessions) {
        session.close();
        if (idle(streams)) session.destroy();
      }
      const timer = setTimeout(() => {
        for (const session of sessions.keys()) session.destroy();
      }, graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}
