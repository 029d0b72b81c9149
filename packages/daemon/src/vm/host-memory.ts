import { readFile } from "node:fs/promises";

/** Where a QEMU process's memory lives, by kind of mapping. */
export type MappingKind =
  /** The anonymous mapping backing the guest's RAM. */
  | "guestRam"
  /** TCG's translation cache: the one anonymous mapping QEMU makes writable and executable. */
  | "tcgCache"
  /** Files the VM was booted from (kernel, initramfs): page cache, shared by every VM of an image. */
  | "bootFiles"
  /** The qemu-system executable and shared libraries. */
  | "code"
  /** Everything else: QEMU's heap, thread stacks, device state. */
  | "qemuPrivate";

/** Kilobytes by measure; PSS divides a shared page among the processes mapping it. */
export interface MemoryUse {
  rssKb: number;
  pssKb: number;
  privateKb: number;
}

export type HostMemory = Record<MappingKind, MemoryUse>;

const KINDS: MappingKind[] = ["guestRam", "tcgCache", "bootFiles", "code", "qemuPrivate"];

const HEADER = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/;
const FIELD = /^(Size|Rss|Pss|Private_Clean|Private_Dirty):\s+(\d+) kB/;

/**
 * Splits `/proc/<pid>/smaps` of a QEMU by mapping kind. Guest RAM is told apart by size: QEMU maps
 * it as one anonymous region of the guest's size (plus at most 2 MiB of alignment).
 */
export function classifySmaps(smaps: string, guestMb: number, bootFiles: string[]): HostMemory {
  const memory = Object.fromEntries(KINDS.map((kind) => [kind, { rssKb: 0, pssKb: 0, privateKb: 0 }])) as HostMemory;
  const guestKb = guestMb * 1024;
  let current: { perms: string; path: string; sizeKb: number; use: MemoryUse } | undefined;
  const flush = () => {
    if (!current) return;
    const kind = kindOf(current.perms, current.path, current.sizeKb, guestKb, bootFiles);
    memory[kind].rssKb += current.use.rssKb;
    memory[kind].pssKb += current.use.pssKb;
    memory[kind].privateKb += current.use.privateKb;
  };
  for (const line of smaps.split("\n")) {
    const header = HEADER.exec(line);
    if (header) {
      flush();
      current = { perms: header[1] ?? "", path: header[2] ?? "", sizeKb: 0, use: { rssKb: 0, pssKb: 0, privateKb: 0 } };
      continue;
    }
    const field = FIELD.exec(line);
    if (!field || !current) continue;
    const kb = Number(field[2]);
    if (field[1] === "Size") current.sizeKb = kb;
    else if (field[1] === "Rss") current.use.rssKb = kb;
    else if (field[1] === "Pss") current.use.pssKb = kb;
    else current.use.privateKb += kb;
  }
  flush();
  if (memory.guestRam.rssKb === 0) throw new Error(`no guest RAM mapping of ${guestMb} MiB in these smaps`);
  return memory;
}

function kindOf(perms: string, path: string, sizeKb: number, guestKb: number, bootFiles: string[]): MappingKind {
  if (path === "" && sizeKb >= guestKb && sizeKb <= guestKb + 2048) return "guestRam";
  if (path === "" && perms.startsWith("rwx")) return "tcgCache";
  if (bootFiles.includes(path)) return "bootFiles";
  if (path.startsWith("/")) return "code";
  return "qemuPrivate";
}

/** A running QEMU's memory by mapping kind (needs read access to its /proc entry). */
export async function qemuHostMemory(pid: number, guestMb: number, bootFiles: string[]): Promise<HostMemory> {
  return classifySmaps(await readFile(`/proc/${pid}/smaps`, "utf8"), guestMb, bootFiles);
}

/**
 * SPEC §10's host overhead: what QEMU holds resident beyond its guest's RAM, in MB. By RSS (the
 * SPEC's measure, counting shared files in full for every VM), by PSS (shared pages split among
 * the processes mapping them), and anonymous only (TCG cache and QEMU's own memory: what each
 * further VM costs for certain, since file pages are shared page cache the kernel can reclaim).
 */
export function overheadMb(memory: HostMemory): { rss: number; pss: number; anonymous: number } {
  const others = KINDS.filter((kind) => kind !== "guestRam");
  const sum = (measure: keyof MemoryUse) => others.reduce((total, kind) => total + memory[kind][measure], 0) / 1024;
  return {
    rss: sum("rssKb"),
    pss: sum("pssKb"),
    anonymous: (memory.tcgCache.rssKb + memory.qemuPrivate.rssKb) / 1024,
  };
}
