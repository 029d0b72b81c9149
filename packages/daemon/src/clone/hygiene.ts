import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runChecked } from "../system/run.js";
import { debugfsPath, ExtFilesystem } from "./ext-filesystem.js";
import { type GuestInjectionOptions, injectFluidGuest } from "./rootfs-injection.js";

/**
 * What a clone must not share with its source VM, removed from a pulled disk before any sandbox
 * boots it: SSH host keys (sshd makes new ones), the machine id (emptied: systemd and fluid's boot
 * write a new one), D-Bus's copy of it, the random seed, and udev's MAC-pinned interface names (a
 * clone has another MAC, so the pinned rule would leave it without eth0). Network configuration
 * that matches the source's MAC is set aside too (see MAC_PINNED).
 */
const REMOVE = [
  "/var/lib/dbus/machine-id",
  "/var/lib/systemd/random-seed",
  "/etc/udev/rules.d/70-persistent-net.rules",
];

/** What preparing a clone changed on its disk, for the pull's record. */
export interface CloneChanges {
  /** Identity files removed (clone hygiene). */
  scrubbed: string[];
  /** fluid's guest files written so the disk boots as a sandbox (see injectFluidGuest). */
  injected: string[];
  warnings: string[];
}

export interface PrepareCloneOptions {
  /** Where fluid's guest files come from; false leaves the disk without them. */
  inject?: GuestInjectionOptions | false;
}

/**
 * Prepares the root filesystem of a pulled disk in place (debugfs -w on the raw copy, nothing is
 * mounted): replays its journal, removes what the clone must not share with its source, and gives
 * it fluid's guest if it has none.
 */
export async function prepareClone(root: ExtFilesystem, options: PrepareCloneOptions = {}): Promise<CloneChanges> {
  const scratch = await mkdtemp(join(tmpdir(), "fluid-hygiene-"));
  try {
    if (root.offset === 0) return await replayAndPrepare(root, scratch, options);
    // debugfs's journal recovery ignores `?offset=`, so a partition is worked on as a file of its
    // own and copied back in place (unchanged blocks write back as they were).
    const part = join(scratch, "root.fs");
    const offset = String(root.offset);
    await runChecked([
      "dd",
      `if=${root.image}`,
      `of=${part}`,
      `skip=${offset}`,
      "iflag=skip_bytes",
      "bs=4M",
      "conv=sparse",
      "status=none",
    ]);
    const changed = await replayAndPrepare(new ExtFilesystem(part, 0), scratch, options);
    await runChecked([
      "dd",
      `if=${part}`,
      `of=${root.image}`,
      `seek=${offset}`,
      "oflag=seek_bytes",
      "bs=4M",
      "conv=notrunc",
      "status=none",
    ]);
    return changed;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * A live VM's disk is captured mid-flight: its journal still holds recent writes, and a clone's
 * kernel would replay them over anything changed here. Replaying it first makes the edits stick.
 */
async function replayAndPrepare(
  root: ExtFilesystem,
  scratch: string,
  options: PrepareCloneOptions,
): Promise<CloneChanges> {
  const replay = join(scratch, "replay.cmds");
  await writeFile(replay, "journal_run\n");
  await root.modify(replay);
  const scrubbed = await scrub(root, scratch);
  if (options.inject === false) return { scrubbed, injected: [], warnings: [] };
  const injection = await injectFluidGuest(root, scratch, options.inject);
  return { scrubbed, injected: injection.added, warnings: injection.warning ? [injection.warning] : [] };
}

/**
 * Network configuration that names an interface by the source VM's MAC address: netplan YAML
 * (`match: macaddress:`) and systemd-networkd/udev link files (`MACAddress=` in [Match]). A clone has
 * another MAC, so such a file would configure nothing, or rename and configure the wrong device. It
 * is renamed to `<name>.fluid-mac-pinned`, which neither reads, and kept for whoever looks.
 */
const MAC_PINNED: ReadonlyArray<{ dir: string; name: RegExp; pinned: RegExp }> = [
  { dir: "/etc/netplan", name: /\.ya?ml$/, pinned: /^\s*macaddress\s*:/im },
  {
    dir: "/etc/systemd/network",
    name: /\.(network|link|netdev)$/,
    pinned: /^\s*(PermanentMACAddress|MACAddress)\s*=/im,
  },
];

const MAC_PINNED_SUFFIX = ".fluid-mac-pinned";

async function macPinned(root: ExtFilesystem, scratch: string): Promise<string[]> {
  const found: string[] = [];
  let copies = 0;
  for (const { dir, name, pinned } of MAC_PINNED) {
    const files = ((await root.list(dir)) ?? []).filter((e) => (e.mode & 0o170000) === 0o100000 && name.test(e.name));
    if (files.length === 0) continue;
    const local = files.map((e) => [`${dir}/${e.name}`, join(scratch, "mac", String(copies++))] as const);
    await root.dump(local, scratch);
    for (const [path, copy] of local) {
      if (pinned.test(await readFile(copy, "utf8"))) found.push(path);
    }
  }
  return found;
}

async function scrub(root: ExtFilesystem, scratch: string): Promise<string[]> {
  const changed: string[] = [];
  const commands: string[] = [];
  for (const path of await macPinned(root, scratch)) {
    // debugfs has no rename: a new name for the same inode, then the old name dropped.
    commands.push(
      `ln ${debugfsPath(path)} ${debugfsPath(`${path}${MAC_PINNED_SUFFIX}`)}`,
      `unlink ${debugfsPath(path)}`,
    );
    changed.push(path);
  }
  const sshDir = (await root.list("/etc/ssh")) ?? [];
  for (const entry of sshDir) {
    if (/^ssh_host_[A-Za-z0-9_]+_key(\.pub)?$/.test(entry.name)) {
      commands.push(`rm /etc/ssh/${entry.name}`);
      changed.push(`/etc/ssh/${entry.name}`);
    }
  }
  const etc = (await root.list("/etc")) ?? [];
  if (etc.some((entry) => entry.name === "machine-id")) {
    commands.push("rm /etc/machine-id");
    changed.push("/etc/machine-id");
  }
  for (const path of REMOVE) {
    const slash = path.lastIndexOf("/");
    const entries = await root.list(path.slice(0, slash));
    if (entries?.some((entry) => entry.name === path.slice(slash + 1))) {
      commands.push(`rm ${path}`);
      changed.push(path);
    }
  }
  if (commands.length === 0) return changed;
  // An empty machine-id (not a missing one) is what systemd treats as "generate one at boot".
  const empty = join(scratch, "empty");
  await writeFile(empty, "", { mode: 0o444 });
  if (changed.includes("/etc/machine-id")) commands.push(`write ${empty} /etc/machine-id`);
  const script = join(scratch, "hygiene.cmds");
  await writeFile(script, `${commands.join("\n")}\n`);
  await root.modify(script);
  return changed;
}
