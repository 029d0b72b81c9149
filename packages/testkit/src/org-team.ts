import type { TestServer } from "./harness.js";

export type TestUser = Awaited<ReturnType<TestServer["fastUser"]>>;

type TeamRole = "admin" | "member" | "viewer";

export interface OrgWithTeam extends Record<TeamRole, TestUser> {
  slug: string;
  orgId: string;
  owner: TestUser;
  /** Membership ids of the invited members, for routes addressed by membership. */
  memberships: Record<TeamRole, string>;
}

let orgCounter = 0;

/** An org whose owner has invited one user per role, so tests can check what each role may do. */
export async function orgWithTeam(t: TestServer, slugPrefix: string): Promise<OrgWithTeam> {
  const slug = `${slugPrefix}-${++orgCounter}`;
  const owner = await t.fastUser("owner");
  const org = await t.org(owner, slug);
  const team = {
    admin: await t.fastUser("admin"),
    member: await t.fastUser("member"),
    viewer: await t.fastUser("viewer"),
  };
  const memberships = {} as Record<TeamRole, string>;
  for (const role of ["admin", "member", "viewer"] as const) {
    memberships[role] = (await t.member(owner, slug, team[role], role)).id;
  }
  return { slug, orgId: org.id, owner, ...team, memberships };
}
