import { readFile } from "node:fs/promises";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { HostService } from "@fluid/proto";
import type { ServerConfig } from "../config/config.js";

/** Largest single message either side may send; a bigger frame is refused before it is decoded. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

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
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
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
      for (const session of sessions) session.close();
      const timer = setTimeout(() => {
        for (const session of sessions) session.destroy();
      }, graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}
