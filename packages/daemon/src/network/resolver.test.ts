import { createSocket, type Socket } from "node:dgram";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { answer, query, readQuestionName } from "../testing/dns-messages.js";
import { type Allowlist, toEgressRule } from "./egress.js";
import { EgressResolver, nameserverFromResolvConf, openSeconds, parseEndpoint } from "./resolver.js";

/** An upstream that answers every name with 192.0.2.<length of the name>, and records what it was asked. */
async function startUpstream(): Promise<{ socket: Socket; asked: string[]; port: number }> {
  const socket = createSocket("udp4");
  const asked: string[] = [];
  socket.on("message", (message, remote) => {
    const name = readQuestionName(message);
    asked.push(name);
    if (name.startsWith("silent.")) return;
    socket.send(
      answer(message, message.readUInt16BE(message.length - 4) === 1 ? [`192.0.2.${name.length}`] : [], 30),
      remote.port,
      remote.address,
    );
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return { socket, asked, port: socket.address().port };
}

function ask(port: number, message: Buffer): Promise<Buffer> {
  const socket = createSocket("udp4");
  return new Promise<Buffer>((resolve, reject) => {
    socket.on("message", resolve);
    socket.on("error", reject);
    socket.send(message, port, "127.0.0.1");
  }).finally(() => socket.close());
}

const rcode = (reply: Buffer) => reply.readUInt16BE(2) & 0xf;

describe("EgressResolver", () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let resolver: EgressResolver;
  let allowlist: Allowlist | "any" | undefined;
  const opened: Array<{ source: string; patterns: string[]; addresses: string[] }> = [];

  beforeAll(async () => {
    upstream = await startUpstream();
    resolver = await EgressResolver.start({
      listen: { address: "127.0.0.1", port: 0 },
      upstream: { address: "127.0.0.1", port: upstream.port },
      allowlistOf: () => allowlist,
      onResolved: async (source, entries, records) => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        opened.push({
          source,
          patterns: entries.map((entry) => entry.pattern),
          addresses: records.map((record) => record.address),
        });
      },
      timeoutMs: 300,
    });
  });

  afterAll(async () => {
    await resolver.close();
    upstream.socket.close();
  });

  afterEach(() => {
    opened.length = 0;
    upstream.asked.length = 0;
  });

  it("forwards an allowlisted name and opens its addresses before the answer is sent", async () => {
    allowlist = toEgressRule(["10.0.0.0/8", "*.example.com:443", "a.example.com"]) as Allowlist;
    const reply = await ask(resolver.address.port, query("A.example.com", 0x0101));
    expect(rcode(reply)).toBe(0);
    expect(reply.readUInt16BE(0)).toBe(0x0101);
    expect(upstream.asked).toEqual(["A.example.com"]);
    expect(opened).toEqual([
      { source: "127.0.0.1", patterns: ["*.example.com", "a.example.com"], addresses: ["192.0.2.13"] },
    ]);
  });

  it("refuses a name outside the allowlist without asking upstream", async () => {
    allowlist = toEgressRule(["*.example.com"]) as Allowlist;
    const reply = await ask(resolver.address.port, query("example.org", 0x0202));
    expect(rcode(reply)).toBe(5);
    expect(reply.readUInt16BE(0)).toBe(0x0202);
    expect(upstream.asked).toEqual([]);
    expect(opened).toEqual([]);
  });

  it("refuses every name to a sandbox without an allowlist", async () => {
    allowlist = undefined;
    expect(rcode(await ask(resolver.address.port, query("a.example.com")))).toBe(5);
    expect(upstream.asked).toEqual([]);
  });

  it("forwards any name for a sandbox with unlimited egress, opening nothing (its firewall needs nothing)", async () => {
    allowlist = "any";
    const reply = await ask(resolver.address.port, query("example.org"));
    expect(rcode(reply)).toBe(0);
    expect(upstream.asked).toEqual(["example.org"]);
    expect(opened).toEqual([]);
  });

  it("answers SERVFAIL when upstream does not answer in time, opening nothing", async () => {
    allowlist = toEgressRule(["*.example.com"]) as Allowlist;
    expect(rcode(await ask(resolver.address.port, query("silent.example.com")))).toBe(2);
    expect(opened).toEqual([]);
  });

  it("answers one client's queries in the order they came, though the first waits for the firewall", async () => {
    allowlist = toEgressRule(["*.example.com"]) as Allowlist;
    const socket = createSocket("udp4");
    const ids: number[] = [];
    const both = new Promise<void>((resolve) =>
      socket.on("message", (message) => {
        ids.push(message.readUInt16BE(0));
        if (ids.length === 2) resolve();
      }),
    );
    socket.send(query("a.example.com", 1, 1), resolver.address.port, "127.0.0.1");
    socket.send(query("a.example.com", 2, 28), resolver.address.port, "127.0.0.1");
    await both;
    socket.close();
    expect(ids).toEqual([1, 2]);
  });

  it("ignores messages that are not queries", async () => {
    allowlist = toEgressRule(["*.example.com"]) as Allowlist;
    const notQuery = answer(query("a.example.com"), ["192.0.2.1"]);
    const socket = createSocket("udp4");
    const replies: Buffer[] = [];
    socket.on("message", (message) => replies.push(message));
    socket.send(notQuery, resolver.address.port, "127.0.0.1");
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.close();
    expect(replies).toEqual([]);
  });
});

describe("resolver settings", () => {
  it("keeps answered addresses open for the TTL bounded to 5 minutes .. 1 hour", () => {
    expect(openSeconds(0)).toBe(300);
    expect(openSeconds(900)).toBe(900);
    expect(openSeconds(86_400)).toBe(3600);
  });

  it("parses HOST[:PORT] strictly and finds the first IPv4 nameserver in resolv.conf", () => {
    expect(parseEndpoint("192.0.2.53")).toEqual({ address: "192.0.2.53", port: 53 });
    expect(parseEndpoint("127.0.0.1:5353")).toEqual({ address: "127.0.0.1", port: 5353 });
    for (const bad of ["dns.example.com", "127.0.0.1:0", "127.0.0.1:99999", "::1"])
      expect(() => parseEndpoint(bad), bad).toThrow();
    expect(nameserverFromResolvConf("# x\nsearch lan\nnameserver fe80::1\nnameserver 10.0.0.53\n")).toEqual({
      address: "10.0.0.53",
      port: 53,
    });
    expect(nameserverFromResolvConf("search lan\n")).toBeUndefined();
  });
});
