import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runChecked } from "../system/run.js";
import { ExtFilesystem } from "./boot-files.js";

/**
 * What a clone must not share with its source VM, removed from a pulled disk before any sandbox
 * boots it: SSH host keys (sshd makes new ones), the machine id (emptied: systemd and fluid's boot
 * write a new one), D-Bus's copy of it, the random seed, and udev's MAC-pinned interface names (a
 * clone has another MAC, so the pinned rule would leave it without eth0).
 */
const REMOVE = [
  "/var/lib/dbus/machine-id",
  "/var/lib/systemd/random-seed",
  "/etc/udev/rules.d/70-persistent-net.rules",
];

/**
 * Scrubs the root filesystem of a pulled disk in place (debugfs -w on the raw copy, nothing is
 * mounted). Returns what it changed, for the pull's record.
 */
export async function scrubCloneIdentity(root: ExtFilesystem): Promise<string[]> {
  const scratch = await mkdtemp(join(tmpdir(), "fluid-hygiene-"));
  try {
    if (root.offset === 0) return await replayAndScrub(root, scratch);
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
    const changed = await replayAndScrub(new ExtFilesystem(part, 0), scratch);
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
async function replayAndScrub(root: ExtFilesystem, scratch: string): Promise<string[]> {
  const replay = join(scratch, "replay.cmds");
  await writeFile(replay, "journal_run\n");
  await root.modify(replay);
  return scrub(root, scratch);
}

async function scrub(root: ExtFilesystem, scratch: string): Promise<string[]> {
  const changed: string[] = [];
  const commands: string[] = [];
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
