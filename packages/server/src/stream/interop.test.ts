import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Caller, databaseKinds, startTestServer, type TestServer } from "@fluid/testkit";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const protoRoot = join(dirname(fileURLToPath(import.meta.url)), "../../../../proto");

/**
 * A client built by a different toolchain (grpc-js loading the .proto files at run time, no
 * protobuf-es) proves the stream is standard gRPC: original Go daemons would connect the same way.
 */
function loadHostService() {
  const definition = protoLoader.loadSync("fluid/v1/stream.proto", {
    includeDirs: [protoRoot],
    keepCase: true,
    longs: String,
    defaults: true,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    fluid: { v1: { HostService: grpc.ServiceClientConstructor } };
  };
  return loaded.fluid.v1.HostService;
}

interface ControlMessage {
  request_id: string;
  payload: string;
  registration_ack?: { accepted: boolean; assigned_host_id: string };
}

function openStream(address: string, token: string) {
  const HostService = loadHostService();
  const client = new HostService(address, grpc.credentials.createInsecure(), {
    "grpc.per_rpc_retry_buffer_size": 4096,
  });
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  const call = (
    client as unknown as { connect(m: grpc.Metadata): grpc.ClientDuplexStream<object, ControlMessage> }
  ).connect(metadata);
  const received: ControlMessage[] = [];
  const ended = new Promise<grpc.ServiceError | undefined>((resolve) => {
    call.on("data", (m: ControlMessage) => received.push(m));
    call.on("error", (err: grpc.ServiceError) => resolve(err));
    call.on("end", () => resolve(undefined));
  });
  return { client, call, received, ended };
}

const until = async (check: () => boolean | Promise<boolean>, timeoutMs = 5_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe.each(databaseKinds)("gRPC interop with a grpc-js client from the .proto files (%s)", (kind) => {
  let t: TestServer;
  let owner: Caller;
  let address: string;

  beforeEach(async () => {
    t = await startTestServer(kind);
    owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
    address = `127.0.0.1:${t.server.grpc.address.port}`;
  });

  afterEach(() => t.close());

  it("registers with a host token, receives its ack and heartbeats", async () => {
    const token = await t.hostToken(owner, "acme");
    const stream = openStream(address, token.token);
    stream.call.write({
      request_id: "reg-1",
      registration: {
        host_id: "go-daemon",
        hostname: "go-host",
        version: "0.1.0",
        total_cpus: 2,
        available_cpus: 2,
        total_memory_mb: 4096,
        available_memory_mb: 4096,
        base_images: ["debian-12"],
      },
    });
    await until(() => stream.received.length > 0);
    expect(stream.received[0]).toMatchObject({
      request_id: "reg-1",
      payload: "registration_ack",
      registration_ack: { accepted: true, assigned_host_id: token.id },
    });
    stream.call.write({
      heartbeat: { active_sandboxes: 0, available_cpus: 2, available_memory_mb: 1000, available_disk_mb: 5000 },
    });
    await until(async () => {
      const host = await t.server.ctx.db.selectFrom("hosts").selectAll().where("id", "=", token.id).executeTakeFirst();
      return host?.available_memory_mb === 1000 && host.status === "ONLINE";
    });
    stream.call.end();
    expect(await stream.ended).toBeUndefined();
    stream.client.close();
  });

  it("an invalid token is refused with UNAUTHENTICATED", async () => {
    const stream = openStream(address, "flh_wrong");
    stream.call.write({ registration: { hostname: "go-host" } });
    expect((await stream.ended)?.code).toBe(grpc.status.UNAUTHENTICATED);
    stream.client.close();
  });

  it("a revoked token is refused with UNAUTHENTICATED", async () => {
    const token = await t.hostToken(owner, "acme");
    await t.call("DELETE", `/v1/orgs/acme/hosts/tokens/${token.id}`, { as: owner });
    const stream = openStream(address, token.token);
    stream.call.write({ registration: { hostname: "go-host" } });
    expect((await stream.ended)?.code).toBe(grpc.status.UNAUTHENTICATED);
    stream.client.close();
  });

  it("malformed protobuf bytes end that stream with an error and leave the server serving", async () => {
    const token = await t.hostToken(owner, "acme");
    const client = new grpc.Client(address, grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${token.token}`);
    const call = client.makeBidiStreamRequest(
      "/fluid.v1.HostService/Connect",
      (b: Buffer) => b,
      (b: Buffer) => b,
      metadata,
    );
    const ended = new Promise<grpc.ServiceError | undefined>((resolve) => {
      call.on("data", () => undefined);
      call.on("error", (err: grpc.ServiceError) => resolve(err));
      call.on("end", () => resolve(undefined));
    });
    call.write(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]));
    const error = await ended;
    expect(error?.code).toBeDefined();
    expect(error?.code).not.toBe(grpc.status.OK);
    client.close();

    const healthy = openStream(address, token.token);
    healthy.call.write({ request_id: "r", registration: { hostname: "after" } });
    await until(() => healthy.received.length > 0);
    expect(healthy.received[0]?.payload).toBe("registration_ack");
    healthy.call.end();
    healthy.client.close();
  });
});
