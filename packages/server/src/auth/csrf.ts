import type { App } from "../http/types.js";

const safeMethods = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Refuses cross-site writes from browsers. Requests authenticated by a bearer key are not
 * cookie-driven, so only cookie (or unauthenticated, e.g. login) writes are checked: a present
 * Origin must be one we trust, and `Sec-Fetch-Site: cross-site` is refused outright.
 */
export function registerCsrfProtection(app: App, trustedOrigins: readonly string[]): void {
  const trusted = new Set(trustedOrigins);
  app.addHook("onRequest", async (request, reply) => {
    if (safeMethods.has(request.method) || request.headers.authorization) return;
    const origin = request.headers.origin;
    const ownOrigin = `${request.protocol}://${request.host}`;
    const crossSite = request.headers["sec-fetch-site"] === "cross-site";
    if (
      (origin !== undefined && origin !== ownOrigin && !trusted.has(origin)) ||
      (crossSite && !trusted.has(origin ?? ""))
    ) {
      return reply
        .code(403)
        .send({ error: { code: "forbidden", message: "cross-site request refused (Origin not allowed)" } });
    }
  });
}
