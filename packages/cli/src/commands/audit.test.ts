import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, type TestServer } from "@fluid/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runFluid } from "../testing.js";

describe("fluid audit", () => {
  let t: TestServer;
  let adminKey: string;
  let memberKey: string;
  let dir: string;

  const fluid = (key: string, ...args: string[]) =>
    runFluid(args, { env: { FLUID_CONFIG: join(dir, "config.json"), FLUID_SERVER: t.restUrl, FLUID_API_KEY: key } });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-cli-audit-"));
    t = await startTestServer("pglite");
    const owner = await t.fastUser("owner");
    await t.org(owner, "acme");
    await t.hostToken(owner, "acme", "rack-1");
    await t.hostToken(owner, "acme", "rack-2");
    adminKey = (await t.apiKey(owner, "acme", "admin")).key;
    memberKey = (await t.apiKey(owner, "acme", "member")).key;
  });
  afterAll(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("ls lists events newest first as a table, filtered by action and capped by --limit", async () => {
    const listed = await fluid(adminKey, "audit", "ls", "--action", "host_token", "--limit", "1");
    expect(listed.code).toBe(0);
    const [header, row, ...rest] = listed.stdout.split("\n");
    expect(header).toMatch(/^SEQ +WHEN +ACTION +TARGET +ACTOR$/);
    expect(row).toMatch(/^3 +\S+ ago +host_token\.created +host_token:[0-9a-f-]{36} +[0-9a-f-]{36}$/);
    expect(rest).toEqual([""]);
    const json = JSON.parse((await fluid(adminKey, "--json", "audit", "ls")).stdout);
    expect(json.events.map((e: { seq: number }) => e.seq)).toEqual([5, 4, 3, 2, 1]);
  });

  it("verify exits 0 on an intact chain and 1 naming the seq once a row is altered", async () => {
    const ok = await fluid(adminKey, "audit", "verify");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^Audit chain of acme holds: \d+ events, head [0-9a-f]{64}\n$/);
    await sql`UPDATE audit_events SET action = 'host_token.revoked' WHERE seq = 2`.execute(t.server.ctx.db);
    const broken = await fluid(adminKey, "audit", "verify");
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain("BROKEN at seq 2");
    const json = await fluid(adminKey, "--json", "audit", "verify");
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ valid: false, first_invalid: { seq: 2 } });
  });

  it("a member is not allowed to read the log (exit 3)", async () => {
    const refused = await fluid(memberKey, "audit", "ls");
    expect(refused.code).toBe(3);
  });
});
