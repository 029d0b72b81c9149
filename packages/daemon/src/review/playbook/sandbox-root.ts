import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, open } from "node:fs/promises";
import { join } from "node:path";
import { collectGroups, collectUsers } from "../collect-accounts.js";
import { parseDpkgStatus } from "../collect-packages.js";
import { collectUnits, type UnitEntry } from "../collect-units.js";
import { listGuestDir, resolveInRoot } from "../guest-fs.js";

/** Names for the numeric ids a diff carries, as the sandbox's account databases give them. */
export interface Accounts {
  userName(uid: number): string | undefined;
  groupName(gid: number): string | undefined;
  /** The supplementary groups /etc/group lists the user in, sorted. */
  groupsOf(user: string): string[];
  /** Whether /etc/shadow gives the user a password (possibly locked), not just a lock or nothing. */
  hasPassword(user: string): boolean;
}

/** What playbook generation reads of the sandbox beyond its diff (which holds hunks, not whole files). */
export interface SandboxRoot {
  /** A regular file's exact text; undefined if it is missing, larger than `maxBytes`, or not UTF-8 text. */
  text(path: string, maxBytes: number): Promise<string | undefined>;
  exists(path: string): Promise<boolean>;
  accounts(): Promise<Accounts>;
  /** Enabled and masked units, as the diff's collector reads them. */
  units(): Promise<Map<string, UnitEntry>>;
  /**
   * The package whose dpkg file list holds each of `paths` (paths no package owns are left out), with
   * the list's /lib, /bin, /sbin paths taken as under /usr where those are symlinks into it.
   */
  packageOwners(paths: readonly string[]): Promise<Map<string, string>>;
  /** The paths a package installed, from its dpkg file list. */
  packageFiles(pkg: string): Promise<string[]>;
  /** The md5 dpkg recorded for each file a package shipped (md5sums, conffiles), paths as packageOwners's. */
  packageDigests(pkg: string): Promise<Map<string, string>>;
  /** A regular file's md5 (dpkg's digest), undefined if it is not one. */
  md5(path: string): Promise<string | undefined>;
  /** dpkg's native architecture: the one the dpkg package itself is built for. */
  nativeArch(): Promise<string | undefined>;
}

const DPKG_INFO = "/var/lib/dpkg/info";

/** An info file's package name: `name.list`, or `name:arch.list` for a Multi-Arch: same package. */
const infoPackage = (file: string, suffix: string) => file.slice(0, -suffix.length).replace(/:.*$/, "");

/** A package's `Conffiles:` field from dpkg's status: ` /etc/path md5` lines after the field name. */
function conffiles(status: string, pkg: string): Array<[string, string]> {
  const stanza = status.split(/\n\s*\n/).find((text) => text.split("\n").includes(`Package: ${pkg}`));
  const field = /^Conffiles:\n((?: .*\n?)*)/m.exec(stanza ?? "")?.[1] ?? "";
  return field
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((parts): parts is [string, string] => parts.length >= 2 && /^[0-9a-f]{32}$/.test(parts[1] as string))
    .map(([path, md5]) => [path, md5]);
}

/** Largest dpkg file list, status database or account database read: far more than any real one. */
const MAX_DPKG_FILE_BYTES = 64 * 1024 * 1024;

/** A guest file's exact text, read at its own size. */
async function readExact(root: string, path: string, maxBytes: number): Promise<string | undefined> {
  const host = await resolveInRoot(root, path);
  const handle = host ? await open(host, "r").catch(() => undefined) : undefined;
  if (!handle) return undefined;
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || stat.size > maxBytes) return undefined;
    const data = await handle.readFile();
    if (data.length > maxBytes || data.includes(0)) return undefined;
    // ignoreBOM keeps a leading byte-order mark: it is part of the file.
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(data);
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

/** A SandboxRoot over a mounted root filesystem, read with the guest's own symlink resolution. */
export function mountedRoot(root: string): SandboxRoot {
  let accounts: Promise<Accounts> | undefined;
  let units: Promise<Map<string, UnitEntry>> | undefined;
  let fileLists: Promise<Map<string, string[]>> | undefined;
  let usrMerged: Promise<(path: string) => string> | undefined;
  /**
   * dpkg records the paths a package was built with (/lib/systemd/system/x.service); on a merged-/usr
   * system the diff finds that file under /usr, where the symlinks /lib, /bin and /sbin lead.
   */
  const asFound = () => {
    usrMerged ??= (async () => {
      const merged = new Set<string>();
      for (const dir of ["bin", "lib", "sbin"]) {
        if ((await resolveInRoot(root, `/${dir}`)) === join(root, "usr", dir)) merged.add(dir);
      }
      return (path: string) => (merged.has(path.split("/")[1] ?? "") ? `/usr${path}` : path);
    })();
    return usrMerged;
  };
  // Every package's file list, read once: owners and a package's files are both looked up in them.
  const readFileLists = async () => {
    const lists = new Map<string, string[]>();
    for (const name of await listGuestDir(root, DPKG_INFO)) {
      if (!name.endsWith(".list")) continue;
      const text = await readExact(root, `${DPKG_INFO}/${name}`, MAX_DPKG_FILE_BYTES);
      const pkg = infoPackage(name, ".list");
      lists.set(pkg, [...(lists.get(pkg) ?? []), ...(text ?? "").split("\n").filter(Boolean)]);
    }
    return lists;
  };
  return {
    text: (path, maxBytes) => readExact(root, path, maxBytes),
    async exists(path) {
      return (await resolveInRoot(root, path)) !== undefined;
    },
    accounts() {
      accounts ??= readAccounts(root);
      return accounts;
    },
    units() {
      units ??= collectUnits(root);
      return units;
    },
    async packageOwners(paths) {
      const owners = new Map<string, string>();
      if (paths.length === 0) return owners;
      fileLists ??= readFileLists();
      const wanted = new Set(paths);
      const found = await asFound();
      for (const [pkg, files] of await fileLists) {
        for (const file of files) if (wanted.has(found(file))) owners.set(found(file), pkg);
      }
      return owners;
    },
    async packageFiles(pkg) {
      fileLists ??= readFileLists();
      return (await fileLists).get(pkg) ?? [];
    },
    async packageDigests(pkg) {
      const found = await asFound();
      const digests = new Map<string, string>();
      for (const name of await listGuestDir(root, DPKG_INFO)) {
        if (!name.endsWith(".md5sums") || infoPackage(name, ".md5sums") !== pkg) continue;
        for (const line of ((await readExact(root, `${DPKG_INFO}/${name}`, MAX_DPKG_FILE_BYTES)) ?? "").split("\n")) {
          const match = /^([0-9a-f]{32})\s+(.+)$/.exec(line);
          if (match) digests.set(found(`/${match[2]}`), match[1] as string);
        }
      }
      const status = (await readExact(root, "/var/lib/dpkg/status", MAX_DPKG_FILE_BYTES)) ?? "";
      for (const [path, md5] of conffiles(status, pkg)) digests.set(found(path), md5);
      return digests;
    },
    async md5(path) {
      const host = await resolveInRoot(root, path);
      const stat = host ? await lstat(host).catch(() => undefined) : undefined;
      if (!host || !stat?.isFile()) return undefined;
      const hash = createHash("md5");
      for await (const chunk of createReadStream(host)) hash.update(chunk as Buffer);
      return hash.digest("hex");
    },
    async nativeArch() {
      const status = parseDpkgStatus((await readExact(root, "/var/lib/dpkg/status", MAX_DPKG_FILE_BYTES)) ?? "");
      return [...status.values()].find((entry) => entry.name === "dpkg")?.arch;
    },
  };
}

async function readAccounts(root: string): Promise<Accounts> {
  const users = await collectUsers(root);
  const groups = await collectGroups(root);
  // Only whether a password is there is kept; the hash itself is never held on to.
  const withPassword = new Set<string>();
  for (const line of ((await readExact(root, "/etc/shadow", MAX_DPKG_FILE_BYTES)) ?? "").split("\n")) {
    const [name, field] = line.split(":");
    // useradd leaves `!` (or `*`, `!*`) for an account without a password; `!` before a hash locks it.
    if (name && field !== undefined && !["", "*"].includes(field.replace(/^!+/, ""))) withPassword.add(name);
  }
  const userNames = new Map<number, string>();
  const groupNames = new Map<number, string>();
  // The first entry with an id is the one ls(1) and the kernel's tools show.
  for (const user of users.values()) if (!userNames.has(user.uid)) userNames.set(user.uid, user.name);
  for (const group of groups.values()) if (!groupNames.has(group.gid)) groupNames.set(group.gid, group.name);
  return {
    userName: (uid) => userNames.get(uid),
    groupName: (gid) => groupNames.get(gid),
    hasPassword: (user) => withPassword.has(user),
    groupsOf: (user) =>
      [...groups.values()]
        .filter((group) => group.members.includes(user))
        .map((g) => g.name)
        .sort(),
  };
}
