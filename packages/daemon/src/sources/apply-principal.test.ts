import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { APPLY_PRINCIPAL, applyAccessScript } from "./apply-principal.js";

const run = promisify(execFile);

/**
 * The script runs for real with `sh`, against a temp directory standing in for /etc/ssh; `sshd` is a
 * stand-in on PATH that answers `-T` with the PermitRootLogin the test chooses.
 */
describe("applyAccessScript", () => {
  let dir: string;
  let sshDir: string;
  let bin: string;

  const exists = (path: string) =>
    stat(path).then(
      () => true,
      () => false,
    );
  const sshdConfig = () => readFile(join(sshDir, "sshd_config"), "utf8");
  const principals = () => join(sshDir, "fluid_principals", "root");
  const dropIn = () => join(sshDir, "sshd_config.d", "fluid-apply.conf");

  const prepare = async (enable: boolean, rootLogin = "prohibit-password") => {
    const script = `set -eu\n${applyAccessScript(enable, sshDir)}`;
    return run("sh", ["-c", script], {
      env: { PATH: `${bin}:/usr/bin:/bin`, FAKE_ROOT_LOGIN: rootLogin },
    }).then(
      ({ stdout }) => ({ code: 0, stdout, stderr: "" }),
      (err: { code: number; stdout: string; stderr: string }) => ({ ...err }),
    );
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-apply-principal-"));
    sshDir = join(dir, "etc-ssh");
    bin = join(dir, "bin");
    await mkdir(sshDir);
    await mkdir(bin);
    await writeFile(join(sshDir, "sshd_config"), "PermitRootLogin prohibit-password\nUsePAM yes\n");
    await writeFile(join(bin, "sshd"), '#!/bin/sh\necho "permitrootlogin $FAKE_ROOT_LOGIN"\n');
    await chmod(join(bin, "sshd"), 0o755);
  });

  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("installs root's principals file (fluid-apply only) and a Match User root drop-in without forwarding", async () => {
    const result = await prepare(true);
    expect(result.stdout).toBe("step apply_access\n");
    expect(await readFile(principals(), "utf8")).toBe(`${APPLY_PRINCIPAL}\n`);
    const conf = await readFile(dropIn(), "utf8");
    expect(conf).toContain(`Match User root\n  AuthorizedPrincipalsFile ${principals()}\n`);
    for (const line of ["AllowTcpForwarding no", "AllowAgentForwarding no", "X11Forwarding no", "PermitTunnel no"]) {
      expect(conf).toContain(`  ${line}\n`);
    }
    // The owner's own root access is not touched.
    expect(conf).not.toMatch(/AuthorizedKeysFile|PermitRootLogin|AuthenticationMethods/);
    expect((await sshdConfig()).split("\n")[0]).toBe(`Include ${dropIn()}`);
  });

  it("is idempotent: preparing twice leaves one Include line and the same files", async () => {
    await prepare(true);
    const first = await readFile(dropIn(), "utf8");
    expect((await prepare(true)).code).toBe(0);
    expect(await readFile(dropIn(), "utf8")).toBe(first);
    expect((await sshdConfig()).match(/fluid-apply\.conf/g)).toHaveLength(1);
  });

  it("adds no Include when sshd_config already includes the whole drop-in directory", async () => {
    const config = `Include ${sshDir}/sshd_config.d/*.conf\nUsePAM yes\n`;
    await writeFile(join(sshDir, "sshd_config"), config);
    await prepare(true);
    expect(await sshdConfig()).toBe(config);
  });

  it("preparing without apply removes the principals file, the drop-in and its Include line", async () => {
    await prepare(true);
    const result = await prepare(false);
    expect(result.stdout).toBe("step apply_access_removed\n");
    expect(await exists(principals())).toBe(false);
    expect(await exists(dropIn())).toBe(false);
    expect(await sshdConfig()).toBe("PermitRootLogin prohibit-password\nUsePAM yes\n");
    // …and again on a VM that never had it.
    expect((await prepare(false)).code).toBe(0);
  });

  it("refuses a VM whose sshd forbids root login, and leaves nothing of the apply access behind", async () => {
    const result = await prepare(true, "no");
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/PermitRootLogin no\).*prohibit-password or yes/);
    expect(result.stdout).not.toContain("step apply_access");
    expect(await exists(principals())).toBe(false);
    expect(await exists(dropIn())).toBe(false);
    expect(await sshdConfig()).not.toContain("fluid-apply");
  });
});
