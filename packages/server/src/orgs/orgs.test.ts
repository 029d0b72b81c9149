import { type Caller, databaseKinds, orgWithTeam, startTestServer, type TestServer } from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertSandboxRow } from "../db/rows.fixtures.js";
import { newId } from "../lib/ids.js";

let seq = 0;
const next = () => ++seq;

describe.each(databaseKinds)("organizations (%s)", (kind) => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer(kind);
  });

  afterAll(async () => {
    await t.close();
  });

  /** An org owned by a fresh user, with one member of each other role. */
  const orgRow = (id: string) =>
    t.server.ctx.db.selectFrom("orgs").selectAll().where("id", "=", id).executeTakeFirstOrThrow();

  /** A live sandbox row straight in the database: deletion only looks at rows, so no daemon is needed. */
  async function liveSandbox(owner: Caller & { id: string }, slug: string, orgId: string) {
    const token = await t.hostToken(owner, slug);
    await t.server.ctx.db
      .insertInto("hosts")
      .values({
        id: token.id,
        org_id: orgId,
        hostname: "h",
        version: "test",
        total_cpus: 4,
        total_memory_mb: 8192,
        total_disk_mb: 100_000,
        available_cpus: 4,
        available_memory_mb: 8192,
        available_disk_mb: 100_000,
        base_images: "[]",
        source_vms: "[]",
        bridges: "[]",
        status: "ONLINE",
        connected_at: new Date(),
        last_heartbeat: new Date(),
        disconnected_at: null,
      })
      .execute();
    return insertSandboxRow(t.server.ctx.db, {
      id: newId(),
      org_id: orgId,
      host_id: token.id,
      name: "live",
      created_by: owner.id,
    });
  }

  describe("create", () => {
    it("org-create: answers 201 and makes the caller its owner, with an owner membership row", async () => {
      const user = await t.fastUser("creator");
      const slug = `made-${next()}`;
      const response = await t.call("POST", "/v1/orgs", { as: user, body: { name: "Made Here", slug } });
      expect(response.status).toBe(201);
      expect(response.body).toMatchObject({ name: "Made Here", slug, owner_id: user.id, role: "owner" });
      expect(response.body.allow_self_approval).toBe(false);
      const members = await t.server.ctx.db
        .selectFrom("org_members")
        .select(["user_id", "role"])
        .where("org_id", "=", response.body.id)
        .execute();
      expect(members).toEqual([{ user_id: user.id, role: "owner" }]);
    });

    it("org-slug-conflict: a slug already in use answers 409 and leaves the first org alone", async () => {
      const first = await t.fastUser("first");
      const second = await t.fastUser("second");
      const slug = `taken-${next()}`;
      const org = await t.org(first, slug);
      const response = await t.call("POST", "/v1/orgs", { as: second, body: { name: "Mine now", slug } });
      expect(response.status).toBe(409);
      expect(response.body.error.code).toBe("conflict");
      expect((await orgRow(org.id)).owner_id).toBe(first.id);
      const orgs = await t.server.ctx.db.selectFrom("orgs").select("id").where("slug", "=", slug).execute();
      expect(orgs).toHaveLength(1);
    });

    it("org-auto-slug: without a slug one is derived from the name", async () => {
      const user = await t.fastUser("auto");
      const n = next();
      const response = await t.call("POST", "/v1/orgs", { as: user, body: { name: `Acme Corp ${n}!` } });
      expect(response.status).toBe(201);
      expect(response.body.slug).toBe(`acme-corp-${n}`);
    });

    it("org-auto-slug: a name whose slug is taken gets a random suffix instead of a conflict", async () => {
      const user = await t.fastUser("auto-dup");
      const name = `Globex ${next()}`;
      const first = await t.call("POST", "/v1/orgs", { as: user, body: { name } });
      const second = await t.call("POST", "/v1/orgs", { as: user, body: { name } });
      expect(second.status).toBe(201);
      expect(second.body.slug).toMatch(new RegExp(`^${first.body.slug}-[0-9a-f]{4}$`));
    });

    it("org-auto-slug: a very short name still yields a valid slug", async () => {
      const user = await t.fastUser("short");
      const response = await t.call("POST", "/v1/orgs", { as: user, body: { name: "X" } });
      expect(response.status).toBe(201);
      expect(response.body.slug).toMatch(/^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$/);
    });

    it.each(["UPPER", "ab", "-leading", "trailing-", "has space", "a".repeat(51)])(
      "org-slug-validated: an explicit slug %j is refused with 400",
      async (slug) => {
        const user = await t.fastUser("bad-slug");
        const response = await t.call("POST", "/v1/orgs", { as: user, body: { name: "Bad", slug } });
        expect(response.status).toBe(400);
      },
    );

    it("org-create-requires-sign-in: without credentials POST /v1/orgs answers 401", async () => {
      const slug = `anon-${next()}`;
      const response = await t.call("POST", "/v1/orgs", { body: { name: "Anon", slug } });
      expect(response.status).toBe(401);
      expect(await t.server.ctx.db.selectFrom("orgs").select("id").where("slug", "=", slug).execute()).toHaveLength(0);
    });
  });

  describe("read", () => {
    it("org-list-own-only: GET /v1/orgs lists only orgs the caller belongs to, with their role there", async () => {
      const team = await orgWithTeam(t, "org");
      const own = `own-${next()}`;
      await t.org(team.member, own);
      const response = await t.call("GET", "/v1/orgs", { as: team.member });
      expect(response.status).toBe(200);
      const listed = response.body.organizations.map((o: { slug: string; role: string }) => [o.slug, o.role]);
      expect(listed).toEqual([
        [team.slug, "member"],
        [own, "owner"],
      ]);
      expect(response.body.total).toBe(2);
    });

    it("org-list-own-only: a user in no org gets an empty list", async () => {
      await orgWithTeam(t, "org");
      const loner = await t.fastUser("loner");
      const response = await t.call("GET", "/v1/orgs", { as: loner });
      expect(response.body).toEqual({ organizations: [], total: 0 });
    });

    it("org-get: a viewer can read the org and sees their own role", async () => {
      const { slug, viewer } = await orgWithTeam(t, "org");
      const response = await t.call("GET", `/v1/orgs/${slug}`, { as: viewer });
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ slug, role: "viewer" });
    });

    it("org-not-member-404: an outsider gets the same 404 body as for an org that does not exist", async () => {
      const { slug } = await orgWithTeam(t, "org");
      const outsider = await t.fastUser("outsider");
      const existing = await t.call("GET", `/v1/orgs/${slug}`, { as: outsider });
      const missing = await t.call("GET", `/v1/orgs/no-such-org-${next()}`, { as: outsider });
      expect(existing.status).toBe(404);
      expect(existing.body).toEqual(missing.body);
    });

    it("cross-org-404-never-403: a viewer of org B trying org A's owner-only route gets 404, not 403", async () => {
      const a = await orgWithTeam(t, "org");
      const b = await orgWithTeam(t, "org");
      const response = await t.call("PATCH", `/v1/orgs/${a.slug}`, {
        as: b.viewer,
        body: { allow_self_approval: true },
      });
      expect(response.status).toBe(404);
      expect((await orgRow(a.orgId)).allow_self_approval).toBe(false);
    });
  });

  describe("update", () => {
    it.each(["viewer", "member"] as const)(
      "org-patch-requires-admin: a %s cannot rename (403, unchanged)",
      async (role) => {
        const team = await orgWithTeam(t, "org");
        const response = await t.call("PATCH", `/v1/orgs/${team.slug}`, { as: team[role], body: { name: "Renamed" } });
        expect(response.status).toBe(403);
        expect((await orgRow(team.orgId)).name).toBe(team.slug);
      },
    );

    it("org-patch-requires-admin: an admin can rename", async () => {
      const team = await orgWithTeam(t, "org");
      const response = await t.call("PATCH", `/v1/orgs/${team.slug}`, { as: team.admin, body: { name: "Renamed" } });
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ name: "Renamed", slug: team.slug, role: "admin" });
      expect((await orgRow(team.orgId)).name).toBe("Renamed");
    });

    it("self-approval-owner-only: an admin cannot toggle allow_self_approval (403, unchanged)", async () => {
      const team = await orgWithTeam(t, "org");
      const response = await t.call("PATCH", `/v1/orgs/${team.slug}`, {
        as: team.admin,
        body: { allow_self_approval: true },
      });
      expect(response.status).toBe(403);
      expect((await orgRow(team.orgId)).allow_self_approval).toBe(false);
    });

    it("self-approval-owner-only: an admin cannot smuggle the toggle in alongside a rename", async () => {
      const team = await orgWithTeam(t, "org");
      const response = await t.call("PATCH", `/v1/orgs/${team.slug}`, {
        as: team.admin,
        body: { name: "Sneaky", allow_self_approval: true },
      });
      expect(response.status).toBe(403);
      const row = await orgRow(team.orgId);
      expect(row.allow_self_approval).toBe(false);
      expect(row.name).toBe(team.slug);
    });

    it("self-approval-owner-only: the owner can toggle allow_self_approval", async () => {
      const team = await orgWithTeam(t, "org");
      const response = await t.call("PATCH", `/v1/orgs/${team.slug}`, {
        as: team.owner,
        body: { allow_self_approval: true },
      });
      expect(response.status).toBe(200);
      expect(response.body.allow_self_approval).toBe(true);
      expect((await orgRow(team.orgId)).allow_self_approval).toBe(true);
    });

    it("self-approval-owner-only: an admin-role API key made by the owner cannot toggle it", async () => {
      const team = await orgWithTeam(t, "org");
      const key = await t.apiKey(team.owner, team.slug, "admin");
      const response = await t.call("PATCH", `/v1/orgs/${team.slug}`, {
        as: { key: key.key },
        body: { allow_self_approval: true },
      });
      expect(response.status).toBe(403);
      expect((await orgRow(team.orgId)).allow_self_approval).toBe(false);
    });

    it("org-patch-fields-limited: the slug and owner cannot be changed through PATCH (400)", async () => {
      const team = await orgWithTeam(t, "org");
      for (const body of [{ slug: "new-slug" }, { owner_id: team.admin.id }]) {
        const response = await t.call("PATCH", `/v1/orgs/${team.slug}`, { as: team.owner, body });
        expect(response.status, JSON.stringify(body)).toBe(400);
      }
      const row = await orgRow(team.orgId);
      expect(row.slug).toBe(team.slug);
      expect(row.owner_id).toBe(team.owner.id);
    });
  });

  describe("delete", () => {
    it("org-delete-owner-only: an admin cannot delete the org (403, still there)", async () => {
      const team = await orgWithTeam(t, "org");
      const response = await t.call("DELETE", `/v1/orgs/${team.slug}`, { as: team.admin });
      expect(response.status).toBe(403);
      expect((await orgRow(team.orgId)).deleted_at).toBeNull();
    });

    it("org-delete-requires-no-live-sandboxes: the owner gets 409 while a sandbox is live", async () => {
      const team = await orgWithTeam(t, "org");
      await liveSandbox(team.owner, team.slug, team.orgId);
      const response = await t.call("DELETE", `/v1/orgs/${team.slug}`, { as: team.owner });
      expect(response.status).toBe(409);
      expect((await orgRow(team.orgId)).deleted_at).toBeNull();
    });

    it("org-delete-requires-no-live-sandboxes: ended sandboxes do not block deletion", async () => {
      const team = await orgWithTeam(t, "org");
      const sandbox = await liveSandbox(team.owner, team.slug, team.orgId);
      await t.server.ctx.db
        .updateTable("sandboxes")
        .set({ state: "DESTROYED", ended_at: new Date(), end_reason: "user_request" })
        .where("id", "=", sandbox)
        .execute();
      const response = await t.call("DELETE", `/v1/orgs/${team.slug}`, { as: team.owner });
      expect(response.status).toBe(200);
    });

    it("org-delete: the owner deletes the org; it answers 404 after and its keys and host tokens are revoked", async () => {
      const team = await orgWithTeam(t, "org");
      const key = await t.apiKey(team.owner, team.slug, "viewer");
      const token = await t.hostToken(team.owner, team.slug);
      const response = await t.call("DELETE", `/v1/orgs/${team.slug}`, { as: team.owner });
      expect(response.status).toBe(200);
      expect((await orgRow(team.orgId)).deleted_at).toBeInstanceOf(Date);
      expect((await t.call("GET", `/v1/orgs/${team.slug}`, { as: team.owner })).status).toBe(404);
      const keyRow = await t.server.ctx.db
        .selectFrom("api_keys")
        .select("revoked_at")
        .where("id", "=", key.id)
        .executeTakeFirstOrThrow();
      expect(keyRow.revoked_at).toBeInstanceOf(Date);
      const tokenRow = await t.server.ctx.db
        .selectFrom("host_tokens")
        .select("revoked_at")
        .where("id", "=", token.id)
        .executeTakeFirstOrThrow();
      expect(tokenRow.revoked_at).toBeInstanceOf(Date);
    });

    it("org-delete: a deleted org's slug can be taken again", async () => {
      const team = await orgWithTeam(t, "org");
      expect((await t.call("DELETE", `/v1/orgs/${team.slug}`, { as: team.owner })).status).toBe(200);
      const someone = await t.fastUser("reuser");
      const response = await t.call("POST", "/v1/orgs", { as: someone, body: { name: "Again", slug: team.slug } });
      expect(response.status).toBe(201);
      expect(response.body.id).not.toBe(team.orgId);
    });

    it("org-delete: members of a deleted org no longer see it or reach its routes", async () => {
      const team = await orgWithTeam(t, "org");
      expect((await t.call("DELETE", `/v1/orgs/${team.slug}`, { as: team.owner })).status).toBe(200);
      const list = await t.call("GET", "/v1/orgs", { as: team.member });
      expect(list.body.organizations).toEqual([]);
      expect((await t.call("GET", `/v1/orgs/${team.slug}/members`, { as: team.member })).status).toBe(404);
    });
  });
});
