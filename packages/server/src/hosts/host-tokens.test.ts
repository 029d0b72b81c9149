import { createHash } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { databaseKinds, orgWithTeam, startTestServer, TestDaemon, type TestServer } from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findHostToken } from "./host-store.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const sha256 = (value: string) => createHash("sha256").update(value, "utf8").digest("hex");

describe.each(databaseKinds)("host tokens (%s)", (kind) => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer(kind);
  });

  afterAll(async () => {
    await t.close();
  });

  const tokenRow = (id: string) =>
    t.server.ctx.db.selectFrom("host_tokens").selectAll().where("id", "=", id).executeTakeFirstOrThrow();

  it("host-token-create-admin-only: an admin creates a token and gets its secret once", async () => {
    const team = await orgWithTeam(t, "hosts");
    const response = await t.call("POST", `/v1/orgs/${team.slug}/hosts/tokens`, {
      as: team.admin,
      body: { name: "rack-1" },
    });
    expect(response.status).toBe(201);
    expect(response.body.name).toBe("rack-1");
    expect(response.body.token).toMatch(/^flh_[A-Za-z0-9_-]{43}$/);
    const row = await tokenRow(response.body.id);
    expect(row.org_id).toBe(team.orgId);
    expect(row.created_by).toBe(team.admin.id);
  });

  it.each(["member", "viewer"] as const)(
    "host-token-create-admin-only: a %s cannot create tokens (403, nothing stored)",
    async (role) => {
      const team = await orgWithTeam(t, "hosts");
      const response = await t.call("POST", `/v1/orgs/${team.slug}/hosts/tokens`, {
        as: team[role],
        body: { name: "not-allowed" },
      });
      expect(response.status).toBe(403);
      const rows = await t.server.ctx.db
        .selectFrom("host_tokens")
        .select("id")
        .where("org_id", "=", team.orgId)
        .execute();
      expect(rows).toHaveLength(0);
    },
  );

  it("host-token-id-full-entropy: token ids are complete, distinct UUIDs", async () => {
    const team = await orgWithTeam(t, "hosts");
    const a = await t.hostToken(team.owner, team.slug, "a");
    const b = await t.hostToken(team.owner, team.slug, "b");
    expect(a.id).toMatch(UUID);
    expect(b.id).toMatch(UUID);
    expect(a.id).not.toBe(b.id);
    expect(a.token).not.toBe(b.token);
  });

  it("host-token-stored-hashed: the DB holds SHA-256 of the secret and nothing findable by the raw value", async () => {
    const team = await orgWithTeam(t, "hosts");
    const created = await t.hostToken(team.owner, team.slug);
    const row = await tokenRow(created.id);
    expect(row.token_hash).toBe(sha256(created.token));
    const byRaw = await t.server.ctx.db
      .selectFrom("host_tokens")
      .select("id")
      .where("token_hash", "=", created.token)
      .execute();
    expect(byRaw).toHaveLength(0);
    expect(JSON.stringify(row)).not.toContain(created.token.slice("flh_".length));
  });

  it("host-token-list-hides-secret: a viewer lists the tokens without any secret or hash", async () => {
    const team = await orgWithTeam(t, "hosts");
    const created = await t.hostToken(team.owner, team.slug, "listed");
    const response = await t.call("GET", `/v1/orgs/${team.slug}/hosts/tokens`, { as: team.viewer });
    expect(response.status).toBe(200);
    expect(response.body.tokens.map((tok: { id: string; name: string }) => [tok.id, tok.name])).toEqual([
      [created.id, "listed"],
    ]);
    const text = JSON.stringify(response.body);
    expect(text).not.toContain(created.token);
    expect(text).not.toContain(sha256(created.token));
    expect(response.body.tokens[0]).not.toHaveProperty("token");
    expect(response.body.tokens[0]).not.toHaveProperty("token_hash");
  });

  it("host-token-revoke: revoking answers 200, the token stops authenticating, and a second revoke answers 404", async () => {
    const team = await orgWithTeam(t, "hosts");
    const created = await t.hostToken(team.owner, team.slug);
    expect(await findHostToken(t.server.ctx.db, created.token)).toEqual({ id: created.id, orgId: team.orgId });
    const path = `/v1/orgs/${team.slug}/hosts/tokens/${created.id}`;
    const first = await t.call("DELETE", path, { as: team.admin });
    expect(first.status).toBe(200);
    expect(await findHostToken(t.server.ctx.db, created.token)).toBeUndefined();
    const second = await t.call("DELETE", path, { as: team.admin });
    expect(second.status).toBe(404);
    const list = await t.call("GET", `/v1/orgs/${team.slug}/hosts/tokens`, { as: team.owner });
    expect(list.body.tokens).toEqual([]);
  });

  it("host-token-revoke-admin-only: a member cannot revoke a token (403, still valid)", async () => {
    const team = await orgWithTeam(t, "hosts");
    const created = await t.hostToken(team.owner, team.slug);
    const response = await t.call("DELETE", `/v1/orgs/${team.slug}/hosts/tokens/${created.id}`, { as: team.member });
    expect(response.status).toBe(403);
    expect(await findHostToken(t.server.ctx.db, created.token)).toBeDefined();
  });

  it("delete-host-token-scoped-to-org: org A's admin deleting org B's token answers 404 and the token still works", async () => {
    const a = await orgWithTeam(t, "hosts");
    const b = await orgWithTeam(t, "hosts");
    const victim = await t.hostToken(b.owner, b.slug);
    const response = await t.call("DELETE", `/v1/orgs/${a.slug}/hosts/tokens/${victim.id}`, { as: a.admin });
    expect(response.status).toBe(404);
    expect((await tokenRow(victim.id)).revoked_at).toBeNull();
    expect(await findHostToken(t.server.ctx.db, victim.token)).toEqual({ id: victim.id, orgId: b.orgId });
    const daemon = await TestDaemon.connect(t.grpcUrl, { token: victim.token });
    try {
      expect(daemon.ack?.accepted).toBe(true);
      expect(daemon.ack?.assignedHostId).toBe(victim.id);
    } finally {
      daemon.abort();
    }
  });

  it("host-token-revoked-refused-by-stream: a daemon presenting a revoked token is refused UNAUTHENTICATED", async () => {
    const team = await orgWithTeam(t, "hosts");
    const created = await t.hostToken(team.owner, team.slug);
    await t.call("DELETE", `/v1/orgs/${team.slug}/hosts/tokens/${created.id}`, { as: team.owner });
    await expect(TestDaemon.connect(t.grpcUrl, { token: created.token })).rejects.toMatchObject({
      code: Code.Unauthenticated,
    });
  });

  it("host-token-expired: a token past its expires_at no longer authenticates", async () => {
    const team = await orgWithTeam(t, "hosts");
    const created = await t.hostToken(team.owner, team.slug);
    await t.server.ctx.db
      .updateTable("host_tokens")
      .set({ expires_at: new Date(Date.now() - 1_000) })
      .where("id", "=", created.id)
      .execute();
    expect(await findHostToken(t.server.ctx.db, created.token)).toBeUndefined();
  });

  it("host-token-is-not-an-api-key: a host token in Authorization is refused by the REST API (401)", async () => {
    const team = await orgWithTeam(t, "hosts");
    const created = await t.hostToken(team.owner, team.slug);
    const response = await t.call("GET", `/v1/orgs/${team.slug}/hosts`, {
      headers: { authorization: `Bearer ${created.token}` },
    });
    expect(response.status).toBe(401);
  });
});
