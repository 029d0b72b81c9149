import { mkdir, mkdtemp, readdir, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runChecked } from "../system/run.js";
import { hostBusybox } from "./host-tools.js";
import { guestDir } from "./recipes.js";

/** fluid's systemd generator (guest/rootfs/systemd/generator), run by the host's busybox as systemd would run it. */
describe("fluid's systemd generator", () => {
  let dir: string;
  let normal: string;
  let early: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-generator-"));
    [normal, early] = [join(dir, "generator"), join(dir, "generator.early")];
    for (const out of [normal, early, join(dir, "generator.late")]) await mkdir(out);
    await runChecked([
      hostBusybox,
      "sh",
      join(guestDir, "rootfs/systemd/generator"),
      normal,
      early,
      join(dir, "generator.late"),
    ]);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("adds fluid's units for this boot: boot and agent early in sysinit, sshd with multi-user", async () => {
    for (const unit of ["fluid-boot.service", "fluid-agent.service", "fluid-sshd.service"]) {
      expect(await readlink(join(normal, unit))).toBe(`/fluid/systemd/${unit}`);
    }
    expect((await readdir(join(normal, "sysinit.target.wants"))).sort()).toEqual([
      "fluid-agent.service",
      "fluid-boot.service",
    ]);
    expect(await readlink(join(normal, "sysinit.target.wants/fluid-agent.service"))).toBe("../fluid-agent.service");
    expect(await readdir(join(normal, "multi-user.target.wants"))).toEqual(["fluid-sshd.service"]);
  });

  it("masks only the VM's units that would start a second agent or sshd", async () => {
    expect((await readdir(early)).sort()).toEqual([
      "qemu-guest-agent.service",
      "ssh.service",
      "ssh.socket",
      "sshd.service",
    ]);
    for (const unit of await readdir(early)) expect(await readlink(join(early, unit))).toBe("/dev/null");
  });
});
