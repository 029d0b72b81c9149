import { isIP } from "node:net";

const loopbackHosts = ["localhost", "127.0.0.1", "::1"];
const wildcardHosts = new Set(["0.0.0.0", "::", ""]);

const httpOrigin = (host: string, port: number) =>
  new URL(`http://${isIP(host) === 6 ? `[${host}]` : host}:${port}`).origin;

/**
 * The origin the listen address names (plain HTTP: the server terminates no TLS itself). A wildcard
 * listen names no address a browser uses, so it stands for the loopback address of its family.
 */
function listenOrigin(host: string, port: number): string {
  if (!wildcardHosts.has(host)) return httpOrigin(host, port);
  return httpOrigin(host.includes(":") ? "::1" : "127.0.0.1", port);
}

/**
 * The origins a browser can reach the REST API at when no public URL is configured, canonical
 * first. A loopback or wildcard listen is equally reachable as localhost, 127.0.0.1 and [::1], so
 * all three count; any other address counts only as itself. A browser that reaches a wildcard
 * listen through another name (a LAN address, a proxy) needs --public-url.
 */
export function listenOrigins(host: string, port: number): string[] {
  const own = listenOrigin(host, port);
  if (!loopbackHosts.includes(host) && !wildcardHosts.has(host)) return [own];
  return [...new Set([own, ...loopbackHosts.map((name) => httpOrigin(name, port))])];
}

/** The API's own origin: the configured public URL, else the listen address's. */
export function ownOrigin(publicUrl: string | undefined, listen: { host: string; port: number }): string {
  return publicUrl ?? listenOrigin(listen.host, listen.port);
}
