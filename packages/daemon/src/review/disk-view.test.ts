import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { copyFile, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runChecked } from "../system/run.js";
import { withReadOnlyRoot, withRoot } from "./disk-view.js";

const IMAGE = "/var/lib/fluid/images/debian-12/rootfs.qcow2";
const ready = existsSync("/dev/fuse") && existsSync(IMAGE) && process.getuid?.() === 0;

async function sha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function leftovers(): Promise<string[]> {
  const mounts = (await readFile("/proc/mounts", "utf8")).split("\n").filter((l) => l.includes("fluid-diskview-"));
  const dirs = (await readdir(tmpdir())).filter((name) => name.startsWith("fluid-diskview-"));
  return [...mounts, ...dirs];
}

describe.skipIf(!ready)("read-only disk view (needs root, /dev/fuse and the debian-12 image)", () => {
  let scratch: string;
  let overlay: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "fluid-review-test-"));
    overlay = join(scratch, "overlay.qcow2");
    await runChecked(["qemu-img", "create", "-q", "-f", "qcow2", "-b", IMAGE, "-F", "qcow2", overlay]);
    await withRoot(overlay, (root) => writeFile(join(root, "etc/marker"), "from the test\n"), { writable: true });
  });

  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it("reads the chain's files without changing a byte or the mtime of overlay or base", async () => {
    const before = { overlay: await sha256(overlay), base: await sha256(IMAGE) };
    const mtimes = { overlay: (await stat(overlay)).mtimeMs, base: (await stat(IMAGE)).mtimeMs };
    const read = await withReadOnlyRoot(overlay, async (root) => ({
      marker: await readFile(join(root, "etc/marker"), "utf8"),
      release: await readFile(join(root, "etc/debian_version"), "utf8"),
    }));
    expect(read.marker).toBe("from the test\n");
    expect(read.release).toMatch(/^12/);
    expect({ overlay: await sha256(overlay), base: await sha256(IMAGE) }).toEqual(before);
    expect({ overlay: (await stat(overlay)).mtimeMs, base: (await stat(IMAGE)).mtimeMs }).toEqual(mtimes);
  });

  it("sees a file whose metadata a running guest committed only to the ext4 journal", async () => {
    // A copy of the overlay taken while the filesystem is mounted, right after an fsync: the new
    // directory entry is committed to the journal but not yet written back in place.
    const midway = join(scratch, "midway.qcow2");
    await withRoot(
      overlay,
      async (root) => {
        const handle = await open(join(root, "etc/journaled"), "w");
        await handle.writeFile("only in the journal\n");
        await handle.sync();
        await handle.close();
        await copyFile(overlay, midway);
      },
      { writable: true },
    );
    const before = await sha256(midway);
    const read = await withReadOnlyRoot(midway, (root) => readFile(join(root, "etc/journaled"), "utf8"));
    expect(read).toBe("only in the journal\n");
    expect(await sha256(midway)).toBe(before);
  });

  it("refuses writes through the mounted view", async () => {
    const attempt = withReadOnlyRoot(overlay, (root) => writeFile(join(root, "etc/new"), "x"));
    await expect(attempt).rejects.toMatchObject({ code: "EROFS" });
  });

  it("reads a disk another process holds open for writing, as a running sandbox does", async () => {
    const marker = await withRoot(
      overlay,
      () => withReadOnlyRoot(overlay, (root) => readFile(join(root, "etc/marker"), "utf8")),
      { writable: true },
    );
    expect(marker).toBe("from the test\n");
  });

  it("unmounts, stops the storage daemon and removes its directory when the caller fails", async () => {
    const before = await leftovers();
    await expect(
      withReadOnlyRoot(overlay, async () => {
        throw new Error("caller failed");
      }),
    ).rejects.toThrow("caller failed");
    expect(await leftovers()).toEqual(before);
  });
});
