import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, type TestServer } from "@fluid/testkit";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runFluid } from "../testing.js";

describe("fluid playbook", () => {
  let t: TestServer;
  let key: string;
  let dir: string;

  const fluid = (...args: string[]) =>
    runFluid(args, { env: { FLUID_CONFIG: join(dir, "config.json"), FLUID_SERVER: t.restUrl, FLUID_API_KEY: key } });

  beforeAll(async () => {
    t = await startTestServer("pglite");
    const owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
    key = (await t.apiKey(owner, "acme", "member")).key;
  });

  afterAll(() => t.close());

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-cli-playbook-"));
  });

  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("create, task add, show, render and rm, by name or id", async () => {
    const created = await fluid("--json", "playbook", "create", "fix-nginx", "--hosts", "web", "--become");
    expect(created.code).toBe(0);
    const playbook = JSON.parse(created.stdout);
    expect(playbook).toMatchObject({ name: "fix-nginx", hosts: "web", become: true, task_count: 0 });

    const added = await fluid(
      "playbook",
      "task",
      "add",
      "fix-nginx",
      "install nginx",
      "apt",
      "--params",
      '{"name":"nginx","state":"present"}',
    );
    expect(added).toMatchObject({ code: 0, stderr: "" });
    expect(added.stdout).toMatch(/^Added task 1 \([0-9a-f-]{36}\): install nginx \[ansible\.builtin\.apt\]\n$/);
    const first = JSON.parse(
      (
        await fluid(
          "--json",
          "playbook",
          "task",
          "add",
          playbook.id,
          "reload nginx",
          "command",
          "--params",
          '{"cmd":"nginx -s reload"}',
          "--changed-when",
          "false",
          "--position",
          "1",
        )
      ).stdout,
    );
    expect(first).toMatchObject({ position: 0, module: "ansible.builtin.command", changed_when: false });

    const shown = await fluid("playbook", "show", "fix-nginx");
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^name +fix-nginx$/m);
    expect(shown.stdout).toMatch(/^# +ID +NAME +MODULE +PARAMS$/m);
    expect(shown.stdout).toMatch(/^1 +\S+ +reload nginx +ansible\.builtin\.command +\{"cmd":"nginx -s reload"\}$/m);
    expect(shown.stdout).toMatch(
      /^2 +\S+ +install nginx +ansible\.builtin\.apt +\{"name":"nginx","state":"present"\}$/m,
    );

    const listed = await fluid("playbook", "ls");
    expect(listed.stdout).toMatch(new RegExp(`^${playbook.id} +fix-nginx +2 +web +\\d+s ago$`, "m"));

    const rendered = await fluid("playbook", "render", "fix-nginx");
    expect(rendered.code).toBe(0);
    // The exact YAML is the server's business (and its tests'); the CLI prints it unchanged.
    expect(rendered.stdout).toMatch(/^---\n- name: "fix-nginx"\n/);
    expect(rendered.stdout.indexOf("reload nginx")).toBeLessThan(rendered.stdout.indexOf("install nginx"));
    expect(rendered.stdout).toContain("ansible.builtin.apt:");
    expect(JSON.parse((await fluid("--json", "playbook", "render", playbook.id)).stdout)).toEqual({
      playbook_id: playbook.id,
      yaml: rendered.stdout,
    });

    expect(await fluid("playbook", "task", "rm", "fix-nginx", first.id)).toMatchObject({ code: 0 });
    expect(JSON.parse((await fluid("--json", "playbook", "show", playbook.id)).stdout).tasks).toHaveLength(1);
    expect(await fluid("playbook", "rm", "fix-nginx")).toMatchObject({
      code: 0,
      stdout: "Deleted playbook fix-nginx\n",
    });
    expect(await fluid("playbook", "show", "fix-nginx")).toMatchObject({
      code: 4,
      stderr: 'fluid: no playbook is named "fix-nginx" (see fluid playbook ls)\n',
    });
  });

  it("rejects bad params, unknown modules and duplicate names with exit 2", async () => {
    await fluid("playbook", "create", "strict");
    const badJson = await fluid("playbook", "task", "add", "strict", "x", "apt", "--params", "{name: nginx}");
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain(
      "option '--params <json>' argument '{name: nginx}' is invalid. must be a JSON object",
    );
    expect((await fluid("playbook", "task", "add", "strict", "x", "apt", "--params", "[1]")).code).toBe(2);
    const module = await fluid("--json", "playbook", "task", "add", "strict", "x", "rm_rf");
    expect(module.code).toBe(2);
    expect(JSON.parse(module.stdout).error).toMatchObject({ code: "invalid_request" });
    expect(JSON.parse(module.stdout).error.message).toContain("must be one of the allowed Ansible modules");
    expect((await fluid("playbook", "create", "strict")).code).toBe(2);
  });
});
