import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runChecked } from "../system/run.js";
import { isElf64 } from "./elf.js";
import {
  extractVmlinux,
  moduleLoadOrder,
  moduleName,
  parseModulesDep,
  versionedKernelPackage,
  XZ_MAGIC,
  xzStreamOffset,
} from "./kernel.js";

/** A 64-bit ELF header followed by filler: what the bzImage's xz stream holds, in miniature. */
function fakeElf(): Buffer {
  const header = Buffer.alloc(64);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(header);
  return Buffer.concat([header, Buffer.alloc(4096, "kernel text ")]);
}

describe("vmlinux extraction", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-kernel-"));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** setup code + xz stream + trailing bytes, like a bzImage. */
  async function fakeBzImage(payload: Buffer, name: string): Promise<{ path: string; offset: number }> {
    const raw = join(dir, `${name}.payload`);
    await writeFile(raw, payload);
    await runChecked(["xz", "--keep", "--force", raw]);
    const stream = await readFile(`${raw}.xz`);
    const setup = Buffer.alloc(1000, 0x90);
    const path = join(dir, `${name}.vmlinuz`);
    await writeFile(path, Buffer.concat([setup, stream, Buffer.from("trailing relocation data")]));
    return { path, offset: setup.length };
  }

  it("finds the xz stream magic", () => {
    expect(xzStreamOffset(Buffer.concat([Buffer.from("MZ setup code"), XZ_MAGIC, Buffer.from("data")]))).toBe(13);
    expect(() => xzStreamOffset(Buffer.from("no stream here"))).toThrow(/contains no xz stream/);
  });

  it("decompresses from the magic to an ELF, ignoring what follows the stream", async () => {
    const elf = fakeElf();
    const image = await fakeBzImage(elf, "good");
    expect(xzStreamOffset(await readFile(image.path))).toBe(image.offset);
    const output = join(dir, "vmlinux");
    await extractVmlinux(image.path, output);
    expect((await readFile(output)).equals(elf)).toBe(true);
    expect((await readdir(dir)).filter((file) => file.startsWith("vmlinux"))).toEqual(["vmlinux"]);
  });

  it("refuses a payload that is not an ELF and leaves nothing behind", async () => {
    const image = await fakeBzImage(Buffer.alloc(4096, "not an elf"), "bad");
    const output = join(dir, "bad-vmlinux");
    await expect(extractVmlinux(image.path, output)).rejects.toThrow(/offset 1000 does not hold an ELF kernel/);
    expect((await readdir(dir)).filter((file) => file.startsWith("bad-vmlinux"))).toEqual([]);
  });

  it("isElf64 checks magic and class", () => {
    expect(isElf64(fakeElf())).toBe(true);
    const elf32 = fakeElf();
    elf32[4] = 1;
    expect(isElf64(elf32)).toBe(false);
    expect(isElf64(Buffer.from("\x7fELF"))).toBe(false);
  });
});

describe("modules", () => {
  const modulesDep = [
    "kernel/drivers/virtio/virtio_ring.ko:",
    "kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko",
    "kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko",
    "kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko",
    "kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko",
    "kernel/net/core/failover.ko:",
    "kernel/crypto/crc32c_generic.ko:",
    "kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko",
    "kernel/drivers/md/dm-mod.ko.xz:",
    "",
  ].join("\n");

  it("names modules like the kernel does", () => {
    expect(moduleName("kernel/fs/ext4/ext4.ko")).toBe("ext4");
    expect(moduleName("kernel/drivers/md/dm-mod.ko.xz")).toBe("dm_mod");
  });

  it("orders every module after its dependencies, each once", () => {
    const order = moduleLoadOrder(
      parseModulesDep(modulesDep),
      ["virtio_mmio", "virtio_net", "crc32c_generic", "ext4"],
      new Set(),
    );
    expect(order).toEqual([
      "kernel/drivers/virtio/virtio_ring.ko",
      "kernel/drivers/virtio/virtio.ko",
      "kernel/drivers/virtio/virtio_mmio.ko",
      "kernel/net/core/failover.ko",
      "kernel/drivers/net/net_failover.ko",
      "kernel/drivers/net/virtio_net.ko",
      "kernel/crypto/crc32c_generic.ko",
      "kernel/fs/jbd2/jbd2.ko",
      "kernel/fs/mbcache.ko",
      "kernel/lib/crc16.ko",
      "kernel/fs/ext4/ext4.ko",
    ]);
  });

  it("skips built-in modules and rejects unknown or compressed ones", () => {
    const modules = parseModulesDep(modulesDep);
    expect(moduleLoadOrder(modules, ["virtio_blk", "crc32c_generic"], new Set(["virtio_blk"]))).toEqual([
      "kernel/crypto/crc32c_generic.ko",
    ]);
    expect(() => moduleLoadOrder(modules, ["virtio_blk"], new Set())).toThrow(/no module virtio_blk/);
    expect(() => moduleLoadOrder(modules, ["dm_mod"], new Set())).toThrow(/dm-mod.ko.xz is compressed/);
  });

  it("resolves the versioned image package from the meta package's Depends", () => {
    expect(versionedKernelPackage("linux-image-6.1.0-56-amd64 (= 6.1.192-2)")).toBe("linux-image-6.1.0-56-amd64");
    expect(versionedKernelPackage("initramfs-tools | linux-initramfs-tool, linux-image-6.12.9-amd64")).toBe(
      "linux-image-6.12.9-amd64",
    );
    expect(() => versionedKernelPackage("linux-base")).toThrow(/no versioned linux-image package/);
  });
});
