import { type Caller, databaseKinds, startTestServer, type TestServer } from "@fluid/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

type User = Awaited<ReturnType<TestServer["fastUser"]>>;

interface Event {
  seq: number;
  action: string;
  target_type: string;
  target_id: string;
  actor_user_id: string | null;
  actor_key_id: string | null;
  at: string;
}

describe.each(databaseKinds)("audit routes (%s)", (kind) => {
  let t: TestServer;
  let owner: User;
  let member: User;
  let outsider: Caller;
  let tokenId: string;

  const list = (query: Record<string, string> = {}, as: Caller = owner) =>
    t.call<{ events: Event[]; count: number; has_more: boolean; next_before_seq: number | null }>(
      "GET",
      "/v1/orgs/acme/audit",
      { as, query },
    );

  beforeAll(async () => {
    t = await startTestServer(kind);
    owner = await t.fastUser("owner");
    await t.org(owner, "acme");
    member = await t.fastUser("member");
    await t.member(owner, "acme", member, "member");
    tokenId = (await t.hostToken(owner, "acme", "rack-1")).id;
    outsider = await t.fastUser("outsider");
    await t.org(outsider, "elsewhere");
  });
  afterAll(async () => {
    await t.close();
  });

  it("lists the org's events newest first, each with its chain hashes", async () => {
    const res = await list();
    expect(res.status).toBe(200);
    expect(res.body.events.map((e) => e.action)).toEqual([
      "host_token.created",
      "invitation.accepted",
      "invitation.created",
      "org.created",
    ]);
    expect(res.body.events.map((e) => e.seq)).toEqual([4, 3, 2, 1]);
    expect(res.body).toMatchObject({ count: 4, has_more: false, next_before_seq: null });
  });

  it("filters by action prefix, exact action, target, actor and time", async () => {
    expect((await list({ action: "invitation" })).body.events.map((e) => e.action)).toEqual([
      "invitation.accepted",
      "invitation.created",
    ]);
    expect((await list({ action: "invitation.created" })).body.count).toBe(1);
    // A prefix matches whole dotted segments only.
    expect((await list({ action: "invit" })).body.count).toBe(0);
    const byTarget = await list({ target_type: "host_token", target_id: tokenId });
    expect(byTarget.body.events.map((e) => e.action)).toEqual(["host_token.created"]);
    const byMember = await list({ actor_user_id: member.id });
    expect(byMember.body.events.map((e) => e.action)).toEqual(["invitation.accepted"]);
    const newest = (await list()).body.events[0] as Event;
    expect((await list({ since: newest.at })).body.events.map((e) => e.seq)).toContain(newest.seq);
    expect((await list({ until: new Date(Date.parse(newest.at) - 60_000).toISOString() })).body.count).toBe(0);
  });

  it("pages by seq with next_before_seq until every event was seen once", async () => {
    const seen: number[] = [];
    let cursor: number | null = null;
    do {
      const res = await list({ limit: "3", ...(cursor ? { before_seq: String(cursor) } : {}) });
      seen.push(...res.body.events.map((e) => e.seq));
      cursor = res.body.next_before_seq;
      expect(res.body.has_more).toBe(cursor !== null);
    } while (cursor !== null);
    expect(seen).toEqual([4, 3, 2, 1]);
  });

  it("refuses malformed filters with a 400 in the error envelope", async () => {
    const res = await t.call("GET", "/v1/orgs/acme/audit", { as: owner, query: { action: "Sandbox.%" } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
  });

  it("is admin-only: a member gets 403, another org's owner 404", async () => {
    expect((await list({}, member)).status).toBe(403);
    expect((await t.call("GET", "/v1/orgs/acme/audit/verify", { as: member })).status).toBe(403);
    const foreign = await t.call("GET", "/v1/orgs/acme/audit", { as: outsider });
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe("not_found");
    expect((await t.call("GET", "/v1/orgs/acme/audit/verify", { as: outsider })).status).toBe(404);
  });

  it("records the API key an admin acted through", async () => {
    const key = await t.apiKey(owner, "acme", "admin");
    const revoked = await t.call("DELETE", `/v1/orgs/acme/hosts/tokens/${tokenId}`, { as: { key: key.key } });
    expect(revoked.status).toBe(200);
    const [event] = (await list({ action: "host_token.revoked" })).body.events;
    expect(event).toMatchObject({ actor_user_id: owner.id, actor_key_id: key.id, target_id: tokenId });
  });

  it("verify holds on the untouched chain and names the seq of a row altered in SQL", async () => {
    const before = await t.call("GET", "/v1/orgs/acme/audit/verify", { as: owner });
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({ valid: true, events: (await list()).body.count });
    expect(before.body.head_hash).toMatch(/^[0-9a-f]{64}$/);
    const org = await t.server.ctx.db
      .selectFrom("orgs")
      .select("id")
      .where("slug", "=", "acme")
      .executeTakeFirstOrThrow();
    await sql`UPDATE audit_events SET details = '{"role": "owner"}' WHERE org_id = ${org.id} AND seq = 2`.execute(
      t.server.ctx.db,
    );
    const after = await t.call("GET", "/v1/orgs/acme/audit/verify", { as: owner });
    expect(after.body).toMatchObject({ valid: false, first_invalid: { seq: 2 } });
    // The other org's chain is its own and still holds.
    expect((await t.call("GET", "/v1/orgs/elsewhere/audit/verify", { as: outsider })).body.valid).toBe(true);
  });
});
