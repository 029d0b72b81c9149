import type { FileHandle } from "node:fs/promises";

/** Virtual disks use 512-byte logical sectors. */
export const SECTOR = 512;

export interface Partition {
  /** The kernel's partition number (vda<N>): MBR primaries 1-4, logical partitions from 5, GPT entries in order. */
  number: number;
  /** Offset and length in bytes. */
  start: number;
  size: number;
  /** "mbr:0x83" or "gpt:<type GUID>". */
  type: string;
  /** An LVM physical volume (fluid cannot read logical volumes without device-mapper). */
  lvm: boolean;
}

export interface PartitionTable {
  scheme: "none" | "mbr" | "gpt";
  partitions: Partition[];
}

const GPT_LVM = "e6d6d379-f507-44c2-a23c-238f2a3df928";
const EXTENDED_TYPES = new Set([0x05, 0x0f, 0x85]);

async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await file.read(buffer, 0, length, position);
  return buffer.subarray(0, bytesRead);
}

/** A GUID as text; the first three fields are stored little-endian. */
export function guidText(bytes: Buffer): string {
  const hex = (buf: Buffer) => buf.toString("hex");
  const le = (start: number, end: number) => hex(Buffer.from(bytes.subarray(start, end)).reverse());
  return `${le(0, 4)}-${le(4, 6)}-${le(6, 8)}-${hex(bytes.subarray(8, 10))}-${hex(bytes.subarray(10, 16))}`;
}

/** True if an ext2/3/4 superblock (magic 0xEF53) starts 1024 bytes into `offset`. */
export async function hasExtFilesystem(file: FileHandle, offset: number): Promise<boolean> {
  const magic = await readAt(file, offset + 1024 + 56, 2);
  return magic.length === 2 && magic.readUInt16LE(0) === 0xef53;
}

async function readGpt(file: FileHandle): Promise<Partition[]> {
  const header = await readAt(file, SECTOR, SECTOR);
  if (header.subarray(0, 8).toString("latin1") !== "EFI PART") throw new Error("protective MBR without a GPT header");
  const entriesLba = Number(header.readBigUInt64LE(72));
  const count = header.readUInt32LE(80);
  const entrySize = header.readUInt32LE(84);
  if (count > 1024 || entrySize < 128 || entrySize > 4096) throw new Error("implausible GPT header");
  const table = await readAt(file, entriesLba * SECTOR, count * entrySize);
  const partitions: Partition[] = [];
  for (let i = 0; i < count; i++) {
    const entry = table.subarray(i * entrySize, (i + 1) * entrySize);
    if (entry.length < 128 || entry.subarray(0, 16).every((byte) => byte === 0)) continue;
    const type = guidText(entry.subarray(0, 16));
    const first = Number(entry.readBigUInt64LE(32));
    const last = Number(entry.readBigUInt64LE(40));
    if (last < first) continue;
    partitions.push({
      number: i + 1,
      start: first * SECTOR,
      size: (last - first + 1) * SECTOR,
      type: `gpt:${type}`,
      lvm: type === GPT_LVM,
    });
  }
  return partitions;
}

function mbrEntries(sector: Buffer): Array<{ type: number; lba: number; sectors: number }> {
  return [0, 1, 2, 3].map((i) => {
    const entry = sector.subarray(446 + i * 16, 446 + (i + 1) * 16);
    return { type: entry[4] ?? 0, lba: entry.readUInt32LE(8), sectors: entry.readUInt32LE(12) };
  });
}

async function readLogical(file: FileHandle, extendedLba: number, firstNumber: number): Promise<Partition[]> {
  const partitions: Partition[] = [];
  let ebrLba = extendedLba;
  for (let number = firstNumber; number < firstNumber + 128; number++) {
    const ebr = await readAt(file, ebrLba * SECTOR, SECTOR);
    if (ebr.length < SECTOR || ebr.readUInt16LE(510) !== 0xaa55) break;
    const [logical, next] = mbrEntries(ebr);
    if (logical && logical.type !== 0 && logical.sectors > 0) {
      partitions.push({
        number,
        start: (ebrLba + logical.lba) * SECTOR,
        size: logical.sectors * SECTOR,
        type: `mbr:0x${logical.type.toString(16).padStart(2, "0")}`,
        lvm: logical.type === 0x8e,
      });
    }
    if (!next || next.type === 0 || next.lba === 0) break;
    ebrLba = extendedLba + next.lba;
  }
  return partitions;
}

/**
 * The partitions of a raw disk image: none (a filesystem on the whole disk, as fluid's own images
 * have), MBR (primary and logical) or GPT. GPT checksums are not verified.
 */
export async function readPartitionTable(file: FileHandle): Promise<PartitionTable> {
  if (await hasExtFilesystem(file, 0)) return { scheme: "none", partitions: [] };
  const mbr = await readAt(file, 0, SECTOR);
  if (mbr.length < SECTOR || mbr.readUInt16LE(510) !== 0xaa55) return { scheme: "none", partitions: [] };
  const entries = mbrEntries(mbr);
  if (entries.some((entry) => entry.type === 0xee)) return { scheme: "gpt", partitions: await readGpt(file) };
  const partitions: Partition[] = [];
  for (const [i, entry] of entries.entries()) {
    if (entry.type === 0 || entry.sectors === 0) continue;
    if (EXTENDED_TYPES.has(entry.type)) {
      partitions.push(...(await readLogical(file, entry.lba, 5)));
      continue;
    }
    partitions.push({
      number: i + 1,
      start: entry.lba * SECTOR,
      size: entry.sectors * SECTOR,
      type: `mbr:0x${entry.type.toString(16).padStart(2, "0")}`,
      lvm: entry.type === 0x8e,
    });
  }
  return { scheme: "mbr", partitions: partitions.sort((a, b) => a.number - b.number) };
}
