import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { extname, join, resolve, sep } from "node:path";
import type { FastifyReply } from "fastify";
import type { App } from "../http/types.js";
import type { Logger } from "../log/logger.js";

/**
 * The dashboard may load only its own files and talk only to this origin; nothing may frame it.
 * Styles are files too ('self'): React sets style properties through the CSSOM, which CSP allows.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const securityHeaders = {
  "content-security-policy": DASHBOARD_CSP,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
};

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json",
};

/** Vite names everything under assets/ by content hash, so a browser may keep it forever. */
const IMMUTABLE = "public, max-age=31536000, immutable";

/**
 * Serves the built dashboard at `/`: its files, and index.html for any other GET outside `/v1` so
 * client-side routes survive a reload. Without a build the server still runs, API only, and says so.
 */
export async function serveDashboard(app: App, webDir: string, log: Logger): Promise<void> {
  const root = resolve(webDir);
  let indexHtml: Buffer;
  try {
    indexHtml = await readFile(join(root, "index.html"));
  } catch {
    log.warn({ webDir: root }, "dashboard not built (no index.html): serving the API only; run npm run build");
    return;
  }

  const sendIndex = (reply: FastifyReply) =>
    reply.headers(securityHeaders).header("cache-control", "no-cache").type(contentTypes[".html"]!).send(indexHtml);

  app.get("/*", { config: { public: true }, schema: { hide: true } }, async (request, reply) => {
    const path = `/${(request.params as { "*": string })["*"]}`;
    if (path === "/v1" || path.startsWith("/v1/")) return reply.callNotFound();
    const inAssets = path.startsWith("/assets/");
    const file = resolve(root, `.${path}`);
    const info = file.startsWith(root + sep) ? await stat(file).catch(() => undefined) : undefined;
    if (info?.isFile()) {
      return reply
        .headers(securityHeaders)
        .header("cache-control", inAssets ? IMMUTABLE : "no-cache")
        .type(contentTypes[extname(file)] ?? "application/octet-stream")
        .header("content-length", info.size)
        .send(createReadStream(file));
    }
    // A missing asset is a 404, not the app: a stale page asking for an old hash must not get HTML.
    if (inAssets) return reply.callNotFound();
    return sendIndex(reply);
  });
  log.info({ webDir: root }, "serving the dashboard at /");
}
