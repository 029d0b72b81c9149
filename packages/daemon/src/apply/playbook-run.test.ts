import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runApplyPlaybook } from "./playbook-run.js";

/**
 * A stand-in `ansible-playbook` first on PATH records what it was given (argv, environment, the
 * inventory and key it was pointed at) and prints a recap for the inventory's host.
 */
describe("runApplyPlaybook", () => {
  let dir: string;
  let savedPath: string | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-apply-run-test-"));
    await writeFile(
      join(dir, "ansible-playbook"),
      `#!/bin/sh
inventory=$2
key=$6
{ printf '%s\\n' "$@"; echo "SSH_ARGS=$ANSIBLE_SSH_ARGS"; echo "HOME=$HOME"; echo "TOKEN=\${FLUID_TOKEN:-}"
  echo "INVENTORY=$(cat "$inventory")"; echo "KEYMODE=$(stat -c %a "$key")"; } > "${dir}/seen"
echo "PLAY RECAP *********************************************************************"
echo "fluid-source               : ok=2    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0"
`,
    );
    await chmod(join(dir, "ansible-playbook"), 0o755);
    savedPath = process.env.PATH;
    process.env.PATH = `${dir}:${savedPath}`;
    process.env.FLUID_TOKEN = "must-not-leak";
  });

  afterEach(async () => {
    process.env.PATH = savedPath;
    delete process.env.FLUID_TOKEN;
    await rm(dir, { recursive: true, force: true });
  });

  const input = {
    sshConfigFile: "/run/fluid-ssh-x/ssh_config",
    hostAlias: "fluid-source",
    privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n",
    playbookYaml: "- hosts: all\n  tasks: []\n",
    check: true,
    timeoutSeconds: 30,
  };

  it("points ansible at the open connection's ssh_config and the VM's alias, in check mode with --diff", async () => {
    const outcome = await runApplyPlaybook(input);
    expect(outcome).toMatchObject({ exitCode: 0, timedOut: false, recap: { ok: 2, changed: 1, failed: 0 } });
    const seen = await readFile(join(dir, "seen"), "utf8");
    expect(seen).toContain("SSH_ARGS=-F /run/fluid-ssh-x/ssh_config\n");
    expect(seen).toContain("INVENTORY=fluid-source\n");
    expect(seen).toMatch(/\n--check\n--diff\n/);
    expect(seen).toContain("KEYMODE=600\n");
    // The daemon's own environment is not passed on.
    expect(seen).toContain("TOKEN=\n");
  });

  it("without check it changes for real (no --check), and the run's files are gone afterwards", async () => {
    await runApplyPlaybook({ ...input, check: false });
    const seen = await readFile(join(dir, "seen"), "utf8");
    expect(seen).not.toContain("--check");
    const home = /HOME=(.*)\n/.exec(seen)?.[1] ?? "";
    await expect(readFile(join(home, "..", "inventory"), "utf8")).rejects.toThrow(/ENOENT/);
  });
});
