import { mkdir, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ImageStore } from "../images/store.js";
import { runChecked } from "../system/run.js";
import { fakeVmlinux, makeGuestDisk, writeMbr } from "../testing/fake-guest-disk.js";
import { compareKernelVersions, extractBootFiles } from "./boot-files.js";
import { hasExtFilesystem, readPartitionTable } from "./partitions.js";

const VERSION = "6.1.0-99-amd64";

async function writeAt(path: string, position: number, data: Buffer): Promise<void> {
  const file = await open(path, "r+");
  try {
    await file.write(data, 0, data.length, position);
  } finally {
    await file.close();
  }
}

async function table(path: string) {
  const file = await open(path, "r");
  try {
    return await readPartitionTable(file);
  } finally {
    await file.close();
  }
}

describe("partition tables", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-parts-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("a filesystem on the whole disk has no table", async () => {
    const disk = join(dir, "whole.raw");
    await runChecked(["mkfs.ext4", "-q", "-F", disk, "8M"]);
    expect(await table(disk)).toEqual({ scheme: "none", partitions: [] });
  });

  it("MBR primaries and logical partitions in an extended one", async () => {
    const disk = join(dir, "mbr.raw");
    await runChecked(["truncate", "-s", "64M", disk]);
    await writeMbr(disk, 131072, [
      { type: 0x83, start: 2048 },
      { type: 0x05, start: 65536 },
    ]);
    // The extended partition's first EBR: a logical LVM partition, then a link to the next EBR.
    const ebr = Buffer.alloc(512);
    ebr[446 + 4] = 0x8e;
    ebr.writeUInt32LE(2048, 446 + 8);
    ebr.writeUInt32LE(8192, 446 + 12);
    ebr[462 + 4] = 0x05;
    ebr.writeUInt32LE(16384, 462 + 8);
    ebr.writeUInt32LE(10240, 462 + 12);
    ebr.writeUInt16LE(0xaa55, 510);
    await writeAt(disk, 65536 * 512, ebr);
    const second = Buffer.alloc(512);
    second[446 + 4] = 0x83;
    second.writeUInt32LE(2048, 446 + 8);
    second.writeUInt32LE(4096, 446 + 12);
    second.writeUInt16LE(0xaa55, 510);
    await writeAt(disk, (65536 + 16384) * 512, second);
    const parsed = await table(disk);
    expect(parsed.scheme).toBe("mbr");
    expect(parsed.partitions.map((p) => [p.number, p.start / 512, p.type, p.lvm])).toEqual([
      [1, 2048, "mbr:0x83", false],
      [5, 67584, "mbr:0x8e", true],
      [6, 83968, "mbr:0x83", false],
    ]);
  });

  it("GPT entries behind a protective MBR", async () => {
    const disk = join(dir, "gpt.raw");
    await runChecked(["truncate", "-s", "32M", disk]);
    await writeMbr(disk, 65536, [{ type: 0xee, start: 1 }]);
    const header = Buffer.alloc(512);
    header.write("EFI PART", 0, "latin1");
    header.writeBigUInt64LE(2n, 72);
    header.writeUInt32LE(128, 80);
    header.writeUInt32LE(128, 84);
    await writeAt(disk, 512, header);
    const entries = Buffer.alloc(128 * 128);
    const entry = (index: number, guid: string, first: number, last: number) => {
      const bytes = Buffer.from(guid.replaceAll("-", ""), "hex");
      const mixed = Buffer.concat([
        Buffer.from(bytes.subarray(0, 4)).reverse(),
        Buffer.from(bytes.subarray(4, 6)).reverse(),
        Buffer.from(bytes.subarray(6, 8)).reverse(),
        bytes.subarray(8),
      ]);
      mixed.copy(entries, index * 128);
      entries.writeBigUInt64LE(BigInt(first), index * 128 + 32);
      entries.writeBigUInt64LE(BigInt(last), index * 128 + 40);
    };
    entry(0, "c12a7328-f81f-11d2-ba4b-00a0c93ec93b", 2048, 4095);
    entry(2, "0fc63daf-8483-4772-8e69-3d69d8477de4", 4096, 65502);
    await writeAt(disk, 1024, entries);
    await runChecked(["mkfs.ext4", "-q", "-F", "-E", `offset=${4096 * 512}`, disk, "20M"]);
    const parsed = await table(disk);
    expect(parsed.scheme).toBe("gpt");
    expect(parsed.partitions).toEqual([
      { number: 1, start: 2048 * 512, size: 2048 * 512, type: "gpt:c12a7328-f81f-11d2-ba4b-00a0c93ec93b", lvm: false },
      {
        number: 3,
        start: 4096 * 512,
        size: (65502 - 4096 + 1) * 512,
        type: "gpt:0fc63daf-8483-4772-8e69-3d69d8477de4",
        lvm: false,
      },
    ]);
    const file = await open(disk, "r");
    try {
      expect(await hasExtFilesystem(file, 4096 * 512)).toBe(true);
      expect(await hasExtFilesystem(file, 2048 * 512)).toBe(false);
    } finally {
      await file.close();
    }
  });
});

describe("helpers", () => {
  it("orders kernel versions numerically", () => {
    const sorted = [
      "vmlinuz-6.1.0-9-amd64",
      "vmlinuz-6.10.1",
      "vmlinuz-6.1.0-56-amd64",
      "vmlinuz-5.10.0-30-amd64",
    ].sort(compareKernelVersions);
    expect(sorted).toEqual([
      "vmlinuz-5.10.0-30-amd64",
      "vmlinuz-6.1.0-9-amd64",
      "vmlinuz-6.1.0-56-amd64",
      "vmlinuz-6.10.1",
    ]);
  });
});

describe("extractBootFiles (debugfs on the pulled disk, no mounts)", () => {
  let dir: string;
  let store: ImageStore;
  let out: string;
  let work: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-bootfiles-"));
    store = new ImageStore(join(dir, "images"));
    // A local image with the same kernel version, and one to fall back on.
    for (const [name, version] of [
      ["twin", VERSION],
      ["fallback", "6.1.0-1-amd64"],
    ] as const) {
      const image = join(store.dir, name);
      await mkdir(image, { recursive: true });
      await writeFile(join(image, "vmlinux"), `kernel of ${name}`);
      await writeFile(join(image, "initramfs.cpio"), `initramfs of ${name}`);
      await writeFile(join(image, "rootfs.qcow2"), "disk");
      await writeFile(
        join(image, "manifest.json"),
        JSON.stringify({
          name,
          recipe: "debian-12",
          recipeHash: "a".repeat(64),
          kernel: "vmlinux",
          initrd: "initramfs.cpio",
          disk: "rootfs.qcow2",
          rootDevice: "/dev/vda",
          kernelVersion: version,
          sshd: true,
          agent: "qga",
          sizeBytes: 1,
          builtAt: "2026-11-28T12:00:00.000Z",
        }),
      );
    }
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    out = await mkdtemp(join(dir, "out-"));
    work = await mkdtemp(join(dir, "work-"));
  });

  it("takes kernel and modules from a partitioned disk and builds fluid's initramfs with them", async () => {
    const disk = join(work, "disk.qcow2");
    await makeGuestDisk(work, disk, {
      kernelVersion: VERSION,
      modules: true,
      sshd: true,
      fluid: true,
      partitioned: true,
    });
    const boot = await extractBootFiles({ disk, workDir: work, outDir: out, images: store });
    expect(boot).toMatchObject({
      kernelVersion: VERSION,
      rootDevice: "/dev/vda1",
      sshd: true,
      fluidGuest: true,
      kernelFrom: "disk",
      initrdFrom: "disk",
      warnings: [],
    });
    expect(await readFile(boot.kernel)).toEqual(fakeVmlinux());
    const listing = await runChecked(["cpio", "-it", "--quiet", "-F", boot.initrd]);
    const files = listing.stdout.split("\n");
    expect(files).toEqual(expect.arrayContaining(["init", "bin/busybox", "modules/ext4.ko", "modules/jbd2.ko"]));
    const order = await runChecked(["cpio", "-i", "--quiet", "--to-stdout", "-F", boot.initrd, "modules/order"]);
    expect(order.stdout).toBe("jbd2.ko\next4.ko\n");
  });

  it("boots a disk with fluid's systemd units under systemd when its init is systemd, else fast", async () => {
    const systemd = { "/fluid/start-systemd": "#!/fluid/busybox sh\n" };
    const cases = [
      { links: { "/sbin/init": "/lib/systemd/systemd" }, files: systemd, boot: "systemd" },
      { links: { "/sbin": "usr/sbin", "/usr/sbin/init": "../lib/systemd/systemd" }, files: systemd, boot: "systemd" },
      { links: { "/sbin/init": "../lib/systemd/systemd" }, files: {}, boot: "fast" },
      { links: {}, files: { ...systemd, "/sbin/init": "sysvinit" }, boot: "fast" },
    ] as const;
    for (const { links, files, boot } of cases) {
      const disk = join(work, "disk.qcow2");
      await makeGuestDisk(work, disk, { kernelVersion: VERSION, fluid: true, links, files });
      expect((await extractBootFiles({ disk, workDir: work, outDir: out, images: store })).boot).toBe(boot);
    }
  });

  it("uses the initramfs of a local image with the same kernel when the disk has no modules", async () => {
    const disk = join(work, "disk.qcow2");
    await makeGuestDisk(work, disk, { kernelVersion: VERSION });
    const boot = await extractBootFiles({ disk, workDir: work, outDir: out, images: store });
    expect(boot).toMatchObject({ rootDevice: "/dev/vda", kernelFrom: "disk", initrdFrom: "image:twin", sshd: false });
    expect(boot.fluidGuest).toBe(false);
    expect(await readFile(boot.initrd, "utf8")).toBe("initramfs of twin");
  });

  it("falls back to a local image's kernel when the disk has none, or refuses without a fallback", async () => {
    const disk = join(work, "disk.qcow2");
    await makeGuestDisk(work, disk, {});
    await expect(extractBootFiles({ disk, workDir: work, outDir: out, images: store })).rejects.toThrow(
      /no bootable kernel: the disk has no \/boot\/vmlinuz-\*/,
    );
    const boot = await extractBootFiles({ disk, workDir: work, outDir: out, images: store, fallbackImage: "fallback" });
    expect(boot).toMatchObject({ kernelVersion: "6.1.0-1-amd64", kernelFrom: "image:fallback" });
    expect(await readFile(boot.kernel, "utf8")).toBe("kernel of fallback");
  });
});
