import { type Caller, databaseKinds, startTestServer, TestDaemon, type TestServer } from "@fluid/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

describe.each(databaseKinds)("sandbox egress allowlists over the host stream (%s)", (kind) => {
  let t: TestServer;
  let owner: Caller;
  let daemon: TestDaemon;
  let id: string;

  const setEgress = (body: Record<string, unknown>, as: Caller = owner) =>
    t.call("PUT", `/v1/orgs/acme/sandboxes/${id}/egress`, { as, body });

  beforeEach(async () => {
    t = await startTestServer(kind);
    owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
    const token = await t.hostToken(owner, "acme");
    daemon = await TestDaemon.connect(t.grpcUrl, { token: token.token });
    const created = await t.call("POST", "/v1/orgs/acme/sandboxes", { as: owner, body: { source_vm: "debian-12" } });
    expect(created.status).toBe(201);
    id = created.body.id;
  });

  afterEach(async () => {
    daemon.abort();
    await t.close();
  });

  it("sends the allowlist to the host as one command and shows it on the sandbox", async () => {
    const res = await setEgress({ allow: ["10.0.0.0/8:443", "deb.debian.org", "*.example.com:80,443"] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      allow_egress: false,
      egress_allow: ["10.0.0.0/8:443", "deb.debian.org", "*.example.com:80,443"],
    });
    const sent = daemon.commands("setEgress");
    expect(sent).toHaveLength(1);
    expect(sent[0]?.payload.case === "setEgress" && sent[0].payload.value).toMatchObject({
      sandboxId: id,
      allowAll: false,
      allow: ["10.0.0.0/8:443", "deb.debian.org", "*.example.com:80,443"],
    });
    const shown = await t.call("GET", `/v1/orgs/acme/sandboxes/${id}`, { as: owner });
    expect(shown.body.egress_allow).toEqual(["10.0.0.0/8:443", "deb.debian.org", "*.example.com:80,443"]);
  });

  it("takes an allowlist at create: sent with the create command, shown on the sandbox and in its audit event", async () => {
    const allow = ["10.0.0.0/8:443", "deb.debian.org"];
    const created = await t.call("POST", "/v1/orgs/acme/sandboxes", {
      as: owner,
      body: { source_vm: "debian-12", egress_allow: allow },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ allow_egress: false, egress_allow: allow });
    const sent = daemon.commands("createSandbox").at(-1);
    expect(sent?.payload.case === "createSandbox" && sent.payload.value).toMatchObject({
      sandboxId: created.body.id,
      allowEgress: false,
      egressAllow: allow,
    });
    const res = await t.call("GET", "/v1/orgs/acme/audit", {
      as: owner,
      query: { target_id: created.body.id, limit: "50" },
    });
    const event = (res.body.events as Array<{ action: string; details: Record<string, unknown> }>).find(
      (e) => e.action === "sandbox.created",
    );
    expect(event?.details.egress_allow).toEqual(allow);
  });

  it("refuses at create an allowlist with allow_egress, and malformed entries, before the host sees them", async () => {
    const before = daemon.commands("createSandbox").length;
    for (const extra of [
      { allow_egress: true, egress_allow: ["deb.debian.org"] },
      { egress_allow: ["deb.debian.org; rm -rf /"] },
      { egress_allow: Array.from({ length: 65 }, (_, i) => `10.0.${i}.0/24`) },
    ]) {
      const res = await t.call("POST", "/v1/orgs/acme/sandboxes", {
        as: owner,
        body: { source_vm: "debian-12", ...extra },
      });
      expect(res.status, JSON.stringify(extra).slice(0, 80)).toBe(400);
    }
    expect(daemon.commands("createSandbox")).toHaveLength(before);
  });

  it("audits each change with the egress before and after", async () => {
    await setEgress({ allow: ["deb.debian.org"] });
    await setEgress({});
    const res = await t.call("GET", "/v1/orgs/acme/audit", { as: owner, query: { target_id: id, limit: "50" } });
    const changes = (res.body.events as Array<{ action: string; details: unknown }>)
      .filter((event) => event.action === "sandbox.egress_changed")
      .reverse();
    expect(changes.map((event) => event.details)).toEqual([
      { before: "none", after: ["deb.debian.org"] },
      { before: ["deb.debian.org"], after: "none" },
    ]);
  });

  it("refuses malformed entries, and allow_all together with an allowlist, before the host sees them", async () => {
    for (const body of [
      { allow: ["deb.debian.org; rm -rf /"] },
      { allow: ["10.0.0.0/8:https"] },
      { allow: Array.from({ length: 65 }, (_, i) => `10.0.${i}.0/24`) },
      { allow_all: true, allow: ["deb.debian.org"] },
    ]) {
      expect((await setEgress(body)).status, JSON.stringify(body).slice(0, 80)).toBe(400);
    }
    expect(daemon.commands("setEgress")).toHaveLength(0);
  });

  it("is for org admins only: a member who created the sandbox cannot change its egress", async () => {
    const member = await t.fastUser("member");
    await t.member(owner, "acme", member, "member");
    const theirs = await t.call("POST", "/v1/orgs/acme/sandboxes", { as: member, body: { source_vm: "debian-12" } });
    const res = await t.call("PUT", `/v1/orgs/acme/sandboxes/${theirs.body.id}/egress`, {
      as: member,
      body: { allow_all: true },
    });
    expect(res.status).toBe(403);
    expect(daemon.commands("setEgress")).toHaveLength(0);
  });
});
