import { describe, expect, it } from "vitest";
import { classifySmaps, overheadMb } from "./host-memory.js";

/** One mapping of /proc/<pid>/smaps, with only the fields the classifier reads. */
const mapping = (range: string, perms: string, path: string, sizeKb: number, rssKb: number, pssKb = rssKb) =>
  [
    `${range} ${perms} 00000000 fe:00 12345 ${path}`,
    `Size:           ${sizeKb} kB`,
    `Rss:            ${rssKb} kB`,
    `Pss:            ${pssKb} kB`,
    `Private_Clean:        0 kB`,
    `Private_Dirty:  ${pssKb === rssKb ? rssKb : 0} kB`,
  ].join("\n");

const SMAPS = [
  mapping("564db3be4000-564db3feb000", "r-xp", "/usr/bin/qemu-system-x86_64", 4124, 4000, 2000),
  mapping("564dcda9e000-564dce5f3000", "rw-p", "[heap]", 11604, 5216),
  mapping("7f3243e00000-7f3263e00000", "rw-p", "", 524288, 120832),
  mapping("7f326c000000-7f326ffff000", "rwxp", "", 65532, 61440),
  mapping("7f323fe00000-7f3243cdb000", "rw-p", "/img/tiny/vmlinux", 64364, 58428, 29214),
  mapping("7f327d200000-7f327d6d4000", "r--p", "/img/tiny/initramfs.cpio", 4944, 4944, 2472),
  mapping("7f3268000000-7f326880e000", "rw-p", "", 8248, 8220),
].join("\n");

const BOOT_FILES = ["/img/tiny/vmlinux", "/img/tiny/initramfs.cpio"];

describe("classifySmaps", () => {
  const memory = classifySmaps(SMAPS, 512, BOOT_FILES);

  it("finds guest RAM as the anonymous mapping of the guest's size", () => {
    expect(memory.guestRam.rssKb).toBe(120832);
  });

  it("counts the writable and executable anonymous mapping as TCG's translation cache", () => {
    expect(memory.tcgCache.rssKb).toBe(61440);
  });

  it("attributes the kernel and initramfs mappings to boot files, by PSS as well as RSS", () => {
    expect(memory.bootFiles).toEqual({ rssKb: 58428 + 4944, pssKb: 29214 + 2472, privateKb: 0 });
  });

  it("keeps QEMU's executable apart from its heap and other anonymous memory", () => {
    expect(memory.code.rssKb).toBe(4000);
    expect(memory.qemuPrivate.rssKb).toBe(5216 + 8220);
  });

  it("reports overhead as everything outside guest RAM, by RSS and by PSS", () => {
    const overhead = overheadMb(memory);
    expect(overhead.rss).toBeCloseTo((4000 + 5216 + 61440 + 58428 + 4944 + 8220) / 1024, 5);
    expect(overhead.pss).toBeCloseTo((2000 + 5216 + 61440 + 29214 + 2472 + 8220) / 1024, 5);
  });

  it("reports the anonymous part of the overhead without any file mapping", () => {
    expect(overheadMb(memory).anonymous).toBeCloseTo((61440 + 5216 + 8220) / 1024, 5);
  });

  it("refuses smaps without a mapping of the guest's size rather than calling everything overhead", () => {
    expect(() => classifySmaps(SMAPS, 1024, BOOT_FILES)).toThrow(/no guest RAM mapping of 1024 MiB/);
  });
});
