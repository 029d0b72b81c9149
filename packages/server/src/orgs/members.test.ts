import { databaseKinds, orgWithTeam, startTestServer, type TestServer } from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newId } from "../lib/ids.js";

describe.each(databaseKinds)("organization members (%s)", (kind) => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer(kind);
  });

  afterAll(async () => {
    await t.close();
  });

  /**
   * An org owned by a fresh user with two admins, a member and a viewer (two admins so admin-on-admin
   * rules can be exercised), plus every membership id by person.
   */
  /** The shared team plus a second admin, and the owner's membership, for the last-owner and admin-on-admin rules. */
  async function teamWithTwoAdmins() {
    const team = await orgWithTeam(t, "team");
    const admin2 = await t.fastUser("admin2");
    const admin2Membership = (await t.member(team.owner, team.slug, admin2, "admin")).id;
    const ownerRow = await t.server.ctx.db
      .selectFrom("org_members")
      .select("id")
      .where("org_id", "=", team.orgId)
      .where("user_id", "=", team.owner.id)
      .executeTakeFirstOrThrow();
    return { ...team, admin2, memberships: { ...team.memberships, admin2: admin2Membership, owner: ownerRow.id } };
  }

  const membershipRole = async (id: string) =>
    (await t.server.ctx.db.selectFrom("org_members").select("role").where("id", "=", id).executeTakeFirst())?.role;

  describe("listing", () => {
    it("member-list: a viewer sees every member with their role, oldest first", async () => {
      const team = await teamWithTwoAdmins();
      const response = await t.call("GET", `/v1/orgs/${team.slug}/members`, { as: team.viewer });
      expect(response.status).toBe(200);
      expect(response.body.members.map((m: { email: string; role: string }) => [m.email, m.role])).toEqual([
        [team.owner.email, "owner"],
        [team.admin.email, "admin"],
        [team.member.email, "member"],
        [team.viewer.email, "viewer"],
        [team.admin2.email, "admin"],
      ]);
      expect(response.body.total).toBe(5);
    });
  });

  describe("changing roles", () => {
    it("member-patch-requires-admin: a member cannot change anyone's role (403)", async () => {
      const team = await teamWithTwoAdmins();
      const response = await t.call("PATCH", `/v1/orgs/${team.slug}/members/${team.memberships.viewer}`, {
        as: team.member,
        body: { role: "member" },
      });
      expect(response.status).toBe(403);
      expect(await membershipRole(team.memberships.viewer)).toBe("viewer");
    });

    it("member-patch-requires-admin: an admin can move a viewer to member", async () => {
      const team = await teamWithTwoAdmins();
      const response = await t.call("PATCH", `/v1/orgs/${team.slug}/members/${team.memberships.viewer}`, {
        as: team.admin,
        body: { role: "member" },
      });
      expect(response.status).toBe(200);
      expect(response.body.role).toBe("member");
      expect(await membershipRole(team.memberships.viewer)).toBe("member");
    });

    it("admin-grants-owner-only: an admin cannot promote a member to admin (403)", async () => {
      const team = await teamWithTwoAdmins();
      const response = await t.call("PATCH", `/v1/orgs/${team.slug}/members/${team.memberships.member}`, {
        as: team.admin,
        body: { role: "admin" },
      });
      expect(response.status).toBe(403);
      expect(await membershipRole(team.memberships.member)).toBe("member");
    });

    it("admin-grants-owner-only: the owner can promote a member to admin", async () => {
      const team = await teamWithTwoAdmins();
      const response = await t.call("PATCH", `/v1/orgs/${team.slug}/members/${team.memberships.member}`, {
        as: team.owner,
        body: { role: "admin" },
      });
      expect(response.status).toBe(200);
      expect(await membershipRole(team.memberships.member)).toBe("admin");
    });

    it("admin-grants-owner-only: an admin cannot demote another admin (403)", async () => {
      const team = await teamWithTwoAdmins();
      const response = await t.call("PATCH", `/v1/orgs/${team.slug}/members/${team.memberships.admin2}`, {
        as: team.admin,
        body: { role: "viewer" },
      });
      expect(response.status).toBe(403);
      expect(await membershipRole(team.memberships.admin2)).toBe("admin");
    });

    it("admin-grants-owner-only: the owner can demote an admin", async () => {
      const team = await teamWithTwoAdmins();
      const response = await t.call("PATCH", `/v1/orgs/${team.slug}/members/${team.memberships.admin2}`, {
        as: team.owner,
        body: { role: "member" },
      });
      expect(response.status).toBe(200);
      expect(await membershipRole(team.memberships.admin2)).toBe("member");
    });

    it("owner-role-fixed: the owner's membership cannot be changed, even by the owner (403)", async () => {
      const team = await teamWithTwoAdmins();
      for (const caller of [team.owner, team.admin]) {
        const response = await t.call("PATCH", `/v1/orgs/${team.slug}/members/${team.memberships.owner}`, {
          as: caller,
          body: { role: "viewer" },
        });
        expect(response.status).toBe(403);
      }
      expect(await membershipRole(team.memberships.owner)).toBe("owner");
    });

    it("no-self-role-change: an admin cannot change their own role (403)", async () => {
      const team = await teamWithTwoAdmins();
      const response = await t.call("PATCH", `/v1/orgs/${team.slug}/members/${team.memberships.admin}`, {
        as: team.admin,
        body: { role: "member" },
      });
      expect(response.status).toBe(403);
      expect(await membershipRole(team.memberships.admin)).toBe("admin");
    });

    it("member-patch-scoped-to-org: changing another org's membership through your own org answers 404", async () => {
      const a = await teamWithTwoAdmins();
      const b = await teamWithTwoAdmins();
      const response = await t.call("PATCH", `/v1/orgs/${a.slug}/members/${b.memberships.viewer}`, {
        as: a.owner,
        body: { role: "admin" },
      });
      expect(response.status).toBe(404);
      expect(await membershipRole(b.memberships.viewer)).toBe("viewer");
    });
  });

  describe("removing and leaving", () => {
    it("member-remove-requires-admin: an admin removes a member; the row is gone and their access ends", async () => {
      const team = await teamWithTwoAdmins();
      const response = await t.call("DELETE", `/v1/orgs/${team.slug}/members/${team.memberships.member}`, {
        as: team.admin,
      });
      expect(response.status).toBe(200);
      expect(await membershipRole(team.memberships.member)).toBeUndefined();
      expect((await t.call("GET", `/v1/orgs/${team.slug}`, { as: team.member })).status).toBe(404);
    });

    it.each(["viewer", "member"] as const)(
      "member-remove-requires-admin: a %s cannot remove someone else (403)",
      async (who) => {
        const team = await teamWithTwoAdmins();
        const target = who === "viewer" ? team.memberships.member : team.memberships.viewer;
        const response = await t.call("DELETE", `/v1/orgs/${team.slug}/members/${target}`, { as: team[who] });
        expect(response.status).toBe(403);
        expect(await membershipRole(target)).toBeDefined();
      },
    );

    it("admin-removal-owner-only: an admin cannot remove another admin (403)", async () => {
      const team = await teamWithTwoAdmins();
      const response = await t.call("DELETE", `/v1/orgs/${team.slug}/members/${team.memberships.admin2}`, {
        as: team.admin,
      });
      expect(response.status).toBe(403);
      expect(await membershipRole(team.memberships.admin2)).toBe("admin");
    });

    it("admin-removal-owner-only: the owner can remove an admin", async () => {
      const team = await teamWithTwoAdmins();
      const response = await t.call("DELETE", `/v1/orgs/${team.slug}/members/${team.memberships.admin2}`, {
        as: team.owner,
      });
      expect(response.status).toBe(200);
      expect(await membershipRole(team.memberships.admin2)).toBeUndefined();
    });

    it("cannot-remove-org-owner: neither an admin nor the owner can delete the owner's membership (403, row kept)", async () => {
      const team = await teamWithTwoAdmins();
      for (const caller of [team.admin, team.owner]) {
        const response = await t.call("DELETE", `/v1/orgs/${team.slug}/members/${team.memberships.owner}`, {
          as: caller,
        });
        expect(response.status).toBe(403);
      }
      expect(await membershipRole(team.memberships.owner)).toBe("owner");
    });

    it("remove-member-scoped-to-org: deleting another org's member answers 404 and keeps the row", async () => {
      const a = await teamWithTwoAdmins();
      const b = await teamWithTwoAdmins();
      const response = await t.call("DELETE", `/v1/orgs/${a.slug}/members/${b.memberships.member}`, { as: a.owner });
      expect(response.status).toBe(404);
      expect(await membershipRole(b.memberships.member)).toBe("member");
    });

    it("remove-member-scoped-to-org: an unknown membership id answers 404", async () => {
      const team = await teamWithTwoAdmins();
      const response = await t.call("DELETE", `/v1/orgs/${team.slug}/members/${newId()}`, { as: team.owner });
      expect(response.status).toBe(404);
    });

    it.each(["viewer", "member", "admin"] as const)(
      "member-can-leave: a %s can delete their own membership",
      async (who) => {
        const team = await teamWithTwoAdmins();
        const response = await t.call("DELETE", `/v1/orgs/${team.slug}/members/${team.memberships[who]}`, {
          as: team[who],
        });
        expect(response.status).toBe(200);
        expect(await membershipRole(team.memberships[who])).toBeUndefined();
        expect((await t.call("GET", "/v1/orgs", { as: team[who] })).body.organizations).toEqual([]);
      },
    );

    it("member-remove-twice: removing a membership that is already gone answers 404", async () => {
      const team = await teamWithTwoAdmins();
      const path = `/v1/orgs/${team.slug}/members/${team.memberships.member}`;
      expect((await t.call("DELETE", path, { as: team.owner })).status).toBe(200);
      expect((await t.call("DELETE", path, { as: team.owner })).status).toBe(404);
    });

    it("removed-member-keys-disabled: removing a member disables the API keys they made", async () => {
      const team = await teamWithTwoAdmins();
      const key = await t.apiKey(team.admin, team.slug, "member");
      expect((await t.call("GET", `/v1/orgs/${team.slug}`, { as: { key: key.key } })).status).toBe(200);
      await t.call("DELETE", `/v1/orgs/${team.slug}/members/${team.memberships.admin}`, { as: team.owner });
      expect((await t.call("GET", `/v1/orgs/${team.slug}`, { as: { key: key.key } })).status).toBe(401);
    });

    it("removed-member-keys-revoked: re-adding a removed member does not revive their old keys", async () => {
      const team = await teamWithTwoAdmins();
      const key = await t.apiKey(team.admin, team.slug, "member");
      await t.call("DELETE", `/v1/orgs/${team.slug}/members/${team.memberships.admin}`, { as: team.owner });
      await t.member(team.owner, team.slug, team.admin, "admin");
      expect((await t.call("GET", `/v1/orgs/${team.slug}`, { as: { key: key.key } })).status).toBe(401);
    });
  });
});
