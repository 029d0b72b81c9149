import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createSecureServer, type Http2SecureServer, type ServerHttp2Session } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { type HostMessage, HostMessageSchema, HostService } from "@fluid/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Outbox } from "./outbox.js";
import { expandServers, parseServerList, type Resolver } from "./server-list.js";
import { endpointTransport } from "./transport.js";

const run = promisify(execFile);
const KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"];

/** A CA, and a certificate it signed for cp.fluid.test only (openssl, argument vectors, no shell). */
async function makeCertificates(dir: string) {
  const at = (name: string) => join(dir, name);
  await run("openssl", [
    "req",
    "-x509",
    ...KEY,
    "-keyout",
    at("ca.key"),
    "-out",
    at("ca.pem"),
    "-subj",
    "/CN=fluid CA",
  ]);
  await run("openssl", [
    ...["req", "-x509", ...KEY, "-keyout", at("server.key"), "-out", at("server.pem"), "-subj", "/CN=cp.fluid.test"],
    ...["-CA", at("ca.pem"), "-CAkey", at("ca.key"), "-addext", "subjectAltName=DNS:cp.fluid.test"],
  ]);
}

/** Every name resolves to loopback, where the test's TLS listener is. */
const loopback: Resolver = async () => [{ address: "127.0.0.1", family: 4 }];

/** Opens a stream to `entry` and reports how it ended: a gRPC answer means TLS was accepted. */
async function connect(entry: string, caFile: string | undefined) {
  const [endpoint] = await expandServers(parseServerList(entry), loopback, () => undefined);
  if (!endpoint) throw new Error("no endpoint");
  const client = createClient(HostService, await endpointTransport(endpoint, { insecure: false, caFile }));
  const outbox = new Outbox<HostMessage>();
  outbox.push(create(HostMessageSchema, { payload: { case: "heartbeat", value: {} } }));
  outbox.end();
  try {
    for await (const _ of client.connect(outbox)) break;
    return "no error";
  } catch (err) {
    const error = ConnectError.from(err);
    return `${Code[error.code]}: ${error.rawMessage}`;
  }
}

describe("endpointTransport over TLS", () => {
  let dir: string;
  let server: Http2SecureServer;
  let port: number;
  const sessions: ServerHttp2Session[] = [];
  const authorities: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-tls-"));
    await makeCertificates(dir);
    server = createSecureServer({
      key: await readFile(join(dir, "server.key")),
      cert: await readFile(join(dir, "server.pem")),
    });
    server.on("session", (session) => sessions.push(session));
    // Any call that gets through TLS is answered "unimplemented", which the client reads as a gRPC status.
    server.on("stream", (stream, headers) => {
      authorities.push(String(headers[":authority"]));
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "12", "grpc-message": "reached" }));
      stream.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    for (const session of sessions) session.destroy();
    await new Promise((resolve) => server?.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it("dials the resolved address and checks the certificate against the entry's host name", async () => {
    expect(await connect(`cp.fluid.test:${port}`, join(dir, "ca.pem"))).toBe("Unimplemented: reached");
    // A load balancer in front of the replicas routes on the name the operator gave, not the address.
    expect(authorities).toEqual([`cp.fluid.test:${port}`]);
  });

  it("refuses a certificate that does not name the entry's host, though the address is the same", async () => {
    expect(await connect(`other.fluid.test:${port}`, join(dir, "ca.pem"))).toMatch(/altnames|cp\.fluid\.test/i);
  });

  it("refuses a certificate from a CA it was not given", async () => {
    expect(await connect(`cp.fluid.test:${port}`, undefined)).toMatch(/certificate/i);
  });
});
