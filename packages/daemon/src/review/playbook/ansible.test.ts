import { execFileSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../system/run.js";
import { generateFrom } from "../../testing/generated-playbook.js";
import { dpkgStatus, type SandboxRoots, sandboxRoots } from "../../testing/sandbox-roots.js";

/** ansible-playbook's path, if it is installed. */
const ansiblePlaybook = (() => {
  try {
    return execFileSync("which", ["ansible-playbook"], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
})();
const hasAnsible = ansiblePlaybook !== undefined;

/** The Python that runs Ansible (its shebang), which is the one that can import Ansible's YAML loader. */
async function ansiblePython(): Promise<string> {
  const shebang = (await readFile(ansiblePlaybook as string, "utf8")).split("\n")[0] ?? "";
  return shebang.replace(/^#!\s*/, "").split(" ")[0] ?? "python3";
}

/** Files whose text a YAML block scalar could get wrong, and one Ansible would template. */
const TRICKY: Record<string, string> = {
  "/etc/app/no-newline.conf": "last line without a newline",
  "/etc/app/newlines.conf": "a\n\n\n",
  "/etc/app/indented.conf": "    leading: spaces\n# a comment: kept\nkey: value # not a comment\n",
  "/etc/app/unicode.conf": "héllo ✓ 日本\n",
  "/etc/app/jinja.conf": "greeting={{ not_a_variable }}\n{% raw %}\n",
  "/etc/app/empty.conf": "",
};

let roots: SandboxRoots;
let yaml: string;

/** A sandbox with at least one change of every kind the generator turns into a task or a handler. */
beforeAll(async () => {
  roots = await sandboxRoots();
  await roots.both("/etc/old.conf", "old\n");
  await roots.both("/etc/app.conf", "mode only\n");
  await roots.both("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nold:x:1002:1002::/nonexistent:/bin/sh\n");
  await roots.both("/etc/group", "root:x:0:\nsudo:x:27:\ncrontab:x:101:\nold:x:1002:\n");
  await roots.put("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\ndeploy:x:1001:1001::/home/deploy:/bin/bash\n");
  await roots.put("/etc/group", "root:x:0:\nsudo:x:27:deploy\ncrontab:x:101:\ndeploy:x:1001:\n");
  await roots.put(
    "/var/lib/dpkg/status",
    dpkgStatus([
      ["dpkg", "1.21.22", "amd64"],
      ["curl", "7.88.1-11", "amd64"],
      ["htop", "3.2.2-2", "amd64"],
      ["nginx", "1.22.1-9", "amd64"],
      ["nginx-common", "1.22.1-9", "all"],
    ]),
  );
  for (const [path, content] of Object.entries(TRICKY)) await roots.put(path, content);
  await roots.put("/etc/app.conf", "mode only\n", { mode: 0o600 });
  await roots.put("/etc/nginx/nginx.conf", "worker_processes 2;\n");
  await roots.put("/etc/sysctl.d/60-net.conf", "net.ipv4.ip_forward = 1\n");
  await roots.put("/etc/cron.d/backup", "0 3 * * * root /usr/local/bin/backup\n");
  await roots.put("/usr/local/bin/tool", Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0]));
  await roots.link("/etc/app/current", "/opt/app/v2");
  await roots.remove("/etc/old.conf");
  await roots.linkBoth(
    "/etc/systemd/system/timers.target.wants/apt-daily.timer",
    "/lib/systemd/system/apt-daily.timer",
  );
  await roots.remove("/etc/systemd/system/timers.target.wants/apt-daily.timer");
  await roots.link("/etc/systemd/system/multi-user.target.wants/app.service", "/etc/systemd/system/app.service");
  await roots.put("/etc/systemd/system/app.service", "[Service]\nExecStart=/usr/local/bin/app\n");
  await roots.link("/etc/systemd/system/fstrim.timer", "/dev/null");
  ({ yaml } = await generateFrom(roots));
  await writeFile(join(roots.sandbox, "playbook.yml"), yaml);
});

afterAll(async () => {
  await roots.cleanup();
});

describe("a generated playbook with every kind of change", () => {
  it("uses every module the generator knows, each by its builtin FQCN", () => {
    for (const module of ["apt", "copy", "file", "user", "group", "systemd_service", "command"]) {
      expect(yaml).toContain(`ansible.builtin.${module}:`);
    }
    expect(yaml).toMatch(/notify:\n\s+- "Restart nginx.service"/);
    expect(yaml).toContain('- "Apply sysctl settings"');
  });

  it.skipIf(!hasAnsible)(
    "passes ansible-playbook --syntax-check (skipped when ansible-playbook is not installed)",
    async () => {
      const playbook = join(roots.sandbox, "playbook.yml");
      const result = await run(["ansible-playbook", "--syntax-check", "-i", "localhost,", playbook], {
        timeoutMs: 120_000,
      });
      expect(result.stderr).not.toMatch(/ERROR/);
      expect(result.code).toBe(0);
    },
    150_000,
  );

  it.skipIf(!hasAnsible)(
    "reads back every file's exact content with Ansible's own YAML parser (skipped without ansible)",
    async () => {
      // PyYAML with Ansible's loader, which knows `!unsafe`: what ansible-playbook itself will read.
      const script =
        "import json,sys\nfrom ansible.parsing.yaml.loader import AnsibleLoader\n" +
        "play=AnsibleLoader(open(sys.argv[1]).read()).get_single_data()[0]\n" +
        "print(json.dumps({t['ansible.builtin.copy']['dest']:str(t['ansible.builtin.copy']['content'])" +
        " for t in play['tasks'] if 'ansible.builtin.copy' in t}))";
      const result = await run([await ansiblePython(), "-c", script, join(roots.sandbox, "playbook.yml")], {
        timeoutMs: 60_000,
      });
      expect(result.stderr).toBe("");
      const contents = JSON.parse(result.stdout) as Record<string, string>;
      for (const [path, content] of Object.entries(TRICKY)) expect(contents[path]).toBe(content);
      expect(contents["/etc/nginx/nginx.conf"]).toBe(
        await readFile(join(roots.sandbox, "etc/nginx/nginx.conf"), "utf8"),
      );
    },
    90_000,
  );
});
