import { createHash, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import { z } from "zod";
import { AppError } from "../http/errors.js";
import { ErrorResponse } from "../http/schemas.js";
import type { App } from "../http/types.js";
import type { ServerMetrics } from "./metrics.js";

export const METRICS_PATH = "/metrics";

const digest = (text: string) => createHash("sha256").update(text).digest();

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const bare = address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  return bare === "::1" || (isIP(bare) === 4 && bare.startsWith("127."));
}

/**
 * Who may scrape: with a token, only `Authorization: Bearer <token>` (compared in constant time);
 * without one, only loopback clients. Shared with the daemon's metrics listener through its docs, not code.
 */
export function metricsAccess(token: string | undefined, authorization: string | undefined, clientIp: string) {
  if (token !== undefined) {
    const given = /^Bearer\s+(\S+)$/i.exec(authorization ?? "")?.[1];
    if (given === undefined) return new AppError("unauthenticated", "metrics need `Authorization: Bearer <token>`");
    if (!timingSafeEqual(digest(given), digest(token))) return new AppError("forbidden", "wrong metrics token");
    return undefined;
  }
  if (!isLoopback(clientIp)) {
    return new AppError("forbidden", "metrics are served to loopback clients only unless a metrics token is set");
  }
  return undefined;
}

/**
 * Serves the registry at /metrics and times every REST request by its route template (the
 * registered pattern, so ids never become labels; requests that match no route share one label).
 */
export function metricsRoutes(app: App, metrics: ServerMetrics, token: string | undefined): void {
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    metrics.observeHttp(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
  });
  app.get(
    METRICS_PATH,
    {
      config: { public: true },
      schema: {
        operationId: "getMetrics",
        tags: ["meta"],
        summary: "Prometheus metrics (text format); Bearer metrics token, or loopback clients when none is set",
        response: {
          200: {
            description: "every series in the Prometheus text exposition format 0.0.4",
            content: { "text/plain": { schema: z.string() } },
          },
          401: ErrorResponse,
          403: ErrorResponse,
        },
      },
    },
    async (request, reply) => {
      const denied = metricsAccess(token, request.headers.authorization, request.ip);
      if (denied) throw denied;
      const body = await metrics.registry.metrics();
      // A string with a non-JSON content type is sent as is, past the JSON response serializer.
      return reply.type(metrics.registry.contentType).send(body as never);
    },
  );
}
