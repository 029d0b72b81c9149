const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const ELFCLASS64 = 2;
const PT_INTERP = 3;

/** True for a 64-bit ELF header (the first 64 bytes of the file are enough). */
export function isElf64(header: Buffer): boolean {
  return header.length >= 64 && header.subarray(0, 4).equals(ELF_MAGIC) && header[4] === ELFCLASS64;
}

/**
 * True for a 64-bit little-endian ELF with no program interpreter, i.e. one that runs without a
 * dynamic loader or shared libraries (what the initramfs and the guest's /fluid/busybox need).
 */
export function isStaticElf(file: Buffer): boolean {
  if (!isElf64(file) || file[5] !== 1) return false;
  const phoff = Number(file.readBigUInt64LE(0x20));
  const phentsize = file.readUInt16LE(0x36);
  const phnum = file.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const offset = phoff + i * phentsize;
    if (offset + 4 > file.length) return false;
    if (file.readUInt32LE(offset) === PT_INTERP) return false;
  }
  return true;
}
