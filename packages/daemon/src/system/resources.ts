import { statfs } from "node:fs/promises";
import { availableParallelism, totalmem } from "node:os";

export interface HostCapacity {
  totalCpus: number;
  totalMemoryMb: number;
  /** Memory sandboxes may take: the total minus what the host keeps for itself. */
  allocatableMemoryMb: number;
  totalDiskMb: number;
  availableDiskMb: number;
}

/** The host keeps max(1 GiB, 10 %) of its memory for itself, QEMU overhead and page cache. */
export function hostReserveMb(totalMemoryMb: number): number {
  return Math.max(1024, Math.round(totalMemoryMb * 0.1));
}

export async function hostCapacity(stateDir: string): Promise<HostCapacity> {
  const totalMemoryMb = Math.floor(totalmem() / 1_048_576);
  const fs = await statfs(stateDir);
  return {
    totalCpus: availableParallelism(),
    totalMemoryMb,
    allocatableMemoryMb: totalMemoryMb - hostReserveMb(totalMemoryMb),
    totalDiskMb: Math.floor((fs.blocks * fs.bsize) / 1_048_576),
    availableDiskMb: Math.floor((fs.bavail * fs.bsize) / 1_048_576),
  };
}
