import type { AddressInfo } from "node:net";
import type { ListenAddress } from "../config/config.js";
import { listenOrigins } from "../http/origins.js";
import type { App } from "../http/types.js";

const safeMethods = new Set(["GET", "HEAD", "OPTIONS"]);

export interface CsrfOrigins {
  /** When set, the only origin the API itself is served at; otherwise the listen address is. */
  publicUrl: string | undefined;
  /** Frontends allowed by CORS, which may write with the cookie too. */
  corsOrigins: readonly string[];
  listen: ListenAddress;
}

/**
 * Refuses cross-site writes from browsers. Requests authenticated by a bearer key are not
 * cookie-driven, so only cookie (or unauthenticated, e.g. login) writes and WebSocket upgrades are checked: a present
 * Origin must be one we trust, and `Sec-Fetch-Site: cross-site` is refused outright. Our own origin
 * comes from configuration, never from the request: `Host` (or `X-Forwarded-Host`) is whatever the
 * attacker's page was served as, so comparing Origin with it proves nothing.
 */
export function registerCsrfProtection(app: App, origins: CsrfOrigins): void {
  const trustedFor = (port: number) =>
    new Set([
      ...origins.corsOrigins,
      ...(origins.publicUrl ? [origins.publicUrl] : listenOrigins(origins.listen.host, port)),
    ]);
  let trusted = trustedFor(origins.listen.port);
  // An ephemeral listen port (:0) is known only once the server is bound.
  app.addHook("onListen", async () => {
    trusted = trustedFor((app.server.address() as AddressInfo).port);
  });
  app.addHook("onRequest", async (request, reply) => {
    // A WebSocket upgrade is a GET that opens a two-way channel (a terminal): checked like a write.
    const upgrade = request.headers.upgrade?.toLowerCase() === "websocket";
    if ((safeMethods.has(request.method) && !upgrade) || request.headers.authorization) return;
    const origin = request.headers.origin;
    const crossSite = request.headers["sec-fetch-site"] === "cross-site";
    if ((origin !== undefined && !trusted.has(origin)) || (crossSite && !trusted.has(origin ?? ""))) {
      return reply
        .code(403)
        .send({ error: { code: "forbidden", message: "cross-site request refused (Origin not allowed)" } });
    }
  });
}
