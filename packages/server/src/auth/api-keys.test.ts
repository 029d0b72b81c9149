import { createHash } from "node:crypto";
import { databaseKinds, orgWithTeam, startTestServer, type TestServer } from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const sha256 = (value: string) => createHash("sha256").update(value, "utf8").digest("hex");

let seq = 0;
const next = () => ++seq;

describe.each(databaseKinds)("API keys (%s)", (kind) => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer(kind);
  });

  afterAll(async () => {
    await t.close();
  });

  /** An org owned by a fresh user, plus an admin, a member and a viewer. */
  const keyRow = (id: string) =>
    t.server.ctx.db.selectFrom("api_keys").selectAll().where("id", "=", id).executeTakeFirstOrThrow();

  describe("creating and listing", () => {
    it("api-key-create-admin-only: an admin creates a key and gets its secret once, with a full-UUID id", async () => {
      const { slug, admin } = await orgWithTeam(t, "keys");
      const response = await t.call("POST", `/v1/orgs/${slug}/api-keys`, {
        as: admin,
        body: { name: "ci", role: "member" },
      });
      expect(response.status).toBe(201);
      expect(response.body.id).toMatch(UUID);
      expect(response.body.key).toMatch(/^fl_[A-Za-z0-9_-]{43}$/);
      expect(response.body).toMatchObject({ name: "ci", role: "member", created_by: admin.id });
      expect(response.body.key.startsWith(response.body.prefix)).toBe(true);
    });

    it.each(["member", "viewer"] as const)(
      "api-key-create-admin-only: a %s cannot create keys (403, nothing stored)",
      async (role) => {
        const team = await orgWithTeam(t, "keys");
        const response = await t.call("POST", `/v1/orgs/${team.slug}/api-keys`, {
          as: team[role],
          body: { name: "nope", role: "viewer" },
        });
        expect(response.status).toBe(403);
        const rows = await t.server.ctx.db.selectFrom("api_keys").select("id").where("name", "=", "nope").execute();
        expect(rows).toHaveLength(0);
      },
    );

    it("api-key-secret-shown-once: the list never shows the secret or its hash", async () => {
      const { slug, owner } = await orgWithTeam(t, "keys");
      const created = await t.apiKey(owner, slug, "viewer");
      const list = await t.call("GET", `/v1/orgs/${slug}/api-keys`, { as: owner });
      expect(list.status).toBe(200);
      expect(list.body.api_keys.map((k: { id: string }) => k.id)).toEqual([created.id]);
      const text = JSON.stringify(list.body);
      expect(text).not.toContain(created.key);
      expect(text).not.toContain(sha256(created.key));
      expect(list.body.api_keys[0]).not.toHaveProperty("key");
      expect(list.body.api_keys[0]).not.toHaveProperty("key_hash");
    });

    it("api-key-stored-hashed: the DB holds SHA-256 of the key and a short prefix, never the secret", async () => {
      const { slug, owner } = await orgWithTeam(t, "keys");
      const created = await t.apiKey(owner, slug, "viewer");
      const row = await keyRow(created.id);
      expect(row.key_hash).toBe(sha256(created.key));
      expect(created.key.startsWith(row.key_prefix)).toBe(true);
      expect(row.key_prefix.length).toBeLessThan(created.key.length / 2);
      expect(JSON.stringify(row)).not.toContain(created.key.slice(row.key_prefix.length));
    });

    it("api-key-list-admin-only: a member cannot list the org's keys", async () => {
      const { slug, member } = await orgWithTeam(t, "keys");
      const response = await t.call("GET", `/v1/orgs/${slug}/api-keys`, { as: member });
      expect(response.status).toBe(403);
    });

    it("api-key-role-capped-at-creation: an admin cannot mint an owner key (403, nothing stored)", async () => {
      const { slug, admin } = await orgWithTeam(t, "keys");
      const response = await t.call("POST", `/v1/orgs/${slug}/api-keys`, {
        as: admin,
        body: { name: "escalate", role: "owner" },
      });
      expect(response.status).toBe(403);
      const rows = await t.server.ctx.db.selectFrom("api_keys").select("id").where("name", "=", "escalate").execute();
      expect(rows).toHaveLength(0);
    });

    it("api-key-role-capped-at-creation: an admin key cannot mint an owner key either", async () => {
      const { slug, owner } = await orgWithTeam(t, "keys");
      const adminKey = await t.apiKey(owner, slug, "admin");
      const response = await t.call("POST", `/v1/orgs/${slug}/api-keys`, {
        as: { key: adminKey.key },
        body: { name: "escalate-by-key", role: "owner" },
      });
      expect(response.status).toBe(403);
    });
  });

  describe("authenticating with a key", () => {
    it("api-key-scoped-to-org: a key works in its own org", async () => {
      const { slug, owner } = await orgWithTeam(t, "keys");
      const key = await t.apiKey(owner, slug, "viewer");
      const response = await t.call("GET", `/v1/orgs/${slug}`, { as: { key: key.key } });
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ slug, role: "viewer" });
    });

    it("api-key-scoped-to-org: a key answers 404 for another org its creator also belongs to", async () => {
      const { slug, owner } = await orgWithTeam(t, "keys");
      const other = `other-${next()}`;
      await t.org(owner, other);
      const key = await t.apiKey(owner, slug, "owner");
      for (const path of [`/v1/orgs/${other}`, `/v1/orgs/${other}/members`, `/v1/orgs/${other}/api-keys`]) {
        const response = await t.call("GET", path, { as: { key: key.key } });
        expect(response.status, path).toBe(404);
      }
      const write = await t.call("POST", `/v1/orgs/${other}/hosts/tokens`, {
        as: { key: key.key },
        body: { name: "sneaky" },
      });
      expect(write.status).toBe(404);
    });

    it("api-key-scoped-to-org: /v1/orgs with a key lists only the key's org", async () => {
      const { slug, owner } = await orgWithTeam(t, "keys");
      await t.org(owner, `second-${next()}`);
      const key = await t.apiKey(owner, slug, "admin");
      const mine = await t.call("GET", "/v1/orgs", { as: owner });
      expect(mine.body.total).toBe(2);
      const response = await t.call("GET", "/v1/orgs", { as: { key: key.key } });
      expect(response.status).toBe(200);
      expect(response.body.organizations.map((o: { slug: string }) => o.slug)).toEqual([slug]);
      expect(response.body.organizations[0].role).toBe("admin");
    });

    it("api-key-last-used-recorded: using a key stamps last_used_at", async () => {
      const { slug, owner } = await orgWithTeam(t, "keys");
      const key = await t.apiKey(owner, slug, "viewer");
      expect((await keyRow(key.id)).last_used_at).toBeNull();
      await t.call("GET", `/v1/orgs/${slug}`, { as: { key: key.key } });
      expect((await keyRow(key.id)).last_used_at).toBeInstanceOf(Date);
    });

    it("api-key-scheme-case-insensitive: `bearer` in lower case is accepted as the RFC allows", async () => {
      const { slug, owner } = await orgWithTeam(t, "keys");
      const key = await t.apiKey(owner, slug, "viewer");
      const response = await t.call("GET", "/v1/auth/me", { headers: { authorization: `bearer ${key.key}` } });
      expect(response.status).toBe(200);
      expect(response.body.user.id).toBe(owner.id);
    });

    it.each([
      ["Bearer", "scheme only"],
      ["Bearer ", "empty token"],
      ["Basic dXNlcjpwYXNz", "another scheme"],
      ["Bearer wrong_prefix", "not an API key"],
      ["Bearer fl_", "prefix only"],
      ["Bearer fl_not-a-real-key", "unknown key"],
      ["Bearer fl_a fl_b", "two tokens"],
      ["fl_no-scheme", "no scheme"],
    ])("bearer-prefix-parsing-robust: Authorization %j (%s) answers 401", async (authorization) => {
      const response = await t.call("GET", "/v1/auth/me", { headers: { authorization } });
      expect(response.status).toBe(401);
      expect(response.body.error.code).toBe("unauthenticated");
    });

    it("bearer-prefix-parsing-robust: a malformed Authorization header is refused even alongside a valid cookie", async () => {
      const user = await t.fastUser("cookie-and-header");
      const response = await t.call("GET", "/v1/auth/me", { as: user, headers: { authorization: "Basic x" } });
      expect(response.status).toBe(401);
    });

    it("bearer-prefix-parsing-robust: a valid key with the wrong scheme word is refused", async () => {
      const { slug, owner } = await orgWithTeam(t, "keys");
      const key = await t.apiKey(owner, slug, "viewer");
      const response = await t.call("GET", "/v1/auth/me", { headers: { authorization: `Token ${key.key}` } });
      expect(response.status).toBe(401);
    });
  });

  describe("revocation and expiry", () => {
    it("api-key-revoked-rejected: a revoked key answers 401 and disappears from the list", async () => {
      const { slug, owner } = await orgWithTeam(t, "keys");
      const key = await t.apiKey(owner, slug, "viewer");
      // Used first, so the replica has the key in its access cache when it is revoked.
      expect((await t.call("GET", `/v1/orgs/${slug}`, { as: { key: key.key } })).status).toBe(200);
      const revoke = await t.call("DELETE", `/v1/orgs/${slug}/api-keys/${key.id}`, { as: owner });
      expect(revoke.status).toBe(200);
      expect((await t.call("GET", `/v1/orgs/${slug}`, { as: { key: key.key } })).status).toBe(401);
      const list = await t.call("GET", `/v1/orgs/${slug}/api-keys`, { as: owner });
      expect(list.body.api_keys).toEqual([]);
    });

    it("api-key-revoked-elsewhere: a key revoked through another replica stops working here within the access-cache TTL", async () => {
      const replica = await startTestServer(kind, { accessCacheTtlMs: 300 });
      try {
        const owner = await replica.fastUser("owner");
        await replica.org(owner, "elsewhere");
        const key = await replica.apiKey(owner, "elsewhere", "viewer");
        expect((await replica.call("GET", "/v1/orgs/elsewhere", { as: { key: key.key } })).status).toBe(200);
        await replica.server.ctx.db
          .updateTable("api_keys")
          .set({ revoked_at: new Date() })
          .where("id", "=", key.id)
          .execute();
        await new Promise((resolve) => setTimeout(resolve, 350));
        expect((await replica.call("GET", "/v1/orgs/elsewhere", { as: { key: key.key } })).status).toBe(401);
      } finally {
        await replica.close();
      }
    });

    it("api-key-revoke-twice: revoking an already revoked key answers 404", async () => {
      const { slug, owner } = await orgWithTeam(t, "keys");
      const key = await t.apiKey(owner, slug, "viewer");
      expect((await t.call("DELETE", `/v1/orgs/${slug}/api-keys/${key.id}`, { as: owner })).status).toBe(200);
      expect((await t.call("DELETE", `/v1/orgs/${slug}/api-keys/${key.id}`, { as: owner })).status).toBe(404);
    });

    it("api-key-revoke-scoped-to-org: an admin of another org cannot revoke the key (404, key keeps working)", async () => {
      const victim = await orgWithTeam(t, "keys");
      const attacker = await orgWithTeam(t, "keys");
      const key = await t.apiKey(victim.owner, victim.slug, "viewer");
      const response = await t.call("DELETE", `/v1/orgs/${attacker.slug}/api-keys/${key.id}`, { as: attacker.owner });
      expect(response.status).toBe(404);
      expect((await keyRow(key.id)).revoked_at).toBeNull();
      expect((await t.call("GET", `/v1/orgs/${victim.slug}`, { as: { key: key.key } })).status).toBe(200);
    });

    it("api-key-expired-rejected: a key past its expires_at answers 401", async () => {
      const { slug, owner } = await orgWithTeam(t, "keys");
      const key = await t.apiKey(owner, slug, "viewer");
      await t.server.ctx.db
        .updateTable("api_keys")
        .set({ expires_at: new Date(Date.now() - 1_000) })
        .where("id", "=", key.id)
        .execute();
      expect((await t.call("GET", `/v1/orgs/${slug}`, { as: { key: key.key } })).status).toBe(401);
    });

    it("api-key-expiry-set-from-request: expires_in_days sets expires_at that many days ahead", async () => {
      const { slug, owner } = await orgWithTeam(t, "keys");
      const response = await t.call("POST", `/v1/orgs/${slug}/api-keys`, {
        as: owner,
        body: { name: "short-lived", role: "viewer", expires_in_days: 2 },
      });
      expect(response.status).toBe(201);
      const expiresAt = new Date(response.body.expires_at).getTime();
      expect(Math.abs(expiresAt - (Date.now() + 2 * 86_400_000))).toBeLessThan(60_000);
    });

    it("api-key-dies-with-org: deleting the org disables its keys", async () => {
      const { slug, owner } = await orgWithTeam(t, "keys");
      const key = await t.apiKey(owner, slug, "viewer");
      expect((await t.call("DELETE", `/v1/orgs/${slug}`, { as: owner })).status).toBe(200);
      expect((await t.call("GET", "/v1/orgs", { as: { key: key.key } })).status).toBe(401);
    });
  });

  describe("the key acts for its creator", () => {
    it("api-key-role-capped-by-creator: demoting the creator lowers what their admin key may do", async () => {
      const { slug, owner, admin, memberships } = await orgWithTeam(t, "keys");
      const key = await t.apiKey(admin, slug, "admin");
      expect((await t.call("GET", `/v1/orgs/${slug}/api-keys`, { as: { key: key.key } })).status).toBe(200);
      const demote = await t.call("PATCH", `/v1/orgs/${slug}/members/${memberships.admin}`, {
        as: owner,
        body: { role: "viewer" },
      });
      expect(demote.status).toBe(200);
      expect((await t.call("GET", `/v1/orgs/${slug}/api-keys`, { as: { key: key.key } })).status).toBe(403);
      const org = await t.call("GET", `/v1/orgs/${slug}`, { as: { key: key.key } });
      expect(org.body.role).toBe("viewer");
    });

    it("api-key-role-capped-by-key: an admin's viewer key cannot do admin work", async () => {
      const { slug, admin } = await orgWithTeam(t, "keys");
      const key = await t.apiKey(admin, slug, "viewer");
      const response = await t.call("POST", `/v1/orgs/${slug}/hosts/tokens`, {
        as: { key: key.key },
        body: { name: "by-viewer-key" },
      });
      expect(response.status).toBe(403);
    });

    it("api-key-disabled-when-creator-removed: removing the creator from the org makes the key answer 401", async () => {
      const { slug, owner, admin, memberships } = await orgWithTeam(t, "keys");
      const key = await t.apiKey(admin, slug, "member");
      expect((await t.call("DELETE", `/v1/orgs/${slug}/members/${memberships.admin}`, { as: owner })).status).toBe(200);
      expect((await t.call("GET", `/v1/orgs/${slug}`, { as: { key: key.key } })).status).toBe(401);
    });

    it("api-key-disabled-when-creator-deleted: a deleted user's keys stop working", async () => {
      const { slug, admin } = await orgWithTeam(t, "keys");
      const key = await t.apiKey(admin, slug, "member");
      await t.server.ctx.db.updateTable("users").set({ deleted_at: new Date() }).where("id", "=", admin.id).execute();
      expect((await t.call("GET", `/v1/orgs/${slug}`, { as: { key: key.key } })).status).toBe(401);
    });

    it("api-key-cannot-create-orgs: POST /v1/orgs with a key answers 403 and creates nothing", async () => {
      const { slug, owner } = await orgWithTeam(t, "keys");
      const key = await t.apiKey(owner, slug, "owner");
      const wanted = `by-key-${next()}`;
      const response = await t.call("POST", "/v1/orgs", { as: { key: key.key }, body: { name: wanted, slug: wanted } });
      expect(response.status).toBe(403);
      const rows = await t.server.ctx.db.selectFrom("orgs").select("id").where("slug", "=", wanted).execute();
      expect(rows).toHaveLength(0);
    });

    it("api-key-cannot-logout: POST /v1/auth/logout with a key answers 403 and leaves sessions alone", async () => {
      const { slug, owner } = await orgWithTeam(t, "keys");
      const key = await t.apiKey(owner, slug, "owner");
      const response = await t.call("POST", "/v1/auth/logout", { as: { key: key.key } });
      expect(response.status).toBe(403);
      expect((await t.call("GET", "/v1/auth/me", { as: owner })).status).toBe(200);
    });

    it("api-key-cannot-leave-for-creator: a viewer key cannot remove its admin creator from the org", async () => {
      const { slug, admin, memberships } = await orgWithTeam(t, "keys");
      const key = await t.apiKey(admin, slug, "viewer");
      const response = await t.call("DELETE", `/v1/orgs/${slug}/members/${memberships.admin}`, {
        as: { key: key.key },
      });
      expect(response.status).toBe(403);
      const row = await t.server.ctx.db
        .selectFrom("org_members")
        .select("role")
        .where("id", "=", memberships.admin)
        .executeTakeFirst();
      expect(row?.role).toBe("admin");
    });
  });
});
