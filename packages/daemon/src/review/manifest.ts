import { collectGroups, collectUsers, type GroupEntry, type UserEntry } from "./collect-accounts.js";
import { type CronEntry, collectCron } from "./collect-cron.js";
import { collectFiles, type FileEntry } from "./collect-files.js";
import { collectPackages, type PackageEntry } from "./collect-packages.js";
import { collectSysctl, type SysctlEntry } from "./collect-sysctl.js";
import { collectUnits, type UnitEntry } from "./collect-units.js";
import type { NoisePolicy } from "./noise.js";

/**
 * What a root filesystem holds, in the terms a reviewer thinks in. Listening ports are not here:
 * they exist only in a running guest, and a mounted disk has none.
 */
export interface Manifest {
  files: Map<string, FileEntry>;
  packages: Map<string, PackageEntry>;
  units: Map<string, UnitEntry>;
  users: Map<string, UserEntry>;
  groups: Map<string, GroupEntry>;
  cron: Map<string, CronEntry>;
  sysctl: Map<string, SysctlEntry>;
}

/** Reads a mounted root: plain file reads, no chroot, nothing of the guest executed. */
export async function collectManifest(root: string, noise: NoisePolicy): Promise<Manifest> {
  return {
    files: await collectFiles(root, noise),
    packages: await collectPackages(root),
    units: await collectUnits(root),
    users: await collectUsers(root),
    groups: await collectGroups(root),
    cron: await collectCron(root),
    sysctl: await collectSysctl(root),
  };
}
