import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import type { Logger } from "pino";
import {
  type AddressRecord,
  answerAddresses,
  errorReply,
  parseQuery,
  RCODE_REFUSED,
  RCODE_SERVFAIL,
} from "./dns-message.js";
import { type AllowedName, type Allowlist, matchingNames } from "./egress.js";
import { parseIpv4 } from "./ipv4.js";

export interface Endpoint {
  address: string;
  port: number;
}

export interface ResolverOptions {
  listen: Endpoint;
  upstream: Endpoint;
  /** The egress of the sandbox at this address: anywhere, an allowlist, or (undefined) none. */
  allowlistOf(source: string): Allowlist | "any" | undefined;
  /**
   * Opens the answered addresses to the sandbox. Awaited before the answer is sent, so the
   * sandbox never connects to an address the firewall does not know yet.
   */
  onResolved(source: string, entries: readonly AllowedName[], records: readonly AddressRecord[]): Promise<void>;
  timeoutMs?: number;
  log?: Pick<Logger, "warn">;
}

/** Answers in the firewall stay open at least this long, so a connection outlives a short DNS TTL. */
export const MIN_OPEN_SECONDS = 300;
export const MAX_OPEN_SECONDS = 3600;

export function openSeconds(ttl: number): number {
  return Math.min(MAX_OPEN_SECONDS, Math.max(MIN_OPEN_SECONDS, ttl));
}

/**
 * The DNS resolver sandboxes on a bridge use (UDP on the bridge's gateway address). It answers a
 * sandbox with an allowlist only for names the allowlist names (one with unlimited egress for any), by forwarding the query unchanged to the upstream
 * resolver, and adds the answer's addresses to the sandbox's firewall set; every other query is
 * REFUSED. Each forwarded query uses its own socket, so its reply can come only from its own port.
 */
export class EgressResolver {
  /** Per client socket, the tail of its queries being answered (see handle). */
  private readonly inFlight = new Map<string, Promise<void>>();

  private constructor(
    private readonly socket: Socket,
    private readonly options: ResolverOptions,
  ) {}

  static async start(options: ResolverOptions): Promise<EgressResolver> {
    const socket = createSocket({ type: "udp4" });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(options.listen.port, options.listen.address, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    const resolver = new EgressResolver(socket, options);
    socket.on("message", (message, remote) => resolver.enqueue(message, remote));
    socket.on("error", (error) => options.log?.warn({ err: error }, "egress resolver socket error"));
    return resolver;
  }

  get address(): Endpoint {
    const { address, port } = this.socket.address();
    return { address, port };
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  /**
   * One client socket's queries are answered in the order they came. Clients such as busybox's
   * nslookup send A and AAAA at once and mismatch replies that overtake each other, and an A answer
   * waits for the firewall while an empty AAAA answer would not.
   */
  private enqueue(message: Buffer, remote: RemoteInfo): void {
    const key = `${remote.address}:${remote.port}`;
    const tail = (this.inFlight.get(key) ?? Promise.resolve())
      .then(() => this.handle(message, remote))
      .catch((error: unknown) => this.options.log?.warn({ err: error }, "egress resolver failed on a query"));
    this.inFlight.set(key, tail);
    void tail.finally(() => {
      if (this.inFlight.get(key) === tail) this.inFlight.delete(key);
    });
  }

  private async handle(message: Buffer, remote: RemoteInfo): Promise<void> {
    let question: ReturnType<typeof parseQuery>;
    try {
      question = parseQuery(message);
    } catch {
      return;
    }
    const allowlist = this.options.allowlistOf(remote.address);
    // A sandbox that may reach anywhere may look anything up; its firewall needs no addresses.
    const entries = allowlist && allowlist !== "any" ? matchingNames(allowlist, question.name) : [];
    if (allowlist !== "any" && entries.length === 0) {
      this.reply(errorReply(message, question, RCODE_REFUSED), remote);
      return;
    }
    try {
      const response = await this.forward(message);
      if (response.readUInt16BE(0) !== question.id) throw new Error("upstream answered another query");
      const records = answerAddresses(response);
      if (entries.length > 0 && records.length > 0) await this.options.onResolved(remote.address, entries, records);
      this.reply(response, remote);
    } catch (error) {
      this.options.log?.warn({ err: error, name: question.name }, "egress resolver could not answer");
      this.reply(errorReply(message, question, RCODE_SERVFAIL), remote);
    }
  }

  private forward(message: Buffer): Promise<Buffer> {
    const { upstream, timeoutMs = 5000 } = this.options;
    const socket = createSocket({ type: "udp4" });
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no answer from ${upstream.address}:${upstream.port}`)),
        timeoutMs,
      );
      socket.on("error", reject);
      socket.on("message", (response, from) => {
        if (from.address !== upstream.address || from.port !== upstream.port) return;
        clearTimeout(timer);
        resolve(response);
      });
      socket.send(message, upstream.port, upstream.address, (error) => error && reject(error));
    }).finally(() => socket.close());
  }

  private reply(message: Buffer, remote: RemoteInfo): void {
    this.socket.send(message, remote.port, remote.address, (error) => {
      if (error) this.options.log?.warn({ err: error }, "egress resolver could not reply");
    });
  }
}

/** `HOST[:PORT]` with an IPv4 host, as given to --egress-dns-upstream. */
export function parseEndpoint(text: string, defaultPort = 53): Endpoint {
  const [address = "", portText, ...rest] = text.trim().split(":");
  const port = portText === undefined ? defaultPort : /^[1-9]\d{0,4}$/.test(portText) ? Number(portText) : 0;
  if (rest.length > 0 || port < 1 || port > 65535) throw new Error(`not an IPv4 HOST[:PORT]: ${JSON.stringify(text)}`);
  parseIpv4(address);
  return { address, port };
}

/** The first IPv4 nameserver of a resolv.conf, the default upstream. */
export function nameserverFromResolvConf(text: string): Endpoint | undefined {
  for (const line of text.split("\n")) {
    const match = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!match?.[1]) continue;
    try {
      return parseEndpoint(match[1]);
    } catch {}
  }
  return undefined;
}
