import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseKinds } from "./db.js";
import { startTestServer, type TestServer } from "./harness.js";
import { orgWithTeam } from "./org-team.js";

describe.each(databaseKinds)("orgWithTeam (%s)", (kind) => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer(kind);
  });

  afterAll(async () => {
    await t.close();
  });

  it("makes an org whose members hold one role each, with their membership ids", async () => {
    const team = await orgWithTeam(t, "kit");
    expect(team.slug).toMatch(/^kit-\d+$/);
    const listed = await t.call("GET", `/v1/orgs/${team.slug}/members`, { as: team.viewer });
    expect(listed.status).toBe(200);
    const byEmail = new Map(listed.body.members.map((m: { id: string; email: string; role: string }) => [m.email, m]));
    expect(byEmail.get(team.owner.email)).toMatchObject({ role: "owner" });
    for (const role of ["admin", "member", "viewer"] as const) {
      expect(byEmail.get(team[role].email)).toMatchObject({ role, id: team.memberships[role] });
    }
    expect(listed.body.total).toBe(4);
  });

  it("gives every call a fresh org", async () => {
    const [a, b] = [await orgWithTeam(t, "kit"), await orgWithTeam(t, "kit")];
    expect(a.slug).not.toBe(b.slug);
    expect(a.orgId).not.toBe(b.orgId);
  });
});
