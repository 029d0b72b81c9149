import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { isStaticElf } from "./elf.js";
import { checkHostTools, findTool, toolsFor } from "./host-tools.js";
import { getRecipe } from "./recipes.js";

describe("host tools", () => {
  it("asks for debootstrap only for debootstrap recipes, and ldd only for tiny", () => {
    expect(toolsFor(getRecipe("tiny"))).toContain("ldd");
    expect(toolsFor(getRecipe("tiny"))).not.toContain("debootstrap");
    expect(toolsFor(getRecipe("debian-12"))).toContain("debootstrap");
  });

  it("finds programs on PATH and in the sbin directories", async () => {
    expect(await findTool("sh", "/usr/bin:/bin")).toMatch(/\/sh$/);
    expect(await findTool("mkfs.ext4", "/nonexistent")).toMatch(/\/sbin\/mkfs\.ext4$/);
    expect(await findTool("no-such-tool-fluid", "/usr/bin")).toBeUndefined();
  });

  it("names the Debian packages for missing programs", async () => {
    const check = checkHostTools(getRecipe("tiny"), "/nonexistent");
    await expect(check).rejects.toThrow(/needs apt-cache, apt-get, dpkg-deb, xz, cpio, qemu-img, umount, rm, ldd;/);
    await expect(check).rejects.toThrow(
      /apt-get install --no-install-recommends apt dpkg xz-utils cpio qemu-utils mount coreutils libc-bin$/,
    );
  });

  it("tells a static busybox from a dynamic program", async () => {
    expect(isStaticElf(await readFile("/bin/busybox"))).toBe(true);
    expect(isStaticElf(await readFile("/bin/ls"))).toBe(false);
  });
});
