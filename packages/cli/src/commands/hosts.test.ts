import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, TestDaemon, type TestServer } from "@fluid/testkit";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runFluid } from "../testing.js";

describe("fluid host ls and fluid token", () => {
  let t: TestServer;
  let adminKey: string;
  let memberKey: string;
  let dir: string;
  const daemons: TestDaemon[] = [];

  const fluid = (key: string, ...args: string[]) =>
    runFluid(args, { env: { FLUID_CONFIG: join(dir, "config.json"), FLUID_SERVER: t.restUrl, FLUID_API_KEY: key } });

  beforeAll(async () => {
    t = await startTestServer("pglite");
    const owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
    adminKey = (await t.apiKey(owner, "acme", "admin")).key;
    memberKey = (await t.apiKey(owner, "acme", "member")).key;
  });

  afterAll(async () => {
    for (const daemon of daemons) daemon.abort();
    await t.close();
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-cli-hosts-"));
  });

  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("host ls says how to get a first host, then lists connected ones as a table", async () => {
    const none = await fluid(adminKey, "host", "ls");
    expect(none).toMatchObject({ code: 0 });
    expect(none.stdout).toBe(
      "No sandbox hosts in acme: create a host token with `fluid token create NAME`, then start a host with " +
        "`fluid-daemon run --server HOST:9090 --token flh_…`\n",
    );

    const token = await t.hostToken({ key: adminKey }, "acme", "rack-1");
    const daemon = await TestDaemon.connect(t.grpcUrl, {
      token: token.token,
      registration: { hostname: "rack-1.example", availableCpus: 3, availableMemoryMb: 6000n },
    });
    daemons.push(daemon);

    const listed = await fluid(memberKey, "host", "ls");
    expect(listed.code).toBe(0);
    const [header, row, ...rest] = listed.stdout.split("\n");
    expect(header).toMatch(/^ID +HOSTNAME +STATUS +CPUS +FREE MEMORY +SANDBOXES +IMAGES +LAST HEARTBEAT$/);
    expect(row).toMatch(
      new RegExp(`^${token.id} +rack-1\\.example +ONLINE +3/4 +6000 MB +0 +debian-12,tiny +(\\d+s ago|-)$`),
    );
    expect(rest).toEqual([""]);

    const json = JSON.parse((await fluid(memberKey, "host", "ls", "--json")).stdout);
    expect(json).toMatchObject({
      count: 1,
      hosts: [{ host_id: token.id, hostname: "rack-1.example", status: "ONLINE" }],
    });
  });

  it("token create prints the secret once with how to start a daemon; ls lists it; rm revokes it", async () => {
    const created = await fluid(adminKey, "token", "create", "edge-2", "--expires-in-days", "30");
    expect(created.code).toBe(0);
    const secret = /^ {2}(flh_\S+)$/m.exec(created.stdout)?.[1];
    expect(secret).toBeDefined();
    expect(created.stdout).toContain(`fluid-daemon run --server 127.0.0.1:9090 --token ${secret} --insecure\n`);
    const id = /\(id ([0-9a-f-]{36})\)/.exec(created.stdout)?.[1] ?? "";

    const listed = await fluid(adminKey, "token", "ls");
    expect(listed.stdout.split("\n")[0]).toMatch(/^ID +NAME +CREATED +EXPIRES +LAST USED$/);
    expect(listed.stdout).toMatch(new RegExp(`\\n${id} +edge-2 +\\d+s ago +in 30d +never\\n`));
    expect(listed.stdout).not.toContain(secret);

    expect(await fluid(adminKey, "token", "rm", id)).toMatchObject({ code: 0, stdout: `Revoked host token ${id}\n` });
    const again = await fluid(adminKey, "token", "rm", id, "--json");
    expect(again.code).toBe(4);
    expect(JSON.parse(again.stdout)).toEqual({ error: { code: "not_found", message: "host token not found" } });
  });

  it("token create --json returns the token document; members may not create tokens (exit 3)", async () => {
    const created = await fluid(adminKey, "--json", "token", "create", "ci");
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({
      name: "ci",
      token: expect.stringMatching(/^flh_/),
      expires_at: null,
    });

    const denied = await fluid(memberKey, "token", "create", "sneaky");
    expect(denied.code).toBe(3);
    expect(denied.stderr).toMatch(/^fluid: .*admin/);
    expect((await fluid(adminKey, "token", "create", "x", "--expires-in-days", "0")).code).toBe(2);
  });
});
