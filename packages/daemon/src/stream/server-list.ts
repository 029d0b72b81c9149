import { isIP, isIPv6, type LookupFunction } from "node:net";

/** One `HOST:PORT` entry of `--server`, as the operator wrote it. */
export interface ServerAddress {
  /** A DNS name or an IP literal (IPv6 without its brackets); with TLS, the name the certificate must match. */
  host: string;
  port: number;
  /** `HOST:PORT` as given, for logs. */
  entry: string;
}

/** One address to dial: a server entry and one of the addresses its name resolved to. */
export interface Endpoint {
  server: ServerAddress;
  address: string;
  family: 4 | 6;
}

/** Every address a name resolves to, IPv4 and IPv6 (`dns.promises.lookup(name, {all: true})`). */
export type Resolver = (host: string) => Promise<Array<{ address: string; family: number }>>;

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function parseEntry(entry: string): ServerAddress | string {
  if (entry === "") return "an entry is empty";
  if (entry.includes("://")) return `"${entry}" has a scheme; give HOST:PORT (TLS is chosen by --insecure)`;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(entry);
  let host: string;
  let port: string | undefined;
  if (bracketed) {
    host = bracketed[1] ?? "";
    port = bracketed[2];
    if (!isIPv6(host)) return `"${entry}": [${host}] is not an IPv6 address`;
  } else {
    const colon = entry.lastIndexOf(":");
    if (colon !== -1 && entry.indexOf(":") !== colon)
      return `"${entry}": write an IPv6 address in brackets, [ADDRESS]:PORT`;
    host = colon === -1 ? entry : entry.slice(0, colon);
    port = colon === -1 ? undefined : entry.slice(colon + 1);
    if (!HOSTNAME.test(host) && isIP(host) !== 4) return `"${entry}": "${host}" is not a host name or IP address`;
  }
  if (port === undefined || port === "") return `"${entry}" has no port (HOST:PORT)`;
  const number = /^\d{1,5}$/.test(port) ? Number(port) : Number.NaN;
  if (!(number >= 1 && number <= 65_535)) return `"${entry}": port must be a number from 1 to 65535`;
  return { host, port: number, entry };
}

/**
 * `--server HOST:PORT[,HOST:PORT…]`: the control-plane replicas, in the order to try them. Every bad
 * entry is reported at once, so one run of the daemon shows everything to fix.
 */
export function parseServerList(value: string, flag = "--server"): ServerAddress[] {
  const problems: string[] = [];
  const servers: ServerAddress[] = [];
  const seen = new Set<string>();
  for (const raw of value.split(",")) {
    const parsed = parseEntry(raw.trim());
    if (typeof parsed === "string") {
      problems.push(parsed);
      continue;
    }
    const key = `${parsed.host.toLowerCase()}:${parsed.port}`;
    if (seen.has(key)) problems.push(`"${parsed.entry}" is listed twice`);
    seen.add(key);
    servers.push(parsed);
  }
  if (problems.length > 0) throw new Error(`${flag}: ${problems.join("; ")}`);
  return servers;
}

/**
 * The addresses to dial, in list order and each name's addresses in resolver order; an address two
 * entries share is dialled once. A name that does not resolve is reported and skipped, so one bad
 * entry cannot keep the daemon from the others.
 */
export async function expandServers(
  servers: ServerAddress[],
  resolve: Resolver,
  onUnresolved: (server: ServerAddress, err: unknown) => void,
): Promise<Endpoint[]> {
  const endpoints: Endpoint[] = [];
  const seen = new Set<string>();
  for (const server of servers) {
    let addresses: Array<{ address: string; family: number }>;
    try {
      addresses = isIP(server.host)
        ? [{ address: server.host, family: isIP(server.host) }]
        : await resolve(server.host);
    } catch (err) {
      onUnresolved(server, err);
      continue;
    }
    for (const { address, family } of addresses) {
      const endpoint: Endpoint = { server, address, family: family === 6 ? 6 : 4 };
      if (seen.has(endpointKey(endpoint))) continue;
      seen.add(endpointKey(endpoint));
      endpoints.push(endpoint);
    }
  }
  return endpoints;
}

export function endpointKey(endpoint: Endpoint): string {
  return endpoint.family === 6
    ? `[${endpoint.address}]:${endpoint.server.port}`
    : `${endpoint.address}:${endpoint.server.port}`;
}

/**
 * The gRPC base URL of an endpoint: the entry's host, so the `:authority` a load balancer routes on and
 * the name TLS verifies stay the entry's; `pinnedLookup` makes the connection go to the resolved address.
 */
export function endpointUrl(endpoint: Endpoint, tls: boolean): string {
  const host = isIPv6(endpoint.server.host) ? `[${endpoint.server.host}]` : endpoint.server.host;
  return `${tls ? "https" : "http"}://${host}:${endpoint.server.port}`;
}

/** A `lookup` for the socket that answers the endpoint's address, whatever name it is asked for. */
export function pinnedLookup(endpoint: Endpoint): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) callback(null, [{ address: endpoint.address, family: endpoint.family }]);
    else callback(null, endpoint.address, endpoint.family);
  };
}
