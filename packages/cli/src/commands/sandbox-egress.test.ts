import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, TestDaemon, type TestServer } from "@fluid/testkit";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runFluid } from "../testing.js";

describe("fluid sandbox egress", () => {
  let t: TestServer;
  let key: string;
  let daemon: TestDaemon;
  let dir: string;

  const fluid = (...args: string[]) =>
    runFluid(args, { env: { FLUID_CONFIG: join(dir, "config.json"), FLUID_SERVER: t.restUrl, FLUID_API_KEY: key } });

  beforeAll(async () => {
    t = await startTestServer("pglite");
    const owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
    key = (await t.apiKey(owner, "acme", "admin")).key;
    const token = await t.hostToken(owner, "acme");
    daemon = await TestDaemon.connect(t.grpcUrl, { token: token.token, keepAlive: true });
  });

  afterAll(async () => {
    daemon.abort();
    await t.close();
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-cli-egress-"));
  });

  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("replaces the allowlist with --allow entries, shows it, and --deny-all empties it", async () => {
    expect((await fluid("sandbox", "create", "tiny", "--name", "web")).code).toBe(0);
    const set = await fluid("sandbox", "egress", "web", "--allow", "deb.debian.org:80,443", "--allow", "10.20.0.0/16");
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toBe("web may reach:\n  deb.debian.org:80,443\n  10.20.0.0/16\n");
    const sent = daemon.commands("setEgress").at(-1);
    expect(sent?.payload.case === "setEgress" && sent.payload.value.allow).toEqual([
      "deb.debian.org:80,443",
      "10.20.0.0/16",
    ]);
    const shown = await fluid("--json", "sandbox", "egress", "web");
    expect(JSON.parse(shown.stdout)).toMatchObject({
      allow_all: false,
      allow: ["deb.debian.org:80,443", "10.20.0.0/16"],
    });
    const denied = await fluid("sandbox", "egress", "web", "--deny-all");
    expect(denied.stdout).toBe("web may reach nothing outside its network\n");
  });

  it("sandbox create --egress-allow gives the new sandbox its allowlist from the first boot", async () => {
    const made = await fluid(
      "sandbox",
      "create",
      "tiny",
      "--name",
      "narrow",
      "--egress-allow",
      "deb.debian.org:443",
      "--egress-allow",
      "10.20.0.0/16",
    );
    expect(made.code, made.stderr).toBe(0);
    const sent = daemon.commands("createSandbox").at(-1);
    expect(sent?.payload.case === "createSandbox" && sent.payload.value.egressAllow).toEqual([
      "deb.debian.org:443",
      "10.20.0.0/16",
    ]);
    const both = await fluid("sandbox", "create", "tiny", "--egress", "--egress-allow", "deb.debian.org");
    expect([both.code, both.stderr]).toEqual([2, expect.stringContaining("--egress or --egress-allow")]);
  });

  it("refuses two choices at once with a usage error", async () => {
    const result = await fluid("sandbox", "egress", "web", "--allow-all", "--deny-all");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("give one of --allow, --allow-all and --deny-all");
  });
});
