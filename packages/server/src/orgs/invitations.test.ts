import { type Caller, databaseKinds, orgWithTeam, startTestServer, type TestServer } from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rateRules } from "../auth/rate-limit.js";
import { hashSecret } from "../lib/secrets.js";

let seq = 0;
const next = () => ++seq;

describe.each(databaseKinds)("organization invitations (%s)", (kind) => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer(kind, { publicUrl: "https://fluid.example.com" });
  });

  afterAll(async () => {
    await t.close();
  });

  /** An org owned by a fresh user, with an admin, a member and a viewer. */
  const invite = (as: Caller, slug: string, body: Record<string, unknown>) =>
    t.call("POST", `/v1/orgs/${slug}/invitations`, { as, body });

  const accept = (as: Caller, token: string) => t.call("POST", "/v1/invitations/accept", { as, body: { token } });

  const membershipOf = async (orgId: string, userId: string) =>
    (
      await t.server.ctx.db
        .selectFrom("org_members")
        .select("role")
        .where("org_id", "=", orgId)
        .where("user_id", "=", userId)
        .executeTakeFirst()
    )?.role;

  describe("no account lookup by email", () => {
    it("member-lookup-by-email: the add-by-email route is gone (404), and adds nobody", async () => {
      const team = await orgWithTeam(t, "invite");
      const newcomer = await t.fastUser("newcomer");
      const response = await t.call("POST", `/v1/orgs/${team.slug}/members`, {
        as: team.owner,
        body: { email: newcomer.email, role: "member" },
      });
      expect(response.status).toBe(404);
      expect(await membershipOf(team.orgId, newcomer.id)).toBeUndefined();
    });

    it("member-lookup-by-email: inviting an email with an account and one without answer alike", async () => {
      const team = await orgWithTeam(t, "invite");
      const existing = await t.fastUser("existing");
      const known = await invite(team.owner, team.slug, { email: existing.email, role: "member" });
      const unknown = await invite(team.owner, team.slug, { email: `nobody-${next()}@example.com`, role: "member" });
      expect([known.status, unknown.status]).toEqual([201, 201]);
      expect(Object.keys(known.body).sort()).toEqual(Object.keys(unknown.body).sort());
      expect(Object.keys(known.body).sort()).toEqual([
        "accept_url",
        "created_at",
        "email",
        "expires_at",
        "id",
        "invited_by",
        "role",
        "token",
      ]);
      expect(JSON.stringify(known.body)).not.toContain(existing.id);
      expect(known.body.accept_url).toBe(`https://fluid.example.com/invitations/accept#token=${known.body.token}`);
    });

    it("member-lookup-by-email: the token is stored only as its SHA-256", async () => {
      const team = await orgWithTeam(t, "invite");
      const created = await invite(team.owner, team.slug, { email: `hash-${next()}@example.com` });
      const row = await t.server.ctx.db
        .selectFrom("org_invitations")
        .selectAll()
        .where("id", "=", created.body.id)
        .executeTakeFirstOrThrow();
      expect(row.token_hash).toBe(hashSecret(created.body.token));
      expect(JSON.stringify(row)).not.toContain(created.body.token);
    });
  });

  describe("consent", () => {
    it("member-added-without-consent: an invitation adds nobody until the invited person accepts", async () => {
      const team = await orgWithTeam(t, "invite");
      const newcomer = await t.fastUser("newcomer");
      const created = await invite(team.admin, team.slug, { email: newcomer.email.toUpperCase(), role: "viewer" });
      expect(created.status).toBe(201);
      expect(created.body.email).toBe(newcomer.email);
      expect(await membershipOf(team.orgId, newcomer.id)).toBeUndefined();

      const joined = await accept(newcomer, created.body.token);
      expect(joined.status).toBe(200);
      expect(joined.body).toMatchObject({
        org: { id: team.orgId, slug: team.slug },
        membership: { user_id: newcomer.id, email: newcomer.email, role: "viewer" },
      });
      expect(await membershipOf(team.orgId, newcomer.id)).toBe("viewer");
    });

    it("member-added-without-consent: someone signed in with another email cannot accept (403, no row)", async () => {
      const team = await orgWithTeam(t, "invite");
      const stranger = await t.fastUser("stranger");
      const created = await invite(team.owner, team.slug, { email: `someone-else-${next()}@example.com` });
      const response = await accept(stranger, created.body.token);
      expect(response.status).toBe(403);
      expect(response.body.error.code).toBe("forbidden");
      expect(await membershipOf(team.orgId, stranger.id)).toBeUndefined();
    });

    it("member-added-without-consent: the invited person may accept with an API key of their own (the CLI)", async () => {
      const team = await orgWithTeam(t, "invite");
      const newcomer = await t.fastUser("newcomer");
      const home = await t.org(newcomer, `home-${next()}`);
      const key = await t.apiKey(newcomer, home.slug, "viewer");
      const created = await invite(team.owner, team.slug, { email: newcomer.email, role: "member" });
      expect((await accept({ key: key.key }, created.body.token)).status).toBe(200);
      expect(await membershipOf(team.orgId, newcomer.id)).toBe("member");
    });

    it("invitation-reuse: an accepted invitation cannot be used again (409)", async () => {
      const team = await orgWithTeam(t, "invite");
      const newcomer = await t.fastUser("newcomer");
      const created = await invite(team.owner, team.slug, { email: newcomer.email });
      expect((await accept(newcomer, created.body.token)).status).toBe(200);
      const again = await accept(newcomer, created.body.token);
      expect(again.status).toBe(409);
      expect(again.body.error).toEqual({ code: "invalid_state", message: "this invitation has already been accepted" });
    });

    it("invitation-expiry: an expired invitation cannot be accepted (409, no row)", async () => {
      const team = await orgWithTeam(t, "invite");
      const newcomer = await t.fastUser("newcomer");
      const created = await invite(team.owner, team.slug, { email: newcomer.email, ttl_seconds: 300 });
      await t.server.ctx.db
        .updateTable("org_invitations")
        .set({ expires_at: new Date(Date.now() - 1000) })
        .where("id", "=", created.body.id)
        .execute();
      const response = await accept(newcomer, created.body.token);
      expect(response.status).toBe(409);
      expect(response.body.error.message).toMatch(/expired/);
      expect(await membershipOf(team.orgId, newcomer.id)).toBeUndefined();
    });

    it("invitation-unknown-token: a made-up token answers 404", async () => {
      const someone = await t.fastUser("someone");
      const response = await accept(someone, "flinv_not-a-real-token");
      expect(response.status).toBe(404);
      expect(response.body.error.code).toBe("not_found");
    });

    it("invitation-for-member: an existing member accepting answers 409 and keeps their role", async () => {
      const team = await orgWithTeam(t, "invite");
      const created = await invite(team.owner, team.slug, { email: team.viewer.email, role: "admin" });
      const response = await accept(team.viewer, created.body.token);
      expect(response.status).toBe(409);
      expect(await membershipOf(team.orgId, team.viewer.id)).toBe("viewer");
    });
  });

  describe("who may invite", () => {
    it.each(["viewer", "member"] as const)("invite-requires-admin: a %s cannot invite (403, no row)", async (who) => {
      const team = await orgWithTeam(t, "invite");
      const response = await invite(team[who], team.slug, { email: `x-${next()}@example.com`, role: "viewer" });
      expect(response.status).toBe(403);
      const rows = await t.server.ctx.db
        .selectFrom("org_invitations")
        .select("id")
        .where("org_id", "=", team.orgId)
        .where("invited_by", "=", team[who].id)
        .execute();
      expect(rows).toHaveLength(0);
    });

    it("admin-grants-owner-only: an admin cannot invite an admin (403); the owner can", async () => {
      const team = await orgWithTeam(t, "invite");
      const email = `new-admin-${next()}@example.com`;
      expect((await invite(team.admin, team.slug, { email, role: "admin" })).status).toBe(403);
      expect((await invite(team.owner, team.slug, { email, role: "admin" })).status).toBe(201);
    });

    it("owner-not-assignable: nobody can invite a second owner (400)", async () => {
      const team = await orgWithTeam(t, "invite");
      const response = await invite(team.owner, team.slug, { email: `owner-${next()}@example.com`, role: "owner" });
      expect(response.status).toBe(400);
    });

    it("invite-rate-limited: past the per-person budget, creating invitations answers 429", async () => {
      const team = await orgWithTeam(t, "invite");
      await t.server.ctx.db
        .insertInto("rate_limits")
        .values({
          key: `${rateRules.invite.name}:${team.admin.id}`,
          window_start: new Date(),
          count: rateRules.invite.limit,
        })
        .execute();
      const response = await invite(team.admin, team.slug, { email: `spam-${next()}@example.com` });
      expect(response.status).toBe(429);
      expect(response.body.error.code).toBe("rate_limited");
      expect(response.headers["retry-after"]).toBeDefined();
      expect((await invite(team.owner, team.slug, { email: `fine-${next()}@example.com` })).status).toBe(201);
    });
  });

  describe("listing and revoking", () => {
    it("invitations-pending-listed: admins see pending invitations only, without tokens", async () => {
      const team = await orgWithTeam(t, "invite");
      const pending = await invite(team.owner, team.slug, { email: `pending-${next()}@example.com` });
      const revoked = await invite(team.owner, team.slug, { email: `revoked-${next()}@example.com` });
      await t.call("DELETE", `/v1/orgs/${team.slug}/invitations/${revoked.body.id}`, { as: team.owner });
      const expired = await invite(team.owner, team.slug, { email: `expired-${next()}@example.com` });
      await t.server.ctx.db
        .updateTable("org_invitations")
        .set({ expires_at: new Date(Date.now() - 1000) })
        .where("id", "=", expired.body.id)
        .execute();

      const listed = await t.call("GET", `/v1/orgs/${team.slug}/invitations`, { as: team.admin });
      expect(listed.status).toBe(200);
      // The team's own three invitations were accepted, so only the pending one is left.
      expect(listed.body.invitations.map((i: { id: string }) => i.id)).toEqual([pending.body.id]);
      expect(listed.body.total).toBe(1);
      expect(JSON.stringify(listed.body)).not.toContain(pending.body.token);
      expect((await t.call("GET", `/v1/orgs/${team.slug}/invitations`, { as: team.member })).status).toBe(403);
    });

    it("invitation-revoke: a revoked invitation can no longer be accepted", async () => {
      const team = await orgWithTeam(t, "invite");
      const newcomer = await t.fastUser("newcomer");
      const created = await invite(team.admin, team.slug, { email: newcomer.email });
      const revoked = await t.call("DELETE", `/v1/orgs/${team.slug}/invitations/${created.body.id}`, {
        as: team.admin,
      });
      expect(revoked.status).toBe(200);
      const response = await accept(newcomer, created.body.token);
      expect(response.status).toBe(409);
      expect(response.body.error.message).toMatch(/revoked/);
      expect(await membershipOf(team.orgId, newcomer.id)).toBeUndefined();
    });

    it("admin-grants-owner-only: an admin cannot revoke an admin invitation (403)", async () => {
      const team = await orgWithTeam(t, "invite");
      const created = await invite(team.owner, team.slug, { email: `adm-${next()}@example.com`, role: "admin" });
      const path = `/v1/orgs/${team.slug}/invitations/${created.body.id}`;
      expect((await t.call("DELETE", path, { as: team.admin })).status).toBe(403);
      expect((await t.call("DELETE", path, { as: team.owner })).status).toBe(200);
    });

    it("invitation-revoke-scoped-to-org: revoking another org's invitation through your own org answers 404", async () => {
      const team = await orgWithTeam(t, "invite");
      const other = await orgWithTeam(t, "invite");
      const created = await invite(other.owner, other.slug, { email: `theirs-${next()}@example.com` });
      const response = await t.call("DELETE", `/v1/orgs/${team.slug}/invitations/${created.body.id}`, {
        as: team.owner,
      });
      expect(response.status).toBe(404);
      const row = await t.server.ctx.db
        .selectFrom("org_invitations")
        .select("revoked_at")
        .where("id", "=", created.body.id)
        .executeTakeFirstOrThrow();
      expect(row.revoked_at).toBeNull();
    });
  });
});
