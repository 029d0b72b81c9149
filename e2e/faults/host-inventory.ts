import { execFileSync } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import Database from "better-sqlite3";

/** What a daemon's state dir, its bridge and the process table still hold. */
export interface Inventory {
  /** Live processes whose command line points into the state dir (its VMs). */
  vms: number[];
  /** Zombie children of the daemon: exited but never reaped. */
  zombies: number[];
  /** Per-sandbox directories (overlays, sockets, logs). */
  dirs: string[];
  /** TAP devices enslaved to the daemon's bridge. */
  taps: string[];
  /** Sandboxes holding an IP lease. */
  leases: string[];
  /** Rows not ended, with their state. */
  unended: Array<{ id: string; state: string }>;
}

async function procEntries(): Promise<number[]> {
  return (await readdir("/proc")).filter((name) => /^\d+$/.test(name)).map(Number);
}

export async function inventory(stateDir: string, bridge: string | undefined, daemonPid?: number): Promise<Inventory> {
  const vms: number[] = [];
  const zombies: number[] = [];
  const marker = join(stateDir, "sandboxes");
  for (const pid of await procEntries()) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmdline.split("\0").some((arg) => arg.includes(marker))) vms.push(pid);
    if (daemonPid === undefined) continue;
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (state === "Z" && Number(ppid) === daemonPid) zombies.push(pid);
  }
  const dirs = await readdir(marker).catch(() => [] as string[]);
  const taps = bridge
    ? (
        JSON.parse(execFileSync("ip", ["-j", "link", "show", "master", bridge]).toString() || "[]") as Array<{
          ifname: string;
        }>
      ).map((link) => link.ifname)
    : [];
  const db = new Database(join(stateDir, "state.db"), { readonly: true, fileMustExist: true });
  try {
    const leases = (db.prepare("SELECT sandbox_id FROM ip_leases").all() as Array<{ sandbox_id: string }>).map(
      (row) => row.sandbox_id,
    );
    const unended = db.prepare("SELECT id, state FROM sandboxes WHERE ended_at IS NULL").all() as Array<{
      id: string;
      state: string;
    }>;
    return { vms, zombies, dirs, taps, leases, unended };
  } finally {
    db.close();
  }
}

/** Removes a bridge a test made the daemon create, if the daemon left it. */
export function removeBridge(bridge: string): void {
  try {
    execFileSync("ip", ["link", "del", bridge], { stdio: "ignore" });
  } catch {
    // already gone
  }
}
