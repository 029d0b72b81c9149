import type { App } from "./types.js";

const allowMethods = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
const allowHeaders = "Content-Type, Authorization";

/**
 * CORS for explicitly configured origins only. `Vary: Origin` goes on every response so a shared
 * cache never serves one origin's answer (with or without CORS headers) to another.
 */
export function registerCors(app: App, allowedOrigins: readonly string[]): void {
  const allowed = new Set(allowedOrigins);
  app.addHook("onRequest", async (request, reply) => {
    reply.header("Vary", "Origin");
    const origin = request.headers.origin;
    const permitted = origin !== undefined && allowed.has(origin);
    if (permitted) {
      reply.header("Access-Control-Allow-Origin", origin);
      reply.header("Access-Control-Allow-Credentials", "true");
    }
    if (request.method === "OPTIONS" && request.headers["access-control-request-method"]) {
      if (permitted) {
        reply.header("Access-Control-Allow-Methods", allowMethods);
        reply.header("Access-Control-Allow-Headers", allowHeaders);
        reply.header("Access-Control-Max-Age", "86400");
      }
      return reply.code(204).send();
    }
  });
}
