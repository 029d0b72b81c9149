import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, type TestServer } from "@fluid/testkit";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runFluid } from "../testing.js";

describe("fluid login, logout, whoami, org", () => {
  let t: TestServer;
  let adminKey: string;
  let otherOrgKey: string;
  let dir: string;
  let config: string;

  const fluid = (...args: string[]) => runFluid(args, { env: { FLUID_CONFIG: config } });

  beforeAll(async () => {
    t = await startTestServer("pglite");
    const owner = await t.user("owner@example.com", "Olga Owner");
    await t.org(owner, "acme");
    adminKey = (await t.apiKey(owner, "acme", "admin")).key;
    const colleague = await t.user("colleague@example.com");
    await t.member(owner, "acme", colleague, "member");
    await t.org(owner, "other");
    otherOrgKey = (await t.apiKey(owner, "other", "member")).key;
  });

  afterAll(() => t.close());

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-cli-auth-"));
    config = join(dir, "fluid", "config.json");
  });

  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("login checks the key with the server, then saves it 0600 in a 0700 directory", async () => {
    const result = await fluid("login", "--server", `${t.restUrl}/`, "--api-key", adminKey);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toBe(
      `Logged in to ${t.restUrl} as owner@example.com (organization acme, role admin).\nSaved to ${config}\n`,
    );
    expect((await stat(config)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "fluid"))).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(config, "utf8"))).toEqual({ server: t.restUrl, apiKey: adminKey, org: "acme" });

    const whoami = await fluid("whoami");
    expect(whoami.code).toBe(0);
    expect(whoami.stdout).toBe(
      `server        ${t.restUrl}\n` +
        "user          Olga Owner <owner@example.com>\n" +
        "organization  acme (acme)\n" +
        "role          admin\n",
    );
  });

  it("login keeps the saved agent settings and replaces a config it cannot read", async () => {
    await mkdir(join(dir, "fluid"), { recursive: true });
    await writeFile(config, "not json");
    expect((await fluid("login", "--server", t.restUrl, "--api-key", adminKey)).code).toBe(0);
    expect(JSON.parse(await readFile(config, "utf8"))).toEqual({ server: t.restUrl, apiKey: adminKey, org: "acme" });

    const agent = { baseUrl: "http://127.0.0.1:1/v1", model: "test/model", apiKey: "sk-test" };
    await writeFile(config, JSON.stringify({ server: "http://old.example", apiKey: "fl_old", agent }));
    expect((await fluid("login", "--server", t.restUrl, "--api-key", adminKey)).code).toBe(0);
    expect(JSON.parse(await readFile(config, "utf8"))).toEqual({
      server: t.restUrl,
      apiKey: adminKey,
      org: "acme",
      agent,
    });
    expect((await stat(config)).mode & 0o777).toBe(0o600);
  });

  it("login --json prints one document without the key", async () => {
    const result = await fluid("login", "--json", "--server", t.restUrl, "--api-key", adminKey, "--org", "acme");
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc).toMatchObject({
      server: t.restUrl,
      user: { email: "owner@example.com" },
      org: { slug: "acme", role: "admin" },
      config_path: config,
    });
    expect(result.stdout).not.toContain(adminKey);
  });

  it("login refuses a key the server rejects, and saves nothing", async () => {
    const bad = await fluid("login", "--server", t.restUrl, "--api-key", "fl_not-a-real-key");
    expect(bad).toMatchObject({ code: 3, stdout: "", stderr: "fluid: API key is invalid, expired or revoked\n" });
    await expect(stat(config)).rejects.toMatchObject({ code: "ENOENT" });

    const json = await fluid("login", "--json", "--server", t.restUrl, "--api-key", "fl_not-a-real-key");
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toEqual({
      error: { code: "unauthenticated", message: "API key is invalid, expired or revoked" },
    });
  });

  it("login explains missing or wrong arguments with exit status 2", async () => {
    expect(await fluid("login", "--api-key", adminKey)).toMatchObject({
      code: 2,
      stderr: "fluid: --server is required, e.g. --server http://127.0.0.1:8080\n",
    });
    expect((await fluid("login", "--server", "ftp://x", "--api-key", adminKey)).code).toBe(2);
    const hostToken = await fluid("login", "--server", t.restUrl, "--api-key", "flh_abc");
    expect(hostToken).toMatchObject({ code: 2 });
    expect(hostToken.stderr).toContain("host tokens are for fluid-daemon");
    const wrongOrg = await fluid("login", "--server", t.restUrl, "--api-key", adminKey, "--org", "other");
    expect(wrongOrg).toMatchObject({
      code: 4,
      stderr: 'fluid: organization "other" is not one this API key can use (it can use: acme)\n',
    });
    await expect(stat(config)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("an unreachable server is named in the error", async () => {
    const port = await closedPort();
    const result = await fluid("login", "--server", `http://127.0.0.1:${port}`, "--api-key", adminKey);
    expect(result).toMatchObject({
      code: 1,
      stderr: `fluid: cannot reach the fluid server at http://127.0.0.1:${port} (ECONNREFUSED)\n`,
    });
  });

  it("logout forgets the login; commands then ask to log in (exit 3)", async () => {
    await fluid("login", "--server", t.restUrl, "--api-key", adminKey);
    expect(await fluid("logout")).toMatchObject({ code: 0, stdout: `Removed the saved login ${config}\n` });
    await expect(stat(config)).rejects.toMatchObject({ code: "ENOENT" });
    expect(await fluid("logout")).toMatchObject({ code: 0, stdout: `Not logged in (no ${config})\n` });

    const whoami = await fluid("whoami");
    expect(whoami.code).toBe(3);
    expect(whoami.stderr).toContain("fluid: not logged in: run `fluid login");
    const json = await fluid("whoami", "--json");
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: "unauthenticated" } });
  });

  it("FLUID_SERVER and FLUID_API_KEY work without a saved login, and take the key's own org", async () => {
    await fluid("login", "--server", t.restUrl, "--api-key", adminKey);
    const result = await runFluid(["whoami", "--json"], {
      env: { FLUID_CONFIG: config, FLUID_SERVER: t.restUrl, FLUID_API_KEY: otherOrgKey },
    });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ org: { slug: "other", role: "member" } });
  });

  it("a damaged config file is reported, not a stack trace", async () => {
    await writeFile(join(dir, "broken.json"), "{not json");
    const result = await runFluid(["whoami"], { env: { FLUID_CONFIG: join(dir, "broken.json") } });
    expect(result).toMatchObject({
      code: 3,
      stderr: `fluid: ${dir}/broken.json is not a valid fluid config; run fluid login again\n`,
    });
  });

  it("org shows the current organization with its member count", async () => {
    await fluid("login", "--server", t.restUrl, "--api-key", adminKey);
    const human = await fluid("org");
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(
      /^name {11}acme\nslug {11}acme\nid {13}[0-9a-f-]{36}\nyour role {6}admin\nmembers {8}2\n/,
    );
    const json = JSON.parse((await fluid("org", "--json")).stdout);
    expect(json).toMatchObject({ slug: "acme", role: "admin", members_count: 2, allow_self_approval: false });
  });

  it("usage errors exit 2, as JSON under --json", async () => {
    const unknown = await fluid("frobnicate");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("error: unknown command 'frobnicate'");
    const missing = await fluid("--json", "token", "rm");
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout)).toEqual({ error: { code: "usage", message: "missing required argument 'id'" } });
    const noSubcommand = await fluid("--json", "sandbox");
    expect(noSubcommand.code).toBe(2);
    expect(JSON.parse(noSubcommand.stdout).error.code).toBe("usage");
    expect(await fluid("--help")).toMatchObject({ code: 0 });
  });
});

/** A loopback port nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
