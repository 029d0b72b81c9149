import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { changeRequestFixture, defaultHandlers, generatedPlaybook, playbookHash, testDiff } from "@fluid/testkit";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runFluid } from "../testing.js";
import { renderDiff } from "./sandbox-diff.js";

type Fixture = Awaited<ReturnType<typeof changeRequestFixture>>;

const authored = "---\n- hosts: all\n  tasks: []\n";

describe("fluid change", () => {
  let f: Fixture;
  let dir: string;
  let heartbeat: NodeJS.Timeout;
  /** The author is the org's admin; the approver the owner; member and viewer keys are the owner's, with those roles. */
  const keys = { author: "", approver: "", member: "", viewer: "" };

  const fluid = (as: keyof typeof keys, args: string[], input?: string) =>
    runFluid(args, {
      env: { FLUID_CONFIG: join(dir, "config.json"), FLUID_SERVER: f.t.restUrl, FLUID_API_KEY: keys[as] },
      ...(input === undefined ? {} : { input: Buffer.from(input) }),
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-cli-change-"));
    f = await changeRequestFixture("pglite");
    // Each command is its own process: keep the host ONLINE however long the file takes.
    heartbeat = setInterval(() => f.daemon.heartbeat(), 5_000);
    keys.author = (await f.t.apiKey(f.admin.caller, "acme", "admin")).key;
    keys.approver = (await f.t.apiKey(f.owner, "acme", "admin")).key;
    keys.member = (await f.t.apiKey(f.owner, "acme", "member")).key;
    keys.viewer = (await f.t.apiKey(f.owner, "acme", "viewer")).key;
    await writeFile(join(dir, "authored.yml"), authored);
  });
  afterAll(async () => {
    clearInterval(heartbeat);
    f.daemon.abort();
    await f.t.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    f.daemon.handlers.runPlaybook = defaultHandlers.runPlaybook;
  });

  describe("create", () => {
    it("makes a draft from the sandbox's diff with the generated playbook and says how to verify it", async () => {
      const result = await fluid("author", ["change", "create", f.sandboxId, "--title", "Serve on 8080"]);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(
        /^id +[0-9a-f-]{36}\ntitle +Serve on 8080\nstate +draft\nsource +image debian-12\n/,
      );
      expect(result.stdout).toContain(`diff hash      ${"a".repeat(12)}\n`);
      expect(result.stdout).toMatch(/Verify it: fluid change verify [0-9a-f-]{36}\n$/);
    });

    it("uses a playbook file instead of the generated one (--json)", async () => {
      const file = join(dir, "authored.yml");
      const result = await fluid("author", [
        "--json",
        "change",
        "create",
        f.sandboxId,
        "--title",
        "T",
        "--playbook-file",
        file,
      ]);
      expect(JSON.parse(result.stdout)).toMatchObject({
        state: "draft",
        playbook: authored,
        playbook_origin: "authored",
        playbook_hash: playbookHash(authored),
      });
    });

    it("refuses a playbook file that does not exist, without asking the server (exit 4)", async () => {
      const before = f.daemon.commands("diffSandbox").length;
      const result = await fluid("author", [
        "change",
        "create",
        f.sandboxId,
        "--title",
        "T",
        "--playbook-file",
        join(dir, "nope.yml"),
      ]);
      expect(result.code).toBe(4);
      expect(result.stderr).toContain("nope.yml: no such file or directory");
      expect(f.daemon.commands("diffSandbox")).toHaveLength(before);
    });
  });

  describe("ls", () => {
    it("lists requests as a table, filtered by --state", async () => {
      const verified = await f.verified(f.admin.caller);
      const all = await fluid("viewer", ["change", "ls"]);
      expect(all.code).toBe(0);
      expect(all.stdout.split("\n")[0]).toMatch(/^ID +STATE +TITLE +SOURCE +PLAYBOOK +UPDATED$/);
      const only = JSON.parse((await fluid("viewer", ["--json", "change", "ls", "--state", "verified"])).stdout);
      expect(only.change_requests.map((r: { id: string }) => r.id)).toContain(verified.id);
      expect(only.change_requests.every((r: { state: string }) => r.state === "verified")).toBe(true);
    });

    it("refuses a state that does not exist (exit 2)", async () => {
      const result = await fluid("viewer", ["change", "ls", "--state", "merged"]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/Allowed choices are draft, verifying/);
    });
  });

  describe("show, diff and playbook", () => {
    it("show: state, short hashes, source, author, verification and each approval with whether it is current", async () => {
      const cr = await f.verified(f.admin.caller);
      await f.t.call("POST", `${f.base}/${cr.id}/approve`, {
        as: f.owner,
        body: { diff_hash: cr.diff_hash, playbook_hash: cr.playbook_hash, comment: "ok" },
      });
      const result = await fluid("author", ["change", "show", cr.id]);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("state          approved\n");
      expect(result.stdout).toContain(`author         ${f.admin.id}\n`);
      expect(result.stdout).toContain(`playbook hash  ${cr.playbook_hash.slice(0, 12)} (generated, `);
      expect(result.stdout).toContain("Not reproduced by the playbook:\n  - /etc/shadow is redacted\n");
      expect(result.stdout).toMatch(
        /Verification: passed in \d+s \(first run changed 0, second run changed 0, equivalent yes\)/,
      );
      expect(result.stdout).toMatch(
        new RegExp(`approve +${f.owner.id} +\\S+ ago +yes +diff a{12} playbook [0-9a-f]{12} +ok`),
      );
    });

    it("show answers 4 for a request that does not exist", async () => {
      const result = await fluid("author", ["change", "show", crypto.randomUUID()]);
      expect(result.code).toBe(4);
    });

    it("diff renders the request's diff; playbook prints the YAML as it is", async () => {
      const cr = (await f.createRequest({}, f.admin.caller)).body;
      const diff = await fluid("author", ["change", "diff", cr.id]);
      expect(diff.stdout).toBe(renderDiff(testDiff(), false));
      const playbook = await fluid("author", ["change", "playbook", cr.id]);
      expect(playbook.stdout).toBe(generatedPlaybook);
    });

    it("diff and playbook are withheld from a viewer (exit 3)", async () => {
      const cr = (await f.createRequest({}, f.admin.caller)).body;
      for (const what of ["diff", "playbook"]) {
        const result = await fluid("viewer", ["change", what, cr.id]);
        expect(result.code).toBe(3);
        expect(result.stderr).toContain(`the ${what} is withheld`);
      }
    });
  });

  describe("edit", () => {
    it("replaces the playbook from a file or stdin: new hash, back to draft", async () => {
      const cr = await f.verified(f.admin.caller);
      const result = await fluid("author", ["change", "edit", cr.id, "--file", "-"], authored);
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(`Playbook of ${cr.id} replaced: hash ${playbookHash(authored)}, state draft\n`);
    });

    it("shows the server's refusal of YAML that is not a list of plays (exit 2)", async () => {
      const cr = (await f.createRequest({}, f.admin.caller)).body;
      await writeFile(join(dir, "bad.yml"), "hosts: all\n");
      const result = await fluid("author", ["change", "edit", cr.id, "--file", join(dir, "bad.yml")]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^fluid: .*list of plays/);
    });
  });

  describe("verify", () => {
    it("waits for the verification and prints its outcome", async () => {
      const cr = (await f.createRequest({}, f.admin.caller)).body;
      const result = await fluid("author", ["change", "verify", cr.id]);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Verification: passed in \d+s \(first run changed 0, second run changed 0/);
      expect((await f.t.call("GET", `${f.base}/${cr.id}`, { as: f.admin.caller })).body.state).toBe("verified");
    });

    it("--no-wait returns as soon as the verification has started", async () => {
      const cr = (await f.createRequest({}, f.admin.caller)).body;
      // Slow enough that the verification is still running when the command returns.
      f.daemon.handlers.runPlaybook = async (m) => {
        await new Promise((resolve) => setTimeout(resolve, 1500));
        return defaultHandlers.runPlaybook!(m);
      };
      const result = await fluid("author", ["--json", "change", "verify", cr.id, "--no-wait"]);
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ id: cr.id, state: "verifying" });
    });

    it("exits 1 when the verification fails, naming every mismatch", async () => {
      const cr = (await f.createRequest({}, f.admin.caller)).body;
      const original = f.daemon.handlers.diffSandbox;
      // The clone ends up with the file at another mode than the sandbox has it.
      f.daemon.handlers.diffSandbox = (m) => {
        const cmd = m.payload.case === "diffSandbox" ? m.payload.value : undefined;
        if (cmd?.sandboxId === f.sandboxId) return original!(m);
        const diff = { ...testDiff(), hash: "c".repeat(64) };
        diff.changes[0]!.mode = "0600";
        return {
          case: "sandboxDiff",
          value: { sandboxId: cmd?.sandboxId, diffJson: Buffer.from(JSON.stringify(diff)), hash: "c".repeat(64) },
        };
      };
      try {
        const result = await fluid("author", ["change", "verify", cr.id]);
        expect(result.code).toBe(1);
        expect(result.stdout).toContain("Verification: FAILED");
        expect(result.stdout).toContain(
          '    file /etc/app.conf differs: mode "0644" in the sandbox, "0600" in the clone\n',
        );
      } finally {
        f.daemon.handlers.diffSandbox = original;
      }
    });
  });

  describe("approve and reject", () => {
    it("approve sends the request's current hashes and says which it approved", async () => {
      const cr = await f.verified(f.admin.caller);
      const result = await fluid("approver", ["change", "approve", cr.id, "--comment", "reviewed"]);
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(
        `Approved ${cr.id} at\n  diff hash      ${cr.diff_hash}\n  playbook hash  ${cr.playbook_hash}\n`,
      );
      const after = (await f.t.call("GET", `${f.base}/${cr.id}`, { as: f.admin.caller })).body;
      expect(after.approvals).toMatchObject([{ approver_id: f.owner.id, comment: "reviewed", current: true }]);
    });

    it("approve of one's own request shows the server's two-person rule refusal (exit 3)", async () => {
      const cr = await f.verified(f.admin.caller);
      const result = await fluid("author", ["change", "approve", cr.id]);
      expect(result.code).toBe(3);
      expect(result.stderr).toBe("fluid: you cannot approve a change request you authored (two-person rule)\n");
      const json = await fluid("author", ["--json", "change", "approve", cr.id]);
      expect(JSON.parse(json.stdout)).toEqual({
        error: { code: "forbidden", message: "you cannot approve a change request you authored (two-person rule)" },
      });
    });

    it("reject marks the request rejected; a member may not (exit 3)", async () => {
      const cr = (await f.createRequest({}, f.admin.caller)).body;
      const refused = await fluid("member", ["change", "reject", cr.id]);
      expect(refused.code).toBe(3);
      const result = await fluid("approver", ["--json", "change", "reject", cr.id, "--comment", "not now"]);
      expect(JSON.parse(result.stdout)).toMatchObject({
        state: "rejected",
        approvals: [{ decision: "reject", comment: "not now" }],
      });
    });
  });

  describe("export and apply", () => {
    it("approve with the hashes one reviewed is refused (409) when they are not the current ones", async () => {
      const cr = await f.verified(f.admin.caller);
      const result = await fluid("approver", [
        "change",
        "approve",
        cr.id,
        "--diff-hash",
        cr.diff_hash,
        "--playbook-hash",
        "0".repeat(64),
      ]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain("hash differs");
      expect((await f.t.call("GET", `${f.base}/${cr.id}`, { as: f.admin.caller })).body.approvals).toEqual([]);
    });

    it("export writes the playbook, inventory, diff, verification and checksums, private to the user", async () => {
      const cr = await f.verified(f.admin.caller);
      const out = join(dir, "bundle");
      const result = await fluid("author", ["change", "export", cr.id, "--out", out]);
      expect(result.code, result.stderr).toBe(0);
      expect(await readFile(join(out, "playbook.yml"), "utf8")).toBe(generatedPlaybook);
      expect(await readFile(join(out, "SHA256SUMS"), "utf8")).toContain(
        `${playbookHash(generatedPlaybook)}  playbook.yml\n`,
      );
      expect(JSON.parse(await readFile(join(out, "verification.json"), "utf8"))).toMatchObject({ passed: true });
      expect(JSON.parse(await readFile(join(out, "diff.json"), "utf8")).hash).toBe(cr.diff_hash);
      expect(await readFile(join(out, "inventory.ini"), "utf8")).toContain("[fluid_target]");
      expect((await stat(join(out, "playbook.yml"))).mode & 0o777).toBe(0o600);
    });

    it("apply of a request made from an image says there is nothing to apply it to (exit non-zero)", async () => {
      const cr = await f.verified(f.admin.caller);
      await fluid("approver", ["change", "approve", cr.id]);
      const result = await fluid("approver", ["change", "apply", cr.id, "--check-only"]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain("export it instead");
      expect(f.daemon.commands("applyPlaybook")).toEqual([]);
    });
  });
});
