import { readFile } from "node:fs/promises";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type Endpoint, endpointUrl, pinnedLookup } from "./server-list.js";

/**
 * A fresh gRPC transport to one resolved address. The TLS options apply to every address alike; the
 * certificate is checked against the entry's host name (the URL's), not the address it resolved to.
 */
export async function endpointTransport(endpoint: Endpoint, tls: { insecure: boolean; caFile?: string | undefined }) {
  const ca = tls.caFile ? await readFile(tls.caFile) : undefined;
  return createGrpcTransport({
    baseUrl: endpointUrl(endpoint, !tls.insecure),
    pingIntervalMs: 15_000,
    pingTimeoutMs: 10_000,
    // A transport carries one stream: once it ends, drop the connection rather than keep it idle for 15 minutes.
    idleConnectionTimeoutMs: 1_000,
    nodeOptions: { lookup: pinnedLookup(endpoint), ...(ca ? { ca } : {}) },
  });
}
