import { Code } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { databaseKinds } from "../testing/db.js";
import { type Caller, startTestServer, type TestServer } from "../testing/harness.js";
import { TestDaemon } from "../testing/test-daemon.js";

describe.each(databaseKinds)("host stream (%s)", (kind) => {
  let t: TestServer;
  let owner: Caller;
  const daemons: TestDaemon[] = [];

  beforeEach(async () => {
    t = await startTestServer(kind);
    owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
  });

  afterEach(async () => {
    for (const d of daemons.splice(0)) d.abort();
    await t.close();
  });

  const connect = async (token: string, options: Partial<Parameters<typeof TestDaemon.connect>[1]> = {}) => {
    const daemon = await TestDaemon.connect(t.grpcUrl, { token, ...options });
    daemons.push(daemon);
    return daemon;
  };

  it("registers with a host token; identity is the token id, not the claimed host_id", async () => {
    const token = await t.hostToken(owner, "acme");
    const daemon = await connect(token.token, { registration: { hostId: "someone-elses-host" } });
    expect(daemon.ack?.accepted).toBe(true);
    expect(daemon.ack?.assignedHostId).toBe(token.id);
    const hosts = await t.call("GET", "/v1/orgs/acme/hosts", { as: owner });
    expect(hosts.body.hosts).toHaveLength(1);
    expect(hosts.body.hosts[0]).toMatchObject({
      host_id: token.id,
      hostname: "test-host",
      status: "ONLINE",
      available_cpus: 4,
      available_memory_mb: 8192,
    });
  });

  it("refuses an invalid token with UNAUTHENTICATED", async () => {
    await expect(connect("flh_not-a-real-token")).rejects.toMatchObject({ code: Code.Unauthenticated });
  });
});
