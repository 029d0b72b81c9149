import { writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { hostBusybox } from "../images/host-tools.js";
import { guestDir, systemdFiles, systemdGenerator } from "../images/recipes.js";
import type { GuestAgentBundle } from "../images/rootfs.js";
import { debugfsPath, type ExtFilesystem, initIsSystemd } from "./ext-filesystem.js";

/** fluid's guest scripts under /fluid, as every fluid image has them (docs/guest-images.md). */
const SCRIPTS = ["boot", "agent", "sshd", "halt", "dhcp", "shutdown", "machine-id"] as const;

/** Where a VM's own inittab (a sysvinit system) is kept when fluid's replaces it in the clone. */
const SAVED_INITTAB = "/etc/inittab.before-fluid";

interface GuestInjection {
  /** Paths written into the clone. */
  added: string[];
  /** Why nothing was written, when the disk cannot get fluid's guest. */
  warning?: string | undefined;
}

export interface GuestInjectionOptions {
  busybox?: string;
  /**
   * qemu-ga with its libraries, for a VM that has none of its own (asked for only then: it may have
   * to be downloaded). Without it such a VM is left alone with a warning.
   */
  guestAgent?: (() => Promise<GuestAgentBundle>) | undefined;
  /** The directory holding rootfs/fluid/* and rootfs/etc/inittab. */
  sourceDir?: string;
}

/**
 * Makes a pulled production disk boot as a sandbox: fluid's busybox init, its boot, agent and sshd
 * scripts, and its inittab are written into the clone (debugfs -w, nothing mounted). A VM whose
 * init is systemd also gets /fluid/start-systemd, fluid's units and the generator that adds them at
 * boot (one link in /etc/systemd/system-generators): it boots its own systemd, its services start,
 * and fluid's agent and sshd run beside them as units. A sysvinit VM runs its userland, sshd and
 * qemu-ga under fluid's busybox init. A disk that already has /fluid/init is left as it is.
 * Sandboxes are driven through the QEMU guest agent: the VM's own, or else fluid's copy with its
 * libraries under /fluid/qga (when `guestAgent` can provide one; otherwise the disk is left alone
 * with a warning saying what to install).
 */
export async function injectFluidGuest(
  root: ExtFilesystem,
  scratch: string,
  options: GuestInjectionOptions = {},
): Promise<GuestInjection> {
  const fluid = await root.list("/fluid");
  if (fluid?.some((entry) => entry.name === "init")) return { added: [] };
  if (fluid !== undefined) {
    return { added: [], warning: "the VM has a /fluid directory that is not fluid's guest; it was left as it is" };
  }
  const sbin = (await root.list("/usr/sbin")) ?? [];
  const hasAgent = sbin.some((entry) => entry.name === "qemu-ga");
  const noAgent =
    "the VM has no QEMU guest agent (/usr/sbin/qemu-ga), which sandboxes are driven through; " +
    "install qemu-guest-agent on it and pull again";
  let agent: GuestAgentBundle | undefined;
  if (!hasAgent) {
    if (!options.guestAgent) return { added: [], warning: noAgent };
    try {
      agent = await options.guestAgent();
    } catch (err) {
      return { added: [], warning: `${noAgent} (fluid's own copy is unavailable: ${(err as Error).message})` };
    }
  }
  const sourceDir = options.sourceDir ?? guestDir;
  const commands: string[] = [];
  const added: string[] = [];
  const write = (local: string, target: string, mode: string) => {
    commands.push(
      `write ${debugfsPath(local)} ${target}`,
      `sif ${target} mode ${mode}`,
      `sif ${target} uid 0`,
      `sif ${target} gid 0`,
    );
    added.push(target);
  };

  commands.push("mkdir /fluid", "sif /fluid mode 040755");
  write(options.busybox ?? hostBusybox, "/fluid/busybox", "0100755");
  commands.push("symlink /fluid/init busybox");
  added.push("/fluid/init");
  for (const script of SCRIPTS) write(join(sourceDir, "rootfs", "fluid", script), `/fluid/${script}`, "0100755");
  if (agent) {
    // Flat, by file name: /fluid/agent runs the loader with --library-path /fluid/qga.
    commands.push("mkdir /fluid/qga", "sif /fluid/qga mode 040755");
    write(agent.binary, "/fluid/qga/qemu-ga", "0100755");
    for (const library of agent.libraries) write(library, `/fluid/qga/${basename(library)}`, "0100755");
  }

  if (await initIsSystemd(root)) {
    commands.push("mkdir /fluid/systemd", "sif /fluid/systemd mode 040755");
    for (const file of systemdFiles) write(join(sourceDir, file.source), file.target, `0100${file.mode.toString(8)}`);
    const etcSystemd = await root.list("/etc/systemd");
    if (etcSystemd === undefined) commands.push("mkdir /etc/systemd", "sif /etc/systemd mode 040755");
    if (!etcSystemd?.some((entry) => entry.name === "system-generators")) {
      commands.push("mkdir /etc/systemd/system-generators", "sif /etc/systemd/system-generators mode 040755");
    }
    commands.push(`symlink ${systemdGenerator.link} ${systemdGenerator.target}`);
    added.push(systemdGenerator.link);
  }

  const etc = (await root.list("/etc")) ?? [];
  if (etc.some((entry) => entry.name === "inittab")) {
    const saved = join(scratch, "inittab.before-fluid");
    await root.dump([["/etc/inittab", saved]], scratch);
    if (etc.some((entry) => entry.name === SAVED_INITTAB.slice("/etc/".length))) commands.push(`rm ${SAVED_INITTAB}`);
    write(saved, SAVED_INITTAB, "0100644");
    commands.push("rm /etc/inittab");
  }
  write(join(sourceDir, "rootfs", "etc", "inittab"), "/etc/inittab", "0100644");

  const script = join(scratch, "inject.cmds");
  await writeFile(script, `${commands.join("\n")}\n`);
  await root.modify(script);
  return { added };
}
