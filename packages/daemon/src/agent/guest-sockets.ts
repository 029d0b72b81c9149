import { access, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { z } from "zod";
import type { GuestAgent } from "./client.js";
import { type ListeningSocket, parseProcNet, socketTables } from "./proc-net.js";

/** What reading a guest's sockets needs from its agent. */
export type GuestReader = Pick<GuestAgent, "readFile" | "execArgv">;

const BASELINE_FILE = "listening-baseline.json";
const MAX_TABLE_BYTES = 4 * 1024 * 1024;
const FD_LINK = /\/proc\/(\d+)\/fd\/\d+ -> socket:\[(\d+)\]$/;

/** The sockets a running guest listens on, with their processes when the guest can say. */
export async function readListeningSockets(guest: GuestReader): Promise<ListeningSocket[]> {
  const sockets: ListeningSocket[] = [];
  for (const table of socketTables) {
    // A guest without IPv6 has no tcp6/udp6 table: it listens on nothing there.
    const read = await guest.readFile(`/proc/net/${table}`, MAX_TABLE_BYTES).catch(() => undefined);
    if (read) sockets.push(...parseProcNet(read.data.toString("utf8"), table));
  }
  const owners = await socketOwners(guest, new Set(sockets.map((s) => s.inode)));
  return sockets.map((socket) => {
    const process = owners.get(socket.inode);
    return process ? { ...socket, process } : socket;
  });
}

/**
 * Which process holds each socket inode, from the guest's /proc/<pid>/fd links: one `find` in the
 * guest, then one `comm` read per owning process. Best effort: a guest that cannot run it gets
 * sockets without processes.
 */
async function socketOwners(guest: GuestReader, inodes: Set<number>): Promise<Map<number, string>> {
  const owners = new Map<number, string>();
  if (inodes.size === 0) return owners;
  const listing = await guest
    .execArgv(
      [
        "find",
        "/proc",
        "-mindepth",
        "3",
        "-maxdepth",
        "3",
        "-path",
        "/proc/[0-9]*/fd/*",
        "-exec",
        "ls",
        "-l",
        "{}",
        "+",
      ],
      { timeoutMs: 15_000, maxOutputBytes: 4 * 1024 * 1024 },
    )
    .catch(() => undefined);
  if (!listing || listing.timedOut) return owners;
  const pidsByInode = new Map<number, number>();
  for (const line of listing.stdout.toString("utf8").split("\n")) {
    const match = FD_LINK.exec(line);
    if (!match) continue;
    const inode = Number(match[2]);
    const pid = Number(match[1]);
    // The lowest pid is the parent of forked workers sharing the socket.
    if (inodes.has(inode) && pid < (pidsByInode.get(inode) ?? Number.POSITIVE_INFINITY)) pidsByInode.set(inode, pid);
  }
  const names = new Map<number, string | undefined>();
  for (const [inode, pid] of pidsByInode) {
    if (!names.has(pid)) {
      const comm = await guest.readFile(`/proc/${pid}/comm`, 64).catch(() => undefined);
      names.set(pid, comm?.data.toString("utf8").trim() || undefined);
    }
    const name = names.get(pid);
    if (name) owners.set(inode, name);
  }
  return owners;
}

const Baseline = z.object({
  recorded_at: z.string(),
  sockets: z.array(
    z.object({
      protocol: z.enum(socketTables),
      address: z.string(),
      port: z.number().int(),
      inode: z.number().int(),
      process: z.string().optional(),
    }),
  ),
});

/**
 * Records, once per sandbox, what its guest listens on when it first answers: what a diff of the
 * running sandbox later compares against. Later boots keep the first record, so a service the
 * sandbox's user set up still shows. Never fails the boot: without a record, the diff has no ports.
 */
export async function recordListeningBaseline(guest: GuestReader, dir: string, log: Logger): Promise<void> {
  const file = join(dir, BASELINE_FILE);
  if (
    await access(file).then(
      () => true,
      () => false,
    )
  )
    return;
  try {
    const sockets = await readListeningSockets(guest);
    const record = { recorded_at: new Date().toISOString(), sockets };
    await writeFile(file, `${JSON.stringify(record)}\n`, { flag: "wx", mode: 0o600 });
  } catch (err) {
    log.warn({ err, dir }, "could not record the sandbox's listening sockets; its diff will have no ports");
  }
}

/** The first boot's listening sockets, or undefined if none were recorded. */
export async function loadListeningBaseline(dir: string): Promise<ListeningSocket[] | undefined> {
  const text = await readFile(join(dir, BASELINE_FILE), "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return Baseline.parse(JSON.parse(text)).sockets;
  } catch {
    return undefined;
  }
}
