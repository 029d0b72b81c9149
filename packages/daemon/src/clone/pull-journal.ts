import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { BlockDevice } from "../remote/virsh-output.js";

/**
 * A pull in progress: written before the snapshot and removed once the VM is back on its own disks.
 * If the daemon dies in between, the next pull of the same VM finds the entry and merges the
 * overlays back first (credentials only arrive with a command, so recovery cannot run on startup).
 */
export interface PullJournalEntry {
  hostId: string;
  vm: string;
  snapshot: string;
  startedAt: string;
  /** `domblklist` before the snapshot. */
  before: BlockDevice[];
  /** Overlay file per disk target. */
  overlays: Array<{ target: string; path: string }>;
}

/** One JSON file per pull in progress under `<state dir>/sources/pulls`. */
export class PullJournal {
  constructor(readonly dir: string) {}

  private fileFor(entry: Pick<PullJournalEntry, "hostId" | "vm" | "snapshot">): string {
    const host = createHash("sha256").update(entry.hostId).digest("hex").slice(0, 16);
    return join(this.dir, `${host}-${entry.vm}-${entry.snapshot}.json`);
  }

  async record(entry: PullJournalEntry): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = this.fileFor(entry);
    await writeFile(`${file}.tmp`, `${JSON.stringify(entry, null, 2)}\n`, { mode: 0o600 });
    await rename(`${file}.tmp`, file);
  }

  async remove(entry: Pick<PullJournalEntry, "hostId" | "vm" | "snapshot">): Promise<void> {
    await rm(this.fileFor(entry), { force: true });
  }

  /** Entries left for one VM of one host. Unreadable files are skipped. */
  async pending(hostId: string, vm: string): Promise<PullJournalEntry[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const entries: PullJournalEntry[] = [];
    for (const name of names.filter((file) => file.endsWith(".json")).sort()) {
      try {
        const entry = JSON.parse(await readFile(join(this.dir, name), "utf8")) as PullJournalEntry;
        if (entry.hostId === hostId && entry.vm === vm && Array.isArray(entry.overlays)) entries.push(entry);
      } catch {
        // a torn write of an entry that never got past recording
      }
    }
    return entries;
  }
}
