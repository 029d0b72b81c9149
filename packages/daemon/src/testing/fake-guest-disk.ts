import { mkdir, open, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runChecked } from "../system/run.js";

/**
 * Small guest disks for tests of pulled images: an ext4 root filesystem (made with mkfs.ext4 -d,
 * nothing mounted) holding /etc/os-release, a fake xz bzImage in /boot, optionally the kernel's
 * /lib/modules, sshd and fluid's /fluid/init; on the whole disk or in an MBR partition.
 */

/** A 64-bit ELF header, padded: what extractVmlinux checks the decompressed kernel for. */
export function fakeVmlinux(): Buffer {
  const elf = Buffer.alloc(4096, 0x11);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]).copy(elf, 0);
  return elf;
}

/** A "bzImage": some setup bytes, then the xz-compressed vmlinux, then trailing bytes. */
export async function fakeBzImage(workDir: string): Promise<Buffer> {
  const plain = join(workDir, "vmlinux.plain");
  await writeFile(plain, fakeVmlinux());
  await runChecked(["xz", "--format=xz", "--check=crc32", "--keep", "--force", plain]);
  const xz = await readFile(`${plain}.xz`);
  await rm(plain, { force: true });
  await rm(`${plain}.xz`, { force: true });
  return Buffer.concat([Buffer.alloc(2048, 0x42), xz, Buffer.alloc(512, 0x43)]);
}

export interface GuestDiskOptions {
  kernelVersion?: string | undefined;
  /** Write /lib/modules/<version> with modules.dep (ext4 → jbd2) and modules.builtin (the rest). */
  modules?: boolean;
  sshd?: boolean;
  fluid?: boolean;
  /** Put the filesystem in MBR partition 1 at 1 MiB instead of on the whole disk. */
  partitioned?: boolean;
  /** Extra files: path → content. */
  files?: Record<string, string>;
  /** Symbolic links: path → target. */
  links?: Record<string, string>;
}

const builtinModules = ["virtio_mmio", "virtio_pci", "virtio_blk", "virtio_console", "virtio_net", "crc32c_generic"];

async function put(root: string, path: string, content: string | Buffer): Promise<void> {
  await mkdir(join(root, path, ".."), { recursive: true });
  await writeFile(join(root, path), content);
}

/** Writes an MBR with one Linux partition (type 0x83) from sector 2048 to the end. */
export async function writeMbr(
  disk: string,
  sectors: number,
  partitions = [{ type: 0x83, start: 2048 }],
): Promise<void> {
  const mbr = Buffer.alloc(512);
  partitions.forEach((partition, i) => {
    const entry = 446 + i * 16;
    mbr[entry + 4] = partition.type;
    mbr.writeUInt32LE(partition.start, entry + 8);
    mbr.writeUInt32LE(sectors - partition.start, entry + 12);
  });
  mbr.writeUInt16LE(0xaa55, 510);
  const file = await open(disk, "r+");
  try {
    await file.write(mbr, 0, 512, 0);
  } finally {
    await file.close();
  }
}

/** Builds the disk as qcow2 at `output`; `workDir` is scratch space. */
export async function makeGuestDisk(workDir: string, output: string, options: GuestDiskOptions = {}): Promise<void> {
  const root = join(workDir, "root");
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  await put(root, "etc/os-release", 'PRETTY_NAME="Test Linux"\n');
  await mkdir(join(root, "boot"));
  await mkdir(join(root, "usr/lib"), { recursive: true });
  await symlink("usr/lib", join(root, "lib"));
  const version = options.kernelVersion;
  if (version) await put(root, `boot/vmlinuz-${version}`, await fakeBzImage(workDir));
  if (version && options.modules) {
    const dir = `usr/lib/modules/${version}`;
    await put(root, `${dir}/kernel/fs/ext4/ext4.ko`, "ext4 module");
    await put(root, `${dir}/kernel/fs/jbd2/jbd2.ko`, "jbd2 module");
    await put(root, `${dir}/modules.dep`, "kernel/fs/jbd2/jbd2.ko:\nkernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko\n");
    await put(root, `${dir}/modules.builtin`, builtinModules.map((name) => `kernel/drivers/${name}.ko\n`).join(""));
  }
  if (options.sshd) await put(root, "usr/sbin/sshd", "sshd");
  if (options.fluid) {
    await put(root, "fluid/busybox", "busybox");
    await symlink("busybox", join(root, "fluid/init"));
  }
  for (const [path, content] of Object.entries(options.files ?? {})) await put(root, path.replace(/^\/+/, ""), content);
  for (const [path, target] of Object.entries(options.links ?? {})) {
    await mkdir(join(root, path, ".."), { recursive: true });
    await symlink(target, join(root, path));
  }

  const raw = join(workDir, "disk.raw");
  const sizeMb = 24;
  await rm(raw, { force: true });
  if (options.partitioned) {
    await runChecked(["truncate", "-s", `${sizeMb + 1}M`, raw]);
    await writeMbr(raw, (sizeMb + 1) * 2048);
    await runChecked(["mkfs.ext4", "-q", "-F", "-E", "offset=1048576", "-d", root, raw, `${sizeMb}M`]);
  } else {
    await runChecked(["mkfs.ext4", "-q", "-F", "-d", root, raw, `${sizeMb}M`]);
  }
  await runChecked(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, output]);
  await rm(raw, { force: true });
  await rm(root, { recursive: true, force: true });
}
