import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runChecked } from "../system/run.js";
import { withRoot } from "./disk-view.js";
import { diffSandbox } from "./sandbox-diff.js";

const IMAGE = "/var/lib/fluid/images/debian-12/rootfs.qcow2";
const ready = existsSync("/dev/fuse") && existsSync(IMAGE) && process.getuid?.() === 0;

describe.skipIf(!ready)("diffSandbox (needs root, /dev/fuse and the debian-12 image)", () => {
  let scratch: string;
  let overlay: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "fluid-review-test-"));
    overlay = join(scratch, "disk.qcow2");
    await runChecked(["qemu-img", "create", "-q", "-f", "qcow2", "-b", IMAGE, "-F", "qcow2", overlay]);
  });

  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it("misses what a running guest has not yet flushed to its disk", async () => {
    // The fake guest's flush is what puts its pending write on the disk.
    const manager = {
      disks: async () => ({ overlay, base: IMAGE, rootDevice: "/dev/vda" }),
      flush: () => withRoot(overlay, (root) => writeFile(join(root, "etc/pending.conf"), "x\n"), { writable: true }),
    };
    const { diff } = await diffSandbox(manager, "sbx-1");
    expect(diff.changes.map((c) => `${c.kind} ${c.action} ${c.path}`)).toContain("file added /etc/pending.conf");
  });
});
