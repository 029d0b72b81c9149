import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import { isIP } from "node:net";
import type { Registry } from "prom-client";

const digest = (text: string) => createHash("sha256").update(text).digest();

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const bare = address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  return bare === "::1" || (isIP(bare) === 4 && bare.startsWith("127."));
}

/** Why a scrape is refused (status, code, message), or undefined when it may proceed. */
export function refusal(
  token: string | undefined,
  authorization: string | undefined,
  remoteAddress: string | undefined,
): [number, string, string] | undefined {
  if (token !== undefined) {
    const given = /^Bearer\s+(\S+)$/i.exec(authorization ?? "")?.[1];
    if (given === undefined) return [401, "unauthenticated", "metrics need `Authorization: Bearer <token>`"];
    return timingSafeEqual(digest(given), digest(token)) ? undefined : [403, "forbidden", "wrong metrics token"];
  }
  if (isLoopback(remoteAddress)) return undefined;
  return [403, "forbidden", "metrics are served to loopback clients only unless a metrics token is set"];
}

/**
 * Serves `GET /metrics` on its own TCP listener (the local API is a unix socket Prometheus cannot
 * scrape): with a token only to `Authorization: Bearer <token>`, without one only to loopback clients.
 */
export async function listenForMetrics(
  registry: Registry,
  listen: { host: string; port: number },
  token: string | undefined,
): Promise<Server> {
  const server = createServer((request, response) => {
    const answer = (status: number, code: string, message: string) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify({ error: { code, message } }));
    };
    const path = (request.url ?? "").split("?")[0];
    if (path !== "/metrics" || request.method !== "GET") return answer(404, "not_found", "only GET /metrics is served");
    const refused = refusal(token, request.headers.authorization, request.socket.remoteAddress);
    if (refused) return answer(...refused);
    registry.metrics().then(
      (body) => {
        response.writeHead(200, { "content-type": registry.contentType });
        response.end(body);
      },
      () => answer(500, "internal", "metrics could not be collected"),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}
