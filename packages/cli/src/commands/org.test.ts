import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, type TestServer } from "@fluid/testkit";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runFluid } from "../testing.js";

describe("fluid org invite, invitations, invitation revoke, join", () => {
  let t: TestServer;
  let adminKey: string;
  let newcomerKey: string;
  let dir: string;

  const fluid = (key: string, ...args: string[]) =>
    runFluid(args, { env: { FLUID_CONFIG: join(dir, "config.json"), FLUID_SERVER: t.restUrl, FLUID_API_KEY: key } });

  beforeAll(async () => {
    t = await startTestServer("pglite");
    const owner = await t.fastUser("owner");
    await t.org(owner, "acme");
    adminKey = (await t.apiKey(owner, "acme", "admin")).key;
    const newcomer = await t.fastUser("newcomer");
    await t.org(newcomer, "home");
    newcomerKey = (await t.apiKey(newcomer, "home", "member")).key;
  });

  afterAll(() => t.close());

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-cli-org-"));
  });

  afterEach(() => rm(dir, { recursive: true, force: true }));

  const newcomerEmail = async () =>
    (
      await t.server.ctx.db
        .selectFrom("orgs as o")
        .innerJoin("users as u", "u.id", "o.owner_id")
        .select("u.email")
        .where("o.slug", "=", "home")
        .executeTakeFirstOrThrow()
    ).email;

  it("member-lookup-by-email: invite prints the token once; join with it makes the invited person a member", async () => {
    const email = await newcomerEmail();
    const invited = await fluid(adminKey, "org", "invite", email, "--role", "viewer", "--json");
    expect(invited).toMatchObject({ code: 0, stderr: "" });
    const invitation = JSON.parse(invited.stdout);
    expect(invitation).toMatchObject({ email, role: "viewer", accept_url: null });
    expect(invitation.token).toMatch(/^flinv_/);

    const listed = await fluid(adminKey, "org", "invitations");
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(
      new RegExp(`^ID +EMAIL +ROLE +CREATED +EXPIRES\n${invitation.id} +${email} +viewer `),
    );
    expect(listed.stdout).not.toContain(invitation.token);

    const joined = await fluid(newcomerKey, "org", "join", invitation.token);
    expect(joined).toMatchObject({ code: 0, stderr: "" });
    expect(joined.stdout).toMatch(/^Joined acme \(acme\) as viewer\.\n/);
    const members = await t.call("GET", "/v1/orgs/acme/members", { as: { key: adminKey } });
    expect(members.body.members.map((m: { email: string; role: string }) => [m.email, m.role])).toContainEqual([
      email,
      "viewer",
    ]);
    expect((await fluid(adminKey, "org", "invitations", "--json")).stdout).toContain('"total": 0');
  });

  it("invitation revoke: a revoked token no longer joins (exit 2, invalid_state under --json)", async () => {
    const invitation = JSON.parse(
      (await fluid(adminKey, "org", "invite", "later@example.com", "--ttl", "2h", "--json")).stdout,
    );
    const lifetimeMs = Date.parse(invitation.expires_at) - Date.parse(invitation.created_at);
    expect(Math.abs(lifetimeMs - 2 * 3_600_000)).toBeLessThan(5_000);
    const revoked = await fluid(adminKey, "org", "invitation", "revoke", invitation.id);
    expect(revoked).toMatchObject({ code: 0, stdout: `Revoked invitation ${invitation.id}\n` });
    const joined = await fluid(newcomerKey, "org", "join", invitation.token, "--json");
    expect(joined.code).toBe(2);
    expect(JSON.parse(joined.stdout || joined.stderr).error.code).toBe("invalid_state");
  });

  it("invite refuses a role it cannot grant before calling the server (usage error, exit 2)", async () => {
    const result = await fluid(adminKey, "org", "invite", "x@example.com", "--role", "owner");
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/must be one of admin, member, viewer/);
  });
});
