import { execFile } from "node:child_process";
import { constants } from "node:fs";
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { sampleTasks, startTestServer, type TestServer, trickyContents, trickyStrings } from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { playbookData, type RenderableTask, renderPlaybook } from "./render.js";

/**
 * Rendered playbooks checked by Ansible itself (Debian package `ansible-core`). CI installs it, so
 * a missing binary fails here with the fix rather than skipping: a skip would hide that the
 * playbooks were never checked.
 */
const run = promisify(execFile);
const INSTALL_HINT =
  "ansible-playbook not found on PATH: install the Debian package ansible-core " +
  "(apt-get install -y --no-install-recommends ansible-core)";

async function findOnPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? "").split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

describe("rendered playbooks under Ansible", () => {
  let dir: string;
  let ansiblePlaybook: string | undefined;
  let t: TestServer;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    ansiblePlaybook = await findOnPath("ansible-playbook");
    dir = await mkdtemp(join(tmpdir(), "fluid-ansible-"));
    // ansible.posix.sysctl comes from the `ansible.posix` collection, not ansible-core; a stub module
    // lets the syntax check resolve the name without the 250 MB `ansible` package. (Syntax checks
    // resolve module names but never load or run the modules.)
    const stub = join(dir, "collections", "ansible_collections", "ansible", "posix", "plugins", "modules");
    await mkdir(stub, { recursive: true });
    await writeFile(join(stub, "sysctl.py"), "#!/usr/bin/python\n# stub for syntax checks\n");
    await writeFile(
      join(dir, "collections", "ansible_collections", "ansible", "posix", "MANIFEST.json"),
      JSON.stringify({ collection_info: { namespace: "ansible", name: "posix", version: "0.0.0" } }),
    );
    await writeFile(join(dir, "ansible.cfg"), "");
    env = {
      ...process.env,
      ANSIBLE_CONFIG: join(dir, "ansible.cfg"),
      ANSIBLE_COLLECTIONS_PATH: join(dir, "collections"),
      ANSIBLE_HOME: join(dir, "home"),
      ANSIBLE_LOCAL_TEMP: join(dir, "tmp"),
      ANSIBLE_NOCOLOR: "1",
      ANSIBLE_RETRY_FILES_ENABLED: "0",
    };
    t = await startTestServer("pglite");
  });

  afterAll(async () => {
    await t?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function syntaxCheck(name: string, yaml: string) {
    if (!ansiblePlaybook) throw new Error(INSTALL_HINT);
    const file = join(dir, `${name}.yml`);
    await writeFile(file, yaml);
    return run(ansiblePlaybook, ["--syntax-check", "-i", "localhost,", file], { cwd: dir, env, timeout: 60_000 }).then(
      (r) => ({ code: 0, output: r.stdout + r.stderr }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({
        code: err.code ?? 1,
        output: `${err.stdout ?? ""}${err.stderr ?? ""}`,
      }),
    );
  }

  it("ansible-playbook is installed (Debian package ansible-core)", () => {
    expect(ansiblePlaybook, INSTALL_HINT).toBeDefined();
  });

  it("a playbook built through the API with every allowed module passes --syntax-check", async () => {
    const owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
    const created = await t.call("POST", "/v1/orgs/acme/playbooks", {
      as: owner,
      body: { name: "Web tier: yes/no", hosts: "webservers:&prod", become: true },
    });
    expect(created.status).toBe(201);
    for (const task of sampleTasks) {
      const res = await t.call("POST", `/v1/orgs/acme/playbooks/${created.body.id}/tasks`, { as: owner, body: task });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    const rendered = await t.call("GET", `/v1/orgs/acme/playbooks/${created.body.id}/render`, {
      as: owner,
      query: { format: "yaml" },
    });
    expect(rendered.status).toBe(200);
    const result = await syntaxCheck("api", rendered.body);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain("playbook: ");
  });

  it("tricky strings and file contents pass --syntax-check and load back exactly with Ansible's own YAML loader", async () => {
    const tasks: RenderableTask[] = [
      ...trickyContents.map((content, i) => ({
        name: `content ${i}`,
        module: "ansible.builtin.copy",
        params: { dest: `/etc/f${i}`, content },
        changed_when: null,
      })),
      {
        name: "on",
        module: "ansible.builtin.debug",
        params: {
          msg: "x",
          list: [...trickyStrings, ...trickyContents],
          map: Object.fromEntries(trickyStrings.map((s, i) => [`k${i}`, s])),
        },
        changed_when: null,
      },
      { name: "1.10", module: "ansible.builtin.command", params: { cmd: "true # x" }, changed_when: "x == 'yes'" },
    ];
    const playbook = { name: "yes", hosts: "all", become: false };
    const yaml = renderPlaybook(playbook, tasks);
    const result = await syntaxCheck("tricky", yaml);
    expect(result.code, result.output).toBe(0);

    // Load with the interpreter and loader ansible-playbook itself uses (libyaml-backed PyYAML).
    if (!ansiblePlaybook) throw new Error(INSTALL_HINT);
    const shebang = (await readFile(ansiblePlaybook, "utf8")).split("\n", 1)[0] ?? "";
    const python = shebang.replace(/^#!\s*/, "").split(/\s+/)[0] || "python3";
    const file = join(dir, "tricky.yml");
    const loaded = await run(
      python,
      [
        "-c",
        "import json, sys\nfrom ansible.parsing.dataloader import DataLoader\n" +
          "print(json.dumps(DataLoader().load_from_file(sys.argv[1])))",
        file,
      ],
      { cwd: dir, env, timeout: 60_000 },
    );
    expect(JSON.parse(loaded.stdout)).toEqual(playbookData(playbook, tasks));
  });

  it("Ansible writes captured text holding Jinja markers exactly as it was, not templated", async () => {
    if (!ansiblePlaybook) throw new Error(INSTALL_HINT);
    await mkdir(join(dir, "out"), { recursive: true });
    const target = join(dir, "out", "app.tmpl");
    const content = "Hello {{ name }}\n{% if debug %}verbose{% endif %}\n{# kept #}\n";
    const file = join(dir, "literal.yml");
    await writeFile(
      file,
      renderPlaybook({ name: "literal {{ x }}", hosts: "localhost", become: false }, [
        { name: "write", module: "ansible.builtin.copy", params: { dest: target, content }, changed_when: null },
      ]),
    );
    const result = await run(ansiblePlaybook, ["-i", "localhost,", "-c", "local", file], {
      cwd: dir,
      env,
      timeout: 120_000,
    }).then(
      (r) => ({ code: 0, output: r.stdout + r.stderr }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({
        code: err.code ?? 1,
        output: `${err.stdout ?? ""}${err.stderr ?? ""}`,
      }),
    );
    expect(result.code, result.output).toBe(0);
    expect(await readFile(target, "utf8")).toBe(content);
  });

  it("the check is real: an unknown module fails it", async () => {
    const result = await syntaxCheck(
      "broken",
      renderPlaybook({ name: "x", hosts: "all", become: false }, [
        { name: "x", module: "ansible.builtin.no_such_module", params: {}, changed_when: null },
      ]),
    );
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/couldn't resolve module\/action/);
  });
});
