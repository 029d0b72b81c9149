import { mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { mountsUnder, removeTree } from "./remove-tree.js";

describe("removeTree", () => {
  it("finds the mounts below a directory, deepest first, decoding escapes", () => {
    const table = [
      "/dev/vda / ext4 rw 0 0",
      "proc /var/lib/fluid/images/.build-debian-12-abc/work/rootfs/proc proc rw 0 0",
      "sysfs /var/lib/fluid/images/.build-debian-12-abc/work/rootfs/sys sysfs rw 0 0",
      "devpts /var/lib/fluid/images/.build-debian-12-abc/work/rootfs/dev/pts devpts rw 0 0",
      "tmpfs /var/lib/fluid/images/.build-debian-12-abcdef tmpfs rw 0 0",
      "tmpfs /srv/with\\040space tmpfs rw 0 0",
    ].join("\n");
    expect(mountsUnder(table, "/var/lib/fluid/images/.build-debian-12-abc/")).toEqual([
      "/var/lib/fluid/images/.build-debian-12-abc/work/rootfs/dev/pts",
      "/var/lib/fluid/images/.build-debian-12-abc/work/rootfs/proc",
      "/var/lib/fluid/images/.build-debian-12-abc/work/rootfs/sys",
    ]);
    expect(mountsUnder(table, "/srv/with space")).toEqual(["/srv/with space"]);
  });

  it("deletes a tree", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fluid-remove-"));
    await mkdir(join(dir, "tree/a/b"), { recursive: true });
    await writeFile(join(dir, "tree/a/b/file"), "x");
    await removeTree(join(dir, "tree"));
    expect(await readdir(dir)).toEqual([]);
    await removeTree(dir);
  });
});
